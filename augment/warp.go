package augment

import (
	"math"

	"github.com/refugelab/refugelab/data"
)

// sourceAt returns the source position (in the input frame) of output pixel
// (x, y): the displacement field (when given) is added first, then the
// inverse affine map inv is applied.
func sourceAt(inv data.Affine, field []float32, outW, outH, x, y int) (float64, float64) {
	qx, qy := float64(x), float64(y)
	if field != nil {
		i := y*outW + x
		qx += float64(field[i])
		qy += float64(field[outW*outH+i])
	}
	return inv[0]*qx + inv[1]*qy + inv[2], inv[3]*qx + inv[4]*qy + inv[5]
}

// warpImage resamples img bilinearly onto an outW x outH grid. Output pixel q
// reads the input at inv(q + field(q)). Positions outside the input's pixel
// area [-0.5, W-0.5) x [-0.5, H-0.5) are 0; inside it, the half pixel at the
// border replicates the edge pixel. Integer source positions return the input
// value exactly.
func warpImage(img *data.Image, inv data.Affine, outW, outH int, field []float32) *data.Image {
	out := data.NewImage(outW, outH, img.C)
	W, H := img.W, img.H
	plane, oplane := W*H, outW*outH
	maxX, maxY := float64(W-1), float64(H-1)
	for y := 0; y < outH; y++ {
		for x := 0; x < outW; x++ {
			sx, sy := sourceAt(inv, field, outW, outH, x, y)
			if !(sx >= -0.5 && sx < float64(W)-0.5 && sy >= -0.5 && sy < float64(H)-0.5) {
				continue // pad 0
			}
			sx = clampF(sx, maxX)
			sy = clampF(sy, maxY)
			x0, y0 := int(sx), int(sy)
			fx, fy := float32(sx-float64(x0)), float32(sy-float64(y0))
			x1, y1 := x0+1, y0+1
			if x1 > W-1 {
				x1 = W - 1
			}
			if y1 > H-1 {
				y1 = H - 1
			}
			i00, i01 := y0*W+x0, y0*W+x1
			i10, i11 := y1*W+x0, y1*W+x1
			o := y*outW + x
			for c := 0; c < img.C; c++ {
				p := img.Pix[c*plane:]
				top := p[i00]*(1-fx) + p[i01]*fx
				bot := p[i10]*(1-fx) + p[i11]*fx
				out.Pix[c*oplane+o] = top*(1-fy) + bot*fy
			}
		}
	}
	return out
}

// clampF clamps v to [0, hi].
func clampF(v, hi float64) float64 {
	if v < 0 {
		return 0
	}
	if v > hi {
		return hi
	}
	return v
}

// warpMask resamples m with nearest neighbour onto an outW x outH grid with
// the same mapping as warpImage; outside the input it is Background (255).
// Every output value is an input value or 255: no new label values appear.
func warpMask(m *data.Mask, inv data.Affine, outW, outH int, field []float32) *data.Mask {
	out := data.NewMask(outW, outH)
	for y := 0; y < outH; y++ {
		for x := 0; x < outW; x++ {
			sx, sy := sourceAt(inv, field, outW, outH, x, y)
			nx, ny := math.Floor(sx+0.5), math.Floor(sy+0.5)
			if nx < 0 || ny < 0 || nx > float64(m.W-1) || ny > float64(m.H-1) || math.IsNaN(nx) || math.IsNaN(ny) {
				continue
			}
			out.Pix[y*outW+x] = m.Pix[int(ny)*m.W+int(nx)]
		}
	}
	return out
}

// fieldAt samples the displacement field bilinearly at (x, y), clamped to the
// grid.
func fieldAt(field []float32, w, h int, x, y float64) (float64, float64) {
	x = math.Min(math.Max(x, 0), float64(w-1))
	y = math.Min(math.Max(y, 0), float64(h-1))
	x0, y0 := int(x), int(y)
	fx, fy := x-float64(x0), y-float64(y0)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	at := func(plane, xi, yi int) float64 { return float64(field[plane*w*h+yi*w+xi]) }
	var d [2]float64
	for c := 0; c < 2; c++ {
		top := at(c, x0, y0)*(1-fx) + at(c, x1, y0)*fx
		bot := at(c, x0, y1)*(1-fx) + at(c, x1, y1)*fx
		d[c] = top*(1-fy) + bot*fy
	}
	return d[0], d[1]
}

// invertField returns the output position q with q + field(q) = p, i.e. where
// the content at p moves to. It takes Newton steps with the field's Jacobian
// (finite differences of the bilinear interpolant), falling back to the
// fixed-point step q <- p - field(q) where the Jacobian is near singular, and
// keeps the best iterate. For the fold-free fields of the elastic transform
// the residual ends below 1e-9 px.
func invertField(field []float32, w, h int, p data.Point) data.Point {
	qx, qy := p.X, p.Y
	best, bestQ := math.Inf(1), p
	const eps = 1e-4
	for it := 0; it < 100; it++ {
		dx, dy := fieldAt(field, w, h, qx, qy)
		rx, ry := qx+dx-p.X, qy+dy-p.Y
		res := math.Hypot(rx, ry)
		if res < best {
			best, bestQ = res, data.Point{X: qx, Y: qy}
		}
		if res < 1e-10 {
			break
		}
		ax, ay := fieldAt(field, w, h, qx+eps, qy)
		bx, by := fieldAt(field, w, h, qx, qy+eps)
		j00, j01 := 1+(ax-dx)/eps, (bx-dx)/eps
		j10, j11 := (ay-dy)/eps, 1+(by-dy)/eps
		det := j00*j11 - j01*j10
		if math.Abs(det) < 1e-3 {
			qx, qy = qx-rx, qy-ry // fixed-point step
			continue
		}
		qx -= (j11*rx - j01*ry) / det
		qy -= (-j10*rx + j00*ry) / det
	}
	return bestQ
}
