package experiments

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/eval"
	"github.com/refugelab/refugelab/train"
)

// predictor applies the trained models to images alone: no ground truth is
// read. The ROI of a roi-input task is centred by the localizer.
type predictor struct {
	p      *pipeline
	post   *eval.Post
	chunk  int
	active map[string]map[string]bool // task -> sources it predicts
}

// taskSources returns, per task, the sources that carry any of its ground
// truth: a task predicts the images of those sources.
func (p *pipeline) taskSources() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, t := range []string{"classification", "segmentation", "fovea"} {
		out[t] = map[string]bool{}
	}
	for _, s := range p.samples {
		if s.HasLabel() {
			out["classification"][s.Source] = true
		}
		if s.HasMask {
			out["segmentation"][s.Source] = true
		}
		if s.Fovea != nil {
			out["fovea"][s.Source] = true
		}
	}
	return out
}

func (p *pipeline) newPredictor() (*predictor, error) {
	pr := &predictor{p: p, chunk: 16, active: p.taskSources()}
	if t := p.cfg.Tasks.Segmentation; t != nil && t.Enabled {
		post, err := eval.NewPost(postSpecs(t.Postprocess))
		if err != nil {
			return nil, fmt.Errorf("tasks.segmentation.postprocess: %w", err)
		}
		pr.post = post
	}
	return pr, nil
}

func postSpecs(in []StepConfig) []eval.StepSpec {
	out := make([]eval.StepSpec, len(in))
	for i, s := range in {
		out[i] = eval.StepSpec{Name: s.Name, Params: s.Params}
	}
	return out
}

// predictOne is what the models say about one image, in original pixels.
type predictOne struct {
	score    *float64
	fovea    *data.Point
	mask     *data.Mask
	disc     *data.Point // localizer output
	hasScore bool
}

// clampPoint keeps a predicted centre inside the image.
func clampPoint(q data.Point, w, h int) data.Point {
	q.X = math.Min(math.Max(q.X, 0), float64(w-1))
	q.Y = math.Min(math.Max(q.Y, 0), float64(h-1))
	return q
}

