package data

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkFixture writes a good 6x5 image and mask pair and returns a sample.
func checkFixture(t *testing.T, dir, stem string) *Sample {
	t.Helper()
	ip := filepath.Join(dir, stem+".png")
	mp := filepath.Join(dir, stem+"_mask.bmp")
	writeTinyPNG(t, ip, 6, 5)
	m := NewMask(6, 5)
	// rim ring around one cup pixel at (2,2)
	for y := 1; y <= 3; y++ {
		for x := 1; x <= 3; x++ {
			m.Pix[y*6+x] = Rim
		}
	}
	m.Pix[2*6+2] = Cup
	if err := WriteMaskBMP(mp, m); err != nil {
		t.Fatal(err)
	}
	return &Sample{ID: "s/" + stem, Stem: stem, Name: stem + ".png", ImagePath: ip, MaskPath: mp, HasMask: true, W: 6, H: 5, Label: 1,
		Fovea: &Point{4, 2}}
}

// one asserts exactly one problem whose text holds every want.
func one(t *testing.T, name string, ps []Problem, wants ...string) {
	t.Helper()
	if len(ps) != 1 {
		t.Errorf("%s: %d problems, want 1: %v", name, len(ps), ps)
		return
	}
	msg := ps[0].Error()
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: problem %q lacks %q", name, msg, w)
		}
	}
}

func TestCheckProblemKinds(t *testing.T) {
	dir := t.TempDir()
	good := checkFixture(t, dir, "good")
	if ps := Check([]*Sample{good}, 2); len(ps) != 0 {
		t.Fatalf("good sample: %v", ps)
	}
	one(t, "empty", Check(nil, 2), "no samples")

	// Missing image.
	s := checkFixture(t, dir, "missing")
	os.Remove(s.ImagePath)
	one(t, "missing image", Check([]*Sample{s}, 1), s.ImagePath, "missing")

	// Truncated JPEG.
	s = checkFixture(t, dir, "trunc")
	im, _ := ReadImage(s.ImagePath)
	g, _ := ToGoImage(im)
	var buf bytes.Buffer
	jpeg.Encode(&buf, g, nil)
	jp := filepath.Join(dir, "trunc.jpg")
	os.WriteFile(jp, buf.Bytes()[:buf.Len()-40], 0o644)
	s.ImagePath = jp
	one(t, "truncated JPEG", Check([]*Sample{s}, 1), jp, "unreadable", "expected a complete")

	// Mask size differs from the image: both files and sizes named.
	s = checkFixture(t, dir, "size")
	writeTinyMask(t, s.MaskPath, 4, 4)
	one(t, "mask size", Check([]*Sample{s}, 1), s.MaskPath, "4x4", s.ImagePath, "6x5")

	// Mask values outside the REFUGE convention (a stray 200).
	s = checkFixture(t, dir, "stray")
	bad := NewMask(6, 5)
	bad.Pix[0] = 200
	pp := filepath.Join(dir, "stray_mask.png")
	writePNG(t, pp, grayFrom(6, 5, bad.Pix))
	s.MaskPath = pp
	one(t, "stray values", Check([]*Sample{s}, 1), pp, "200×1", "outside {0,128,255}")

	// JPEG mask.
	s = checkFixture(t, dir, "jpgmask")
	s.MaskPath = filepath.Join(dir, "jpgmask.JPG")
	os.WriteFile(s.MaskPath, buf.Bytes(), 0o644)
	one(t, "JPEG mask", Check([]*Sample{s}, 1), "jpgmask.JPG", "JPEG", "lossless")

	// Cup outside the disc: a cup pixel with background beside it.
	s = checkFixture(t, dir, "cupout")
	m := NewMask(6, 5)
	m.Pix[2*6+2], m.Pix[2*6+3] = Cup, Rim
	WriteMaskBMP(s.MaskPath, m)
	one(t, "cup outside disc", Check([]*Sample{s}, 1), "cup outside the disc: 1 cup px")

	// Fovea outside the image (1-based x = W would be off by one).
	s = checkFixture(t, dir, "fovea")
	s.Fovea = &Point{6, 2}
	one(t, "fovea outside", Check([]*Sample{s}, 1), "fovea (6, 2) lies outside the 6x5 image")

	// Duplicate ids.
	a, c := checkFixture(t, dir, "dupa"), checkFixture(t, dir, "dupb")
	c.ID = a.ID
	one(t, "duplicate id", Check([]*Sample{a, c}, 2), "duplicate sample id \"s/dupa\"", c.ImagePath)
}

