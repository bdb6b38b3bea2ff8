package experiments

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A real child process killed with SIGKILL at random moments leaves a run
// folder that `run --resume` completes to the same bytes as an
// uninterrupted run.
func TestSIGKILLAtRandomPointsThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the tiny experiment several times")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on the PATH; cannot build the binary for the kill test")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "refugelab")
	if out, err := exec.Command(goBin, "build", "-o", bin, "../cmd/refugelab").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg, _ := filepath.Abs("testdata/tiny.yaml")
	ref := runTiny(t)
	prefixes := []string{"metrics.json", "splits.json", "checkpoints/", "predictions/", "submission/"}
	want := hashTree(t, ref, prefixes...)
	wantLog := logEpochs(t, ref)
	rng := rand.New(rand.NewPCG(2026, 12)) // fixed: the kill points are the same on every run of the test
	for k := 0; k < 6; k++ {
		dir := filepath.Join(tmp, "run", string(rune('a'+k)))
		os.MkdirAll(filepath.Dir(dir), 0o755)
		cmd := exec.Command(bin, "run", cfg, "--out", dir, "--quiet")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		after := time.Duration(250+rng.IntN(1250)) * time.Millisecond
		time.Sleep(after)
		cmd.Process.Kill() // SIGKILL
		cmd.Wait()
		var man Manifest
		readJSON(filepath.Join(dir, "manifest.json"), &man)
		ckpts, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "*", "latest"))
		t.Logf("killed after %v: status %q, %d task checkpoints", after, man.Status, len(ckpts))
		out, err := exec.Command(bin, "run", "--resume", dir, "--quiet").CombinedOutput()
		if err != nil {
			t.Fatalf("kill after %v: resume failed: %v\n%s", after, err, out)
		}
		got := hashTree(t, dir, prefixes...)
		for f, h := range want {
			if got[f] != h {
				t.Errorf("kill after %v: %s differs from the uninterrupted run", after, f)
			}
		}
		if len(got) != len(want) {
			t.Errorf("kill after %v: %d files, the uninterrupted run has %d", after, len(got), len(want))
		}
		if gl := logEpochs(t, dir); gl != wantLog {
			t.Errorf("kill after %v: log.jsonl epochs\n%s\nwant\n%s", after, gl, wantLog)
		}
	}
}

// SIGINT stops a run after the current batch: exit status 130, manifest
// status "interrupted", and --resume completes it to the same bytes.
func TestSIGINTStopsCleanlyAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on the PATH")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "refugelab")
	if out, err := exec.Command(goBin, "build", "-o", bin, "../cmd/refugelab").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg, _ := filepath.Abs("testdata/tiny.yaml")
	// Enough epochs that the interrupt lands in training.
	dir := filepath.Join(tmp, "run")
	cmd := exec.Command(bin, "run", cfg, "--out", dir, "--quiet", "--set", "train.epochs=30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("after SIGINT: %v, want exit status 130", err)
	}
	var man Manifest
	readJSON(filepath.Join(dir, "manifest.json"), &man)
	if man.Status != "interrupted" || !strings.Contains(man.Error, "--resume") {
		t.Fatalf("manifest status %q error %q, want interrupted with a resume hint", man.Status, man.Error)
	}
	if out, err := exec.Command(bin, "run", "--resume", dir, "--quiet").CombinedOutput(); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	ref := runTiny(t, "train.epochs=30")
	prefixes := []string{"metrics.json", "checkpoints/", "submission/"}
	want, got := hashTree(t, ref, prefixes...), hashTree(t, dir, prefixes...)
	for f, h := range want {
		if got[f] != h {
			t.Errorf("%s differs from the uninterrupted run", f)
		}
	}
}

// logEpochs lists log.jsonl's task/epoch/loss fields (wall times differ).
func logEpochs(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, filepath.Join(dir, "log.jsonl"))), "\n") {
		var rec struct {
			Task      string             `json:"task"`
			Epoch     int                `json:"epoch"`
			TrainLoss float64            `json:"train_loss"`
			Val       map[string]float64 `json:"val"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		fmt.Fprintf(&b, "%s %d %v %v\n", rec.Task, rec.Epoch, rec.TrainLoss, rec.Val)
	}
	return b.String()
}