// predictImages predicts every task for the given samples, from images only.
func (pr *predictor) predictImages(samples []*data.Sample) ([]predictOne, error) {
	p := pr.p
	out := make([]predictOne, len(samples))
	for lo := 0; lo < len(samples); lo += pr.chunk {
		hi := min(lo+pr.chunk, len(samples))
		n := hi - lo
		imgs := make([]*data.Image, n)
		fullX := make([]*data.Image, n)
		fullT := make([]data.Affine, n)
		errs := make([]error, n)
		parallel(n, p.workers(), func(i int) {
			img, _, err := samples[lo+i].Load() // the ground-truth mask is ignored
			if err != nil {
				errs[i] = err
				return
			}
			imgs[i] = img
			fullX[i], _, fullT[i], errs[i] = geometry(p.full, img, nil, nil)
		})
		for _, e := range errs {
			if e != nil {
				return nil, e
			}
		}
		ins := func(xs []*data.Image, pl *data.Pipeline, idx []int) [][]float32 {
			r := make([][]float32, len(idx))
			for k, i := range idx {
				r[k] = pl.Intensity(xs[i]).Pix
			}
			return r
		}
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		// Disc centres for ROI inputs.
		var roiX []*data.Image
		var roiT []data.Affine
		if lm := p.models["localizer"]; lm != nil {
			t := p.cfg.Tasks.Localizer
			hms, err := train.Predict(lm, ins(fullX, p.full, all), t.TTA)
			if err != nil {
				return nil, err
			}
			roiX = make([]*data.Image, n)
			roiT = make([]data.Affine, n)
			for i := range all {
				q := eval.DecodeHeatmap(hms[i], fullX[i].W, fullX[i].H, t.Decode)
				inv, err := fullT[i].Inverse()
				if err != nil {
					return nil, err
				}
				c := clampPoint(inv.Apply(q), imgs[i].W, imgs[i].H)
				out[lo+i].disc = &c
				if roiX[i], _, roiT[i], err = geometry(p.roi, imgs[i], nil, &c); err != nil {
					return nil, fmt.Errorf("%s: %w", samples[lo+i].ID, err)
				}
			}
		}
		pick := func(input string) ([]*data.Image, []data.Affine, *data.Pipeline) {
			if input == "roi" {
				return roiX, roiT, p.roi
			}
			return fullX, fullT, p.full
		}
		active := func(task string) []int {
			var idx []int
			for i := range all {
				if pr.active[task][samples[lo+i].Source] {
					idx = append(idx, i)
				}
			}
			return idx
		}
		if m := p.models["segmentation"]; m != nil {
			t := p.cfg.Tasks.Segmentation
			xs, ts, pl := pick(t.Input)
			segActive := map[int]bool{}
			idx := active("segmentation")
			for _, i := range idx {
				segActive[i] = true
			}
			multiScore := m.Multitask() && p.cfg.Tasks.Classification != nil && p.cfg.Tasks.Classification.Enabled && p.cfg.Tasks.Classification.Score == "multitask"
			clsActive := map[int]bool{}
			if multiScore {
				for _, i := range active("classification") {
					clsActive[i] = true
					if !segActive[i] {
						idx = append(idx, i)
					}
				}
			}
			probs, err := train.Predict(m, ins(xs, pl, idx), t.TTA)
			if err != nil {
				return nil, err
			}
			for k, i := range idx {
				if clsActive[i] {
					v := float64(probs[k][len(probs[k])-1])
					out[lo+i].score = &v
				}
				if !segActive[i] {
					continue
				}
				mk, err := pasteProbs(probs[k], xs[i].W, xs[i].H, ts[i], imgs[i].W, imgs[i].H, pr.post)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", samples[lo+i].ID, err)
				}
				out[lo+i].mask = mk
			}
		}
		if t := p.cfg.Tasks.Classification; t != nil && t.Enabled {
			idx := active("classification")
			if t.Score == "multitask" {
				// scored above, by the segmentation network's glaucoma head
			} else if t.Score == "vcdr" {
				for _, i := range idx {
					if mk := out[lo+i].mask; mk != nil {
						v := eval.VCDR(mk)
						out[lo+i].score = &v
					}
				}
			} else if m := p.models["classification"]; m != nil {
				xs, _, pl := pick(t.Input)
				sc, err := train.Predict(m, ins(xs, pl, idx), t.TTA)
				if err != nil {
					return nil, err
				}
				for k, i := range idx {
					v := float64(sc[k][0])
					out[lo+i].score = &v
				}
			}
		}
		if m := p.models["fovea"]; m != nil {
			t := p.cfg.Tasks.Fovea
			idx := active("fovea")
			hms, err := train.Predict(m, ins(fullX, p.full, idx), t.TTA)
			if err != nil {
				return nil, err
			}
			for k, i := range idx {
				q := eval.DecodeHeatmap(hms[k], fullX[i].W, fullX[i].H, t.Decode)
				inv, err := fullT[i].Inverse()
				if err != nil {
					return nil, err
				}
				f := inv.Apply(q)
				out[lo+i].fovea = &f
			}
		}
	}
	return out, nil
}

// keys returns the submission key (the image stem) of each sample, failing
// when two samples of one split share a stem.
func keys(samples []*data.Sample) ([]string, error) {
	seen := map[string]string{}
	out := make([]string, len(samples))
	for i, s := range samples {
		if prev, ok := seen[s.Stem]; ok {
			return nil, fmt.Errorf("samples %s and %s share the image name %q; a submission names images by stem, so they cannot be in one split", prev, s.ID, s.Stem)
		}
		seen[s.Stem] = s.ID
		out[i] = s.Stem
	}
	return out, nil
}

