package experiments

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/refugelab/refugelab/data"
)

// runTiny runs testdata/tiny.yaml into a fresh folder.
func runTiny(t *testing.T, overrides ...string) string {
	t.Helper()
	r, err := Load("testdata/tiny.yaml", overrides)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	var log bytes.Buffer
	if _, err := Run(r, RunOptions{Out: dir, Quiet: true, Stderr: &log, Command: []string{"test"}}); err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	return dir
}

// The end-to-end run writes every artifact of the run folder, and each parses.
func TestRunTinyWritesEveryArtifact(t *testing.T) {
	dir := runTiny(t)
	for _, f := range []string{"config.yaml", "overrides.txt", "manifest.json", "splits.json", "log.jsonl", "metrics.json",
		"description.json", "report/report.md", "report/report.html", "report/report.tex",
		"submission/classification_results.csv", "submission/fovea_location_results.csv",
		"checkpoints/segmentation/best/header.json", "checkpoints/fovea/latest/header.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	var man Manifest
	if err := readJSON(filepath.Join(dir, "manifest.json"), &man); err != nil {
		t.Fatal(err)
	}
	if man.Status != "done" || man.ConfigSHA256 == "" || man.GoVersion == "" {
		t.Errorf("manifest: status %q config sha %q go %q", man.Status, man.ConfigSHA256, man.GoVersion)
	}
	sha, _ := FileSHA256(filepath.Join(dir, "config.yaml"))
	if sha != man.ConfigSHA256 {
		t.Errorf("manifest config hash %s != sha256(config.yaml) %s", man.ConfigSHA256, sha)
	}
	var splits struct {
		Train, Val, Test []string
		Counts           map[string]int
	}
	if err := readJSON(filepath.Join(dir, "splits.json"), &splits); err != nil {
		t.Fatal(err)
	}
	if len(splits.Train)+len(splits.Val)+len(splits.Test) != 24 || len(splits.Test) == 0 || len(splits.Val) == 0 {
		t.Errorf("splits: %d/%d/%d of 24, want every split non-empty", len(splits.Train), len(splits.Val), len(splits.Test))
	}
	var metrics map[string]struct {
		Classification map[string]any `json:"classification"`
		Segmentation   map[string]any `json:"segmentation"`
		Fovea          map[string]any `json:"fovea"`
		PerImage       map[string]any `json:"per_image"`
	}
	if err := readJSON(filepath.Join(dir, "metrics.json"), &metrics); err != nil {
		t.Fatal(err)
	}
	for _, sp := range []string{"val", "test"} {
		m := metrics[sp]
		for _, k := range []string{"auc", "sensitivity_at_spec_0.85"} {
			if _, ok := m.Classification[k].(float64); !ok {
				t.Errorf("%s classification.%s missing", sp, k)
			}
		}
		for _, k := range []string{"dice_disc", "dice_cup", "vcdr_mae"} {
			if _, ok := m.Segmentation[k].(float64); !ok {
				t.Errorf("%s segmentation.%s missing", sp, k)
			}
		}
		if _, ok := m.Fovea["mean_distance_px"].(float64); !ok {
			t.Errorf("%s fovea.mean_distance_px missing", sp)
		}
		if m.PerImage == nil {
			t.Errorf("%s per_image missing", sp)
		}
	}
	// Log: one line per epoch and task.
	b, _ := os.ReadFile(filepath.Join(dir, "log.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4*2 {
		t.Errorf("log.jsonl has %d lines, want 8 (4 tasks x 2 epochs)", len(lines))
	}
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("log line %q: %v", l, err)
		}
	}
	// Submission: a header and one row per test image; masks at original size, 0/128/255.
	f, _ := os.Open(filepath.Join(dir, "submission/classification_results.csv"))
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 1+len(splits.Test) || rows[0][0] != "FileName" {
		t.Errorf("classification_results.csv: %v rows %v", err, rows)
	}
	for _, id := range splits.Test {
		stem := strings.TrimPrefix(id, "synth/")
		m, err := data.ReadMask(filepath.Join(dir, "submission/segmentation", stem+".bmp"), data.RefugeRule)
		if err != nil {
			t.Errorf("mask of %s: %v", stem, err)
			continue
		}
		if m.W != 128 || m.H != 128 {
			t.Errorf("mask of %s is %dx%d, want the original 128x128", stem, m.W, m.H)
		}
	}
}

