package experiments

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The generated sbatch script: one array task per run, options as #SBATCH
// lines, each task running (or resuming) its own run folder, with arguments
// quoted for the shell.
func TestSlurmScript(t *testing.T) {
	runs := []StudyRun{{Name: "seed-1", Dir: "seed-1", Overrides: []string{"seed=1"}}, {Name: "lr", Dir: "lr", Overrides: []string{"report.title=it's"}}}
	s := SlurmScript("/shared/study", "/shared/study/bin/refugelab", "/cfg/x.yaml", []string{"train.epochs=2"}, runs,
		SlurmOptions{Partition: "gpu", CPUsPerTask: 4, Mem: "8G", Time: "01:00:00", SbatchArgs: []string{"--account=eye"}})
	for _, want := range []string{
		"#!/bin/bash\n",
		"#SBATCH --array=0-1\n",
		"#SBATCH --output=/shared/study/slurm/%A_%a.out\n",
		"#SBATCH --partition=gpu\n", "#SBATCH --cpus-per-task=4\n", "#SBATCH --mem=8G\n", "#SBATCH --time=01:00:00\n", "#SBATCH --account=eye\n",
		"  0) name='seed-1'; args=('run' '/cfg/x.yaml' '--set' 'train.epochs=2' '--set' 'seed=1') ;;\n",
		`  1) name='lr'; args=('run' '/cfg/x.yaml' '--set' 'train.epochs=2' '--set' 'report.title=it'\''s') ;;` + "\n",
		"dir='/shared/study'/\"$name\"\n",
		"  exec \"$bin\" run --resume \"$dir\" --quiet\n",
		"exec \"$bin\" \"${args[@]}\" --out \"$dir\" --quiet\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command(bash, "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("bash -n: %v\n%s", err, out)
		}
	}
}

// slurmUp tells whether a Slurm controller answers here.
func slurmUp() (bool, string) {
	if _, err := exec.LookPath("sbatch"); err != nil {
		return false, "sbatch is not on the PATH"
	}
	out, err := exec.Command("sinfo", "-h", "-o", "%T").CombinedOutput()
	if err != nil {
		return false, "sinfo: " + strings.TrimSpace(string(out))
	}
	return true, ""
}

// A 3-seed study of the tiny config runs through a real Slurm (started by
// .ci/run), reports its status, collects, and a resubmission submits only
// the run that is not done.
func TestStudyThroughRealSlurm(t *testing.T) {
	if ok, why := slurmUp(); !ok {
		if os.Getenv("REFUGELAB_REQUIRE_SLURM") != "" {
			t.Fatalf("Slurm is required here but not available: %s", why)
		}
		t.Skipf("no Slurm cluster here (%s); .ci/run starts a single-node one", why)
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
	dir := filepath.Join(tmp, "study")
	var out bytes.Buffer
	if _, err := RunStudy(StudyOptions{Config: "testdata/tiny.yaml", Seeds: 3, Executor: "slurm", Out: dir, Quiet: true,
		Slurm: SlurmOptions{CPUsPerTask: 1, Binary: bin}}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "submitted job ") {
		t.Fatalf("no job id printed:\n%s", out.String())
	}
	wait := func(n int) {
		deadline := time.Now().Add(4 * time.Minute)
		for time.Now().Before(deadline) {
			var b bytes.Buffer
			StudyStatus(dir, &b)
			if strings.Count(b.String(), " done ") == n {
				return
			}
			time.Sleep(time.Second)
		}
		var b bytes.Buffer
		StudyStatus(dir, &b)
		logs, _ := filepath.Glob(filepath.Join(dir, "slurm", "*.out"))
		var tails []string
		for _, l := range logs {
			tails = append(tails, l+":\n"+readFile(t, l))
		}
		t.Fatalf("runs not done in time:\n%s\n%s", b.String(), strings.Join(tails, "\n"))
	}
	wait(3)
	var status bytes.Buffer
	if err := StudyStatus(dir, &status); err != nil {
		t.Fatal(err)
	}
	t.Logf("study status:\n%s", status.String())
	st, err := CollectStudy(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Missing) != 0 || st.Aggregate["test.segmentation.dice_disc"].N != 3 {
		t.Fatalf("collected: missing %v, n %d", st.Missing, st.Aggregate["test.segmentation.dice_disc"].N)
	}
	// Replace one run by a folder its task left when killed mid-training:
	// resubmitting submits only that one, which resumes to the same metrics.
	want, _ := FileSHA256(filepath.Join(dir, "seed-4", "metrics.json"))
	os.RemoveAll(filepath.Join(dir, "seed-4"))
	r, err := Load("testdata/tiny.yaml", []string{"seed=4"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(r, RunOptions{Out: filepath.Join(dir, "seed-4"), Quiet: true, stopAfter: map[string]int{"segmentation": 1}}); err == nil {
		t.Fatal("the interrupted run did not stop")
	}
	out.Reset()
	if _, err := ResubmitStudy(dir, SlurmOptions{Binary: bin}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(array tasks 1)") {
		t.Errorf("resubmission did not submit only task 1:\n%s", out.String())
	}
	wait(3)
	if st, err = CollectStudy(dir, io.Discard); err != nil || len(st.Missing) != 0 {
		t.Fatalf("after resubmission: %v, missing %v", err, st.Missing)
	}
	if got, _ := FileSHA256(filepath.Join(dir, "seed-4", "metrics.json")); got != want {
		t.Error("the resumed seed-4 run's metrics differ from its uninterrupted run")
	}
	// Leave the cluster idle: wait for the array tasks to leave the queue.
	var jobs Study
	readJSON(filepath.Join(dir, "study.json"), &jobs)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		busy := false
		for _, j := range jobs.SlurmJobs {
			if q, _ := exec.Command("squeue", "-h", "-j", j).Output(); len(bytes.TrimSpace(q)) > 0 {
				busy = true
			}
		}
		if !busy {
			break
		}
	}
}