// toPredictions gathers predictions by key.
func toPredictions(ks []string, preds []predictOne) *eval.Predictions {
	ep := &eval.Predictions{Class: map[string]float64{}, Fovea: map[string]data.Point{}, Masks: map[string]*data.Mask{}}
	for i, k := range ks {
		if preds[i].score != nil {
			ep.Class[k] = *preds[i].score
		}
		if preds[i].fovea != nil {
			ep.Fovea[k] = *preds[i].fovea
		}
		if preds[i].mask != nil {
			ep.Masks[k] = preds[i].mask
		}
	}
	return ep
}

// groundTruth reads the ground truth of samples (evaluation only).
func (p *pipeline) groundTruth(ks []string, samples []*data.Sample, tasks map[string]bool) (*eval.GroundTruth, error) {
	gt := &eval.GroundTruth{Labels: map[string]int{}, Fovea: map[string]data.Point{}, Masks: map[string]*data.Mask{}}
	masks := make([]*data.Mask, len(samples))
	errs := make([]error, len(samples))
	if tasks["segmentation"] {
		parallel(len(samples), p.workers(), func(i int) {
			if samples[i].HasMask {
				_, masks[i], errs[i] = samples[i].Load()
			}
		})
	}
	for i, s := range samples {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if tasks["classification"] && s.HasLabel() {
			gt.Labels[ks[i]] = s.Label
		}
		if tasks["fovea"] && s.Fovea != nil {
			gt.Fovea[ks[i]] = *s.Fovea
		}
		if masks[i] != nil {
			gt.Masks[ks[i]] = masks[i]
		}
	}
	return gt, nil
}

func (p *pipeline) enabledTasks() map[string]bool {
	out := map[string]bool{}
	for _, t := range taskList(p.cfg) {
		if t.cfg.Enabled && t.name != "localizer" {
			out[t.name] = true
		}
	}
	return out
}

func (p *pipeline) splitIDs(name string) []string {
	switch name {
	case "train":
		return p.splits.Train
	case "val":
		return p.splits.Val
	}
	return p.splits.Test
}

// predictAll predicts every evaluated split from images alone, scores it,
// writes predictions, metrics.json and the submission.
func (p *pipeline) predictAll() error {
	pr, err := p.newPredictor()
	if err != nil {
		return err
	}
	splits := append([]string(nil), p.cfg.Eval.Splits...)
	sub := p.cfg.Eval.Submission.Split
	found := false
	for _, s := range splits {
		found = found || s == sub
	}
	if !found {
		splits = append(splits, sub)
	}
	metrics := map[string]*eval.TaskMetrics{}
	tasks := p.enabledTasks()
	for _, split := range splits {
		ids := p.splitIDs(split)
		if len(ids) == 0 {
			p.logf("split %s is empty: nothing to predict", split)
			continue
		}
		samples := make([]*data.Sample, len(ids))
		for i, id := range ids {
			samples[i] = p.byID[id]
		}
		ks, err := keys(samples)
		if err != nil {
			return err
		}
		preds, err := pr.predictImages(samples)
		if err != nil {
			return fmt.Errorf("predict %s: %w", split, err)
		}
		ep := toPredictions(ks, preds)
		names := map[string]string{}
		for i, s := range samples {
			names[ks[i]] = s.Name
		}
		pdir := filepath.Join(p.dir, "predictions", split)
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			return err
		}
		if err := eval.WriteSubmission(pdir, "refuge2", ep, names, false); err != nil {
			return err
		}
		if split == sub {
			sdir := filepath.Join(p.dir, "submission")
			if err := os.MkdirAll(sdir, 0o755); err != nil {
				return err
			}
			if err := eval.WriteSubmission(sdir, p.cfg.Eval.Submission.Format, ep, names, p.cfg.Eval.Submission.Zip); err != nil {
				return err
			}
		}
		inEval := false
		for _, s := range p.cfg.Eval.Splits {
			inEval = inEval || s == split
		}
		if !inEval {
			continue
		}
		gt, err := p.groundTruth(ks, samples, tasks)
		if err != nil {
			return err
		}
		opts := eval.ScoreOptions{Strict: p.cfg.Eval.Strict, BootstrapSeed: data.Seed(p.cfg.Seed, "bootstrap", split), BootstrapN: p.cfg.Eval.Bootstrap}
		tm, err := eval.Score(ep, gt, opts)
		if errors.Is(err, eval.ErrSingleClass) {
			// AUC is undefined on a split with one class: score the other
			// tasks and say so, rather than print NaN.
			p.logf("%s: classification not scored: every labelled image has the same class", split)
			gt.Labels = nil
			tm, err = eval.Score(ep, gt, opts)
		}
		if err != nil {
			return fmt.Errorf("evaluate %s: %w", split, err)
		}
		metrics[split] = tm
		p.logMetrics(split, tm)
		if err := p.qualitative(split, samples, ks, preds, gt, tm); err != nil {
			return err
		}
	}
	for _, m := range p.models {
		m.ReleaseGraphs()
	}
	return writeJSON(filepath.Join(p.dir, "metrics.json"), metrics)
}

