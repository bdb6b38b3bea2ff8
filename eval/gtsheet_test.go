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
