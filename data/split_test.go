package data

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// splitSamples: 100 samples; ids a/000..a/059 from source "a" (device
// "dev1") and b/060..b/099 from "b" ("dev2"); every fifth sample (i%5 == 0)
// is glaucoma, so 20 glaucoma (12 in a, 8 in b).
func splitSamples() []*Sample {
	var out []*Sample
	for i := 0; i < 100; i++ {
		src, dev := "a", "dev1"
		if i >= 60 {
			src, dev = "b", "dev2"
		}
		l := 0
		if i%5 == 0 {
			l = 1
		}
		sub := "training"
		if i%10 == 9 {
			sub = "validation"
		}
		out = append(out, &Sample{ID: fmt.Sprintf("%s/%03d", src, i), Source: src, Device: dev, Label: l, Subset: sub})
	}
	return out
}

func checkPartition(t *testing.T, s *Splits, n int) {
	t.Helper()
	seen := map[string]string{}
	for part, list := range map[string][]string{"train": s.Train, "val": s.Val, "test": s.Test} {
		for i, id := range list {
			if i > 0 && list[i-1] >= id {
				t.Fatalf("%s not sorted at %d", part, i)
			}
			if p, dup := seen[id]; dup {
				t.Fatalf("%s in both %s and %s", id, p, part)
			}
			seen[id] = part
		}
	}
	if len(seen) != n {
		t.Fatalf("%d ids assigned, want %d", len(seen), n)
	}
}

func countLabel(samples []*Sample, ids []string, label int) int {
	byID := map[string]int{}
	for _, s := range samples {
		byID[s.ID] = s.Label
	}
	n := 0
	for _, id := range ids {
		if byID[id] == label {
			n++
		}
	}
	return n
}

func TestRandomSplit(t *testing.T) {
	ss := splitSamples()
	spec := SplitSpec{Method: "random", Val: 0.2, Test: 0.1}
	a, err := MakeSplit(ss, spec, 42)
	if err != nil {
		t.Fatal(err)
	}
	checkPartition(t, a, 100)
	if c := a.Counts(); c["train"] != 70 || c["val"] != 20 || c["test"] != 10 {
		t.Fatalf("counts %v, want 70/20/10", c)
	}
	// Deterministic, independent of input order; another seed differs.
	rev := append([]*Sample(nil), ss...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	b, _ := MakeSplit(rev, spec, 42)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("split depends on input order")
	}
	c, _ := MakeSplit(ss, spec, 43)
	if reflect.DeepEqual(a.Val, c.Val) {
		t.Fatal("seed 43 gave the same validation set")
	}
	if !strings.Contains(a.Criterion, "Random split of the 100 samples with seed 42: 20% validation (20), 10% test (10), the rest training (70).") {
		t.Fatalf("criterion %q", a.Criterion)
	}
	if got := a.Select(ss, "val"); len(got) != 20 || got[0].ID != a.Val[0] {
		t.Fatalf("Select val: %d", len(got))
	}
}

