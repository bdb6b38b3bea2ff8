package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func grayFrom(w, h int, pix []uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	copy(g.Pix, pix)
	return g
}

func countCodes(m *Mask) (bg, rim, cup int) {
	for _, v := range m.Pix {
		switch v {
		case Background:
			bg++
		case Rim:
			rim++
		case Cup:
			cup++
		}
	}
	return
}

// c01Mask builds the C01 6x6 RGB mask (cases/README.md C01): channel 0 holds
// 20 px of 0, 10 of 255, 3 of 254, 2 of 138 and 1 of 3; channel 1 differs
// from channel 0; channel 2 is all 0.
func c01Mask() *image.NRGBA {
	var c0 []uint8
	for _, vc := range []struct{ v, n int }{{0, 20}, {255, 10}, {254, 3}, {138, 2}, {3, 1}} {
		for i := 0; i < vc.n; i++ {
			c0 = append(c0, uint8(vc.v))
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, 6, 6))
	for i, v := range c0 {
		c1 := v
		if i%5 == 0 { // a few differing values in channel 1 (as the RIM-ONE masks of segtran#44)
			c1 = v / 2
		}
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = v, c1, 0, 255
	}
	return img
}

// C01: the strict REFUGE codec rejects the RGB RIM-ONE-style mask, naming the
// file, the differing channels and the stray values with their counts; the
// binary rule counts 15 foreground px with ">127" and 16 with "nonzero".
func TestC01RimOneRGBMask(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rim.png")
	writePNG(t, p, c01Mask())
	_, err := ReadMask(p, RefugeRule)
	if err == nil {
		t.Fatal("strict REFUGE codec accepted the C01 mask")
	}
	msg := err.Error()
	for _, want := range []string{p, "3 channels that differ", "254×3, 138×2, 3×1", "6 of 36 px"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	for _, tc := range []struct {
		thr  string
		want int // C01: 10x255 + 3x254 + 2x138 = 15 above 127; + 1x3 = 16 non-zero
	}{{ThresholdHalf, 15}, {ThresholdNonzero, 16}} {
		m, err := ReadMask(p, MaskRule{Convention: ConventionBinary, Polarity: PolarityBright, Threshold: tc.thr})
		if err != nil {
			t.Fatal(err)
		}
		_, fg, _ := countCodes(m)
		if fg != tc.want {
			t.Errorf("threshold %s: %d foreground px, want %d", tc.thr, fg, tc.want)
		}
	}
	// No default guessing: an incomplete binary rule is an error naming the field.
	if _, err := ReadMask(p, MaskRule{Convention: ConventionBinary, Polarity: PolarityBright}); err == nil || !strings.Contains(err.Error(), "threshold") {
		t.Errorf("binary rule without threshold: err = %v", err)
	}
	if _, err := ReadMask(p, MaskRule{Convention: ConventionBinary, Threshold: ThresholdHalf}); err == nil || !strings.Contains(err.Error(), "polarity") {
		t.Errorf("binary rule without polarity: err = %v", err)
	}
	if _, err := ReadMask(p, MaskRule{}); err == nil || !strings.Contains(err.Error(), "convention") {
		t.Errorf("zero rule: err = %v", err)
	}
}

// c02Mask is the C02 16x16 REFUGE mask: disc radius 6 (128), cup radius 3
// (0), centre (7.5, 7.5), the rest 255: 112 disc px (cup included), 32 cup px.
func c02Mask() *Mask {
	m := NewMask(16, 16)
	for y := 0; y < 16; y++ {
		for x := 0; x < 16; x++ {
			d := (float64(x)-7.5)*(float64(x)-7.5) + (float64(y)-7.5)*(float64(y)-7.5)
			if d <= 36 {
				m.Pix[y*16+x] = Rim
			}
			if d <= 9 {
				m.Pix[y*16+x] = Cup
			}
		}
	}
	return m
}

// C02: a JPEG-saved mask gains stray values; the codec refuses .jpg masks by
// extension and any stray values in a lossless file, counting them.
func TestC02JPEGMask(t *testing.T) {
	m := c02Mask()
	bg, rim, cup := countCodes(m)
	if disc := rim + cup; disc != 112 || cup != 32 || bg != 144 {
		t.Fatalf("C02 geometry: disc %d cup %d, want 112 and 32", disc, cup)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, maskGray(m), &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	jp := filepath.Join(dir, "mask.jpg")
	if err := os.WriteFile(jp, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMask(jp, RefugeRule); err == nil || !strings.Contains(err.Error(), "JPEG masks are refused") || !strings.Contains(err.Error(), jp) {
		t.Errorf("JPEG mask: err = %v", err)
	}
	// Same for an upper-case extension.
	jp2 := filepath.Join(dir, "mask.JPEG")
	os.WriteFile(jp2, buf.Bytes(), 0o644)
	if _, err := ReadMask(jp2, RefugeRule); err == nil || !strings.Contains(err.Error(), "JPEG") {
		t.Errorf("JPEG mask (.JPEG): err = %v", err)
	}
	// The decoded JPEG pixels stored losslessly: still rejected, with the
	// stray count of cases/README.md C02 (127 of 256 px, 15 distinct values).
	dec, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	pp := filepath.Join(dir, "mask_from_jpeg.png")
	writePNG(t, pp, dec)
	_, err = ReadMask(pp, RefugeRule)
	if err == nil || !strings.Contains(err.Error(), "127 of 256 px") {
		t.Fatalf("lossless copy of the JPEG mask: err = %v", err)
	}
	g := dec.(*image.Gray)
	h := histogram(g.Pix)
	distinct := 0
	for _, c := range h {
		if c > 0 {
			distinct++
		}
	}
	if distinct != 15 {
		t.Errorf("distinct values after JPEG q95: %d, want 15", distinct)
	}
	// Official rule on the damaged mask: disc 163 px, cup 16 px, Dice 0.8145 / 0.6667.
	dd, dc, id, ic := 0, 0, 0, 0
	for i, v := range g.Pix {
		if v < 255 {
			dd++
			if m.Pix[i] < 255 {
				id++
			}
		}
		if v == 0 {
			dc++
			if m.Pix[i] == 0 {
				ic++
			}
		}
	}
	if dd != 163 || dc != 16 {
		t.Errorf("official rule on JPEG mask: disc %d cup %d, want 163 and 16", dd, dc)
	}
	if d := 2 * float64(id) / float64(dd+112); d < 0.81445 || d > 0.81455 {
		t.Errorf("disc Dice %.5f, want 0.8145", d)
	}
	if d := 2 * float64(ic) / float64(dc+32); d < 0.66665 || d > 0.66668 {
		t.Errorf("cup Dice %.5f, want 0.6667", d)
	}
	// The writers refuse to write stray values.
	bad := &Mask{W: 16, H: 16, Pix: append([]uint8(nil), g.Pix...)}
	if err := WriteMaskBMP(filepath.Join(dir, "x.bmp"), bad); err == nil || !strings.Contains(err.Error(), "127 px outside") {
		t.Errorf("WriteMaskBMP of stray values: err = %v", err)
	}
	if err := WriteMaskPNG(filepath.Join(dir, "x.png"), bad); err == nil {
		t.Error("WriteMaskPNG accepted stray values")
	}
}

// C03: REFUGE codes map to classes with the right counts and round-trip byte
// for byte; a 0/1/2 class-index copy is rejected naming the value set.
func TestC03CodesAndIndexMasks(t *testing.T) {
	dir := t.TempDir()
	a := []uint8{255, 255, 255, 128, 0, 128, 255, 128, 255}
	pa := filepath.Join(dir, "a.bmp")
	if err := WriteMaskBMP(pa, &Mask{W: 3, H: 3, Pix: a}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMask(pa, RefugeRule)
	if err != nil {
		t.Fatal(err)
	}
	bg, rim, cup := countCodes(m)
	if bg != 5 || rim != 3 || cup != 1 || rim+cup != 4 {
		t.Errorf("classes bg %d rim %d cup %d, want 5 3 1 (disc 4)", bg, rim, cup)
	}
	if !bytes.Equal(m.Pix, a) {
		t.Errorf("round trip %v, want %v", m.Pix, a)
	}
	b1, _ := os.ReadFile(pa)
	pa2 := filepath.Join(dir, "a2.bmp")
	if err := WriteMaskBMP(pa2, m); err != nil {
		t.Fatal(err)
	}
	b2, _ := os.ReadFile(pa2)
	if !bytes.Equal(b1, b2) {
		t.Error("re-encoding the read mask changed the BMP bytes")
	}
	// Same for PNG.
	pp := filepath.Join(dir, "a.png")
	if err := WriteMaskPNG(pp, m); err != nil {
		t.Fatal(err)
	}
	if mp, err := ReadMask(pp, RefugeRule); err != nil || !bytes.Equal(mp.Pix, a) {
		t.Errorf("PNG round trip: %v %v", mp, err)
	}
	// (b) the same geometry as a 0/1/2 index mask (0 bg, 1 disc, 2 cup).
	b := []uint8{0, 0, 0, 1, 2, 1, 0, 1, 0}
	pb := filepath.Join(dir, "b.png")
	writePNG(t, pb, grayFrom(3, 3, b))
	_, err = ReadMask(pb, RefugeRule)
	if err == nil || !strings.Contains(err.Error(), "{0,1,2}") || !strings.Contains(err.Error(), "class-index") {
		t.Errorf("0/1/2 mask: err = %v", err)
	}
	// (c) a REFUGE rule that tries to redeclare polarity is invalid.
	if err := (MaskRule{Convention: ConventionRefuge, Polarity: PolarityDark}).Validate(); err == nil {
		t.Error("refuge rule with polarity accepted")
	}
}

// The BMP writer emits an 8-bit paletted file: bits per pixel 8 and a 256
// entry grey palette (BITMAPINFOHEADER fields at byte offsets 28 and 46).
func TestWriteMaskBMPHeader(t *testing.T) {
	m := c02Mask()
	b, err := EncodeMaskBMP(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:2]) != "BM" {
		t.Fatalf("magic %q", b[:2])
	}
	bpp := int(b[28]) | int(b[29])<<8
	if bpp != 8 {
		t.Errorf("bits per pixel %d, want 8", bpp)
	}
	// Palette after the 14-byte file header and the 40-byte info header: BGRA.
	for i := 0; i < 256; i++ {
		p := b[54+4*i : 58+4*i]
		if p[0] != uint8(i) || p[1] != uint8(i) || p[2] != uint8(i) {
			t.Fatalf("palette entry %d = %v, want grey", i, p)
		}
	}
	// 16 px rows are already 4-byte aligned: file = 54 + 1024 + 256.
	if len(b) != 54+1024+256 {
		t.Errorf("file size %d", len(b))
	}
	if err := WriteMaskBMP(filepath.Join(t.TempDir(), "X.BMP"), m); err == nil || !strings.Contains(err.Error(), "lowercase") {
		t.Errorf("upper-case .BMP accepted: %v", err)
	}
}

// A grey-palette paletted PNG and an RGB PNG with R=G=B (fundus-dg style) are
// accepted; a transparent mask is refused.
func TestReadMaskLayouts(t *testing.T) {
	dir := t.TempDir()
	pal := color.Palette{}
	for i := 0; i < 256; i++ {
		pal = append(pal, color.Gray{uint8(i)})
	}
	pi := image.NewPaletted(image.Rect(0, 0, 3, 1), pal)
	pi.Pix = []uint8{0, 128, 255}
	p1 := filepath.Join(dir, "p.png")
	writePNG(t, p1, pi)
	if m, err := ReadMask(p1, RefugeRule); err != nil || !bytes.Equal(m.Pix, []uint8{0, 128, 255}) {
		t.Errorf("paletted: %v %v", m, err)
	}
	rgb := image.NewNRGBA(image.Rect(0, 0, 3, 1))
	for i, v := range []uint8{255, 0, 128} {
		rgb.Pix[4*i], rgb.Pix[4*i+1], rgb.Pix[4*i+2], rgb.Pix[4*i+3] = v, v, v, 255
	}
	p2 := filepath.Join(dir, "rgb.png")
	writePNG(t, p2, rgb)
	if m, err := ReadMask(p2, RefugeRule); err != nil || !bytes.Equal(m.Pix, []uint8{255, 0, 128}) {
		t.Errorf("rgb: %v %v", m, err)
	}
	rgb.Pix[3] = 10
	p3 := filepath.Join(dir, "alpha.png")
	writePNG(t, p3, rgb)
	if _, err := ReadMask(p3, RefugeRule); err == nil || !strings.Contains(err.Error(), "opaque") {
		t.Errorf("transparent mask: err = %v", err)
	}
}

// ReadBinaryPair merges a disc and a cup file, and refuses a cup outside the disc.
func TestReadBinaryPair(t *testing.T) {
	dir := t.TempDir()
	disc := grayFrom(4, 1, []uint8{0, 255, 255, 255})
	cup := grayFrom(4, 1, []uint8{0, 0, 255, 0})
	pd, pc := filepath.Join(dir, "d.png"), filepath.Join(dir, "c.png")
	writePNG(t, pd, disc)
	writePNG(t, pc, cup)
	rule := MaskRule{Convention: ConventionBinary, Polarity: PolarityBright, Threshold: ThresholdHalf}
	m, err := ReadBinaryPair(pd, pc, rule)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Pix, []uint8{255, 128, 0, 128}) {
		t.Errorf("merged %v", m.Pix)
	}
	writePNG(t, pc, grayFrom(4, 1, []uint8{255, 0, 0, 0}))
	if _, err := ReadBinaryPair(pd, pc, rule); err == nil || !strings.Contains(err.Error(), "1 cup px") {
		t.Errorf("cup outside disc: err = %v", err)
	}
	writePNG(t, pc, grayFrom(3, 1, []uint8{0, 0, 0}))
	if _, err := ReadBinaryPair(pd, pc, rule); err == nil || !strings.Contains(err.Error(), "4x1") || !strings.Contains(err.Error(), "3x1") {
		t.Errorf("size mismatch: err = %v", err)
	}
}
