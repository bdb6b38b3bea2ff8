package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// writeXLSX writes rows (first = header) to the first sheet of a workbook.
func writeXLSX(t *testing.T, path string, rows [][]any) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// refuge2018Tree builds a small REFUGE 2018 release as unzip tools leave it:
// per-class training folders, a doubled validation folder, an illustration
// folder with look-alike jpgs, macOS junk, masks in per-class and flat
// Disc_Cup_Masks folders, the three .xlsx sheets (the test sheet with its
// columns reordered).
func refuge2018Tree(t *testing.T) string {
	d := t.TempDir()
	img := func(rel string, w, h int) { writeTinyPNG(t, filepath.Join(d, filepath.FromSlash(rel)), w, h) }
	msk := func(rel string, w, h int) { writeTinyMask(t, filepath.Join(d, filepath.FromSlash(rel)), w, h) }
	img("REFUGE-Training400/Training400/Glaucoma/g0001.png", 12, 10)
	img("REFUGE-Training400/Training400/Glaucoma/g0002.PNG", 12, 10)
	img("REFUGE-Training400/Training400/Non-Glaucoma/n0001.png", 12, 10)
	img("REFUGE-Training400/Training400/Non-Glaucoma/._n0001.png", 3, 3) // AppleDouble junk: hidden
	img("__MACOSX/Training400/Glaucoma/g0001.png", 3, 3)
	img("Annotation-Training400/Annotation-Training400/Disc_Cup_Fovea_Illustration/g0001.png", 5, 5)
	msk("Annotation-Training400/Annotation-Training400/Disc_Cup_Masks/Glaucoma/g0001.bmp", 12, 10)
	msk("Annotation-Training400/Annotation-Training400/Disc_Cup_Masks/Glaucoma/g0002.bmp", 12, 10)
	msk("Annotation-Training400/Annotation-Training400/Disc_Cup_Masks/Non-Glaucoma/N0001.bmp", 12, 10)
	writeXLSX(t, filepath.Join(d, "Annotation-Training400/Annotation-Training400/Fovea_location.xlsx"), [][]any{
		{"ID", "ImgName", "Fovea_X", "Fovea_Y"},
		{1, "g0001.jpg", 7.25, 5.5},
		{2, "g0002.jpg", 8, 4},
		{3, "n0001.jpg", 3.5, 2.75},
	})
	img("REFUGE-Validation400/REFUGE-Validation400/V0001.png", 9, 9)
	img("REFUGE-Validation400/REFUGE-Validation400/V0002.png", 9, 9)
	msk("REFUGE-Validation400-GT/Disc_Cup_Masks/V0001.bmp", 9, 9)
	msk("REFUGE-Validation400-GT/Disc_Cup_Masks/V0002.bmp", 9, 9)
	writeXLSX(t, filepath.Join(d, "REFUGE-Validation400-GT/Fovea_locations.xlsx"), [][]any{
		{"ID", "ImgName", "Glaucoma Label", "Fovea_X", "Fovea_Y"},
		{1, "V0001.jpg", 1, 4.5, 6},
		{2, "V0002.jpg", 0, 2, 3},
	})
	img("REFUGE-Test400/Test400/T0001.png", 8, 8)
	msk("REFUGE-Test-GT/Disc_Cup_Masks/G/T0001.bmp", 8, 8)
	// C05(b): the same sheet kind with its columns reordered.
	writeXLSX(t, filepath.Join(d, "REFUGE-Test-GT/Glaucoma_label_and_Fovea_location.xlsx"), [][]any{
		{"Fovea_Y", "Glaucoma Label", "ImgName", "ID", "Fovea_X"},
		{6, 1, "T0001.jpg", 1, 4.5},
	})
	return d
}