// TestStratifiedSplit: glaucoma 20 -> val round(0.2·20) = 4, test
// round(0.1·20) = 2; normal 80 -> 16 and 8.
func TestStratifiedSplit(t *testing.T) {
	ss := splitSamples()
	s, err := MakeSplit(ss, SplitSpec{Method: "stratified", Val: 0.2, Test: 0.1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkPartition(t, s, 100)
	if g := countLabel(ss, s.Val, 1); g != 4 || len(s.Val) != 20 {
		t.Fatalf("val glaucoma %d of %d, want 4 of 20", g, len(s.Val))
	}
	if g := countLabel(ss, s.Test, 1); g != 2 || len(s.Test) != 10 {
		t.Fatalf("test glaucoma %d of %d, want 2 of 10", g, len(s.Test))
	}
	// By label and source: a/glaucoma 12 -> val round(2.4) = 2; b/glaucoma
	// 8 -> round(1.6) = 2; a/normal 48 -> round(9.6) = 10; b/normal 32 ->
	// round(6.4) = 6: val 20 with 4 glaucoma, 12 from a and 8 from b.
	s2, err := MakeSplit(ss, SplitSpec{Method: "stratified", Val: 0.2, StratifyBy: []string{"label", "source"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	fromA := 0
	for _, id := range s2.Val {
		if strings.HasPrefix(id, "a/") {
			fromA++
		}
	}
	if len(s2.Val) != 20 || fromA != 12 || countLabel(ss, s2.Val, 1) != 4 {
		t.Fatalf("label+source: val %d, from a %d, glaucoma %d", len(s2.Val), fromA, countLabel(ss, s2.Val, 1))
	}
	if !strings.Contains(s2.Criterion, "stratified by label and source") {
		t.Fatalf("criterion %q", s2.Criterion)
	}
}

// TestKFold: 5 folds of 100 -> 20 each, each with 4 glaucoma when
// stratified (the 20 glaucoma come first in round-robin order).
func TestKFold(t *testing.T) {
	ss := splitSamples()
	union := map[string]bool{}
	for f := 0; f < 5; f++ {
		s, err := MakeSplit(ss, SplitSpec{Method: "kfold", K: 5, Fold: f, Stratify: true}, 7)
		if err != nil {
			t.Fatal(err)
		}
		checkPartition(t, s, 100)
		if len(s.Val) != 20 || countLabel(ss, s.Val, 1) != 4 {
			t.Fatalf("fold %d: %d val, %d glaucoma", f, len(s.Val), countLabel(ss, s.Val, 1))
		}
		for _, id := range s.Val {
			if union[id] {
				t.Fatalf("%s in two folds", id)
			}
			union[id] = true
		}
	}
	if len(union) != 100 {
		t.Fatalf("folds cover %d samples", len(union))
	}
	// With a held-out test set of 10 %, the test set is the same for every fold.
	t0, _ := MakeSplit(ss, SplitSpec{Method: "kfold", K: 3, Fold: 0, Test: 0.1}, 7)
	t2, _ := MakeSplit(ss, SplitSpec{Method: "kfold", K: 3, Fold: 2, Test: 0.1}, 7)
	if len(t0.Test) != 10 || !reflect.DeepEqual(t0.Test, t2.Test) || len(t0.Val) != 30 {
		t.Fatalf("kfold test %d/%d val %d", len(t0.Test), len(t2.Test), len(t0.Val))
	}
}

func TestBySourceSplit(t *testing.T) {
	ss := splitSamples()
	s, err := MakeSplit(ss, SplitSpec{Method: "by-source", TrainSources: []string{"a"}, ValSources: []string{"dev2"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Train) != 60 || len(s.Val) != 40 || len(s.Test) != 0 {
		t.Fatalf("counts %v", s.Counts())
	}
	// Validation drawn from the training source: 25 % of 60 = 15.
	s, err = MakeSplit(ss, SplitSpec{Method: "by-source", TrainSources: []string{"a"}, TestSources: []string{"b"}, Val: 0.25}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Train) != 45 || len(s.Val) != 15 || len(s.Test) != 40 {
		t.Fatalf("counts %v, want 45/15/40", s.Counts())
	}
	for _, id := range s.Val {
		if !strings.HasPrefix(id, "a/") {
			t.Fatalf("val id %s not from a", id)
		}
	}
	_, err = MakeSplit(ss, SplitSpec{Method: "by-source", TrainSources: []string{"a"}, ValSources: []string{"dev3"}}, 1)
	if err == nil || !strings.Contains(err.Error(), `split.val_sources: unknown source or device "dev3"`) || !strings.Contains(err.Error(), `did you mean "dev`) {
		t.Fatalf("unknown source: %v", err)
	}
	_, err = MakeSplit(ss, SplitSpec{Method: "by-source", TrainSources: []string{"a"}, ValSources: []string{"a"}}, 1)
	if err == nil || !strings.Contains(err.Error(), "already listed") {
		t.Fatalf("overlap: %v", err)
	}
}

func TestPredefinedSplit(t *testing.T) {
	ss := splitSamples()
	s, err := MakeSplit(ss, SplitSpec{Method: "predefined"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Train) != 90 || len(s.Val) != 10 {
		t.Fatalf("subset split %v", s.Counts())
	}
	dir := t.TempDir()
	js := filepath.Join(dir, "splits.json")
	var train []string
	for _, x := range ss[:98] {
		train = append(train, `"`+x.ID+`"`)
	}
	os.WriteFile(js, []byte(`{"train":[`+strings.Join(train, ",")+`],"val":["b/098"],"test":["b/099"]}`), 0o644)
	s, err = MakeSplit(ss, SplitSpec{Method: "predefined", File: js}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Train) != 98 || !reflect.DeepEqual(s.Val, []string{"b/098"}) || !reflect.DeepEqual(s.Test, []string{"b/099"}) {
		t.Fatalf("json split %v", s.Counts())
	}
	csvPath := filepath.Join(dir, "split.csv")
	os.WriteFile(csvPath, []byte("id,split\na/000,train\nb/099,test\n"), 0o644)
	two := []*Sample{ss[0], ss[99]}
	s, err = MakeSplit(two, SplitSpec{Method: "predefined", File: csvPath}, 1)
	if err != nil || !reflect.DeepEqual(s.Train, []string{"a/000"}) || !reflect.DeepEqual(s.Test, []string{"b/099"}) {
		t.Fatalf("csv split %v %v", s, err)
	}
	_, err = MakeSplit(ss, SplitSpec{Method: "predefined", File: csvPath}, 1)
	if err == nil || !strings.Contains(err.Error(), "98 loaded samples are not assigned") {
		t.Fatalf("unassigned: %v", err)
	}
	os.WriteFile(csvPath, []byte("a/000,train\nzz/1,val\n"), 0o644)
	_, err = MakeSplit(two, SplitSpec{Method: "predefined", File: csvPath}, 1)
	if err == nil || !strings.Contains(err.Error(), "1 ids name no loaded sample, e.g. zz/1") {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestSplitErrors(t *testing.T) {
	ss := splitSamples()
	cases := []struct {
		spec SplitSpec
		want string
	}{
		{SplitSpec{Method: "random", Val: 0.6, Test: 0.5}, "leaves nothing for training"},
		{SplitSpec{Method: "random", Val: 1.2}, "split.val: expected a fraction in [0, 1), got 1.2"},
		{SplitSpec{Method: "random", Val: 0.001}, "split.val: fraction 0.001 of 100 samples gives an empty validation split"},
		{SplitSpec{Method: "randm"}, `did you mean "random"`},
		{SplitSpec{Method: "kfold", K: 1}, "split.k: kfold needs k >= 2"},
		{SplitSpec{Method: "kfold", K: 5, Fold: 5}, "split.fold: expected 0..4"},
		{SplitSpec{Method: "stratified", StratifyBy: []string{"device"}}, `split.stratify_by: unknown key "device"`},
	}
	for _, c := range cases {
		_, err := MakeSplit(ss, c.spec, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.spec, err, c.want)
		}
	}
	dup := []*Sample{{ID: "x"}, {ID: "x"}}
	if _, err := MakeSplit(dup, SplitSpec{Method: "random"}, 1); err == nil || !strings.Contains(err.Error(), `duplicate sample id "x"`) {
		t.Errorf("dup: %v", err)
	}
}

func TestKFoldIgnoresValFraction(t *testing.T) {
	s, err := MakeSplit(splitSamples(), SplitSpec{Method: "kfold", K: 4, Fold: 1, Val: 0.2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Val) != 25 || !strings.Contains(s.Criterion, "the val fraction 0.2 is not used") {
		t.Fatalf("val %d criterion %q", len(s.Val), s.Criterion)
	}
}