// Bad input: an existing output folder is refused, and nothing is written.
func TestRunRefusesExistingFolder(t *testing.T) {
	r, err := Load("testdata/tiny.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("mine"), 0o644)
	_, err = Run(r, RunOptions{Out: dir, Quiet: true})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("want a usage error about the existing folder, got %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the existing folder was written to: %v", entries)
	}
}

// hashTree returns the SHA-256 of every file under dir whose path matches
// one of the given prefixes.
func hashTree(t *testing.T, dir string, prefixes ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, pre := range prefixes {
			if strings.HasPrefix(rel, pre) {
				h, err := FileSHA256(p)
				if err != nil {
					t.Fatal(err)
				}
				out[rel] = h
			}
		}
		return nil
	})
	return out
}

// Two runs of one config produce identical weights, predictions, splits and
// metrics (bitwise).
func TestRunIsBitwiseReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny experiment twice")
	}
	a, b := runTiny(t), runTiny(t)
	prefixes := []string{"metrics.json", "splits.json", "checkpoints/", "predictions/", "submission/", "config.yaml"}
	ha, hb := hashTree(t, a, prefixes...), hashTree(t, b, prefixes...)
	if len(ha) < 20 {
		t.Fatalf("only %d files hashed", len(ha))
	}
	for k, v := range ha {
		if k == "submission.zip" {
			continue
		}
		if hb[k] != v {
			t.Errorf("%s differs between two runs of the same config", k)
		}
	}
	if len(ha) != len(hb) {
		t.Errorf("runs wrote %d and %d files", len(ha), len(hb))
	}
}

// A run interrupted in the middle of a task resumes to the same bytes as an
// uninterrupted run.
func TestResumeMatchesUninterruptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny experiment twice")
	}
	full := runTiny(t)
	r, err := Load("testdata/tiny.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	_, err = Run(r, RunOptions{Out: dir, Quiet: true, stopAfter: map[string]int{"segmentation": 1}})
	if err == nil || !strings.Contains(err.Error(), "interrupted after epoch 1") {
		t.Fatalf("want an interruption, got %v", err)
	}
	var man Manifest
	readJSON(filepath.Join(dir, "manifest.json"), &man)
	if man.Status != "failed" {
		t.Errorf("interrupted manifest status %q, want failed", man.Status)
	}
	if _, err := Resume(dir, RunOptions{Quiet: true}); err != nil {
		t.Fatalf("resume: %v", err)
	}
	prefixes := []string{"metrics.json", "splits.json", "checkpoints/", "predictions/", "submission/"}
	ha, hb := hashTree(t, full, prefixes...), hashTree(t, dir, prefixes...)
	for k, v := range ha {
		if hb[k] != v {
			t.Errorf("%s differs between the resumed and the uninterrupted run", k)
		}
	}
}

