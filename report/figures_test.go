package report

import (
	"image"
	"image/color"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

// TestQualTileGeometry checks the pixel-centre mapping of the qualitative
// tiles by hand: a 10×10 image drawn at 300 px gives k = 30 output pixels per
// image pixel, so image pixel i covers output pixels [30i, 30i+30).
func TestQualTileGeometry(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 10, 10))
	for i := range img.Pix {
		img.Pix[i] = 100
	}
	mask := make([]uint8, 100)
	for i := range mask {
		mask[i] = 255
	}
	for y := 3; y <= 6; y++ { // disc: columns and rows 3..6, cup: pixel (4,4)
		for x := 3; x <= 6; x++ {
			mask[y*10+x] = 128
		}
	}
	mask[4*10+4] = 0
	d := &qualData{img: img, w: 10, h: 10, gt: mask, pred: append([]uint8(nil), mask...),
		q: qualCase{FoveaGT: []float64{1, 8}, FoveaPred: []float64{8, 1}}}
	tile := d.tile(0, 0, 10).(*image.RGBA)
	at := func(x, y int) color.RGBA { return tile.RGBAAt(x, y) }
	// Disc edge at output x = 90: ground truth just outside (88, 89), the
	// identical prediction just inside (90, 91); the middle of the disc is
	// the image colour.
	for _, c := range []struct {
		x, y int
		want color.RGBA
	}{
		{88, 150, colGT}, {89, 150, colGT}, {90, 150, colPredDisc}, {91, 150, colPredDisc},
		{87, 150, color.RGBA{100, 100, 100, 255}}, {92, 180, color.RGBA{100, 100, 100, 255}},
		// cup pixel (4,4) covers [120,150): its ground-truth ring starts at 118, its predicted one at 120
		{118, 135, colGT}, {120, 135, colPredCup},
		// fovea GT (1,8): centre (1.5*30-0.5, 8.5*30-0.5) = (44.5, 254.5) -> + drawn in green
		{45, 255, colGT}, {45 + 7, 255, colGT}, {45, 255 - 7, colGT},
		// predicted fovea (8,1) -> (254.5, 44.5), an ×: its diagonal passes (259, 49)
		{255 + 4, 45 + 4, colPredCup},
	} {
		if got := at(c.x, c.y); got != c.want {
			t.Errorf("tile pixel (%d,%d) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	// The disc window is square around the disc (4 px wide, ×1.6 but at
	// least 16 px, clamped to the image): the whole 10×10 image.
	x0, y0, side, ok := d.discWindow()
	if !ok || x0 != 0 || y0 != 0 || side != 10 {
		t.Errorf("discWindow = %v %v %v %v, want 0 0 10 true", x0, y0, side, ok)
	}
}

func TestWrapFitsWidth(t *testing.T) {
	sty := textStyle(7, false)
	w := vg.Length(60)
	s := "optic disc and cup mask at the original size (segmentation/<stem>.bmp) classification_results_with_a_very_long_name.csv"
	lines := wrap(sty, s, w)
	if len(lines) < 4 {
		t.Fatalf("wrap gave %d lines: %q", len(lines), lines)
	}
	if strings.ReplaceAll(strings.Join(lines, ""), " ", "") != strings.ReplaceAll(s, " ", "") {
		t.Errorf("wrap lost text: %q", lines)
	}
	for _, l := range lines {
		if sty.Width(l) > w {
			t.Errorf("line %q is %v wide, more than %v", l, sty.Width(l), w)
		}
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"refugelab", "run", "configs/tiny demo.yaml", "--set", "a.b=it's", ""})
	want := `refugelab run 'configs/tiny demo.yaml' --set 'a.b=it'\''s' ''`
	if got != want {
		t.Errorf("shellJoin = %s, want %s", got, want)
	}
}

func TestShortStep(t *testing.T) {
	for in, want := range map[string]string{
		"Crop to the field of view (threshold 0.05).":                                                          "Crop to the field of view",
		"The optic-nerve-head region is cropped: a 80×80-pixel window":                                         "The optic-nerve-head region is cropped",
		"Each channel is normalised to zero mean and unit standard deviation with the image's own statistics.": "Each channel is normalised to zero mean and unit standard …",
	} {
		if got := shortStep(in); got != want {
			t.Errorf("shortStep(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSizeSummary(t *testing.T) {
	few := map[string]int{"2124x2056": 400, "1634x1634": 800}
	if got, want := sizeSummary(few), "1634×1634 (800), 2124×2056 (400)"; got != want {
		t.Errorf("sizeSummary(few) = %q, want %q", got, want)
	}
	many := map[string]int{"350x350": 1, "746x746": 1, "400x400": 3, "500x500": 2, "600x600": 1, "410x410": 1, "420x420": 1}
	want := "7 distinct sizes over 10 images, from 350×350 to 746×746; most frequent 400×400 (3), 500×500 (2)"
	if got := sizeSummary(many); got != want {
		t.Errorf("sizeSummary(many) = %q, want %q", got, want)
	}
}
