package data

import (
	"math"
	"runtime"
	"sync"
)

// Geometry helpers. Every resampling here uses the pixel-centre convention
// of package data: pixel i covers [i-0.5, i+0.5), so an image of width W
// covers [-0.5, W-0.5). A transform T maps source points to destination
// points; the output pixel at (x', y') takes the source value at
// T⁻¹(x', y').

// parallelRows runs f over [0, h) split into a fixed number of row chunks
// (independent of scheduling; each row is computed the same way whoever
// runs it, so results are deterministic).
func parallelRows(h int, f func(y0, y1 int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > h {
		workers = h
	}
	if workers <= 1 || h < 32 {
		f(0, h)
		return
	}
	var wg sync.WaitGroup
	rows := (h + workers - 1) / workers
	for k := 0; k < workers; k++ {
		a, b := k*rows, min(h, (k+1)*rows)
		if a >= b {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(a, b)
		}()
	}
	wg.Wait()
}

// scaleOf returns the smaller of the two axis scales of a (destination
// pixels per source pixel along each source axis), used to decide
// supersampling.
func scaleOf(a Affine) float64 {
	return math.Min(math.Hypot(a[0], a[3]), math.Hypot(a[1], a[4]))
}

// Warp resamples img into an outW×outH frame through T (source ->
// destination). Samples are bilinear; a sample point inside the source's
// extent [-0.5, W-0.5)×[-0.5, H-0.5) uses edge-clamped neighbours, a point
// outside it takes the value pad. When T shrinks the image (fewer than one
// output pixel per source pixel), each output pixel averages an n×n grid
// of bilinear samples spread over its footprint, n = ceil(1/scale), so
// downscaling does not alias; upscaling and scale 1 use one sample, and an
// integer translation copies pixels exactly.
func Warp(img *Image, T Affine, outW, outH int, pad float32) *Image {
	inv, err := T.Inverse()
	out := NewImage(outW, outH, img.C)
	if err != nil {
		for i := range out.Pix {
			out.Pix[i] = pad
		}
		return out
	}
	n := 1
	if s := scaleOf(T); s < 1 && s > 0 {
		n = int(math.Ceil(1/s - 1e-9))
		if n > 16 {
			n = 16
		}
	}
	var offs []float64
	for k := 0; k < n; k++ {
		offs = append(offs, (float64(k)+0.5)/float64(n)-0.5)
	}
	W, H := img.W, img.H
	plane, oplane := W*H, outW*outH
	parallelRows(outH, func(y0, y1 int) {
		acc := make([]float64, img.C)
		for y := y0; y < y1; y++ {
			for x := 0; x < outW; x++ {
				for c := range acc {
					acc[c] = 0
				}
				for _, oy := range offs {
					for _, ox := range offs {
						dx, dy := float64(x)+ox, float64(y)+oy
						sx := inv[0]*dx + inv[1]*dy + inv[2]
						sy := inv[3]*dx + inv[4]*dy + inv[5]
						if sx < -0.5 || sy < -0.5 || sx >= float64(W)-0.5 || sy >= float64(H)-0.5 {
							for c := range acc {
								acc[c] += float64(pad)
							}
							continue
						}
						fx, fy := math.Floor(sx), math.Floor(sy)
						tx, ty := sx-fx, sy-fy
						ix0, iy0 := int(fx), int(fy)
						ix1, iy1 := ix0+1, iy0+1
						ix0, iy0 = max(ix0, 0), max(iy0, 0)
						ix1, iy1 = min(ix1, W-1), min(iy1, H-1)
						i00, i10 := iy0*W+ix0, iy0*W+ix1
						i01, i11 := iy1*W+ix0, iy1*W+ix1
						for c := range acc {
							p := img.Pix[c*plane:]
							if tx == 0 && ty == 0 {
								acc[c] += float64(p[i00])
								continue
							}
							top := float64(p[i00])*(1-tx) + float64(p[i10])*tx
							bot := float64(p[i01])*(1-tx) + float64(p[i11])*tx
							acc[c] += top*(1-ty) + bot*ty
						}
					}
				}
				norm := 1 / float64(n*n)
				for c := range acc {
					out.Pix[c*oplane+y*outW+x] = float32(acc[c] * norm)
				}
			}
		}
	})
	return out
}

// nearestIndex returns the source pixel index nearest to v (ties round up,
// floor(v+0.5)) and whether v lies inside [-0.5, n-0.5).
func nearestIndex(v float64, n int) (int, bool) {
	if v < -0.5 || v >= float64(n)-0.5 {
		return 0, false
	}
	i := int(math.Floor(v + 0.5))
	if i >= n {
		i = n - 1
	}
	return i, true
}

// WarpMask resamples a mask through T (source -> destination) by nearest
// neighbour, so no new label values appear; destination pixels whose
// source point falls outside the mask are Background (255, never 0, which
// is cup in REFUGE).
func WarpMask(m *Mask, T Affine, outW, outH int) *Mask {
	out := NewMask(outW, outH)
	inv, err := T.Inverse()
	if err != nil {
		return out
	}
	parallelRows(outH, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := 0; x < outW; x++ {
				sx := inv[0]*float64(x) + inv[1]*float64(y) + inv[2]
				sy := inv[3]*float64(x) + inv[4]*float64(y) + inv[5]
				ix, okx := nearestIndex(sx, m.W)
				iy, oky := nearestIndex(sy, m.H)
				if okx && oky {
					out.Pix[y*outW+x] = m.Pix[iy*m.W+ix]
				}
			}
		}
	})
	return out
}

// PasteMask maps a mask predicted in a transformed frame (roi, reached
// from the original frame by T) back onto an origW×origH canvas: each
// original pixel takes the nearest roi pixel at T(x, y), or Background
// when that point falls outside the roi. For an integer-aligned crop at
// scale 1 this restores the original bytes inside the window exactly.
func PasteMask(roi *Mask, T Affine, origW, origH int) *Mask {
	inv, err := T.Inverse()
	if err != nil {
		return NewMask(origW, origH)
	}
	return WarpMask(roi, inv, origW, origH)
}

// DiscGeometry measures the optic disc (every pixel below 255) of a mask:
// its centroid, and its vertical and horizontal extents (bounding-box
// height and width in pixels). ok is false when the mask has no disc
// pixel.
func DiscGeometry(m *Mask) (center Point, diamV, diamH float64, ok bool) {
	minX, minY, maxX, maxY := m.W, m.H, -1, -1
	var sx, sy, n float64
	for y := 0; y < m.H; y++ {
		row := m.Pix[y*m.W : (y+1)*m.W]
		for x, v := range row {
			if v == Background {
				continue
			}
			sx += float64(x)
			sy += float64(y)
			n++
			minX, maxX = min(minX, x), max(maxX, x)
			minY, maxY = min(minY, y), max(maxY, y)
		}
	}
	if n == 0 {
		return Point{}, 0, 0, false
	}
	return Point{sx / n, sy / n}, float64(maxY - minY + 1), float64(maxX - minX + 1), true
}

// FlipH returns the horizontal flip of a W-pixel-wide frame under the
// pixel-centre convention: x' = W-1-x.
func FlipH(w int) Affine { return Affine{-1, 0, float64(w - 1), 0, 1, 0} }