func (p *pipeline) logMetrics(split string, tm *eval.TaskMetrics) {
	if c := tm.Classification; c != nil {
		p.logf("%s classification: AUC %.4f, sensitivity at 0.85 specificity %.4f (n=%d)", split, c.AUC, c.SensAtSpec, c.N)
	}
	if s := tm.Segmentation; s != nil {
		p.logf("%s segmentation: disc Dice %.4f, cup Dice %.4f, vCDR MAE %.4f (n=%d)", split, s.DiceDisc, s.DiceCup, s.VCDRMAE, s.N)
	}
	if f := tm.Fovea; f != nil {
		p.logf("%s fovea: mean distance %.2f px (n=%d)", split, f.MeanDistance, f.N)
	}
}

// qualEntry is one case of the report's qualitative figure.
type qualEntry struct {
	Split     string    `json:"split"`
	Stem      string    `json:"stem"`
	Kind      string    `json:"kind"` // best or worst
	DiceCup   *float64  `json:"dice_cup"`
	DiceDisc  *float64  `json:"dice_disc"`
	FoveaGT   []float64 `json:"fovea_gt"`
	FoveaPred []float64 `json:"fovea_pred"`
	Scale     float64   `json:"scale"`
}

// qualitative writes downsized images with ground-truth and predicted masks
// of the best and worst cases (by cup Dice) of the first evaluated split.
func (p *pipeline) qualitative(split string, samples []*data.Sample, ks []string, preds []predictOne, gt *eval.GroundTruth, tm *eval.TaskMetrics) error {
	if split != p.cfg.Eval.Splits[0] || p.cfg.Eval.Qualitative <= 0 {
		return nil
	}
	type cand struct {
		i     int
		score float64
	}
	var cs []cand
	idx := map[string]int{}
	for i, k := range ks {
		idx[k] = i
	}
	for _, row := range tm.PerImage.Segmentation {
		v := 0.0
		if row.DiceCup != nil {
			v += *row.DiceCup
		}
		if row.DiceDisc != nil {
			v += *row.DiceDisc
		}
		cs = append(cs, cand{idx[row.Name], v})
	}
	if len(cs) == 0 {
		for _, row := range tm.PerImage.Fovea {
			cs = append(cs, cand{idx[row.Name], -row.Distance})
		}
	}
	if len(cs) == 0 {
		return nil
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].score > cs[b].score })
	n := min(p.cfg.Eval.Qualitative, (len(cs)+1)/2)
	pickIdx := map[int]string{}
	for k := 0; k < n; k++ {
		pickIdx[cs[k].i] = "best"
		if _, ok := pickIdx[cs[len(cs)-1-k].i]; !ok {
			pickIdx[cs[len(cs)-1-k].i] = "worst"
		}
	}
	qdir := filepath.Join(p.dir, "qualitative", split)
	if err := os.MkdirAll(qdir, 0o755); err != nil {
		return err
	}
	var entries []qualEntry
	order := make([]int, 0, len(pickIdx))
	for i := range pickIdx {
		order = append(order, i)
	}
	sort.Ints(order)
	segRows := map[string]eval.SegRow{}
	for _, r := range tm.PerImage.Segmentation {
		segRows[r.Name] = r
	}
	for _, i := range order {
		s, k := samples[i], ks[i]
		img, _, err := s.Load()
		if err != nil {
			return err
		}
		scale := math.Min(1, 256/float64(max(img.W, img.H)))
		w, h := max(1, int(math.Round(float64(img.W)*scale))), max(1, int(math.Round(float64(img.H)*scale)))
		t := data.CropResize(0, 0, float64(img.W), float64(img.H), w, h)
		if err := data.WriteImagePNG(filepath.Join(qdir, k+"_image.png"), data.Warp(img, t, w, h, 0)); err != nil {
			return err
		}
		e := qualEntry{Split: split, Stem: k, Kind: pickIdx[i], Scale: scale}
		if m := gt.Masks[k]; m != nil {
			if err := data.WriteMaskPNG(filepath.Join(qdir, k+"_gt.png"), data.WarpMask(m, t, w, h)); err != nil {
				return err
			}
		}
		if m := preds[i].mask; m != nil {
			if err := data.WriteMaskPNG(filepath.Join(qdir, k+"_pred.png"), data.WarpMask(m, t, w, h)); err != nil {
				return err
			}
		}
		if r, ok := segRows[k]; ok {
			e.DiceCup, e.DiceDisc = r.DiceCup, r.DiceDisc
		}
		if f, ok := gt.Fovea[k]; ok {
			q := t.Apply(f)
			e.FoveaGT = []float64{q.X, q.Y}
		}
		if f := preds[i].fovea; f != nil {
			q := t.Apply(*f)
			e.FoveaPred = []float64{q.X, q.Y}
		}
		entries = append(entries, e)
	}
	return writeJSON(filepath.Join(p.dir, "qualitative", "index.json"), entries)
}

