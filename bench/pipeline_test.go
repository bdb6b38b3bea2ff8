package main

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/refugelab/refugelab/train"
)

// TestMeasurePipelineTiny runs the pipeline measurement on
// experiments/testdata/tiny.yaml: 17 samples preprocessed (10 training + 7
// validation, the split experiments' TestTrainingSetsTiny documents), four
// trained tasks of 10 examples each, 2 workers (the train.workers
// default), 3×32×32 inputs, batch 4; the requested 12 Example calls and 2
// timed steps per task; every rate positive and finite (no timing bound).
func TestMeasurePipelineTiny(t *testing.T) {
	rep, err := measurePipeline("../experiments/testdata/tiny.yaml", pipeOptions{Examples: 12, Steps: 2, Warmup: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Prepared != 17 || len(rep.Tasks) != 4 {
		t.Fatalf("%d samples prepared, %d tasks; want 17 and 4", rep.Prepared, len(rep.Tasks))
	}
	ok := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
	if !ok(rep.PrepRate()) {
		t.Errorf("prepare rate %v", rep.PrepRate())
	}
	// tiny's one source: 24 synthetic 128x128 images.
	if len(rep.Decode) != 1 || rep.Decode[0].Images != 24 || rep.Decode[0].W != 128 || rep.Decode[0].H != 128 || !ok(rep.Decode[0].Seconds) {
		t.Errorf("decode by source: %+v; want synth, 24 images 128x128", rep.Decode)
	}
	for _, k := range rep.Tasks {
		if k.Len != 10 || k.Workers != 2 || k.Examples != 12 || len(k.StepMs) != 2 || k.Batch != 4 || k.In.H != 32 {
			t.Errorf("%s: %d examples, %d workers, %d timed examples, %d steps, batch %d, input %+v; want 10, 2, 12, 2, 4, 32x32",
				k.Task, k.Len, k.Workers, k.Examples, len(k.StepMs), k.Batch, k.In)
		}
		if !ok(k.ExampleRate()) || !ok(k.TrainRate()) {
			t.Errorf("%s: rates %v ex/s, %v img/s", k.Task, k.ExampleRate(), k.TrainRate())
		}
	}
	var b strings.Builder
	printPipeline(&b, rep)
	for _, want := range []string{"tiny.yaml", "17 samples", "segmentation", "fovea", "keep"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// countSet records every (epoch, index) it is asked for.
type countSet struct {
	n    int
	mu   sync.Mutex
	seen map[[2]int]int
	fail int // index that fails (-1: none)
}

func (c *countSet) Len() int { return c.n }

func (c *countSet) Example(epoch, i int) (train.Example, error) {
	c.mu.Lock()
	c.seen[[2]int{epoch, i}]++
	c.mu.Unlock()
	if i == c.fail {
		return train.Example{}, errors.New("boom")
	}
	return train.Example{X: []float32{1}, Y: []float32{0}}, nil
}

// TestTimeExamples checks that 7 calls on a 3-example set visit epoch 1
// indices 0-2, epoch 2 indices 0-2 and epoch 3 index 0, each once, on 2
// workers; and that an error is returned naming the example.
func TestTimeExamples(t *testing.T) {
	c := &countSet{n: 3, seen: map[[2]int]int{}, fail: -1}
	n, secs, err := timeExamples(c, 2, 7)
	if err != nil || n != 7 || secs <= 0 {
		t.Fatalf("timeExamples: %d examples in %v s, %v; want 7", n, secs, err)
	}
	want := [][2]int{{1, 0}, {1, 1}, {1, 2}, {2, 0}, {2, 1}, {2, 2}, {3, 0}}
	for _, k := range want {
		if c.seen[k] != 1 {
			t.Errorf("(epoch %d, example %d) computed %d times, want 1", k[0], k[1], c.seen[k])
		}
	}
	if len(c.seen) != len(want) {
		t.Errorf("%d distinct examples computed, want %d", len(c.seen), len(want))
	}
	c = &countSet{n: 3, seen: map[[2]int]int{}, fail: 1}
	if _, _, err := timeExamples(c, 1, 3); err == nil || !strings.Contains(err.Error(), "example 1 of epoch 1") {
		t.Errorf("failing example: err %v, want one naming example 1 of epoch 1", err)
	}
}

// TestVerdict checks the wording and ratio of the keeps-up verdict.
func TestVerdict(t *testing.T) {
	if v := verdict(30, 10); v != "keeps up (3.0× the training rate)" {
		t.Errorf("verdict(30, 10) = %q", v)
	}
	if v := verdict(5, 10); v != "does NOT keep up (0.50× the training rate)" {
		t.Errorf("verdict(5, 10) = %q", v)
	}
}

// TestMissingData checks that a config whose source root is absent is
// skipped with the root named, and that tiny.yaml (synthetic) is not.
func TestMissingData(t *testing.T) {
	if why := missingData("../experiments/testdata/tiny.yaml"); why != "" {
		t.Errorf("tiny.yaml: %q, want no reason", why)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "real.yaml")
	body := "name: real\ndata:\n  sources:\n    - {name: rimone, format: rimone-dl, root: nowhere/rim-one-dl}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if why := missingData(cfg); !strings.Contains(why, filepath.Join(dir, "nowhere/rim-one-dl")) {
		t.Errorf("missing root: %q, want the resolved root named", why)
	}
	if why := missingData(filepath.Join(dir, "absent.yaml")); why == "" {
		t.Error("absent config: no reason given")
	}
}

// TestMeasurePipelineLimit checks --pipeline-max: 8 of tiny's 24 samples
// are decoded, and 6 preprocessed (4 training + 2 validation, as in
// experiments' TestTrainingSetsLimit).
func TestMeasurePipelineLimit(t *testing.T) {
	rep, err := measurePipeline("../experiments/testdata/tiny.yaml", pipeOptions{MaxPerSource: 8, Examples: 4, Steps: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Prepared != 6 || len(rep.Decode) != 1 || rep.Decode[0].Images != 8 || rep.Tasks[0].Len != 4 {
		t.Fatalf("limit 8: %d prepared, decode %+v, first task %d examples; want 6, 8 images, 4", rep.Prepared, rep.Decode, rep.Tasks[0].Len)
	}
}
