package train

import (
	"fmt"
	"math"

	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/nn"
)

// Loss is a built loss: a function over raw network outputs (logits) that
// also yields the gradient, a shape check and a sentence.
type Loss struct {
	Name string
	// F is the loss and its gradient (see nn.LossFunc).
	F nn.LossFunc
	// Check rejects output shapes / target sizes the loss cannot handle.
	Check    func(outShape []int, ySize int) error
	describe string
}

// Describe is one sentence naming the loss and its parameters.
func (l *Loss) Describe() string { return l.describe }

var knownLosses = []string{"bce", "ce", "coord-l1", "coord-l2", "dice", "dice-ce", "focal", "heatmap-mse", "multitask"}

// KnownLosses lists the loss names.
func KnownLosses() []string { return append([]string(nil), knownLosses...) }

// Describe is the sentence of the built loss (or the build error).
func (s LossSpec) Describe() string {
	l, err := BuildLoss(s)
	if err != nil {
		return err.Error()
	}
	return l.Describe()
}

// BuildLoss builds a loss from its spec. Losses and their parameters:
//   - bce (pos_weight, default 1): binary cross-entropy on logits, computed
//     stably as pos_weight·y·softplus(−x) + (1−y)·softplus(x), mean over
//     targets (case C17: pos_weight scales only the positive term; C21: no
//     NaN when the sigmoid saturates).
//   - focal (gamma 2, alpha 0.25): binary focal loss on logits.
//   - ce (class_weights, optional list): softmax cross-entropy via log-sum-exp
//     over the channel axis; targets are class indices.
//   - dice (smooth 1): soft Dice over disc (rim+cup, classes 1+2) and cup
//     (class 2) of a 3-class softmax, 1 − mean Dice over images and both
//     structures.
//   - dice-ce (dice_weight 1, ce_weight 1, smooth 1, class_weights).
//   - heatmap-mse: mean squared error to the target heatmap.
//   - multitask (dice_weight 1, ce_weight 1, smooth 1, pos_weight 1,
//     cls_weight 1): for the multitask network: dice-ce on the segmentation
//     part plus cls_weight × bce (pos_weight) on the image logit. Targets
//     per example: H·W class indices, then the label; the label's weight 0
//     marks an unknown label.
//   - coord-l1, coord-l2 (beta 1): the soft-argmax of the heatmap output
//     (softmax of beta·output over the pixels, expected pixel-centre
//     coordinates) against the target point, taken as the centroid of the
//     target heatmap's values ≥ 0.1 of its peak; L1 or squared L2 distance
//     in units of the image width/height, mean over images. An example's
//     weight is the largest of its target weights (0 drops it).
//
// All losses multiply each target's term by its weight (Example.W) and
// average over targets (or, for Dice, weight the pixels' sums).
func BuildLoss(spec LossSpec) (*Loss, error) {
	name := spec.Name
	if name == "" {
		return nil, fmt.Errorf("loss.name: missing (known: bce, ce, dice, dice-ce, focal, heatmap-mse)")
	}
	r := newParams("loss."+name, spec.Params)
	var l *Loss
	switch name {
	case "bce":
		pw := r.float("pos_weight", 1, func(v float64) bool { return v > 0 }, "> 0")
		l = &Loss{F: bceLoss(pw), Check: checkBinary, describe: fmt.Sprintf("Binary cross-entropy on the logit with pos_weight %g (positive terms weighted), averaged over targets.", pw)}
	case "focal":
		g := r.float("gamma", 2, func(v float64) bool { return v >= 0 }, ">= 0")
		a := r.float("alpha", 0.25, func(v float64) bool { return v >= 0 && v <= 1 }, "0..1")
		l = &Loss{F: focalLoss(g, a), Check: checkBinary, describe: fmt.Sprintf("Binary focal loss (Lin et al.) on the logit with gamma %g and alpha %g, averaged over targets.", g, a)}
	case "ce":
		cw := r.floats("class_weights")
		l = &Loss{F: ceLoss(cw), Check: checkClasses(cw), describe: fmt.Sprintf("Softmax cross-entropy over the classes%s, averaged over targets.", classWeightText(cw))}
	case "dice":
		sm := r.float("smooth", 1, func(v float64) bool { return v >= 0 }, ">= 0")
		l = &Loss{F: diceLoss(sm), Check: checkDice, describe: fmt.Sprintf("Soft Dice loss over the optic disc (rim + cup) and the cup from the softmax probabilities, smoothing %g, averaged over images and both structures.", sm)}
	case "dice-ce":
		dw := r.float("dice_weight", 1, func(v float64) bool { return v >= 0 }, ">= 0")
		cwt := r.float("ce_weight", 1, func(v float64) bool { return v >= 0 }, ">= 0")
		sm := r.float("smooth", 1, func(v float64) bool { return v >= 0 }, ">= 0")
		cw := r.floats("class_weights")
		dl, cl := diceLoss(sm), ceLoss(cw)
		f := func(out []float32, shape []int, y, w []float32, grad []float32) float64 {
			var g2 []float32
			if grad != nil {
				g2 = make([]float32, len(grad))
			}
			a := cl(out, shape, y, w, grad)
			b := dl(out, shape, y, w, g2)
			if grad != nil {
				for i := range grad {
					grad[i] = float32(cwt*float64(grad[i]) + dw*float64(g2[i]))
				}
			}
			return cwt*a + dw*b
		}
		check := func(s []int, n int) error {
			if err := checkDice(s, n); err != nil {
				return err
			}
			return checkClasses(cw)(s, n)
		}
		l = &Loss{F: f, Check: check, describe: fmt.Sprintf("The weighted sum of a soft Dice loss over the optic disc (rim + cup) and the cup (weight %g, smoothing %g) and a softmax cross-entropy (weight %g%s).", dw, sm, cwt, classWeightText(cw))}
	case "coord-l1", "coord-l2":
		beta := r.float("beta", 1, func(v float64) bool { return v > 0 }, "> 0")
		l2 := name == "coord-l2"
		kind := "L1"
		if l2 {
			kind = "squared L2"
		}
		l = &Loss{F: coordLoss(beta, l2), Check: checkBinary, describe: fmt.Sprintf("%s distance between the soft-argmax of the heatmap (softmax temperature 1/%g) and the target point, in units of the image size, averaged over images.", kind, beta)}
	case "multitask":
		dw := r.float("dice_weight", 1, func(v float64) bool { return v >= 0 }, ">= 0")
		cwt := r.float("ce_weight", 1, func(v float64) bool { return v >= 0 }, ">= 0")
		sm := r.float("smooth", 1, func(v float64) bool { return v >= 0 }, ">= 0")
		pw := r.float("pos_weight", 1, func(v float64) bool { return v > 0 }, "> 0")
		clw := r.float("cls_weight", 1, func(v float64) bool { return v >= 0 }, ">= 0")
		seg, err := BuildLoss(LossSpec{Name: "dice-ce", Params: map[string]any{"dice_weight": dw, "ce_weight": cwt, "smooth": sm}})
		if err != nil {
			return nil, err
		}
		l = &Loss{F: multitaskLoss(seg.F, bceLoss(pw), clw), Check: checkMultitask,
			describe: fmt.Sprintf("For the shared encoder: the weighted sum of a soft Dice loss over the optic disc and the cup (weight %g, smoothing %g) and a softmax cross-entropy (weight %g) on the segmentation, plus %g × binary cross-entropy with pos_weight %g on the glaucoma logit (images without a label excluded).", dw, sm, cwt, clw, pw)}
	case "heatmap-mse":
		l = &Loss{F: mseLoss, Check: checkSame, describe: "Mean squared error between the predicted and the Gaussian target heatmap, averaged over pixels."}
	default:
		return nil, fmt.Errorf("loss.name: %w", data.UnknownNameError("loss", name, knownLosses))
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	l.Name = name
	return l, nil
}

func classWeightText(cw []float64) string {
	if len(cw) == 0 {
		return ""
	}
	return fmt.Sprintf(" with class weights %v", cw)
}

func prod(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

func checkBinary(s []int, ySize int) error {
	if len(s) < 2 || s[1] != 1 {
		return fmt.Errorf("binary loss needs one output channel, the network has shape %v", s)
	}
	return checkSame(s, ySize)
}

func checkSame(s []int, ySize int) error {
	if per := prod(s) / s[0]; per != ySize {
		return fmt.Errorf("network gives %d outputs per example, targets have %d", per, ySize)
	}
	return nil
}

func checkClasses(cw []float64) func(s []int, ySize int) error {
	return func(s []int, ySize int) error {
		if len(s) < 2 || s[1] < 2 {
			return fmt.Errorf("softmax cross-entropy needs at least 2 output channels, the network has shape %v", s)
		}
		if per := prod(s[2:]); per != ySize {
			return fmt.Errorf("network gives %d positions per example, targets have %d class indices", per, ySize)
		}
		if len(cw) > 0 && len(cw) != s[1] {
			return fmt.Errorf("loss.class_weights: %d values for %d classes", len(cw), s[1])
		}
		return nil
	}
}

func checkDice(s []int, ySize int) error {
	if len(s) != 4 || s[1] != 3 {
		return fmt.Errorf("Dice loss needs a (N,3,H,W) output (background, rim, cup), the network has shape %v", s)
	}
	return checkClasses(nil)(s, ySize)
}

// softplus(x) = log(1+e^x), stable for every x.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// sigmoid(x) = 1/(1+e^-x) in float64.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func bceLoss(pw float64) nn.LossFunc {
	return func(out []float32, _ []int, y, w []float32, grad []float32) float64 {
		n := float64(len(out))
		var s float64
		for i, o := range out {
			x, t, wi := float64(o), float64(y[i]), float64(w[i])
			s += wi * (pw*t*softplus(-x) + (1-t)*softplus(x))
			if grad != nil {
				// d/dx: −pw·t·σ(−x) + (1−t)·σ(x)
				grad[i] = float32(wi * (-pw*t*sigmoid(-x) + (1-t)*sigmoid(x)) / n)
			}
		}
		return s / n
	}
}

func focalLoss(gamma, alpha float64) nn.LossFunc {
	return func(out []float32, _ []int, y, w []float32, grad []float32) float64 {
		n := float64(len(out))
		var s float64
		for i, o := range out {
			x, t, wi := float64(o), float64(y[i]), float64(w[i])
			p := sigmoid(x)
			logp, log1p := -softplus(-x), -softplus(x)
			// positive term: −α(1−p)^γ log p; negative: −(1−α)p^γ log(1−p)
			lp := -alpha * math.Pow(1-p, gamma) * logp
			ln := -(1 - alpha) * math.Pow(p, gamma) * log1p
			s += wi * (t*lp + (1-t)*ln)
			if grad != nil {
				gp := alpha * math.Pow(1-p, gamma) * (gamma*p*logp - (1 - p))
				gn := (1 - alpha) * math.Pow(p, gamma) * (p - gamma*(1-p)*log1p)
				grad[i] = float32(wi * (t*gp + (1-t)*gn) / n)
			}
		}
		return s / n
	}
}

func ceLoss(cw []float64) nn.LossFunc {
	return func(out []float32, shape []int, y, w []float32, grad []float32) float64 {
		nb, k := shape[0], shape[1]
		sp := prod(shape[2:])
		cnt := float64(nb * sp)
		parts := make([]float64, nb) // per-image sums, reduced in order
		nn.ParallelFor(nb, func(b int) {
			var s float64
			lp := make([]float64, k)
			base := b * k * sp
			for j := 0; j < sp; j++ {
				m := math.Inf(-1)
				for c := 0; c < k; c++ {
					m = math.Max(m, float64(out[base+c*sp+j]))
				}
				var z float64
				for c := 0; c < k; c++ {
					z += math.Exp(float64(out[base+c*sp+j]) - m)
				}
				lse := m + math.Log(z)
				for c := 0; c < k; c++ {
					lp[c] = float64(out[base+c*sp+j]) - lse
				}
				t := int(y[b*sp+j])
				if t < 0 || t >= k {
					t = 0
				}
				wi := float64(w[b*sp+j])
				if cw != nil {
					wi *= cw[t]
				}
				s -= wi * lp[t]
				if grad != nil {
					for c := 0; c < k; c++ {
						g := math.Exp(lp[c])
						if c == t {
							g--
						}
						grad[base+c*sp+j] = float32(wi * g / cnt)
					}
				}
			}
			parts[b] = s
		})
		var s float64
		for _, v := range parts {
			s += v
		}
		return s / cnt
	}
}

// diceLoss: soft Dice of disc (p1+p2 vs y>=1) and cup (p2 vs y==2), per
// image, L = 1 − mean over images and the two structures.
func diceLoss(smooth float64) nn.LossFunc {
	return func(out []float32, shape []int, y, w []float32, grad []float32) float64 {
		nb, k := shape[0], shape[1]
		sp := prod(shape[2:])
		parts := make([]float64, nb) // per-image losses, reduced in order
		nn.ParallelFor(nb, func(b int) {
			p := make([]float64, k*sp)
			base := b * k * sp
			for j := 0; j < sp; j++ {
				m := math.Inf(-1)
				for c := 0; c < k; c++ {
					m = math.Max(m, float64(out[base+c*sp+j]))
				}
				var z float64
				for c := 0; c < k; c++ {
					e := math.Exp(float64(out[base+c*sp+j]) - m)
					p[c*sp+j] = e
					z += e
				}
				for c := 0; c < k; c++ {
					p[c*sp+j] /= z
				}
			}
			// sums per structure: I = Σ w p g, P = Σ w p, Gs = Σ w g
			var iD, pD, gD, iC, pC, gC float64
			for j := 0; j < sp; j++ {
				wi := float64(w[b*sp+j])
				t := y[b*sp+j]
				pd, pc := p[sp+j]+p[2*sp+j], p[2*sp+j]
				var gd, gc float64
				if t >= 1 {
					gd = 1
				}
				if t == 2 {
					gc = 1
				}
				iD += wi * pd * gd
				pD += wi * pd
				gD += wi * gd
				iC += wi * pc * gc
				pC += wi * pc
				gC += wi * gc
			}
			dD := (2*iD + smooth) / (pD + gD + smooth)
			dC := (2*iC + smooth) / (pC + gC + smooth)
			parts[b] = 2 - dD - dC
			if grad == nil {
				return
			}
			scale := -1 / (2 * float64(nb))
			for j := 0; j < sp; j++ {
				wi := float64(w[b*sp+j])
				t := y[b*sp+j]
				var gd, gc float64
				if t >= 1 {
					gd = 1
				}
				if t == 2 {
					gc = 1
				}
				// dD/dp = w·(2g(P+G+s) − (2I+s)) / (P+G+s)²
				ddD := wi * (2*gd*(pD+gD+smooth) - (2*iD + smooth)) / ((pD + gD + smooth) * (pD + gD + smooth))
				ddC := wi * (2*gc*(pC+gC+smooth) - (2*iC + smooth)) / ((pC + gC + smooth) * (pC + gC + smooth))
				// dL/dp_k: p0 → 0, p1 → disc, p2 → disc + cup
				dp := [3]float64{0, scale * ddD, scale * (ddD + ddC)}
				var dot float64
				for c := 0; c < 3; c++ {
					dot += p[c*sp+j] * dp[c]
				}
				for c := 0; c < k; c++ {
					var d float64
					if c < 3 {
						d = dp[c]
					}
					grad[base+c*sp+j] = float32(p[c*sp+j] * (d - dot))
				}
			}
		})
		var total float64
		for _, v := range parts {
			total += v
		}
		return total / (2 * float64(nb))
	}
}

func mseLoss(out []float32, _ []int, y, w []float32, grad []float32) float64 {
	n := float64(len(out))
	var s float64
	for i, o := range out {
		d := float64(o) - float64(y[i])
		wi := float64(w[i])
		s += wi * d * d
		if grad != nil {
			grad[i] = float32(2 * wi * d / n)
		}
	}
	return s / n
}

// coordLoss: soft-argmax coordinate regression (see BuildLoss).
func coordLoss(beta float64, l2 bool) nn.LossFunc {
	return func(out []float32, shape []int, y, w []float32, grad []float32) float64 {
		nb, h, wd := shape[0], shape[len(shape)-2], shape[len(shape)-1]
		sp := h * wd
		p := make([]float64, sp)
		var total, cnt float64
		for b := 0; b < nb; b++ {
			o := out[b*sp : (b+1)*sp]
			yt := y[b*sp : (b+1)*sp]
			var wb float64
			for _, v := range w[b*sp : (b+1)*sp] {
				wb = math.Max(wb, float64(v))
			}
			cnt++
			if grad != nil {
				clear(grad[b*sp : (b+1)*sp])
			}
			if wb == 0 {
				continue
			}
			// target: centroid of values ≥ 0.1·peak
			var peak float64
			for _, v := range yt {
				peak = math.Max(peak, float64(v))
			}
			var tx, ty, ts float64
			for j, v := range yt {
				if float64(v) >= 0.1*peak && v > 0 {
					tx += float64(v) * float64(j%wd)
					ty += float64(v) * float64(j/wd)
					ts += float64(v)
				}
			}
			if ts == 0 {
				continue
			}
			tx, ty = tx/ts, ty/ts
			m := math.Inf(-1)
			for _, v := range o {
				m = math.Max(m, beta*float64(v))
			}
			var z float64
			for j, v := range o {
				p[j] = math.Exp(beta*float64(v) - m)
				z += p[j]
			}
			var ex, ey float64
			for j := range p {
				p[j] /= z
				ex += p[j] * float64(j%wd)
				ey += p[j] * float64(j/wd)
			}
			dx, dy := (ex-tx)/float64(wd), (ey-ty)/float64(h)
			var gx, gy float64
			if l2 {
				total += wb * (dx*dx + dy*dy)
				gx, gy = 2*dx/float64(wd), 2*dy/float64(h)
			} else {
				total += wb * (math.Abs(dx) + math.Abs(dy))
				gx, gy = sign(dx)/float64(wd), sign(dy)/float64(h)
			}
			if grad != nil {
				for j := range p {
					// d ex / d o_j = beta·p_j·(x_j − ex)
					g := beta * p[j] * (gx*(float64(j%wd)-ex) + gy*(float64(j/wd)-ey))
					grad[b*sp+j] = float32(wb * g / float64(nb))
				}
			}
		}
		return total / cnt
	}
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// checkMultitask: outputs per example K·H·W + 1, targets H·W + 1, K = 3.
func checkMultitask(s []int, ySize int) error {
	per := prod(s) / s[0]
	if len(s) != 2 || ySize < 2 || (per-1)%(ySize-1) != 0 || (per-1)/(ySize-1) != 3 {
		return fmt.Errorf("multitask loss needs the multitask network's output (3·H·W + 1 values per example) and H·W + 1 targets; got output %v and %d targets", s, ySize)
	}
	return nil
}

// multitaskLoss splits each example into its segmentation part (3·sp
// logits, sp targets) and its image logit, applies seg and cls, and
// scatters the gradients back.
func multitaskLoss(seg, cls nn.LossFunc, clw float64) nn.LossFunc {
	return func(out []float32, shape []int, y, w []float32, grad []float32) float64 {
		nb := shape[0]
		per := len(out) / nb
		sp := len(y)/nb - 1
		k := (per - 1) / sp
		so := make([]float32, nb*k*sp)
		sy := make([]float32, nb*sp)
		sw := make([]float32, nb*sp)
		co, cy, cw := make([]float32, nb), make([]float32, nb), make([]float32, nb)
		for b := 0; b < nb; b++ {
			copy(so[b*k*sp:(b+1)*k*sp], out[b*per:b*per+k*sp])
			copy(sy[b*sp:(b+1)*sp], y[b*(sp+1):b*(sp+1)+sp])
			copy(sw[b*sp:(b+1)*sp], w[b*(sp+1):b*(sp+1)+sp])
			co[b], cy[b], cw[b] = out[b*per+k*sp], y[b*(sp+1)+sp], w[b*(sp+1)+sp]
		}
		var sg, cg []float32
		if grad != nil {
			sg, cg = make([]float32, len(so)), make([]float32, nb)
		}
		ls := seg(so, []int{nb, k, sp}, sy, sw, sg)
		lc := cls(co, []int{nb, 1}, cy, cw, cg)
		if grad != nil {
			for b := 0; b < nb; b++ {
				copy(grad[b*per:b*per+k*sp], sg[b*k*sp:(b+1)*k*sp])
				grad[b*per+k*sp] = float32(clw * float64(cg[b]))
			}
		}
		return ls + clw*lc
	}
}