// reproduce re-runs a finished run and finds it identical; after an input
// file changes it refuses, naming the file.
func TestReproduce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny experiment twice")
	}
	tmp := t.TempDir()
	dataDir := filepath.Join(tmp, "synth")
	if err := Synth(SynthOptions{Out: dataDir, N: 20, Seed: 5, Size: "128x128", Layout: "csv"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	manifest, _ := filepath.Glob(filepath.Join(dataDir, "*.csv"))
	if len(manifest) != 1 {
		t.Fatalf("synth csv layout: manifests %v", manifest)
	}
	cfg := strings.Replace(readFile(t, "testdata/tiny.yaml"), "{name: synth, format: synthetic, params: {n: 24, width: 128, height: 128}}",
		"{name: synth, format: csv, root: "+manifest[0]+"}", 1)
	cfgPath := filepath.Join(tmp, "tiny-csv.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	r, err := Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(tmp, "run")
	if _, err := Run(r, RunOptions{Out: run, Quiet: true}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	v, err := Reproduce(run, filepath.Join(tmp, "again"), RunOptions{Quiet: true}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Identical || !strings.Contains(out.String(), "verdict: IDENTICAL") {
		t.Errorf("reproduction not identical:\n%s", out.String())
	}
	// Change one image: reproduce stops before running, naming it.
	var man Manifest
	readJSON(filepath.Join(run, "manifest.json"), &man)
	var img string
	for p := range man.Inputs {
		if strings.HasSuffix(p, ".jpg") {
			img = p
			break
		}
	}
	if img == "" {
		t.Fatalf("no image among the manifest inputs: %v", man.Inputs)
	}
	f, _ := os.OpenFile(img, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0})
	f.Close()
	_, err = Reproduce(run, filepath.Join(tmp, "third"), RunOptions{Quiet: true}, io.Discard)
	var ic *InputChangeError
	if !errors.As(err, &ic) || !strings.Contains(err.Error(), img) {
		t.Fatalf("want an input-change error naming %s, got %v", img, err)
	}
	if _, err := os.Stat(filepath.Join(tmp, "third")); err == nil {
		t.Error("reproduce wrote a run folder although an input changed")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A 2-seed study run 2 at a time: each run equals the same run made alone,
// the aggregate is the mean and SD of the runs' metrics.json values, and a
// missing run is listed, not averaged away.
func TestStudySeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny experiment three times")
	}
	dir := filepath.Join(t.TempDir(), "study")
	var out bytes.Buffer
	if _, err := RunStudy(StudyOptions{Config: "testdata/tiny.yaml", Seeds: 2, Jobs: 2, Out: dir, Quiet: true}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	alone := runTiny(t) // seed 3, the study's first run
	a, _ := FileSHA256(filepath.Join(alone, "metrics.json"))
	b, _ := FileSHA256(filepath.Join(dir, "seed-3", "metrics.json"))
	if a != b {
		t.Error("a run inside a parallel study differs from the same run made alone")
	}
	var st Study
	if err := readJSON(filepath.Join(dir, "study.json"), &st); err != nil {
		t.Fatal(err)
	}
	key := "test.segmentation.dice_disc"
	var vals []float64
	for _, r := range []string{"seed-3", "seed-4"} {
		var m map[string]map[string]map[string]any
		readJSON(filepath.Join(dir, r, "metrics.json"), &m)
		vals = append(vals, m["test"]["segmentation"]["dice_disc"].(float64))
	}
	mean := (vals[0] + vals[1]) / 2
	sd := math.Abs(vals[0]-vals[1]) / math.Sqrt2 // sample SD of two values
	ag := st.Aggregate[key]
	if ag.N != 2 || math.Abs(ag.Mean-mean) > 1e-12 || math.Abs(ag.SD-sd) > 1e-12 {
		t.Errorf("aggregate %s = %+v, want mean %v sd %v n 2", key, ag, mean, sd)
	}
	if md := readFile(t, filepath.Join(dir, "study.md")); !strings.Contains(md, fmt.Sprintf("| %s | %.4f ± %.4f | 2 |", key, mean, sd)) {
		t.Errorf("study.md lacks the %s row:\n%s", key, md)
	}
	os.RemoveAll(filepath.Join(dir, "seed-4"))
	st2, err := CollectStudy(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(st2.Missing) != 1 || !strings.HasPrefix(st2.Missing[0], "seed-4") || st2.Aggregate[key].N != 1 {
		t.Errorf("after removing seed-4: missing %v, n %d", st2.Missing, st2.Aggregate[key].N)
	}
}

// With data.cache_dir the prepared inputs come from the .npy cache: the
// first run fills it, the second reads it, and both equal a run without it.
func TestCachedRunsEqualUncached(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny experiment three times")
	}
	plain := runTiny(t)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	a := runTiny(t, "data.cache_dir="+cacheDir)
	entries, _ := filepath.Glob(filepath.Join(cacheDir, "*", "*.npy"))
	if len(entries) == 0 {
		t.Fatal("the cache is empty after a run")
	}
	b := runTiny(t, "data.cache_dir="+cacheDir)
	for _, d := range []string{a, b} {
		for k, v := range hashTree(t, plain, "metrics.json", "checkpoints/") {
			if h := hashTree(t, d, k)[k]; h != v {
				t.Errorf("%s: %s differs from the run without cache", d, k)
			}
		}
	}
	if n, _ := filepath.Glob(filepath.Join(cacheDir, "*", "*.npy")); len(n) != len(entries) {
		t.Errorf("the second run added cache entries (%d -> %d)", len(entries), len(n))
	}
}

func TestF64Bits(t *testing.T) {
	for _, v := range []float64{0, 1000.123456789, -3.5e-300, math.Pi, math.Inf(1)} {
		if got := f64from(f64bits(v)); got != v {
			t.Errorf("f64from(f64bits(%v)) = %v", v, got)
		}
	}
}

// Results do not depend on the number of threads: GOMAXPROCS 1, 2 and 4
// give the same bytes (fixed work partitions, fixed reduction order).
func TestRunIndependentOfGOMAXPROCS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny experiment three times")
	}
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	var ref map[string]string
	for _, n := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(n)
		h := hashTree(t, runTiny(t), "metrics.json", "checkpoints/", "predictions/", "submission/")
		if ref == nil {
			ref = h
			continue
		}
		for k, v := range ref {
			if h[k] != v {
				t.Errorf("GOMAXPROCS=%d: %s differs from GOMAXPROCS=1", n, k)
			}
		}
	}
}

// The multitask option: one U-Net whose shared encoder also gives the
// glaucoma score; the classification task trains no network of its own.
func TestRunMultitask(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny experiment")
	}
	dir := runTiny(t, "tasks.segmentation.network.arch=multitask", "tasks.segmentation.loss.name=multitask", "tasks.classification.score=multitask")
	if _, err := os.Stat(filepath.Join(dir, "checkpoints", "classification")); err == nil {
		t.Error("classification trained a network of its own under score: multitask")
	}
	var m map[string]map[string]map[string]any
	if err := readJSON(filepath.Join(dir, "metrics.json"), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["test"]["classification"]["auc"].(float64); !ok {
		t.Errorf("no test AUC from the multitask head: %v", m["test"]["classification"])
	}
	if _, ok := m["test"]["segmentation"]["dice_disc"].(float64); !ok {
		t.Errorf("no test segmentation metrics: %v", m["test"]["segmentation"])
	}
	_, err := Load("testdata/tiny.yaml", []string{"tasks.classification.score=multitask"})
	if err == nil || !strings.Contains(err.Error(), `score "multitask" needs an enabled segmentation task with network.arch: multitask`) {
		t.Errorf("score multitask without a multitask network: %v", err)
	}
}

// Predictions use the image alone: predicting the test images from a copy
// that holds only the images (no masks, labels or points) gives exactly the
// submission the run wrote for its test split.
func TestPredictionNeedsNoGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny experiment")
	}
	tmp := t.TempDir()
	src := filepath.Join(tmp, "synth")
	if err := Synth(SynthOptions{Out: src, N: 20, Seed: 9, Size: "128x128", Layout: "csv"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(readFile(t, "testdata/tiny.yaml"), "{name: synth, format: synthetic, params: {n: 24, width: 128, height: 128}}",
		"{name: synth, format: csv, root: "+filepath.Join(src, "manifest.csv")+"}", 1)
	cfgPath := filepath.Join(tmp, "tiny-csv.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	r, err := Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(tmp, "run")
	if _, err := Run(r, RunOptions{Out: run, Quiet: true}); err != nil {
		t.Fatal(err)
	}
	var splits struct{ Test []string }
	readJSON(filepath.Join(run, "splits.json"), &splits)
	// A folder with the test images only, and a manifest naming just them.
	bare := filepath.Join(tmp, "bare")
	os.MkdirAll(filepath.Join(bare, "images"), 0o755)
	manifest := "image\n"
	for _, id := range splits.Test {
		stem := strings.TrimPrefix(id, "synth/")
		b, err := os.ReadFile(filepath.Join(src, "images", stem+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(bare, "images", stem+".jpg"), b, 0o644)
		manifest += "images/" + stem + ".jpg\n"
	}
	os.WriteFile(filepath.Join(bare, "manifest.csv"), []byte(manifest), 0o644)
	out := filepath.Join(tmp, "pred")
	if err := Predict(run, "csv:"+filepath.Join(bare, "manifest.csv"), out, RunOptions{Quiet: true}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"classification_results.csv", "fovea_location_results.csv"} {
		if a, b := readFile(t, filepath.Join(run, "submission", f)), readFile(t, filepath.Join(out, f)); a != b {
			t.Errorf("%s differs without ground truth:\nrun:\n%s\npredict:\n%s", f, a, b)
		}
	}
	for _, id := range splits.Test {
		m := strings.TrimPrefix(id, "synth/") + ".bmp"
		a, _ := FileSHA256(filepath.Join(run, "submission", "segmentation", m))
		b, _ := FileSHA256(filepath.Join(out, "segmentation", m))
		if a == "" || a != b {
			t.Errorf("mask %s differs without ground truth", m)
		}
	}
}