// pasteProbs maps the network's class probabilities (3 planes over the
// inW x inH input) back to original pixels by bilinear interpolation over
// the input's footprint in the image, post-processes them at the original
// resolution, and pastes the result into a background (255) canvas of the
// original size. Deciding classes at the original resolution avoids the
// blocky boundaries of pasting an up-sampled label map.
func pasteProbs(probs []float32, inW, inH int, t data.Affine, w, h int, post *eval.Post) (*data.Mask, error) {
	inv, err := t.Inverse()
	if err != nil {
		return nil, err
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range [][2]float64{{-0.5, -0.5}, {float64(inW) - 0.5, -0.5}, {-0.5, float64(inH) - 0.5}, {float64(inW) - 0.5, float64(inH) - 0.5}} {
		q := inv.Apply(data.Point{X: c[0], Y: c[1]})
		minX, maxX = math.Min(minX, q.X), math.Max(maxX, q.X)
		minY, maxY = math.Min(minY, q.Y), math.Max(maxY, q.Y)
	}
	x0, y0 := max(0, int(math.Ceil(minX))), max(0, int(math.Ceil(minY)))
	x1, y1 := min(w-1, int(math.Floor(maxX))), min(h-1, int(math.Floor(maxY)))
	canvas := data.NewMask(w, h)
	if x1 < x0 || y1 < y0 {
		return canvas, nil // the input does not overlap the image
	}
	bw, bh := x1-x0+1, y1-y0+1
	s := inv.Then(data.Affine{1, 0, -float64(x0), 0, 1, -float64(y0)})
	up := data.Warp(&data.Image{W: inW, H: inH, C: 3, Pix: probs}, s, bw, bh, 0)
	n := bw * bh
	for i := 0; i < n; i++ {
		if up.Pix[i]+up.Pix[n+i]+up.Pix[2*n+i] < 0.5 { // outside the input: background
			up.Pix[i] = 1
		}
	}
	box := post.Apply(up.Pix, bw, bh)
	for y := 0; y < bh; y++ {
		copy(canvas.Pix[(y0+y)*w+x0:(y0+y)*w+x0+bw], box.Pix[y*bw:(y+1)*bw])
	}
	return canvas, nil
}
