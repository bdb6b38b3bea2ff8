package experiments

import (
	"math"

	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/eval"
	"github.com/refugelab/refugelab/nn"
	"github.com/refugelab/refugelab/train"
)

// validate scores a model on a task's validation set during training. The
// inputs are prepared like training inputs (ROI centred on the ground-truth
// disc); the final evaluation predicts from the image alone.
func (p *pipeline) validate(t namedTask, m *nn.Model, val *taskSet) (map[string]float64, error) {
	xs := make([][]float32, val.Len())
	for i, x := range val.xs {
		xs[i] = val.pl.Intensity(x).Pix
	}
	outs, err := train.Predict(m, xs, false)
	if err != nil {
		return nil, err
	}
	res := map[string]float64{}
	switch val.kind {
	case "segmentation":
		var dd, dc, mae float64
		nc := 0
		for i, o := range outs {
			w, h := val.xs[i].W, val.xs[i].H
			pred := argmaxMask(o, w, h)
			r, err := eval.SegImage(val.ms[i], pred)
			if err != nil {
				return nil, err
			}
			dd += r.DiceDisc
			if !r.CupUndefined {
				dc += r.DiceCup
				nc++
			}
			mae += r.AbsErr
		}
		n := float64(len(outs))
		res["dice_disc"] = dd / n
		if nc > 0 {
			res["dice_cup"] = dc / float64(nc)
		}
		res["vcdr_mae"] = mae / n
		res["dice_mean"] = (res["dice_disc"] + res["dice_cup"]) / 2
		if val.multitask {
			var scores []float64
			var labels []int
			for i, o := range outs {
				if val.labels[i] == 0 || val.labels[i] == 1 {
					scores = append(scores, float64(o[len(o)-1]))
					labels = append(labels, val.labels[i])
				}
			}
			if auc, err := eval.AUC(scores, labels); err == nil {
				res["auc"] = auc
			}
		}
	case "classification":
		scores := make([]float64, len(outs))
		var bce float64
		for i, o := range outs {
			s := float64(o[0])
			scores[i] = s
			y := float64(val.labels[i])
			s = math.Min(math.Max(s, 1e-7), 1-1e-7)
			bce -= y*math.Log(s) + (1-y)*math.Log(1-s)
		}
		res["bce"] = bce / float64(len(outs))
		if auc, err := eval.AUC(scores, val.labels); err == nil {
			res["auc"] = auc
		}
	default:
		var sum float64
		for i, o := range outs {
			w, h := val.xs[i].W, val.xs[i].H
			q := eval.DecodeHeatmap(o, w, h, t.cfg.Decode)
			inv, err := val.ts[i].Inverse()
			if err != nil {
				return nil, err
			}
			sum += inv.Apply(q).Dist(*val.gts[i])
		}
		res["distance_px"] = sum / float64(len(outs))
	}
	return res, nil
}

// argmaxMask turns softmax outputs (3 planes: background, rim, cup) into a
// REFUGE mask by the most probable class.
func argmaxMask(probs []float32, w, h int) *data.Mask {
	m := data.NewMask(w, h)
	n := w * h
	for i := 0; i < n; i++ {
		b, r, c := probs[i], probs[n+i], probs[2*n+i]
		switch {
		case c >= r && c >= b:
			m.Pix[i] = data.Cup
		case r >= b:
			m.Pix[i] = data.Rim
		}
	}
	return m
}
