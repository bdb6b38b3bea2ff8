package data

import (
	"encoding/csv"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// moduleRoot finds the folder holding go.mod above the test's folder.
func moduleRoot(t testing.TB) string {
	t.Helper()
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		p := filepath.Dir(d)
		if p == d {
			t.Fatal("go.mod not found above the test folder")
		}
		d = p
	}
}

// sharedData returns ../shared/data/<sub> next to the module, or skips.
func sharedData(t testing.TB, sub string) string {
	t.Helper()
	p := filepath.Join(moduleRoot(t), "..", "shared", "data", sub)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data %s not present (%v): the test reads the non-redistributable datasets from ../shared/data at test time", p, err)
	}
	return p
}

// readLabels reads a tidy labels.csv of ../shared/data into rows keyed by
// the given column.
func readLabels(t *testing.T, path, key string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out[m[key]] = m
	}
	return out
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// discCup counts disc (value < 255, cup included: the official rule) and
// cup (value 0) pixels.
func discCup(m *Mask) (disc, cup int) {
	for _, v := range m.Pix {
		if v < 255 {
			disc++
		}
		if v == 0 {
			cup++
		}
	}
	return
}

func byID(samples []*Sample) map[string]*Sample {
	m := map[string]*Sample{}
	for _, s := range samples {
		m[s.ID] = s
	}
	return m
}

// RIM-ONE DL from ../shared/data: 24 images, 12 glaucoma / 12 normal
// (README "This subset"); size, label and the disc/cup pixel counts of
// every image equal labels.csv (width, height, label, disc_px, cup_px).
func TestRimOneDLShared(t *testing.T) {
	root := sharedData(t, "rim-one-dl")
	spec := SourceSpec{Name: "rim", Format: "rimone-dl", Root: root,
		Params: map[string]any{"mask_polarity": "bright", "mask_threshold": ">127"}}
	samples, rep, err := LoadSource(spec, "/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Images != 24 || rep.Glaucoma != 12 || rep.Normal != 12 || rep.WithMask != 24 || rep.WithFovea != 0 {
		t.Errorf("report %+v, want 24 images, 12 glaucoma, 12 normal, 24 masks", rep)
	}
	if rep.Devices["r1"] != 8 || rep.Devices["r2"] != 8 || rep.Devices["r3"] != 8 {
		t.Errorf("devices %v, want r1/r2/r3 8 each", rep.Devices)
	}
	labels := readLabels(t, filepath.Join(root, "labels.csv"), "image")
	for _, s := range samples {
		row := labels[s.Name]
		if row == nil {
			t.Fatalf("sample %s (%s) not in labels.csv", s.ID, s.Name)
		}
		if s.W != atoi(t, row["width"]) || s.H != atoi(t, row["height"]) || s.Label != atoi(t, row["label"]) {
			t.Errorf("%s: %dx%d label %d, labels.csv %sx%s label %s", s.Name, s.W, s.H, s.Label, row["width"], row["height"], row["label"])
		}
		img, m, err := s.Load()
		if err != nil {
			t.Fatal(err)
		}
		if img.W != s.W || m.W != s.W || m.H != s.H {
			t.Errorf("%s: loaded sizes image %dx%d mask %dx%d", s.Name, img.W, img.H, m.W, m.H)
		}
		disc, cup := discCup(m)
		if disc != atoi(t, row["disc_px"]) || cup != atoi(t, row["cup_px"]) {
			t.Errorf("%s: disc %d cup %d px, labels.csv %s %s", s.Name, disc, cup, row["disc_px"], row["cup_px"])
		}
	}
	// The README's table, independently of labels.csv: r1_Im040 is a
	// 576x576 normal image; r3_S-18-L_left_half a 452x452 glaucoma suspect.
	ids := byID(samples)
	if s := ids["rim/r1_Im040"]; s == nil || s.W != 576 || s.Label != 0 {
		t.Errorf("r1_Im040: %+v", s)
	}
	if s := ids["rim/r3_S-18-L_left_half"]; s == nil || s.W != 452 || s.Label != 1 {
		t.Errorf("r3_S-18-L_left_half: %+v", s)
	}
	// The mask rule is explicit: without it the source does not load.
	spec.Params = map[string]any{"mask_threshold": ">127"}
	if _, _, err := LoadSource(spec, "/", 1); err == nil || !strings.Contains(err.Error(), "mask_polarity") {
		t.Errorf("missing mask_polarity: err = %v", err)
	}
}

