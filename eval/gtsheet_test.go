package eval

import (
	"path/filepath"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/refugelab/refugelab/data"
)

// A ground-truth-only folder as REFUGE distributes it for validation
// (Disc_Cup_Masks/*.bmp plus Fovea_locations.xlsx with columns
// ID, ImgName, Glaucoma Label, Fovea_X, Fovea_Y) is read, columns by name.
func TestReadGTFolderWithXLSXSheet(t *testing.T) {
	dir := t.TempDir()
	m := data.NewMask(6, 6)
	m.Pix[14], m.Pix[15] = data.Rim, data.Cup
	b, err := data.EncodeMaskBMP(m)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string][]byte{"Disc_Cup_Masks/V0001.bmp": b, "Disc_Cup_Masks/V0002.bmp": b})
	f := excelize.NewFile()
	rows := [][]any{
		{"ID", "ImgName", "Glaucoma Label", "Fovea_X", "Fovea_Y"},
		{1, "V0001.jpg", 1, 1057.95, 1071.6},
		{2, "V0002.jpg", 0, 824.5, 999.25},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(filepath.Join(dir, "Fovea_locations.xlsx")); err != nil {
		t.Fatal(err)
	}
	gt, err := ReadGroundTruth(dir, "refuge2018")
	if err != nil {
		t.Fatal(err)
	}
	if gt.Labels["V0001"] != 1 || gt.Labels["V0002"] != 0 || len(gt.Labels) != 2 {
		t.Errorf("labels %v, want V0001:1 V0002:0", gt.Labels)
	}
	if p := gt.Fovea["V0001"]; p.X != 1057.95 || p.Y != 1071.6 {
		t.Errorf("fovea V0001 = %+v, want (1057.95, 1071.6)", p)
	}
	if len(gt.Masks) != 2 {
		t.Errorf("%d masks, want 2", len(gt.Masks))
	}
}

// A ground truth with a single class leaves classification unscored (AUC is
// undefined) but still scores the other tasks, and says why.
func TestEvaluateSingleClassScoresOtherTasks(t *testing.T) {
	gtDir, subDir := t.TempDir(), filepath.Join(t.TempDir(), "sub")
	m := data.NewMask(6, 6)
	m.Pix[14], m.Pix[15] = data.Rim, data.Cup
	b, _ := data.EncodeMaskBMP(m)
	writeFiles(t, gtDir, map[string][]byte{"Disc_Cup_Masks/g0001.bmp": b, "Disc_Cup_Masks/g0002.bmp": b,
		"labels.csv": []byte("ImgName,Glaucoma Label\ng0001.jpg,1\ng0002.jpg,1\n")})
	pred := &Predictions{Class: map[string]float64{"g0001": 0.9, "g0002": 0.2}, Masks: map[string]*data.Mask{"g0001": m, "g0002": m}}
	if err := WriteSubmission(subDir, "refuge2018", pred, map[string]string{"g0001": "g0001.jpg", "g0002": "g0002.jpg"}, false); err != nil {
		t.Fatal(err)
	}
	tm, err := Evaluate(subDir, gtDir, "refuge2018", ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tm.Classification != nil {
		t.Errorf("classification scored on a single class: %+v", tm.Classification)
	}
	if tm.Segmentation == nil || tm.Segmentation.DiceDisc != 1 || tm.Segmentation.DiceCup != 1 {
		t.Errorf("segmentation %+v, want perfect Dice", tm.Segmentation)
	}
	found := false
	for _, p := range tm.Problems {
		found = found || p.Kind == "undefined" && p.Task == "classification"
	}
	if !found {
		t.Errorf("no problem says why classification is unscored: %+v", tm.Problems)
	}
}
