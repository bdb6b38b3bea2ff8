package eval

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/refugelab/refugelab/data"
)

// discMask draws a square disc [x0,x1)×[y0,y1) of rim with a square cup.
func discMask(w, h, x0, y0, x1, y1, cx0, cy0, cx1, cy1 int) *data.Mask {
	m := data.NewMask(w, h)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			m.Pix[y*w+x] = data.Rim
		}
	}
	for y := cy0; y < cy1; y++ {
		for x := cx0; x < cx1; x++ {
			m.Pix[y*w+x] = data.Cup
		}
	}
	return m
}

func smallGT() *GroundTruth {
	return &GroundTruth{
		Labels: map[string]int{"g0001": 1, "n0001": 0, "n0002": 0},
		Fovea:  map[string]data.Point{"g0001": {X: 10, Y: 10}, "n0001": {X: 3, Y: 4}, "n0002": {X: 0, Y: 0}},
		Masks: map[string]*data.Mask{
			"g0001": discMask(8, 8, 2, 2, 6, 6, 3, 3, 5, 5),
			"n0001": discMask(8, 8, 1, 1, 7, 7, 3, 3, 4, 4),
			"n0002": discMask(8, 8, 0, 0, 4, 4, 1, 1, 2, 2),
		},
	}
}

func TestScoreOracleAndJSON(t *testing.T) {
	gt := smallGT()
	pred := &Predictions{
		Class: map[string]float64{"g0001": 0.9, "n0001": 0.2, "n0002": 0.9},
		Fovea: map[string]data.Point{"g0001": {X: 13, Y: 14}, "n0001": {X: 3, Y: 4}, "n0002": {X: 0, Y: 0}},
		Masks: map[string]*data.Mask{},
	}
	for k, m := range gt.Masks {
		pred.Masks[k] = m.Clone()
	}
	tm, err := Score(pred, gt, ScoreOptions{Strict: true, BootstrapN: 100, BootstrapSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// AUC: glaucoma 0.9 beats 0.2, ties 0.9: (1 + 0.5)/2 = 0.75.
	if tm.Classification.AUC != 0.75 || tm.Classification.N != 3 {
		t.Fatalf("AUC %v n %d, want 0.75 and 3", tm.Classification.AUC, tm.Classification.N)
	}
	if tm.Segmentation.DiceDisc != 1 || tm.Segmentation.DiceCup != 1 || tm.Segmentation.VCDRMAE != 0 {
		t.Fatalf("oracle masks: %+v", tm.Segmentation)
	}
	// Distances 5 (3-4-5 triangle), 0, 0: mean 5/3.
	if !near(tm.Fovea.MeanDistance, 5.0/3, 1e-15) {
		t.Fatalf("fovea mean %v, want 5/3", tm.Fovea.MeanDistance)
	}
	b, err := json.Marshal(tm)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	for block, keys := range map[string][]string{
		"classification": {"auc", "sensitivity_at_spec_0.85", "n", "auc_ci95"},
		"segmentation":   {"dice_disc", "dice_cup", "vcdr_mae", "n", "dice_disc_sd", "dice_disc_ci95", "dice_cup_ci95", "vcdr_mae_ci95"},
		"fovea":          {"mean_distance_px", "n", "mean_distance_px_ci95"},
		"per_image":      {"classification", "segmentation", "fovea"},
	} {
		for _, k := range keys {
			if _, ok := generic[block][k]; !ok {
				t.Errorf("metrics.json block %s lacks key %q: %s", block, k, b)
			}
		}
	}
	row := tm.PerImage.Segmentation[0]
	if row.Name != "g0001" || *row.DiceCup != 1 || !near(row.VCDRGT, 2/(4+1e-7), 1e-15) {
		t.Fatalf("per-image row %+v", row)
	}
}

func TestScoreOmitsTasksWithoutGT(t *testing.T) {
	gt := &GroundTruth{Labels: map[string]int{"a": 1, "b": 0}}
	tm, err := Score(&Predictions{Class: map[string]float64{"a": 1, "b": 0}}, gt, ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(tm)
	if strings.Contains(string(b), "segmentation") || strings.Contains(string(b), "fovea") {
		t.Fatalf("blocks without GT present: %s", b)
	}
}

func TestScoreOfficialVsStrict(t *testing.T) {
	gt := smallGT()
	bad := gt.Masks["n0001"].Clone()
	bad.Pix[0] = 7 // stray value: disc under the official rule
	pred := &Predictions{
		// n0002 missing; "N0001" differs in case; "x9999" is extra.
		Class: map[string]float64{"g0001": 0.8, "N0001": 0.1, "x9999": 0.5},
		Fovea: map[string]data.Point{"g0001": {X: 10, Y: 10}, "N0001": {X: 3, Y: 4}},
		Masks: map[string]*data.Mask{"g0001": gt.Masks["g0001"].Clone(), "n0001": bad},
	}
	// Official: skip missing, ignore extra, classification names fold case,
	// fovea names exact, stray value scored as disc.
	tm, err := Score(pred, gt, ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tm.Classification.N != 2 || tm.Classification.Missing != 1 || tm.Classification.AUC != 1 {
		t.Fatalf("official classification %+v", tm.Classification)
	}
	if tm.Fovea.N != 1 || tm.Fovea.Missing != 2 {
		t.Fatalf("official fovea: n %d missing %d, want 1 and 2 (names matched exactly)", tm.Fovea.N, tm.Fovea.Missing)
	}
	// n0001: GT disc 36 px, prediction 37 px (stray pixel 7 counts as disc):
	// Dice 2*36/73.
	if tm.Segmentation.N != 2 || !near(*tm.PerImage.Segmentation[1].DiceDisc, 72.0/73, 1e-15) {
		t.Fatalf("official segmentation %+v %+v", tm.Segmentation, tm.PerImage.Segmentation)
	}
	if len(tm.Problems) == 0 {
		t.Fatal("official mode recorded no tolerated problems")
	}
	// Strict: every item listed.
	_, err = Score(pred, gt, ScoreOptions{Strict: true})
	var se *StrictError
	if !errors.As(err, &se) {
		t.Fatalf("strict: error %v, want *StrictError", err)
	}
	msg := se.Error()
	for _, want := range []string{
		"classification [missing] n0002", "classification [name-case] n0001", "classification [extra] x9999",
		"fovea [name-case] n0001", "fovea [missing] n0002", "segmentation [missing] n0002",
		"segmentation [values] n0001: 1 px outside {0,128,255} (value×count: 7×1)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("strict report lacks %q:\n%s", want, msg)
		}
	}
}

func TestScoreErrors(t *testing.T) {
	gt := smallGT()
	pred := &Predictions{Masks: map[string]*data.Mask{"g0001": data.NewMask(7, 8)}}
	if _, err := Score(pred, &GroundTruth{Masks: gt.Masks}, ScoreOptions{}); err == nil || !strings.Contains(err.Error(), "g0001") || !strings.Contains(err.Error(), "7x8") {
		t.Fatalf("size mismatch error: %v", err)
	}
	_, err := Score(&Predictions{Class: map[string]float64{"n0001": 0.1, "n0002": 0.3}},
		&GroundTruth{Labels: map[string]int{"n0001": 0, "n0002": 0}}, ScoreOptions{})
	if !errors.Is(err, ErrSingleClass) {
		t.Fatalf("single class: %v", err)
	}
	_, err = Score(&Predictions{Class: map[string]float64{"g0001": math.NaN(), "n0001": 0.3}},
		&GroundTruth{Labels: map[string]int{"g0001": 1, "n0001": 0}}, ScoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "g0001") {
		t.Fatalf("NaN score: %v", err)
	}
}

// C07 at the Score level: an image with no cup in GT and prediction is
// excluded from the cup-Dice mean and counted.
func TestScoreCupUndefinedExcluded(t *testing.T) {
	noCup := discMask(6, 6, 1, 1, 5, 5, 0, 0, 0, 0)
	withCup := discMask(6, 6, 1, 1, 5, 5, 2, 2, 4, 4)
	half := discMask(6, 6, 1, 1, 5, 5, 2, 2, 3, 4) // 2 of the 4 cup px: Dice 2*2/6
	gt := &GroundTruth{Masks: map[string]*data.Mask{"a": noCup, "b": withCup, "c": withCup}}
	pred := &Predictions{Masks: map[string]*data.Mask{"a": noCup, "b": withCup, "c": half}}
	tm, err := Score(pred, gt, ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := (1 + 4.0/6) / 2
	if tm.Segmentation.DiceCupUndefined != 1 || !near(tm.Segmentation.DiceCup, want, 1e-15) || tm.PerImage.Segmentation[0].DiceCup != nil {
		t.Fatalf("cup Dice %v undefined %d, want %v and 1", tm.Segmentation.DiceCup, tm.Segmentation.DiceCupUndefined, want)
	}
}