// Problems come back in the same order for any worker count.
func TestCheckDeterministic(t *testing.T) {
	dir := t.TempDir()
	var ss []*Sample
	for i, stem := range []string{"a", "b", "c", "d", "e"} {
		s := checkFixture(t, dir, stem)
		if i%2 == 0 {
			s.Fovea = &Point{-3, 0}
		}
		ss = append(ss, s)
	}
	ref := Check(ss, 1)
	if len(ref) != 3 {
		t.Fatalf("%d problems, want 3", len(ref))
	}
	for _, w := range []int{2, 3, 8} {
		got := Check(ss, w)
		for i := range ref {
			if got[i] != ref[i] {
				t.Fatalf("workers %d: problem %d = %v, want %v", w, i, got[i], ref[i])
			}
		}
	}
}

// CheckSources reports the pairing problems of LoadSource (a manifest row
// naming a missing image, an empty source) together with Check's.
func TestCheckSources(t *testing.T) {
	dir := t.TempDir()
	writeTinyPNG(t, filepath.Join(dir, "a.png"), 4, 4)
	writeFile(t, filepath.Join(dir, "m.csv"), "image,label,fovea_x,fovea_y\na.png,1,9,1\nb.png,0,,\n")
	empty := t.TempDir()
	specs := []SourceSpec{
		{Name: "m", Format: "csv", Root: "m.csv"},
		{Name: "e", Format: "refuge2018", Root: empty},
	}
	samples, reps, ps, err := CheckSources(specs, dir, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 1 || len(reps) != 2 || len(ps) != 3 {
		t.Fatalf("samples %d reports %d problems %v", len(samples), len(reps), ps)
	}
	if ps[0].Row != 3 || !strings.Contains(ps[0].What, `"b.png"`) {
		t.Errorf("row naming a missing image: %v", ps[0])
	}
	if ps[1].File != empty || !strings.Contains(ps[1].What, "empty") {
		t.Errorf("empty source: %v", ps[1])
	}
	if !strings.Contains(ps[2].What, "fovea (9, 1) lies outside the 4x4 image") {
		t.Errorf("fovea: %v", ps[2])
	}
	if got := ps[0].Error(); !strings.HasPrefix(got, filepath.Join(dir, "m.csv")+": row 3: row names image") {
		t.Errorf("Problem.Error() = %q", got)
	}
}

// The shared datasets as distributed have no problem at all: every image
// decodes, every mask follows its convention and has its image's size, the
// cup lies inside the disc (README: "no cup (0) pixel touches a background
// (255) pixel"; RIM-ONE labels.csv cup_px_outside_disc = 0), and all fovea
// and disc centres lie inside the images.
func TestCheckSharedData(t *testing.T) {
	base := filepath.Join(moduleRoot(t), "..", "shared", "data")
	sharedData(t, "")
	specs := []SourceSpec{
		{Name: "rim", Format: "rimone-dl", Root: "rim-one-dl", Params: map[string]any{"mask_polarity": "bright", "mask_threshold": "nonzero"}},
		{Name: "dg", Format: "fundus-dg", Root: "fundus-dg-roi"},
		{Name: "idrid", Format: "idrid", Root: "idrid-localization"},
	}
	samples, reps, ps, err := CheckSources(specs, base, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 24+7+20 || len(reps) != 3 {
		t.Errorf("%d samples, %d reports", len(samples), len(reps))
	}
	for _, p := range ps {
		t.Errorf("problem: %v", p)
	}
}

// Synthetic (in-memory) samples pass Check: sizes, masks and points agree.
func TestCheckSynthetic(t *testing.T) {
	samples := SyntheticSamples("syn", 4, 3, SynthOptions{W: 96, H: 80, VarySize: true})
	if ps := Check(samples, 2); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
}