func TestRefuge2018Tree(t *testing.T) {
	d := refuge2018Tree(t)
	load := func(subset string) ([]*Sample, *SourceReport) {
		t.Helper()
		s, rep, err := LoadSource(SourceSpec{Name: "r", Format: "refuge2018", Root: d, Subset: subset}, "/", 1)
		if err != nil {
			t.Fatalf("subset %q: %v", subset, err)
		}
		return s, rep
	}
	tr, rep := load("training")
	if rep.Images != 3 || rep.Glaucoma != 2 || rep.Normal != 1 || rep.WithMask != 3 || rep.WithFovea != 3 || rep.Devices["Zeiss Visucam 500"] != 3 {
		t.Errorf("training report %+v", rep)
	}
	ids := byID(tr)
	if s := ids["r/g0002"]; s == nil || s.Name != "g0002.PNG" || *s.Fovea != (Point{8, 4}) || s.Label != 1 || s.Subset != "training" {
		t.Errorf("g0002: %+v", s)
	}
	if s := ids["r/n0001"]; s == nil || *s.Fovea != (Point{3.5, 2.75}) || s.Label != 0 || !strings.HasSuffix(s.MaskPath, "N0001.bmp") {
		t.Errorf("n0001: %+v", s)
	}
	for _, s := range tr {
		if _, m, err := s.Load(); err != nil || m == nil {
			t.Errorf("load %s: %v", s.ID, err)
		}
	}
	va, rep := load("validation")
	if rep.Images != 2 || rep.Glaucoma != 1 || rep.Normal != 1 || rep.WithMask != 2 || rep.Devices["Canon CR-2"] != 2 {
		t.Errorf("validation report %+v", rep)
	}
	if s := byID(va)["r/V0001"]; s == nil || s.Label != 1 || *s.Fovea != (Point{4.5, 6}) {
		t.Errorf("V0001: %+v", s)
	}
	te, rep := load("test")
	if rep.Images != 1 || rep.Glaucoma != 1 || len(te) != 1 || *te[0].Fovea != (Point{4.5, 6}) {
		t.Errorf("test (reordered columns): report %+v sample %+v", rep, te)
	}
	if _, rep := load(""); rep.Images != 6 {
		t.Errorf("all parts: %d images, want 6", rep.Images)
	}
	// A sheet row naming a missing image is a problem with its row number;
	// a label contradicting the folder is a problem too.
	writeXLSX(t, filepath.Join(d, "Annotation-Training400/Annotation-Training400/Fovea_location.xlsx"), [][]any{
		{"ID", "ImgName", "Glaucoma Label", "Fovea_X", "Fovea_Y"},
		{1, "g0001.jpg", 1, 7.25, 5.5},
		{2, "g0003.jpg", 1, 8, 4},
		{3, "n0001.jpg", 1, 3.5, 2.75},
	})
	_, rep, err := LoadSource(SourceSpec{Name: "r", Format: "refuge2018", Root: d, Subset: "training"}, "/", 1)
	if err == nil || len(rep.Problems) != 3 {
		t.Fatalf("bad sheet: err = %v, problems %v", err, rep.Problems)
	}
	msg := err.Error()
	for _, want := range []string{`row 3: row names image "g0003.jpg"`, "folder gives label 0", "contradicts the REFUGE training name prefix"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	// Validation is unaffected by the training sheet.
	if _, _, err := LoadSource(SourceSpec{Name: "r", Format: "refuge2018", Root: d, Subset: "validation"}, "/", 1); err != nil {
		t.Errorf("validation after training damage: %v", err)
	}
	if _, _, err := LoadSource(SourceSpec{Name: "r", Format: "refuge2018", Root: d, Subset: "train2"}, "/", 1); err == nil || !strings.Contains(err.Error(), `subset "train2"`) {
		t.Errorf("bad subset: err = %v", err)
	}
}

// REFUGE2 layout: Train/REFUGE1-*/..., Validation/..., glaucoma.csv,
// fovea.csv (training) and fovea.xlsx (validation), Disc_Masks/*.png.
func TestRefuge2Tree(t *testing.T) {
	d := t.TempDir()
	img := func(rel string, w, h int) { writeTinyPNG(t, filepath.Join(d, filepath.FromSlash(rel)), w, h) }
	msk := func(rel string, w, h int) { writeTinyMask(t, filepath.Join(d, filepath.FromSlash(rel)), w, h) }
	img("Train/REFUGE1-train/Images/g0001.png", 10, 10)
	img("Train/REFUGE1-train/Images/n0001.png", 10, 10)
	img("Train/REFUGE1-val/Images/V0001.png", 8, 8)
	msk("Train/REFUGE1-train/Disc_Masks/g0001.png", 10, 10)
	msk("Train/REFUGE1-train/Disc_Masks/n0001.png", 10, 10)
	msk("Train/REFUGE1-val/Disc_Masks/V0001.png", 8, 8)
	writeFile(t, filepath.Join(d, "Train/REFUGE1-train/glaucoma.csv"), "FileName,Glaucoma Risk\r\ng0001.jpg,1\r\nn0001.jpg,0\r\n")
	writeFile(t, filepath.Join(d, "Train/REFUGE1-train/fovea.csv"), "ImageName,Fovea_X,Fovea_Y\ng0001.jpg,1.5,2.5\nn0001.jpg,3,4\n")
	writeFile(t, filepath.Join(d, "Train/REFUGE1-val/glaucoma.csv"), "FileName,Glaucoma Risk\nV0001.jpg,1\n")
	img("Validation/Images/V0101.png", 6, 6)
	msk("Validation/Disc_Masks/V0101.png", 6, 6)
	writeFile(t, filepath.Join(d, "Validation/glaucoma.csv"), "FileName,Glaucoma Risk\nV0101.jpg,0\n")
	writeXLSX(t, filepath.Join(d, "Validation/fovea.xlsx"), [][]any{{"ImageName", "Fovea_X", "Fovea_Y"}, {"V0101.jpg", 2.5, 3.5}})
	tr, rep, err := LoadSource(SourceSpec{Name: "r2", Format: "refuge2", Root: d, Subset: "train"}, "/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Images != 3 || rep.Glaucoma != 2 || rep.Normal != 1 || rep.WithMask != 3 || rep.WithFovea != 2 ||
		rep.Devices["REFUGE1-train"] != 2 || rep.Devices["REFUGE1-val"] != 1 {
		t.Errorf("train report %+v", rep)
	}
	if s := byID(tr)["r2/g0001"]; s == nil || *s.Fovea != (Point{1.5, 2.5}) || s.Subset != "training" {
		t.Errorf("g0001 %+v", s)
	}
	va, rep, err := LoadSource(SourceSpec{Name: "r2", Format: "refuge2", Root: d, Subset: "validation"}, "/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Images != 1 || rep.Normal != 1 || *va[0].Fovea != (Point{2.5, 3.5}) || va[0].Device != "REFUGE2-validation" {
		t.Errorf("validation: %+v %+v", rep, va[0])
	}
	if _, _, err := va[0].Load(); err != nil {
		t.Error(err)
	}
}

func TestDirPart(t *testing.T) {
	for _, tc := range []struct {
		dirs []string
		want string
	}{
		{[]string{"REFUGE-Training400", "Training400", "Glaucoma"}, "training"},
		{[]string{"REFUGE-Validation400-GT", "Disc_Cup_Masks"}, "validation"},
		{[]string{"Test400"}, "test"},
		{[]string{"latest_download", "REFUGE-Test-GT"}, "test"},
		{[]string{"contest", "x"}, ""},
		{[]string{"Train", "REFUGE1-val"}, "training"},
		{[]string{"REFUGE1-val"}, "validation"},
	} {
		if got, _ := dirPart(tc.dirs); got != tc.want {
			t.Errorf("dirPart(%v) = %q, want %q", tc.dirs, got, tc.want)
		}
	}
}

// An identical copy of an image in a doubled folder collapses to one sample
// with a note; two different files sharing a stem are a problem naming both.
func TestRefugeDuplicateStems(t *testing.T) {
	d := refuge2018Tree(t)
	src := filepath.Join(d, "REFUGE-Training400/Training400/Glaucoma/g0001.png")
	b, _ := os.ReadFile(src)
	writeFile(t, filepath.Join(d, "REFUGE-Training400/Training400/Training400/Glaucoma/g0001.png"), string(b))
	samples, rep, err := LoadSource(SourceSpec{Name: "r", Format: "refuge2018", Root: d, Subset: "training"}, "/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 3 || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "2 identical copies") {
		t.Errorf("identical copy: %d samples, notes %v", len(samples), rep.Notes)
	}
	writeTinyMask(t, filepath.Join(d, "REFUGE-Training400/Training400/Non-Glaucoma/n0001.bmp"), 12, 10) // a different 12x10 image
	_, rep, err = LoadSource(SourceSpec{Name: "r", Format: "refuge2018", Root: d, Subset: "training"}, "/", 1)
	if err == nil || !strings.Contains(err.Error(), `2 different image files share the stem "n0001"`) ||
		!strings.Contains(err.Error(), "Non-Glaucoma/n0001.bmp") || !strings.Contains(err.Error(), "Non-Glaucoma/n0001.png") {
		t.Errorf("different files sharing a stem: err = %v", err)
	}
}
