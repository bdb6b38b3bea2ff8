package experiments

import (
	"testing"

	"github.com/refugelab/refugelab/data"
)

// TestTrainingSetsTiny checks TrainingSets on testdata/tiny.yaml: its 24
// synthetic samples, split stratified by label with round(0.25·n) per class
// for val and for test, give 7 validation, 7 test and 10 training samples
// (the split a run writes to splits.json), so 17 are preprocessed; all four
// tasks train (the ROI tasks need the localizer; classification has its
// own cnn), each on all 10 training samples (synthetic data carries every
// ground truth), with 3×32×32 inputs (resize 32 and roi 32) and the
// configured batch 4.
func TestTrainingSetsTiny(t *testing.T) {
	r, err := Load("testdata/tiny.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	sets, prepared, err := TrainingSets(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if prepared != 17 {
		t.Errorf("%d samples preprocessed, want 17 (10 train + 7 val)", prepared)
	}
	want := []string{"localizer", "segmentation", "classification", "fovea"}
	if len(sets) != len(want) {
		t.Fatalf("%d training sets, want %d (%v)", len(sets), len(want), want)
	}
	for i, s := range sets {
		if s.Task != want[i] {
			t.Errorf("set %d is task %s, want %s", i, s.Task, want[i])
		}
		if s.Data.Len() != 10 || s.In.C != 3 || s.In.H != 32 || s.In.W != 32 || s.Cfg.BatchSize != 4 {
			t.Errorf("%s: %d examples, input %+v, batch %d; want 10, 3x32x32, 4", s.Task, s.Data.Len(), s.In, s.Cfg.BatchSize)
		}
		ex, err := s.Data.Example(1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex.X) != 3*32*32 {
			t.Errorf("%s: example has %d inputs, want %d", s.Task, len(ex.X), 3*32*32)
		}
	}
	// Same config, same sets: the examples are deterministic.
	again, _, err := TrainingSets(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := sets[1].Data.Example(2, 3)
	b, _ := again[1].Data.Example(2, 3)
	for i := range a.X {
		if a.X[i] != b.X[i] {
			t.Fatalf("segmentation example (2, 3) differs between two TrainingSets calls at input %d", i)
		}
	}
}

// TestTrainingSetsLimit checks maxPerSource: 8 of tiny's 24 samples (every
// third), split as above, leave 4 training and 2 validation samples (6
// preprocessed).
func TestTrainingSetsLimit(t *testing.T) {
	r, err := Load("testdata/tiny.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	sets, prepared, err := TrainingSets(r, 8)
	if err != nil {
		t.Fatal(err)
	}
	if prepared != 6 || len(sets) == 0 || sets[0].Data.Len() != 4 {
		t.Fatalf("maxPerSource 8: %d preprocessed, %d sets (first of %d examples); want 6 and 4 examples", prepared, len(sets), sets[0].Data.Len())
	}
}

// TestEvenSubset checks the spacing of the kept samples.
func TestEvenSubset(t *testing.T) {
	var ss []*data.Sample
	for i := 0; i < 10; i++ {
		ss = append(ss, &data.Sample{ID: string(rune('a' + i))})
	}
	got := ""
	for _, s := range evenSubset(ss, 4) {
		got += s.ID
	}
	if got != "acfh" { // indices 0, 10/4=2, 20/4=5, 30/4=7
		t.Errorf("evenSubset(10 samples, 4) = %q, want \"acfh\"", got)
	}
	if len(evenSubset(ss, 0)) != 10 || len(evenSubset(ss, 20)) != 10 {
		t.Error("evenSubset with n <= 0 or n >= len must keep all")
	}
}
