package augment

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"testing"
)

// TestHueReference compares hueShift with Python's colorsys (an independent
// RGB <-> HSV implementation): testdata/hue_reference.csv, made by
// testdata/gen_hue.py, 45 colours and shifts incl. grey and the primaries.
func TestHueReference(t *testing.T) {
	f, err := os.Open("testdata/hue_reference.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 46 {
		t.Fatalf("%d rows, want 46 (header + 45)", len(rows))
	}
	for _, row := range rows[1:] {
		v := make([]float64, 7)
		for i := range v {
			if v[i], err = strconv.ParseFloat(row[i], 64); err != nil {
				t.Fatal(err)
			}
		}
		r, g, b := hueShift(v[0], v[1], v[2], v[3])
		if math.Abs(r-v[4]) > 1e-12 || math.Abs(g-v[5]) > 1e-12 || math.Abs(b-v[6]) > 1e-12 {
			t.Errorf("hue shift %v of (%v, %v, %v): got (%v, %v, %v), colorsys (%v, %v, %v)", v[3], v[0], v[1], v[2], r, g, b, v[4], v[5], v[6])
		}
	}
}