// fundus-dg from ../shared/data: 7 ROI crops of 800x800, labels from the
// name prefixes (5 glaucoma, 2 REFUGE validation unknown), devices =
// domains, and disc/cup pixel counts equal to labels.csv.
func TestFundusDGShared(t *testing.T) {
	root := sharedData(t, "fundus-dg-roi")
	samples, rep, err := LoadSource(SourceSpec{Name: "dg", Format: "fundus-dg", Root: root}, "/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Images != 7 || rep.Glaucoma != 5 || rep.Normal != 0 || rep.UnknownLabel != 2 || rep.WithMask != 7 || rep.Sizes["800x800"] != 7 {
		t.Errorf("report %+v", rep)
	}
	want := map[string]int{"Domain1": 2, "Domain2": 2, "Domain3": 1, "Domain4": 2}
	for d, n := range want {
		if rep.Devices[d] != n {
			t.Errorf("device %s: %d, want %d (%v)", d, rep.Devices[d], n, rep.Devices)
		}
	}
	labels := readLabels(t, filepath.Join(root, "labels.csv"), "original_id")
	for _, s := range samples {
		row := labels[s.Stem]
		wantLabel := -1
		if row["label"] != "" {
			wantLabel = atoi(t, row["label"])
		}
		if s.Label != wantLabel {
			t.Errorf("%s: label %d, labels.csv %q", s.Stem, s.Label, row["label"])
		}
		_, m, err := s.Load()
		if err != nil {
			t.Fatal(err)
		}
		disc, cup := discCup(m)
		if disc != atoi(t, row["disc_px"]) || cup != atoi(t, row["cup_px"]) {
			t.Errorf("%s: disc %d cup %d, labels.csv %s %s", s.Stem, disc, cup, row["disc_px"], row["cup_px"])
		}
	}
	if s := byID(samples)["dg/V0018"]; s == nil || s.Label != -1 || s.Device != "Domain4" {
		t.Errorf("V0018: %+v", s)
	}
}

// IDRiD from ../shared/data: 20 images of 4288x2848 with the fovea and OD
// centres of labels.csv (README table: IDRiD_001 fovea (1914, 1617), OD
// (651, 1453)).
func TestIDRiDShared(t *testing.T) {
	root := sharedData(t, "idrid-localization")
	samples, rep, err := LoadSource(SourceSpec{Name: "idrid", Format: "idrid", Root: root}, "/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Images != 20 || rep.WithFovea != 20 || rep.WithDisc != 20 || rep.UnknownLabel != 20 || rep.WithMask != 0 || rep.Sizes["4288x2848"] != 20 {
		t.Errorf("report %+v", rep)
	}
	labels := readLabels(t, filepath.Join(root, "labels.csv"), "image")
	for _, s := range samples {
		row := labels["images/"+s.Name]
		fx, fy := float64(atoi(t, row["fovea_x"])), float64(atoi(t, row["fovea_y"]))
		ox, oy := float64(atoi(t, row["od_center_x"])), float64(atoi(t, row["od_center_y"]))
		if *s.Fovea != (Point{fx, fy}) || *s.DiscCenter != (Point{ox, oy}) {
			t.Errorf("%s: fovea %v disc %v, labels.csv (%v,%v) (%v,%v)", s.Name, *s.Fovea, *s.DiscCenter, fx, fy, ox, oy)
		}
	}
	s := byID(samples)["idrid/IDRiD_001"]
	if s == nil || *s.Fovea != (Point{1914, 1617}) || *s.DiscCenter != (Point{651, 1453}) {
		t.Errorf("IDRiD_001: %+v", s)
	}
}

// writeTinyPNG writes a w x h grey PNG.
func writeTinyPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	writePNG(t, path, grayFrom(w, h, make([]uint8, w*h)))
}

