package report

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// tilePx is the raster size of one qualitative tile; tileIn its size in
// the figure, so that the PNG is drawn 1:1 at pngDPI.
const (
	tilePx = 300
	tileIn = vg.Length(tilePx) / pngDPI * vg.Inch
)

// maxZoomFrac: a disc window wider than this fraction of the image is not
// worth a zoom tile.
const maxZoomFrac = 0.6

// qualData is one qualitative case loaded from qualitative/<split>/.
type qualData struct {
	q        qualCase
	img      image.Image
	w, h     int
	gt, pred []uint8 // REFUGE mask levels, nil when the file is absent
}

// qualitativeFigure draws, per case, the whole image and below it a zoom
// on the optic disc, each with the ground-truth and predicted contours and
// the fovea points.
func qualitativeFigure(r *run) (*figureFiles, error) {
	cases, labels := qualRanked(r)
	if len(cases) == 0 {
		return nil, fmt.Errorf("qualitative/index.json lists no cases")
	}
	var full, zoom []image.Image
	for _, q := range cases {
		d, err := loadQual(r, q)
		if err != nil {
			return nil, err
		}
		side := float64(max(d.w, d.h))
		full = append(full, d.tile(float64(d.w)/2-side/2, float64(d.h)/2-side/2, side))
		// A zoom is drawn only where it magnifies (not for disc crops).
		if x0, y0, zs, ok := d.discWindow(); ok && zs < maxZoomFrac*side {
			zoom = append(zoom, d.tile(x0, y0, zs))
		} else {
			zoom = append(zoom, nil)
		}
	}
	hasZoom := false
	for _, z := range zoom {
		hasZoom = hasZoom || z != nil
	}
	cols := min(4, len(cases))
	rows := (len(cases) + cols - 1) / cols
	const gap = 0.08 * vg.Inch
	capH := 0.22 * vg.Inch
	legendH := 0.25 * vg.Inch
	per := tileIn + capH + gap // height of one case's block
	if hasZoom {
		per += tileIn + gap
	}
	w := vg.Length(cols)*(tileIn+gap) + gap
	h := vg.Length(rows)*per + gap + legendH
	ts := textStyle(7.5, false)
	ts.XAlign = draw.XCenter
	return render(w, h, func(dc draw.Canvas) {
		for i := range cases {
			cx, cy := i%cols, i/cols
			x := dc.Min.X + gap + vg.Length(cx)*(tileIn+gap)
			yTop := dc.Max.Y - gap - vg.Length(cy)*per
			q := cases[i]
			dc.FillText(ts, vg.Point{X: x + tileIn/2, Y: yTop - capH*0.75}, fmt.Sprintf("%s %d: %s (%s)", labels[i], rankWithin(labels, i), q.Stem, q.Split))
			top := yTop - capH
			dc.DrawImage(vg.Rectangle{Min: vg.Point{X: x, Y: top - tileIn}, Max: vg.Point{X: x + tileIn, Y: top}}, full[i])
			if zoom[i] != nil {
				top -= tileIn + gap
				dc.DrawImage(vg.Rectangle{Min: vg.Point{X: x, Y: top - tileIn}, Max: vg.Point{X: x + tileIn, Y: top}}, zoom[i])
			}
		}
		ly := dc.Min.Y + legendH/2
		lx := dc.Min.X + gap
		ls := textStyle(7.5, false)
		ls.YAlign = draw.YCenter
		for _, it := range []struct {
			c color.Color
			t string
		}{{colGT, "ground truth (disc, cup, fovea +)"}, {colPredDisc, "predicted disc"}, {colPredCup, "predicted cup, predicted fovea ×"}} {
			dc.StrokeLines(draw.LineStyle{Color: it.c, Width: 2}, []vg.Point{{X: lx, Y: ly}, {X: lx + 14, Y: ly}})
			dc.FillText(ls, vg.Point{X: lx + 18, Y: ly}, it.t)
			lx += 18 + ls.Width(it.t) + 14
		}
		if hasZoom {
			dc.FillText(ls, vg.Point{X: lx, Y: ly}, "(lower row: optic disc region)")
		}
	})
}

