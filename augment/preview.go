package augment

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"

	"github.com/refugelab/refugelab/data"
)

// PreviewItem is one sample shown in a preview contact sheet. Mask and Point
// may be nil.
type PreviewItem struct {
	Image *data.Image
	Mask  *data.Mask
	Point *data.Point
}

// Colours of the preview overlays.
var (
	previewBG     = color.RGBA{40, 40, 40, 255}
	previewDisc   = color.RGBA{0, 255, 0, 255}   // disc outline (mask < 255)
	previewCup    = color.RGBA{0, 200, 255, 255} // cup outline (mask == 0)
	previewPoint  = color.RGBA{255, 0, 255, 255} // fovea cross
	previewLeft   = color.RGBA{255, 0, 0, 255}   // cell frame when the point left the frame
	previewMargin = 4
)

// Preview writes a contact sheet PNG to outPNG: one row per item, the
// original first, then n augmented versions (version k uses epoch k and the
// item's position as the sample index, with the given root seed). Disc
// outlines are green, cup outlines light blue, the point is a magenta cross;
// a version whose point left the frame gets a red cell border. The file is
// written atomically.
func Preview(items []PreviewItem, p *Pipeline, root uint64, n int, outPNG string) error {
	if len(items) == 0 {
		return fmt.Errorf("augment preview %s: no samples to show", outPNG)
	}
	if n < 0 {
		return fmt.Errorf("augment preview %s: number of augmented versions n = %d, expected >= 0", outPNG, n)
	}
	type cell struct {
		img     *data.Image
		m       *data.Mask
		pt      *data.Point
		inFrame bool
	}
	rows := make([][]cell, len(items))
	cw, ch := 0, 0
	for i, it := range items {
		if it.Image == nil || it.Image.W <= 0 || it.Image.H <= 0 {
			return fmt.Errorf("augment preview %s: item %d has no image", outPNG, i)
		}
		if it.Mask != nil && (it.Mask.W != it.Image.W || it.Mask.H != it.Image.H) {
			return fmt.Errorf("augment preview %s: item %d mask is %dx%d but its image is %dx%d", outPNG, i, it.Mask.W, it.Mask.H, it.Image.W, it.Image.H)
		}
		row := []cell{{it.Image, it.Mask, it.Point, true}}
		for k := 0; k < n; k++ {
			img, m, pt, in := p.Apply(it.Image, it.Mask, it.Point, root, k, i)
			row = append(row, cell{img, m, pt, in})
		}
		for _, c := range row {
			cw, ch = max(cw, c.img.W), max(ch, c.img.H)
		}
		rows[i] = row
	}
	mg := previewMargin
	sheet := image.NewRGBA(image.Rect(0, 0, (n+1)*(cw+mg)+mg, len(items)*(ch+mg)+mg))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(previewBG), image.Point{}, draw.Src)
	for r, row := range rows {
		for c, cl := range row {
			ox, oy := mg+c*(cw+mg), mg+r*(ch+mg)
			drawImage(sheet, cl.img, ox, oy)
			if cl.m != nil {
				drawContours(sheet, cl.m, ox, oy)
			}
			if cl.pt != nil && cl.inFrame {
				drawCross(sheet, *cl.pt, cl.img.W, cl.img.H, ox, oy)
			}
			if !cl.inFrame {
				drawFrame(sheet, ox, oy, cl.img.W, cl.img.H)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, sheet); err != nil {
		return fmt.Errorf("augment preview %s: %w", outPNG, err)
	}
	return data.WriteFileAtomic(outPNG, buf.Bytes())
}

func to8(v float32) uint8 {
	return uint8(math.Round(float64(clamp01(v)) * 255))
}

func drawImage(dst *image.RGBA, img *data.Image, ox, oy int) {
	n := img.W * img.H
	for y := 0; y < img.H; y++ {
		for x := 0; x < img.W; x++ {
			i := y*img.W + x
			var c color.RGBA
			if img.C >= 3 {
				c = color.RGBA{to8(img.Pix[i]), to8(img.Pix[n+i]), to8(img.Pix[2*n+i]), 255}
			} else {
				g := to8(img.Pix[i])
				c = color.RGBA{g, g, g, 255}
			}
			dst.SetRGBA(ox+x, oy+y, c)
		}
	}
}

// drawContours marks the boundary pixels of the disc (mask < 255) and of the
// cup (mask == 0): pixels of the region with a 4-neighbour outside it or on
// the frame border.
func drawContours(dst *image.RGBA, m *data.Mask, ox, oy int) {
	in := func(x, y int, cup bool) bool {
		if x < 0 || y < 0 || x >= m.W || y >= m.H {
			return false
		}
		v := m.Pix[y*m.W+x]
		if cup {
			return v == data.Cup
		}
		return v < data.Background
	}
	for _, cup := range []bool{false, true} {
		col := previewDisc
		if cup {
			col = previewCup
		}
		for y := 0; y < m.H; y++ {
			for x := 0; x < m.W; x++ {
				if in(x, y, cup) && (!in(x-1, y, cup) || !in(x+1, y, cup) || !in(x, y-1, cup) || !in(x, y+1, cup)) {
					dst.SetRGBA(ox+x, oy+y, col)
				}
			}
		}
	}
}

// drawCross draws a cross of arm length max(3, size/40) px at the point.
func drawCross(dst *image.RGBA, p data.Point, w, h, ox, oy int) {
	px, py := int(math.Round(p.X)), int(math.Round(p.Y))
	arm := max(3, max(w, h)/40)
	for d := -arm; d <= arm; d++ {
		for _, q := range [][2]int{{px + d, py}, {px, py + d}} {
			if q[0] >= 0 && q[1] >= 0 && q[0] < w && q[1] < h {
				dst.SetRGBA(ox+q[0], oy+q[1], previewPoint)
			}
		}
	}
}

func drawFrame(dst *image.RGBA, ox, oy, w, h int) {
	for x := -1; x <= w; x++ {
		dst.SetRGBA(ox+x, oy-1, previewLeft)
		dst.SetRGBA(ox+x, oy+h, previewLeft)
	}
	for y := -1; y <= h; y++ {
		dst.SetRGBA(ox-1, oy+y, previewLeft)
		dst.SetRGBA(ox+w, oy+y, previewLeft)
	}
}
