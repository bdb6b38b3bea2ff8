package eval

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/refugelab/refugelab/data"
)

func samplePred() (*Predictions, map[string]string) {
	gt := smallGT()
	pred := &Predictions{
		Class: map[string]float64{"g0001": 0.9123456789012345, "n0001": 0.1, "n0002": 1e-7},
		Fovea: map[string]data.Point{"g0001": {X: 1000.25, Y: 1000.5}, "n0001": {X: 3, Y: 4}, "n0002": {X: 0, Y: 0}},
		Masks: map[string]*data.Mask{},
	}
	for k, m := range gt.Masks {
		pred.Masks[k] = m.Clone()
	}
	names := map[string]string{"g0001": "g0001.jpg", "n0001": "n0001.jpg", "n0002": "n0002.JPG"}
	return pred, names
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// C04/C05 golden test: exact CSV bytes with headers and the exact GT image
// names, lowercase mask extensions, and a lossless round trip.
func TestWriteSubmissionGoldenAndRoundTrip(t *testing.T) {
	for _, format := range []string{"refuge2018", "refuge2"} {
		dir := filepath.Join(t.TempDir(), "submission")
		pred, names := samplePred()
		if err := WriteSubmission(dir, format, pred, names, true); err != nil {
			t.Fatal(err)
		}
		wantClass := "FileName,Glaucoma Risk\ng0001.jpg,0.9123456789012345\nn0001.jpg,0.1\nn0002.JPG,1e-07\n"
		if got := readFile(t, filepath.Join(dir, ClassificationFile)); got != wantClass {
			t.Fatalf("%s classification CSV:\n%q\nwant\n%q", format, got, wantClass)
		}
		wantFovea := "ImageName,Fovea_X,Fovea_Y\ng0001.jpg,1000.25,1000.5\nn0001.jpg,3,4\nn0002.JPG,0,0\n"
		if got := readFile(t, filepath.Join(dir, FoveaFile)); got != wantFovea {
			t.Fatalf("%s fovea CSV:\n%q\nwant\n%q", format, got, wantFovea)
		}
		ext := map[string]string{"refuge2018": ".bmp", "refuge2": ".png"}[format]
		ents, _ := os.ReadDir(filepath.Join(dir, SegmentationDir))
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		if want := []string{"g0001" + ext, "n0001" + ext, "n0002" + ext}; !reflect.DeepEqual(got, want) {
			t.Fatalf("%s mask files %v, want %v", format, got, want)
		}
		// The masks read back with the strict codec of package data.
		m, err := data.ReadMask(filepath.Join(dir, SegmentationDir, "g0001"+ext), data.RefugeRule)
		if err != nil || !bytes.Equal(m.Pix, pred.Masks["g0001"].Pix) {
			t.Fatalf("%s mask round trip: %v", format, err)
		}
		for _, src := range []string{dir, dir + ".zip"} {
			back, probs, err := ReadSubmission(src)
			if err != nil || len(probs) != 0 {
				t.Fatalf("read %s: %v %v", src, err, probs)
			}
			if !reflect.DeepEqual(back.Class, pred.Class) || !reflect.DeepEqual(back.Fovea, pred.Fovea) {
				t.Fatalf("round trip of %s: %v %v", src, back.Class, back.Fovea)
			}
			for k, m := range pred.Masks {
				if !bytes.Equal(back.Masks[k].Pix, m.Pix) {
					t.Fatalf("round trip mask %s of %s", k, src)
				}
			}
		}
		// The zip holds the files at its root and is byte-reproducible.
		z1 := readFile(t, dir+".zip")
		zr, err := zip.OpenReader(dir + ".zip")
		if err != nil {
			t.Fatal(err)
		}
		var entries []string
		for _, f := range zr.File {
			entries = append(entries, f.Name)
		}
		zr.Close()
		want := []string{ClassificationFile, FoveaFile, "segmentation/g0001" + ext, "segmentation/n0001" + ext, "segmentation/n0002" + ext}
		if !reflect.DeepEqual(entries, want) {
			t.Fatalf("zip entries %v, want %v", entries, want)
		}
		if err := WriteSubmission(dir, format, pred, names, true); err != nil {
			t.Fatal(err)
		}
		if readFile(t, dir+".zip") != z1 {
			t.Fatal("rewriting the same submission changed the zip bytes")
		}
	}
}

func TestWriteSubmissionErrors(t *testing.T) {
	pred, names := samplePred()
	dir := t.TempDir()
	delete(names, "n0002")
	if err := WriteSubmission(dir, "refuge2018", pred, names, false); err == nil || !strings.Contains(err.Error(), `"n0002"`) {
		t.Fatalf("missing name: %v", err)
	}
	_, names = samplePred()
	if err := WriteSubmission(dir, "refuge2019", pred, names, false); err == nil || !strings.Contains(err.Error(), `did you mean "refuge2018"`) {
		t.Fatalf("unknown format: %v", err)
	}
	bad := pred.Masks["g0001"].Clone()
	bad.Pix[0] = 1
	pred.Masks["g0001"] = bad
	if err := WriteSubmission(dir, "refuge2018", pred, names, false); err == nil || !strings.Contains(err.Error(), "g0001") {
		t.Fatalf("bad mask value: %v", err)
	}
	// Stale masks from another submission in the folder.
	d2 := t.TempDir()
	os.MkdirAll(filepath.Join(d2, SegmentationDir), 0o755)
	os.WriteFile(filepath.Join(d2, SegmentationDir, "x9999.bmp"), []byte("old"), 0o644)
	p2, n2 := samplePred()
	if err := WriteSubmission(d2, "refuge2018", p2, n2, false); err == nil || !strings.Contains(err.Error(), "x9999.bmp") {
		t.Fatalf("stale mask: %v", err)
	}
}

// C05(c): an oracle fovea predictor re-scored after writing gives exactly 0.
func TestC05OracleFoveaZero(t *testing.T) {
	gt := smallGT()
	pred := &Predictions{Fovea: gt.Fovea}
	names := map[string]string{"g0001": "g0001.jpg", "n0001": "n0001.jpg", "n0002": "n0002.jpg"}
	dir := filepath.Join(t.TempDir(), "sub")
	if err := WriteSubmission(dir, "refuge2", pred, names, false); err != nil {
		t.Fatal(err)
	}
	back, _, err := ReadSubmission(dir)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := Score(back, &GroundTruth{Fovea: gt.Fovea}, ScoreOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if tm.Fovea.MeanDistance != 0 {
		t.Fatalf("oracle distance %v, want 0.000 (1.4142 would be a 1-based mix-up)", tm.Fovea.MeanDistance)
	}
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for rel, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func kinds(probs []Problem) string {
	var s []string
	for _, p := range probs {
		s = append(s, p.String())
	}
	return strings.Join(s, "\n")
}

func TestReadSubmissionOfficialLeniencies(t *testing.T) {
	dir := t.TempDir()
	mask, _ := data.EncodeMaskBMP(smallGT().Masks["g0001"])
	writeFiles(t, dir, map[string][]byte{
		// headerless: the first data row is skipped as the official scorer does
		ClassificationFile:           []byte("g0001.jpg,0.9\nn0001.jpg,0.2\nn0002.jpg,abc\nn0003.jpg\nn0001.jpg,0.3\n"),
		FoveaFile:                    []byte("ImageName,Fovea_X,Fovea_Y\ng0001.jpg,1,2\n"),
		"segmentation/g0001.bmp":     mask,
		"segmentation/n0001.BMP":     mask,
		"segmentation/n0002.jpg":     []byte("jpeg"),
		"segmentation/n0003.png":     []byte("not a png"),
		"segmentation/sub/n0004.bmp": mask,
	})
	pred, probs, err := ReadSubmission(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pred.Class, map[string]float64{"n0001": 0.2}) {
		t.Fatalf("classes %v", pred.Class)
	}
	if len(pred.Masks) != 1 || pred.Masks["g0001"] == nil {
		t.Fatalf("masks %v", pred.Masks)
	}
	s := kinds(probs)
	for _, want := range []string{
		`classification [header] classification_results.csv, row 1, g0001.jpg: the first row "g0001.jpg,0.9" holds data and is skipped by the official scorer`,
		`classification [unparsable] classification_results.csv, row 3, n0002.jpg: score "abc" is not a finite number`,
		`classification [unparsable] classification_results.csv, row 4: row "n0003.jpg" has 1 cells`,
		`classification [duplicate] classification_results.csv, row 5, n0001`,
		`segmentation [name-case] segmentation/n0001.BMP: extension ".BMP" is ignored`,
		`segmentation [extra] segmentation/n0002.jpg`,
		`segmentation [unparsable] segmentation/n0003.png`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("problems lack %q:\n%s", want, s)
		}
	}
}

func makeZip(t *testing.T, p string, entries []struct {
	name string
	body []byte
}) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.body)
	}
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadSubmissionZipSafety(t *testing.T) {
	mask, _ := data.EncodeMaskPNG(smallGT().Masks["g0001"])
	p := filepath.Join(t.TempDir(), "team.zip")
	makeZip(t, p, []struct {
		name string
		body []byte
	}{
		{"team/" + ClassificationFile, []byte("FileName,Glaucoma Risk\ng0001.jpg,0.5\n")},
		{"team/segmentation/g0001.png", mask},
		{"team/segmentation/n0001.png", make([]byte, 3<<20)}, // 3 MiB of zeros: over the per-file limit
		{"../evil.csv", []byte("x")},
		{"/etc/passwd", []byte("x")},
		{`team\segmentation\n0002.png`, mask},
	})
	pred, probs, err := ReadSubmissionLimits(p, ZipLimits{MaxEntries: 100, MaxFileBytes: 1 << 20, MaxTotalBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if pred.Class["g0001"] != 0.5 || pred.Masks["g0001"] == nil || len(pred.Masks) != 1 {
		t.Fatalf("pred %v %v", pred.Class, pred.Masks)
	}
	s := kinds(probs)
	for _, want := range []string{
		"submission [unsafe-path] ../evil.csv", "submission [unsafe-path] /etc/passwd", `submission [unsafe-path] team\segmentation\n0002.png`,
		`submission [layout]`, `the files sit in the folder "team"`,
		"segmentation [unparsable] segmentation/n0001.png: team/segmentation/n0001.png in " + p + ": decompresses to more than 1048576 bytes",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("problems lack %q:\n%s", want, s)
		}
	}
	// Entry-count limit.
	if _, _, err := ReadSubmissionLimits(p, ZipLimits{MaxEntries: 3, MaxFileBytes: 1 << 20, MaxTotalBytes: 1 << 30}); err == nil || !strings.Contains(err.Error(), "6 entries") {
		t.Fatalf("entry limit: %v", err)
	}
	// Total limit: the CSV alone is within it, the masks push it over.
	_, probs, err = ReadSubmissionLimits(p, ZipLimits{MaxEntries: 100, MaxFileBytes: 1 << 20, MaxTotalBytes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(kinds(probs), "bytes in all (limit)") {
		t.Fatalf("total limit not reported:\n%s", kinds(probs))
	}
}

// gtFolder writes a csv-layout ground truth: masks under masks/, labels and
// fovea in one table with reordered columns.
func gtFolder(t *testing.T) string {
	dir := t.TempDir()
	gt := smallGT()
	files := map[string][]byte{
		"labels.csv":       []byte("Fovea_Y,ImgName,Glaucoma Label,Fovea_X\n10,g0001.jpg,1,10\n4,n0001.jpg,0,3\n0,n0002.jpg,0,0\n"),
		"images/g0001.png": []byte("fundus image, not a mask"),
	}
	for k, m := range gt.Masks {
		b, _ := data.EncodeMaskPNG(m)
		files["masks/"+k+".png"] = b
	}
	writeFiles(t, dir, files)
	return dir
}

func TestReadGroundTruth(t *testing.T) {
	dir := gtFolder(t)
	gt, err := ReadGroundTruth(dir, "csv")
	if err != nil {
		t.Fatal(err)
	}
	want := smallGT()
	if !reflect.DeepEqual(gt.Labels, want.Labels) || !reflect.DeepEqual(gt.Fovea, want.Fovea) || len(gt.Masks) != 3 {
		t.Fatalf("GT %v %v %d masks", gt.Labels, gt.Fovea, len(gt.Masks))
	}
	for k, m := range want.Masks {
		if !bytes.Equal(gt.Masks[k].Pix, m.Pix) {
			t.Fatalf("mask %s differs", k)
		}
	}
	// REFUGE 2018 training layout: labels from the class folders.
	d2 := t.TempDir()
	g, _ := data.EncodeMaskBMP(want.Masks["g0001"])
	writeFiles(t, d2, map[string][]byte{
		"Annotation-Training400/Disc_Cup_Masks/Glaucoma/g0001.bmp":     g,
		"Annotation-Training400/Disc_Cup_Masks/Non-Glaucoma/n0001.bmp": g,
	})
	gt, err = ReadGroundTruth(d2, "refuge2018")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gt.Labels, map[string]int{"g0001": 1, "n0001": 0}) {
		t.Fatalf("folder labels %v", gt.Labels)
	}
	// A strict-codec failure names the file; a label conflict names both sources.
	writeFiles(t, d2, map[string][]byte{"labels.csv": []byte("ImgName,Glaucoma Label\ng0001.jpg,0\n")})
	if _, err := ReadGroundTruth(d2, "refuge2018"); err == nil || !strings.Contains(err.Error(), "g0001 has label 1 in folder") {
		t.Fatalf("label conflict: %v", err)
	}
	d3 := t.TempDir()
	writeFiles(t, d3, map[string][]byte{"Disc_Cup_Masks/g0001.bmp": g, "Fovea_locations.xlsx": []byte("PK")})
	if _, err := ReadGroundTruth(d3, "refuge2018"); err == nil || !strings.Contains(err.Error(), "Fovea_locations.xlsx") {
		t.Fatalf("xlsx: %v", err)
	}
	if _, err := ReadGroundTruth(d3, "refuge"); err == nil || !strings.Contains(err.Error(), "did you mean") {
		t.Fatalf("layout: %v", err)
	}
}

// The scorer handles the bad submissions of issue 6: missing images, extra
// names, masks of the wrong size, stray mask values, unparsable rows.
func TestEvaluateStrictListsEverything(t *testing.T) {
	gtDir := gtFolder(t)
	sub := t.TempDir()
	gt := smallGT()
	small := data.NewMask(7, 8)
	stray := gt.Masks["n0001"].Clone()
	stray.Pix[0] = 3
	mb := func(m *data.Mask) []byte {
		// data's encoder refuses stray values; encode through the lenient
		// path: PNG of a grey image.
		b, err := encodeGreyPNG(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	writeFiles(t, sub, map[string][]byte{
		ClassificationFile:       []byte("FileName,Glaucoma Risk\ng0001.jpg,0.9\nn0001.jpg,0.2\nx0001.jpg,0.5\nn0002.jpg,oops\n"),
		"segmentation/g0001.png": mb(small),
		"segmentation/n0001.png": mb(stray),
	})
	// Official mode stops at the wrong-size mask (the official code cannot
	// compare arrays of different shapes).
	if _, err := Evaluate(sub, gtDir, "csv", ScoreOptions{}); err == nil || !strings.Contains(err.Error(), "g0001") {
		t.Fatalf("official with wrong size: %v", err)
	}
	_, err := Evaluate(sub, gtDir, "csv", ScoreOptions{Strict: true})
	var se *StrictError
	if !errors.As(err, &se) {
		t.Fatalf("strict: %v", err)
	}
	msg := se.Error()
	for _, want := range []string{
		`classification [unparsable] classification_results.csv, row 5, n0002.jpg`,
		"classification [missing] n0002", "classification [extra] x0001",
		"segmentation [missing] n0002", "segmentation [size] g0001: mask is 7x8 (expected 8x8",
		"segmentation [values] n0001: 1 px outside {0,128,255} (value×count: 3×1)",
		"fovea [missing] g0001", "fovea [missing] n0001", "fovea [missing] n0002",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("strict report lacks %q:\n%s", want, msg)
		}
	}
	// Without the wrong-size mask the official mode scores, tolerating the rest.
	os.Remove(filepath.Join(sub, "segmentation/g0001.png"))
	tm, err := Evaluate(sub, gtDir, "csv", ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Classification: g0001 (0.9) and n0001 (0.2) scored, n0002 skipped;
	// no fovea file: the fovea task is not scored (block omitted, one
	// problem recorded).
	if tm.Classification.N != 2 || tm.Classification.AUC != 1 || tm.Segmentation.N != 1 || tm.Fovea != nil ||
		!strings.Contains(kinds(tm.Problems), "fovea [missing]: the submission has no fovea predictions; task not scored") {
		t.Fatalf("official: %s", FormatTable(tm))
	}
}

func encodeGreyPNG(m *data.Mask) ([]byte, error) {
	g := image.NewGray(image.Rect(0, 0, m.W, m.H))
	copy(g.Pix, m.Pix)
	var buf bytes.Buffer
	err := png.Encode(&buf, g)
	return buf.Bytes(), err
}

func TestRank2018(t *testing.T) {
	mk := func(auc, cup, disc, vcdr float64) *TaskMetrics {
		return &TaskMetrics{Classification: &ClassMetrics{AUC: auc}, Segmentation: &SegMetrics{DiceCup: cup, DiceDisc: disc, VCDRMAE: vcdr}}
	}
	subs := map[string]*TaskMetrics{
		"A": mk(0.95, 0.88, 0.95, 0.05),
		"B": mk(0.98, 0.85, 0.96, 0.04),
		"C": mk(0.90, 0.80, 0.96, 0.06),
	}
	rows, err := Rank(subs, Refuge2018Weights())
	if err != nil {
		t.Fatal(err)
	}
	// Hand-worked: cup ranks A1 B2 C3; disc A3 B1.5 C1.5 (tie); vCDR A2 B1 C3.
	// seg A = .35+.75+.8 = 1.9; B = .7+.375+.4 = 1.475; C = 1.05+.375+1.2 = 2.625
	// -> seg ranks B1 A2 C3; AUC ranks B1 A2 C3;
	// final B = .6+.4 = 1, A = 1.2+.8 = 2, C = 3.
	want := []struct {
		name       string
		seg, final float64
	}{{"B", 1.475, 1}, {"A", 1.9, 2}, {"C", 2.625, 3}}
	for i, w := range want {
		r := rows[i]
		if r.Name != w.name || !near(r.SegScore, w.seg, 1e-12) || !near(r.FinalScore, w.final, 1e-12) || r.Rank != float64(i+1) {
			t.Fatalf("row %d = %+v, want %+v", i, r, w)
		}
	}
	if rows[1].RankDisc != 3 || rows[0].RankDisc != 1.5 {
		t.Fatalf("tied disc ranks %v %v", rows[0].RankDisc, rows[1].RankDisc)
	}
	subs["D"] = &TaskMetrics{Segmentation: &SegMetrics{}}
	if _, err := Rank(subs, Refuge2018Weights()); err == nil || !strings.Contains(err.Error(), `"D"`) {
		t.Fatalf("missing task: %v", err)
	}
}

func TestWriteOfficialCSVs(t *testing.T) {
	gt := smallGT()
	pred, _ := samplePred()
	tm, err := Score(pred, gt, ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := WriteOfficialCSVs(dir, tm); err != nil {
		t.Fatal(err)
	}
	// AUC: g0001 0.912 beats both normals: 1; sens at 0.85: 1.
	if got := readFile(t, filepath.Join(dir, ClassificationEvalFile)); got != "AUC,Sensitivity\n1,1\n" {
		t.Fatalf("classification CSV %q", got)
	}
	if got := readFile(t, filepath.Join(dir, SegmentationEvalFile)); got != "Cup-Dice,Disc-Dice,AE-CDR\n1,1,0\n" {
		t.Fatalf("segmentation CSV %q", got)
	}
	if got := readFile(t, filepath.Join(dir, FoveaTableFile)); !strings.HasPrefix(got, "Filename,Euclidean distance\ng0001,1400.60") {
		t.Fatalf("fovea table %q", got)
	}
}

// The direct 8-bit BMP decoder agrees with the general decoder on data's
// BMP encoding (bottom-up rows, padded stride), handles top-down files and
// reports non-grey palette entries.
func TestDecodeBMP8(t *testing.T) {
	m := data.NewMask(13, 5) // odd width: 3 padding bytes per row
	for i := range m.Pix {
		m.Pix[i] = []uint8{0, 128, 255}[i%3]
	}
	b, err := data.EncodeMaskBMP(m)
	if err != nil {
		t.Fatal(err)
	}
	got, differ, ok, err := decodeBMP8(b)
	if !ok || err != nil || differ != 0 || !bytes.Equal(got.Pix, m.Pix) {
		t.Fatalf("bottom-up: ok %v err %v differ %d", ok, err, differ)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 5; y++ {
		for x := 0; x < 13; x++ {
			r, _, _, _ := img.At(x, y).RGBA()
			if uint8(r>>8) != got.Pix[y*13+x] {
				t.Fatalf("pixel (%d,%d): general decoder %d, direct %d", x, y, r>>8, got.Pix[y*13+x])
			}
		}
	}
	// Top-down: negative height, rows reversed.
	td := append([]byte(nil), b...)
	off := int(td[10]) | int(td[11])<<8 | int(td[12])<<16
	h := 5
	stride := 16
	for y := 0; y < h; y++ {
		copy(td[off+y*stride:off+(y+1)*stride], b[off+(h-1-y)*stride:off+(h-y)*stride])
	}
	neg := uint32(-int32(h))
	td[22], td[23], td[24], td[25] = byte(neg), byte(neg>>8), byte(neg>>16), byte(neg>>24)
	got, _, ok, err = decodeBMP8(td)
	if !ok || err != nil || !bytes.Equal(got.Pix, m.Pix) {
		t.Fatalf("top-down: ok %v err %v", ok, err)
	}
	// Palette entry 128 made reddish: its pixels are reported as differing.
	pal := 14 + int(b[14])
	bad := append([]byte(nil), b...)
	bad[pal+4*128] = 0 // blue of entry 128
	_, differ, _, _ = decodeBMP8(bad)
	want := 0
	for _, v := range m.Pix {
		if v == 128 {
			want++
		}
	}
	if differ != want {
		t.Fatalf("differing pixels %d, want %d", differ, want)
	}
	// Truncated pixel data is an error, a PNG is left to the general decoder.
	if _, _, ok, err := decodeBMP8(b[:len(b)-10]); !ok || err == nil {
		t.Fatalf("truncated: ok %v err %v", ok, err)
	}
	p, _ := data.EncodeMaskPNG(m)
	if _, _, ok, _ := decodeBMP8(p); ok {
		t.Fatal("PNG taken for a BMP")
	}
}

// The ground-truth fast path gives exactly data.ReadMask's result and falls
// back to it (and its error messages) for anything else.
func TestReadGTMaskMatchesDataCodec(t *testing.T) {
	dir := t.TempDir()
	m := smallGT().Masks["g0001"]
	p := filepath.Join(dir, "g0001.bmp")
	if err := data.WriteMaskBMP(p, m); err != nil {
		t.Fatal(err)
	}
	fast, err := readGTMask(p)
	ref, err2 := data.ReadMask(p, data.RefugeRule)
	if err != nil || err2 != nil || !reflect.DeepEqual(fast, ref) {
		t.Fatalf("fast path %v / %v differ from data.ReadMask", err, err2)
	}
	// A stray value: the fast path declines and data's strict error comes back.
	b, _ := os.ReadFile(p)
	off := int(b[10]) | int(b[11])<<8
	b[off] = 7
	bad := filepath.Join(dir, "n0001.bmp")
	os.WriteFile(bad, b, 0o644)
	_, err = readGTMask(bad)
	_, want := data.ReadMask(bad, data.RefugeRule)
	if err == nil || want == nil || err.Error() != want.Error() {
		t.Fatalf("stray value: %v, data says %v", err, want)
	}
}

// A dataset release with its images is read through package data's source
// reader; an oracle submission written from it scores perfectly in strict
// mode (labels from the class folders, fovea from the .xlsx sheet, masks).
func TestGroundTruthFromRelease(t *testing.T) {
	for _, layout := range []string{"refuge2018", "csv"} {
		dir := filepath.Join(t.TempDir(), "release")
		if err := data.WriteSynthetic(dir, 8, 11, data.SynthOptions{W: 48, H: 40}, layout); err != nil {
			t.Fatal(err)
		}
		root := dir // a csv-layout folder is read through its one manifest
		if layout == "csv" {
			if _, err := ReadGroundTruth(filepath.Join(dir, "manifest.csv"), layout); err != nil {
				t.Fatal(err)
			}
		}
		gt, err := ReadGroundTruth(root, layout)
		if err != nil {
			t.Fatal(err)
		}
		if len(gt.Labels) != 8 || len(gt.Fovea) != 8 || len(gt.Masks) != 8 {
			t.Fatalf("%s: %d labels, %d fovea, %d masks; want 8 each", layout, len(gt.Labels), len(gt.Fovea), len(gt.Masks))
		}
		for stem, l := range gt.Labels {
			if layout == "refuge2018" && (l == 1) != strings.HasPrefix(stem, "g") {
				t.Fatalf("%s: label %d for %s", layout, l, stem)
			}
		}
		names := map[string]string{}
		for stem := range gt.Labels {
			names[stem] = stem + ".jpg"
		}
		pred := &Predictions{Class: map[string]float64{}, Fovea: gt.Fovea, Masks: gt.Masks}
		for stem, l := range gt.Labels {
			pred.Class[stem] = float64(l)
		}
		sub := filepath.Join(t.TempDir(), "submission")
		if err := WriteSubmission(sub, "refuge2018", pred, names, true); err != nil {
			t.Fatal(err)
		}
		tm, err := Evaluate(sub+".zip", root, layout, ScoreOptions{Strict: true})
		if err != nil {
			t.Fatal(err)
		}
		if tm.Classification.AUC != 1 || tm.Segmentation.DiceDisc != 1 || tm.Segmentation.VCDRMAE != 0 || tm.Fovea.MeanDistance != 0 {
			t.Fatalf("%s oracle:\n%s", layout, FormatTable(tm))
		}
	}
}

// A tiny PNG declaring a huge image is refused before decoding (no
// allocation of its declared size).
func TestDecodeMaskLenientRefusesHugePNG(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 3, 2))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// IHDR width/height live at bytes 16..23, its CRC (over type and data,
	// bytes 12..28) at 29..32.
	b[16], b[17], b[18], b[19] = 0, 1, 0, 0 // width 65536
	b[20], b[21], b[22], b[23] = 0, 1, 0, 0 // height 65536
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	_, _, err := DecodeMaskLenient(b)
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("huge PNG: %v", err)
	}
}

// Scoring is identical whatever the number of workers (fixed partition,
// index-addressed results).
func TestScoreDeterministicAcrossProcs(t *testing.T) {
	r := loadReference(t)
	gt := &GroundTruth{Masks: map[string]*data.Mask{}}
	pred := &Predictions{Masks: map[string]*data.Mask{}}
	for i, c := range r.Segmentation {
		gb, _ := base64.StdEncoding.DecodeString(c.GT)
		pb, _ := base64.StdEncoding.DecodeString(c.Pred)
		name := string(rune('a'+i/26)) + string(rune('a'+i%26))
		gt.Masks[name] = &data.Mask{W: c.W, H: c.H, Pix: gb}
		pred.Masks[name] = &data.Mask{W: c.W, H: c.H, Pix: pb}
	}
	var outs [][]byte
	for _, procs := range []int{1, 2, 5} {
		old := runtime.GOMAXPROCS(procs)
		tm, err := Score(pred, gt, ScoreOptions{BootstrapN: 200, BootstrapSeed: 9})
		runtime.GOMAXPROCS(old)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(tm)
		outs = append(outs, b)
	}
	if !bytes.Equal(outs[0], outs[1]) || !bytes.Equal(outs[0], outs[2]) {
		t.Fatal("metrics differ with GOMAXPROCS")
	}
}