// rankWithin numbers the best cases 1, 2, ... from the top and the worst
// cases 1, 2, ... from the bottom (worst 1 is the worst case).
func rankWithin(labels []string, i int) int {
	if labels[i] == "best" {
		return i + 1
	}
	return len(labels) - i
}

func loadQual(r *run, q qualCase) (*qualData, error) {
	dir := filepath.Join(r.QualDir, q.Split)
	img, err := readPNG(filepath.Join(dir, q.Stem+"_image.png"))
	if err != nil {
		return nil, err
	}
	d := &qualData{q: q, img: img, w: img.Bounds().Dx(), h: img.Bounds().Dy()}
	for _, m := range []struct {
		suffix string
		dst    *[]uint8
	}{{"_gt.png", &d.gt}, {"_pred.png", &d.pred}} {
		p := filepath.Join(dir, q.Stem+m.suffix)
		if _, err := os.Stat(p); err != nil {
			continue // optional: e.g. a fovea-only run has no masks
		}
		if *m.dst, err = maskLevels(p, d.w, d.h); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// readPNG decodes a PNG file.
func readPNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// maskLevels reads a REFUGE-coded mask PNG as grey values (0 cup, 128 rim,
// 255 background).
func maskLevels(path string, w, h int) ([]uint8, error) {
	img, err := readPNG(path)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	if b.Dx() != w || b.Dy() != h {
		return nil, fmt.Errorf("%s: mask is %dx%d but its image is %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
	out := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			out[y*w+x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
		}
	}
	return out, nil
}

// discWindow returns a square window (left, top, side in image pixels)
// around the union of the ground-truth and predicted discs, with a margin,
// inside the image where possible.
func (d *qualData) discWindow() (x0, y0, side float64, ok bool) {
	minX, minY, maxX, maxY := d.w, d.h, -1, -1
	for _, m := range [][]uint8{d.gt, d.pred} {
		for i, v := range m {
			if v < 255 {
				x, y := i%d.w, i/d.w
				minX, minY, maxX, maxY = min(minX, x), min(minY, y), max(maxX, x), max(maxY, y)
			}
		}
	}
	if maxX < 0 {
		return 0, 0, 0, false
	}
	bw, bh := float64(maxX-minX+1), float64(maxY-minY+1)
	side = math.Max(math.Max(bw, bh)*1.6, 16)
	side = math.Min(side, float64(min(d.w, d.h)))
	cx, cy := float64(minX+maxX+1)/2, float64(minY+maxY+1)/2
	x0 = math.Min(math.Max(cx-side/2, 0), float64(d.w)-side)
	y0 = math.Min(math.Max(cy-side/2, 0), float64(d.h)-side)
	return x0, y0, side, true
}

// tile renders the square window [x0, x0+side) × [y0, y0+side) of the image
// (pixel edges; outside the image is white) at tilePx × tilePx: the image
// bilinear with the pixel-centre convention, the contours of the disc
// (< 255) and cup (== 0) from the nearest-neighbour masks, and the fovea
// points. Ground truth is drawn just outside its boundary and the
// prediction just inside its own, so identical masks show both lines.
func (d *qualData) tile(x0, y0, side float64) image.Image {
	k := float64(tilePx) / side // output pixels per image pixel
	out := image.NewRGBA(image.Rect(0, 0, tilePx, tilePx))
	b := d.img.Bounds()
	at := func(x, y int) (float64, float64, float64) {
		x = min(max(x, 0), d.w-1)
		y = min(max(y, 0), d.h-1)
		cr, cg, cb, _ := d.img.At(b.Min.X+x, b.Min.Y+y).RGBA()
		return float64(cr) / 257, float64(cg) / 257, float64(cb) / 257
	}
	// src maps an output pixel centre to continuous image coordinates
	// (pixel edges: pixel i covers [i, i+1)).
	src := func(o int, origin float64) float64 { return origin + (float64(o)+0.5)/k }
	for oy := 0; oy < tilePx; oy++ {
		ey := src(oy, y0)
		for ox := 0; ox < tilePx; ox++ {
			ex := src(ox, x0)
			o := out.PixOffset(ox, oy)
			if ex < 0 || ey < 0 || ex >= float64(d.w) || ey >= float64(d.h) {
				out.Pix[o], out.Pix[o+1], out.Pix[o+2], out.Pix[o+3] = 255, 255, 255, 255
				continue
			}
			sx, sy := ex-0.5, ey-0.5 // pixel-centre coordinates
			xi, yi := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(xi), sy-float64(yi)
			r00, g00, b00 := at(xi, yi)
			r10, g10, b10 := at(xi+1, yi)
			r01, g01, b01 := at(xi, yi+1)
			r11, g11, b11 := at(xi+1, yi+1)
			lerp := func(a, b, c, d float64) uint8 {
				v := (a*(1-fx)+b*fx)*(1-fy) + (c*(1-fx)+d*fx)*fy
				return uint8(math.Round(math.Min(255, math.Max(0, v))))
			}
			out.Pix[o] = lerp(r00, r10, r01, r11)
			out.Pix[o+1] = lerp(g00, g10, g01, g11)
			out.Pix[o+2] = lerp(b00, b10, b01, b11)
			out.Pix[o+3] = 255
		}
	}
	contour := func(mask []uint8, in func(v uint8) bool, col color.RGBA, outside bool) {
		member := func(ox, oy int) bool {
			if ox < 0 || oy < 0 || ox >= tilePx || oy >= tilePx {
				return false
			}
			ex, ey := src(ox, x0), src(oy, y0)
			if ex < 0 || ey < 0 || ex >= float64(d.w) || ey >= float64(d.h) {
				return false
			}
			return in(mask[int(ey)*d.w+int(ex)])
		}
		for oy := 0; oy < tilePx; oy++ {
			for ox := 0; ox < tilePx; ox++ {
				if member(ox, oy) == outside {
					continue
				}
				for _, dd := range [][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}, {-2, 0}, {2, 0}, {0, -2}, {0, 2}} {
					if member(ox+dd[0], oy+dd[1]) == outside {
						out.SetRGBA(ox, oy, col)
						break
					}
				}
			}
		}
	}
	disc := func(v uint8) bool { return v < 255 }
	cup := func(v uint8) bool { return v == 0 }
	if d.gt != nil {
		contour(d.gt, disc, colGT, true)
		contour(d.gt, cup, colGT, true)
	}
	if d.pred != nil {
		contour(d.pred, disc, colPredDisc, false)
		contour(d.pred, cup, colPredCup, false)
	}
	mark := func(pt []float64, col color.RGBA, diagonal bool) {
		if len(pt) != 2 {
			return
		}
		// Pixel-centre coordinates of the stored image -> output pixels.
		cx := (pt[0]+0.5-x0)*k - 0.5
		cy := (pt[1]+0.5-y0)*k - 0.5
		for t := -7; t <= 7; t++ {
			for s := -1; s <= 1; s++ {
				var pts [][2]float64
				if diagonal {
					pts = [][2]float64{{float64(t), float64(t + s)}, {float64(t), float64(-t + s)}}
				} else {
					pts = [][2]float64{{float64(t), float64(s)}, {float64(s), float64(t)}}
				}
				for _, q := range pts {
					x, y := int(math.Round(cx+q[0])), int(math.Round(cy+q[1]))
					if image.Pt(x, y).In(out.Bounds()) {
						out.SetRGBA(x, y, col)
					}
				}
			}
		}
	}
	mark(d.q.FoveaGT, colGT, false)
	mark(d.q.FoveaPred, colPredCup, true)
	return out
}