// writeTinyMask writes a w x h REFUGE mask BMP: background with a 2x2 rim
// block holding one cup pixel at (1,1).
func writeTinyMask(t *testing.T, path string, w, h int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	m := NewMask(w, h)
	m.Pix[0], m.Pix[1], m.Pix[w], m.Pix[w+1] = Rim, Rim, Rim, Cup
	// The writers insist on lowercase extensions; rename for upper-case cases.
	ext := filepath.Ext(path)
	tmp := strings.TrimSuffix(path, ext) + ".tmp" + strings.ToLower(ext)
	var err error
	if strings.EqualFold(ext, ".png") {
		err = WriteMaskPNG(tmp, m)
	} else {
		err = WriteMaskBMP(tmp, m)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// The committed IDRiD markups (verbatim: odd headers, CRLF, 45 trailing
// fields), with 412 blank ",,,," rows appended as in the official file,
// read against stand-in images (one with an upper-case .JPG-style stem
// difference): every row's point lands on its stem.
func TestIDRiDCSVQuirks(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"IDRiD_Fovea_Center_Testing Set_Markups.csv", "IDRiD_OD_Center_Testing Set_Markups.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", "idrid", name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "\r\n") || !strings.HasPrefix(string(b), "Image No,X- Coordinate,Y - Coordinate,,,") {
			t.Fatalf("fixture %s lost its quirks", name)
		}
		b = append(b, []byte(strings.Repeat(",,,,\r\n", 412))...)
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	for i := 1; i <= 20; i++ {
		stem := "IDRiD_" + strconv.Itoa(1000 + i)[1:]
		if i == 2 {
			stem = strings.ToLower(stem) // idrid_002: matched case-insensitively
		}
		writeTinyPNG(t, filepath.Join(dir, "images", stem+".png"), 8, 8)
	}
	samples, rep, err := LoadSource(SourceSpec{Name: "i", Format: "idrid", Root: dir}, "/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Images != 20 || rep.WithFovea != 20 || rep.WithDisc != 20 {
		t.Fatalf("report %+v", rep)
	}
	ids := byID(samples)
	// Values from the README table of ../shared/data/idrid-localization.
	if s := ids["i/idrid_002"]; s == nil || *s.Fovea != (Point{1922, 1468}) || *s.DiscCenter != (Point{3158, 1280}) {
		t.Errorf("IDRiD_002: %+v", s)
	}
	if s := ids["i/IDRiD_020"]; s == nil || *s.Fovea != (Point{1723, 1842}) || *s.DiscCenter != (Point{2933, 1786}) {
		t.Errorf("IDRiD_020: %+v", s)
	}
	// coord_base 1 shifts by one pixel.
	samples, _, err = LoadSource(SourceSpec{Name: "i", Format: "idrid", Root: dir, Params: map[string]any{"coord_base": 1}}, "/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if s := byID(samples)["i/IDRiD_020"]; *s.Fovea != (Point{1722, 1841}) {
		t.Errorf("1-based fovea: %v", *s.Fovea)
	}
	// A row naming a missing image is a problem with its row number.
	os.Remove(filepath.Join(dir, "images", "IDRiD_005.png"))
	_, rep, err = LoadSource(SourceSpec{Name: "i", Format: "idrid", Root: dir}, "/", 1)
	var pe *ProblemsError
	if !errors.As(err, &pe) || len(rep.Problems) != 2 {
		t.Fatalf("missing image: err = %v, problems %v", err, rep.Problems)
	}
	for _, p := range rep.Problems {
		if p.Row != 6 || !strings.Contains(p.What, "IDRiD_005") {
			t.Errorf("problem %v, want row 6 naming IDRiD_005", p)
		}
	}
}

// C05(a): a headerless 3-row label file yields 3 labels when configured
// headerless, and is an error naming the first cell when configured with a
// header; the loader never guesses. C05(b)-style: columns are found by name
// in any order.
func TestC05CSVHeader(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []string{"T0001", "T0002", "T0003"} {
		writeTinyPNG(t, filepath.Join(dir, s+".jpg.png"), 4, 4)
	}
	// Real JPEG names are needed for the case: write PNG bytes under .png
	// names and list them.
	man := filepath.Join(dir, "labels.csv")
	os.WriteFile(man, []byte("T0001.jpg.png,1\nT0002.jpg.png,0\nT0003.jpg.png,0\n"), 0o644)
	spec := SourceSpec{Name: "c", Format: "csv", Root: "labels.csv", Params: map[string]any{"header": false, "columns": []any{"image", "label"}}}
	samples, rep, err := LoadSource(spec, dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 3 || rep.Glaucoma != 1 || rep.Normal != 2 {
		t.Errorf("headerless: %d samples, report %+v", len(samples), rep)
	}
	spec.Params = map[string]any{"header": true}
	if _, _, err := LoadSource(spec, dir, 1); err == nil || !strings.Contains(err.Error(), `"T0001.jpg.png"`) || !strings.Contains(err.Error(), "header: false") {
		t.Errorf("header: true on a headerless file: err = %v", err)
	}
	spec.Params = map[string]any{"header": false}
	if _, _, err := LoadSource(spec, dir, 1); err == nil || !strings.Contains(err.Error(), "csv.columns") {
		t.Errorf("header: false without columns: err = %v", err)
	}
	// Columns by name, two orders, with fovea and 1-based coordinates.
	a := "image,label,fovea_x,fovea_y\nT0001.jpg.png,1,2,3\n"
	b := "Fovea_Y, Fovea_X ,Label,Image\n3,2,1,T0001.jpg.png\n"
	var got []Point
	for i, text := range []string{a, b} {
		p := filepath.Join(dir, "m"+strconv.Itoa(i)+".csv")
		os.WriteFile(p, []byte(text), 0o644)
		ss, _, err := LoadSource(SourceSpec{Name: "c", Format: "csv", Root: p, Params: map[string]any{"coord_base": 1}}, "/", 1)
		if err != nil {
			t.Fatal(err)
		}
		if ss[0].Label != 1 {
			t.Errorf("order %d: label %d", i, ss[0].Label)
		}
		got = append(got, *ss[0].Fovea)
	}
	if got[0] != got[1] || got[0] != (Point{1, 2}) {
		t.Errorf("fovea by column name: %v, want both (1, 2) (1-based (2, 3))", got)
	}
	// Unknown params name the param.
	spec.Params = map[string]any{"headers": false}
	if _, _, err := LoadSource(spec, dir, 1); err == nil || !strings.Contains(err.Error(), "csv.headers: unknown parameter") {
		t.Errorf("unknown param: err = %v", err)
	}
}

// C04: images g0001.jpg, g0002.JPG, n0001.jpg pair with masks g0001.bmp,
// g0002.bmp, n0001.BMP by stem, case-insensitively; deleting g0002.bmp makes
// loading fail naming g0002 (never a 2-pair dataset, never g0002.JPG with
// n0001's mask); a 4x4 mask for a 5x5 image fails naming both files and
// sizes.
func TestC04PairingByStem(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "Training400")
	msk := filepath.Join(dir, "Annotation-Training400", "Disc_Cup_Masks")
	writeJPEG := func(p string, w, h int) {
		writeTinyPNG(t, p+".tmp.png", w, h)
		im, err := ReadImage(p + ".tmp.png")
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(p + ".tmp.png")
		g, _ := ToGoImage(im)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := jpegEncode(f, g); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	writeJPEG(filepath.Join(img, "Glaucoma", "g0001.jpg"), 5, 5)
	writeJPEG(filepath.Join(img, "Glaucoma", "g0002.JPG"), 6, 6)
	writeJPEG(filepath.Join(img, "Non-Glaucoma", "n0001.jpg"), 7, 7)
	writeTinyMask(t, filepath.Join(msk, "Glaucoma", "g0001.bmp"), 5, 5)
	writeTinyMask(t, filepath.Join(msk, "Glaucoma", "g0002.bmp"), 6, 6)
	writeTinyMask(t, filepath.Join(msk, "Non-Glaucoma", "n0001.BMP"), 7, 7)
	spec := SourceSpec{Name: "r", Format: "refuge2018", Root: dir, Subset: "training"}
	samples, rep, err := LoadSource(spec, "/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 3 || rep.WithMask != 3 || rep.Glaucoma != 2 || rep.Normal != 1 {
		t.Fatalf("%d samples, report %+v", len(samples), rep)
	}
	for _, s := range samples {
		if !strings.EqualFold(strings.TrimSuffix(filepath.Base(s.MaskPath), filepath.Ext(s.MaskPath)), s.Stem) {
			t.Errorf("%s paired with %s", s.ImagePath, s.MaskPath)
		}
		if _, _, err := s.Load(); err != nil {
			t.Error(err)
		}
	}
	os.Remove(filepath.Join(msk, "Glaucoma", "g0002.bmp"))
	samples, rep, err = LoadSource(spec, "/", 1)
	if err == nil || samples != nil || !strings.Contains(err.Error(), `"g0002"`) || len(rep.Problems) != 1 {
		t.Fatalf("missing g0002.bmp: samples %d, err = %v", len(samples), err)
	}
	// LoadSourceProblems keeps the samples and names the affected image.
	samples, rep, err = LoadSourceProblems(spec, "/", 1)
	if err != nil || len(samples) != 3 || len(rep.Problems) != 1 || rep.Problems[0].File != filepath.Join(img, "Glaucoma", "g0002.JPG") {
		t.Fatalf("LoadSourceProblems: %d samples, problems %v, err %v", len(samples), rep.Problems, err)
	}
	if s := byID(samples)["r/g0002"]; s.HasMask || s.MaskPath != "" {
		t.Errorf("g0002 without its mask: %+v", s)
	}
	writeTinyMask(t, filepath.Join(msk, "Glaucoma", "g0002.bmp"), 6, 6)
	writeTinyMask(t, filepath.Join(msk, "Glaucoma", "g0001.bmp"), 4, 4)
	_, _, err = LoadSource(spec, "/", 1)
	if err == nil || !strings.Contains(err.Error(), "g0001.bmp") || !strings.Contains(err.Error(), "g0001.jpg") ||
		!strings.Contains(err.Error(), "4x4") || !strings.Contains(err.Error(), "5x5") {
		t.Errorf("size mismatch: err = %v", err)
	}
}

// Missing roots and unknown formats are errors naming them.
func TestLoadSourceSpecErrors(t *testing.T) {
	_, _, err := LoadSource(SourceSpec{Name: "x", Format: "refuge2018", Root: "nope"}, "/tmp/does-not-exist-base", 1)
	if err == nil || !strings.Contains(err.Error(), "/tmp/does-not-exist-base/nope") {
		t.Errorf("missing root: err = %v", err)
	}
	_, _, err = LoadSource(SourceSpec{Name: "x", Format: "refuge-2018", Root: "."}, "/", 1)
	if err == nil || !strings.Contains(err.Error(), `did you mean "refuge2018"`) {
		t.Errorf("unknown format: err = %v", err)
	}
	// C03(c): a REFUGE source cannot redeclare raw 0 as background.
	_, _, err = LoadSource(SourceSpec{Name: "x", Format: "refuge2018", Root: ".", Params: map[string]any{"background_value": 0}}, t.TempDir(), 1)
	if err == nil || !strings.Contains(err.Error(), "refuge2018.background_value: unknown parameter") {
		t.Errorf("background_value: err = %v", err)
	}
	// An empty source is a problem naming the root.
	d := t.TempDir()
	_, rep, err := LoadSource(SourceSpec{Name: "x", Format: "refuge2018", Root: d}, "/", 1)
	if err == nil || len(rep.Problems) != 1 || rep.Problems[0].File != d || !strings.Contains(rep.Problems[0].What, "empty") {
		t.Errorf("empty source: err = %v", err)
	}
	if got := KnownFormats(); strings.Join(got, ",") != "csv,fundus-dg,idrid,refuge2,refuge2018,rimone-dl,synthetic" {
		t.Errorf("KnownFormats = %v", got)
	}
}

func jpegEncode(w io.Writer, img image.Image) error {
	return jpeg.Encode(w, img, &jpeg.Options{Quality: 95})
}

// The synthetic format dispatches to SyntheticSamples with a seed derived
// from the root seed and the source name, or an explicit seed.
func TestSyntheticSource(t *testing.T) {
	spec := SourceSpec{Name: "syn", Format: "synthetic", Params: map[string]any{"n": 4, "width": 64, "height": 48}}
	a, rep, err := LoadSource(spec, "", 7)
	if err != nil {
		t.Fatal(err)
	}
	want := SyntheticSamples("syn", 4, Seed(7, "source", "syn"), SynthOptions{W: 64, H: 48})
	if len(a) != 4 || rep.Images != 4 || rep.WithMask != 4 || rep.WithFovea != 4 || rep.Sizes["64x48"] != 4 {
		t.Fatalf("report %+v", rep)
	}
	for i := range a {
		if a[i].ID != want[i].ID || a[i].Label != want[i].Label || *a[i].Fovea != *want[i].Fovea {
			t.Errorf("sample %d: %+v vs %+v", i, a[i], want[i])
		}
	}
	spec.Params["seed"] = 99
	b, _, err := LoadSource(spec, "", 7)
	if err != nil {
		t.Fatal(err)
	}
	w2 := SyntheticSamples("syn", 4, 99, SynthOptions{W: 64, H: 48})
	if *b[3].Fovea != *w2[3].Fovea {
		t.Errorf("explicit seed not used")
	}
	spec.Params = map[string]any{"n": 0}
	if _, _, err := LoadSource(spec, "", 7); err == nil || !strings.Contains(err.Error(), "synthetic.n") {
		t.Errorf("n = 0: err = %v", err)
	}
	if d := DescribeSource(SourceSpec{Name: "syn", Format: "synthetic", Params: map[string]any{"n": 4}}); !strings.Contains(d, "4 synthetic fundus images of 256x256") {
		t.Errorf("DescribeSource: %s", d)
	}
}

// C01 through the RIM-ONE adapter: the C01 RGB mask as a disc file loads
// with 15 disc px under ">127" and 16 under "nonzero", as configured; the
// same files load under both rules in one process; a copy of a Sample value
// keeps its rule; a missing cup file is a problem naming it.
func TestRimOneAdapterRules(t *testing.T) {
	d := t.TempDir()
	writeTinyPNG(t, filepath.Join(d, "images", "r3_G-1-L.png"), 6, 6)
	writeTinyPNG(t, filepath.Join(d, "images", "r1_b.png"), 6, 6)
	seg := filepath.Join(d, "reference_segmentations")
	os.MkdirAll(filepath.Join(seg, "glaucoma"), 0o755)
	writePNG(t, filepath.Join(seg, "glaucoma", "r3_G-1-L-1-Disc-T.png"), c01Mask())
	writePNG(t, filepath.Join(seg, "glaucoma", "r3_G-1-L-1-Cup-T.png"), grayFrom(6, 6, make([]uint8, 36)))
	writeTinyPNG(t, filepath.Join(seg, "normal", "r1_b-1-Disc-T.png"), 6, 6)
	spec := func(thr string) SourceSpec {
		return SourceSpec{Name: "rim", Format: "rimone-dl", Root: d, Params: map[string]any{"mask_polarity": "bright", "mask_threshold": thr}}
	}
	_, rep, err := LoadSource(spec(">127"), "/", 1)
	if err == nil || len(rep.Problems) != 1 || !strings.Contains(err.Error(), "r1_b-1-Cup-T.png") {
		t.Fatalf("missing cup file: err = %v", err)
	}
	os.Remove(filepath.Join(seg, "normal", "r1_b-1-Disc-T.png"))
	os.Remove(filepath.Join(d, "images", "r1_b.png"))
	for _, tc := range []struct {
		thr  string
		disc int
	}{{">127", 15}, {"nonzero", 16}, {">127", 15}} {
		samples, rep, err := LoadSource(spec(tc.thr), "/", 1)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rep.MaskRule, "bright = structure") || !strings.Contains(DescribeSource(spec(tc.thr)), "bright = structure") {
			t.Errorf("rule not reported: %q", rep.MaskRule)
		}
		s := samples[0]
		copied := *s
		for _, x := range []*Sample{s, &copied} {
			_, m, err := x.Load()
			if err != nil {
				t.Fatal(err)
			}
			if disc, cup := discCup(m); disc != tc.disc || cup != 0 {
				t.Errorf("rule %s: disc %d cup %d, want %d and 0", tc.thr, disc, cup, tc.disc)
			}
		}
		if r, cup := MaskRuleOf(s); r.Threshold != tc.thr || !strings.HasSuffix(cup, "r3_G-1-L-1-Cup-T.png") {
			t.Errorf("MaskRuleOf = %v %q", r, cup)
		}
		if f := SampleFiles(s); len(f) != 3 {
			t.Errorf("SampleFiles = %v", f)
		}
		if s.Label != 1 || s.Device != "r3" {
			t.Errorf("label %d device %q", s.Label, s.Device)
		}
		if ps := Check(samples, 1); len(ps) != 0 {
			t.Errorf("Check: %v", ps)
		}
	}
}

// A root that is a symbolic link, and linked folders inside it, are walked.
func TestWalkFollowsLinks(t *testing.T) {
	real := t.TempDir()
	writeTinyPNG(t, filepath.Join(real, "ROIs", "image", "g0001.png"), 4, 4)
	writeTinyMask(t, filepath.Join(real, "ROIs", "mask", "g0001.png"), 4, 4)
	other := t.TempDir()
	writeTinyPNG(t, filepath.Join(other, "image", "n0001.png"), 4, 4)
	writeTinyMask(t, filepath.Join(other, "mask", "n0001.png"), 4, 4)
	links := t.TempDir()
	root := filepath.Join(links, "Domain9")
	if err := os.Symlink(real, root); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	os.Symlink(other, filepath.Join(real, "ROIs2"))
	os.Symlink(real, filepath.Join(real, "loop")) // a cycle is walked once
	samples, rep, err := LoadSource(SourceSpec{Name: "dg", Format: "fundus-dg", Root: root}, "/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 2 || rep.Glaucoma != 1 || rep.Normal != 1 || rep.WithMask != 2 {
		t.Errorf("%d samples, report %+v", len(samples), rep)
	}
}

// A csv manifest with a binary disc/cup pair (Drishti-GS style) needs the
// explicit rule; the C01 mask as disc file gives 15 disc px under ">127".
func TestCSVBinaryPair(t *testing.T) {
	d := t.TempDir()
	writeTinyPNG(t, filepath.Join(d, "a.png"), 6, 6)
	writePNG(t, filepath.Join(d, "a_disc.png"), c01Mask())
	cup := make([]uint8, 36)
	cup[20] = 255 // (2,3): channel 0 of c01Mask is 255 at index 20, so the cup lies inside the disc
	writePNG(t, filepath.Join(d, "a_cup.png"), grayFrom(6, 6, cup))
	// A Windows-style separator in a path is accepted.
	os.MkdirAll(filepath.Join(d, "cups"), 0o755)
	os.Rename(filepath.Join(d, "a_cup.png"), filepath.Join(d, "cups", "a_cup.png"))
	writeFile(t, filepath.Join(d, "m.csv"), "image,disc_mask,cup_mask,label\na.png,a_disc.png,cups\\a_cup.png,1\n")
	spec := SourceSpec{Name: "c", Format: "csv", Root: "m.csv"}
	if _, _, err := LoadSource(spec, d, 1); err == nil || !strings.Contains(err.Error(), "csv.mask_polarity and csv.mask_threshold are required") {
		t.Errorf("no rule: err = %v", err)
	}
	spec.Params = map[string]any{"mask_polarity": "bright", "mask_threshold": ">127"}
	samples, rep, err := LoadSource(spec, d, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.MaskRule, "channel 0 > 127") {
		t.Errorf("mask rule %q", rep.MaskRule)
	}
	_, m, err := samples[0].Load()
	if err != nil {
		t.Fatal(err)
	}
	if disc, c := discCup(m); disc != 15 || c != 1 {
		t.Errorf("disc %d cup %d, want 15 and 1", disc, c)
	}
	if f := SampleFiles(samples[0]); len(f) != 3 {
		t.Errorf("SampleFiles %v", f)
	}
	writeFile(t, filepath.Join(d, "m2.csv"), "image,mask\na.png,a_disc.png\n")
	spec.Root = "m2.csv"
	if _, _, err := LoadSource(spec, d, 1); err == nil || !strings.Contains(err.Error(), "no disc_mask/cup_mask columns") {
		t.Errorf("rule without pair columns: err = %v", err)
	}
}

// The per-sample decoder registry does not keep samples alive.
func TestMaskRegistryReleases(t *testing.T) {
	count := func() int {
		n := 0
		sampleMasks.Range(func(_, _ any) bool { n++; return true })
		return n
	}
	before := count()
	func() {
		s := &Sample{ID: "x/a", MaskPath: "a.png", HasMask: true}
		attachDecoder(s, maskDecoder{rule: MaskRule{Convention: ConventionBinary, Polarity: PolarityBright, Threshold: ThresholdHalf}, cupPath: "c.png"})
		if r, cup := MaskRuleOf(s); cup != "c.png" || r.Threshold != ThresholdHalf {
			t.Errorf("MaskRuleOf = %v %q", r, cup)
		}
		if count() != before+1 {
			t.Errorf("entry not stored")
		}
	}()
	for i := 0; i < 20 && count() > before; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	if count() > before {
		t.Errorf("registry still holds %d entries after GC (had %d)", count(), before)
	}
}
