package data

import "math"

// GaussianHeatmap returns a w×h heatmap (row-major) of an unnormalised
// Gaussian centred on p (pixel-centre coordinates): exp(-d²/(2σ²)), so the
// value is 1 at p itself (the peak is exactly 1 when p is a pixel centre).
// sigma must be positive; a non-positive sigma gives a single 1 at the
// pixel nearest to p (all zeros when p is outside the frame).
func GaussianHeatmap(p Point, w, h int, sigma float64) []float32 {
	out := make([]float32, w*h)
	if !(sigma > 0) {
		x, okx := nearestIndex(p.X, w)
		y, oky := nearestIndex(p.Y, h)
		if okx && oky {
			out[y*w+x] = 1
		}
		return out
	}
	k := 1 / (2 * sigma * sigma)
	gx := make([]float64, w)
	for x := range gx {
		d := float64(x) - p.X
		gx[x] = math.Exp(-d * d * k)
	}
	for y := 0; y < h; y++ {
		d := float64(y) - p.Y
		gy := math.Exp(-d * d * k)
		row := out[y*w : (y+1)*w]
		for x := range row {
			row[x] = float32(gx[x] * gy)
		}
	}
	return out
}
