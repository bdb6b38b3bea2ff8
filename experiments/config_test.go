package experiments

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want *ConfigError, got %v", err)
	}
	var out []string
	for _, p := range ce.Problems {
		out = append(out, p.String())
	}
	return out
}

// Every problem is reported at once, each with file, line and key path.
func TestLoadReportsAllProblemsWithLines(t *testing.T) {
	_, err := Load("testdata/bad.yaml", nil)
	got := strings.Join(problemsOf(t, err), "\n")
	for _, want := range []string{
		`testdata/bad.yaml:6: data.split.method: "stratifed" is not allowed (expected one of: random, stratified, kfold, by-source, predefined; did you mean "stratified"?)`,
		`testdata/bad.yaml:6: data.split: val + test = 1.1 leaves no training data`,
		`testdata/bad.yaml:9: tasks.segmentation.network.base: expected base channels >= 1, got 0`,
		`testdata/bad.yaml:11: train.epochs: expected an integer, got "ten"`,
		`testdata/bad.yaml:12: train.optimzer: unknown key (did you mean "optimizer"?)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem\n  %s\nin\n%s", want, got)
		}
	}
}

func TestLoadOverridesAreTypedAndChecked(t *testing.T) {
	r, err := Load("testdata/base.yaml", []string{"train.optimizer.lr=0.5", "tasks.segmentation.train.epochs=9"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Config.Train.Optimizer.LR != 0.5 {
		t.Errorf("lr = %v, want 0.5", r.Config.Train.Optimizer.LR)
	}
	seg := r.Config.Tasks.Segmentation
	if seg.Train.Epochs != 9 || seg.Train.Optimizer.LR != 0.5 || r.Config.Train.Epochs != 3 {
		t.Errorf("task train overlay: epochs %d lr %v (global epochs %d), want 9, 0.5, 3", seg.Train.Epochs, seg.Train.Optimizer.LR, r.Config.Train.Epochs)
	}
	_, err = Load("testdata/base.yaml", []string{"train.optimizer.lr=fast", "train.epoch=3", "noequals"})
	got := strings.Join(problemsOf(t, err), "\n")
	for _, want := range []string{
		`--set train.optimizer.lr=fast: train.optimizer.lr: expected a number, got "fast"`,
		`--set train.epoch=3: train.epoch: unknown key (did you mean "epochs"?)`,
		`--set noequals: expected key=value`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem\n  %s\nin\n%s", want, got)
		}
	}
}

func TestBaseComposition(t *testing.T) {
	r, err := Load("testdata/child.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Config
	// child wins on name and lr; base supplies seed, optimizer name, epochs.
	if c.Name != "child" || c.Seed != 7 || c.Train.Optimizer.Name != "sgd" || c.Train.Optimizer.LR != 0.01 || c.Train.Epochs != 3 {
		t.Errorf("composed config: name %q seed %d opt %q lr %v epochs %d", c.Name, c.Seed, c.Train.Optimizer.Name, c.Train.Optimizer.LR, c.Train.Epochs)
	}
	if len(c.Base) != 0 {
		t.Errorf("resolved config keeps base %v", c.Base)
	}
}

func TestLoadFileErrors(t *testing.T) {
	_, err := Load("testdata/nope.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "testdata/nope.yaml: config file not found") {
		t.Errorf("missing file: %v", err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "syntax.yaml")
	os.WriteFile(p, []byte("name: x\nseed: 1\ntrain:\n  epochs: 3\n bad: 1\n"), 0o644)
	_, err = Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), "syntax.yaml:4: YAML syntax error at or just after this line: did not find expected key") {
		t.Errorf("syntax error: %v", err)
	}
}

// The resolved config, saved and loaded again, resolves to itself.
func TestResolvedConfigRoundTrip(t *testing.T) {
	r, err := Load("../configs/demo.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Config.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(p, b, 0o644)
	r2, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := r2.Config.Marshal()
	if string(b) != string(b2) {
		t.Errorf("resolved config is not a fixed point:\n%s\n---\n%s", b, b2)
	}
}

// data check prints counts and writes nothing, not even in the working folder.
func TestCheckDataWritesNothing(t *testing.T) {
	cfg, _ := filepath.Abs("testdata/tiny.yaml")
	r, err := Load(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	var out strings.Builder
	n, err := CheckData(r, &out)
	if err != nil || n != 0 {
		t.Fatalf("CheckData: %d problems, %v\n%s", n, err, out.String())
	}
	if !strings.Contains(out.String(), "synth") || !strings.Contains(out.String(), "no problems found") {
		t.Errorf("unexpected output:\n%s", out.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("data check wrote %v", entries)
	}
}
