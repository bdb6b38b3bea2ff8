package experiments

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/refugelab/refugelab/data"
)

// RunOptions are the command-line choices of a run.
type RunOptions struct {
	// Out is the run folder to create ("" = runs/<name>-<timestamp>).
	Out string
	// Quiet silences progress output.
	Quiet bool
	// Stderr receives progress and log lines (nil = os.Stderr).
	Stderr io.Writer
	// Command is the command line, recorded in the manifest.
	Command []string

	// Interrupt, when set (by a SIGINT handler), stops training after the
	// current batch; the run folder keeps its last checkpoints and is
	// resumable.
	Interrupt *atomic.Bool

	// stopAfter (tests only) interrupts a task after that epoch, as a kill
	// would, leaving a resumable run folder.
	stopAfter map[string]int
}

// ErrInterrupted is returned when a run stopped on request (SIGINT).
var ErrInterrupted = errors.New("interrupted")

func (o RunOptions) interrupted() bool { return o.Interrupt != nil && o.Interrupt.Load() }

func (o RunOptions) stderr() io.Writer {
	if o.Stderr == nil {
		return os.Stderr
	}
	return o.Stderr
}

// newRunDir creates a fresh run folder and never reuses an existing one.
func newRunDir(out, name string, now time.Time) (string, error) {
	if out != "" {
		if _, err := os.Stat(out); err == nil {
			return "", &UsageError{Msg: fmt.Sprintf("%s: the output folder already exists; runs never overwrite one (choose another --out, or resume it with --resume %s)", out, out)}
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return "", fmt.Errorf("create %s: %w", filepath.Dir(out), err)
		}
		if err := os.Mkdir(out, 0o755); err != nil {
			return "", fmt.Errorf("create run folder %s: %w", out, err)
		}
		return out, nil
	}
	if err := os.MkdirAll("runs", 0o755); err != nil {
		return "", fmt.Errorf("create runs/: %w", err)
	}
	base := filepath.Join("runs", name+"-"+now.UTC().Format("20060102-150405"))
	dir := base
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("create run folder %s: %w", dir, err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

// Run executes an experiment end to end in a new run folder and returns the
// folder. The manifest's status tells whether it finished.
func Run(r *Resolved, o RunOptions) (string, error) {
	start := time.Now()
	dir, err := newRunDir(o.Out, r.Config.Name, start)
	if err != nil {
		return "", err
	}
	cfgBytes, err := r.Config.Marshal()
	if err != nil {
		return dir, err
	}
	if err := data.WriteFileAtomic(filepath.Join(dir, "config.yaml"), cfgBytes); err != nil {
		return dir, err
	}
	ov := strings.Join(r.Overrides, "\n")
	if ov != "" {
		ov += "\n"
	}
	if err := data.WriteFileAtomic(filepath.Join(dir, "overrides.txt"), []byte(ov)); err != nil {
		return dir, err
	}
	return dir, execute(r, dir, o, start, false)
}

// Resume continues an interrupted run from its folder, using the resolved
// config saved there.
func Resume(dir string, o RunOptions) (string, error) {
	cfgPath := filepath.Join(dir, "config.yaml")
	if _, err := os.Stat(cfgPath); err != nil {
		return dir, &UsageError{Msg: fmt.Sprintf("%s: not a run folder (no config.yaml)", dir)}
	}
	var overrides []string
	if b, err := os.ReadFile(filepath.Join(dir, "overrides.txt")); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				overrides = append(overrides, l)
			}
		}
	}
	var old Manifest
	if err := readJSON(filepath.Join(dir, "manifest.json"), &old); err == nil && old.Status == "done" {
		fmt.Fprintf(o.stderr(), "%s: the run already finished (status done); nothing to resume\n", dir)
		return dir, nil
	}
	r, err := Load(cfgPath, nil)
	if err != nil {
		return dir, err
	}
	r.Overrides = overrides
	return dir, execute(r, dir, o, time.Now(), true)
}

// execute runs the pipeline in dir, keeping the manifest up to date.
func execute(r *Resolved, dir string, o RunOptions, start time.Time, resume bool) error {
	cfgSHA, err := FileSHA256(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return err
	}
	m := &Manifest{RunID: filepath.Base(dir), Name: r.Config.Name, Seed: r.Config.Seed, Status: "running",
		Start: start.UTC().Format(time.RFC3339), Command: o.Command, Overrides: r.Overrides,
		ConfigSHA256: cfgSHA, Inputs: map[string]string{}}
	if m.Overrides == nil {
		m.Overrides = []string{}
	}
	BuildFacts(m)
	if resume {
		// Keep the original start time and inputs of the run being resumed.
		var old Manifest
		if err := readJSON(filepath.Join(dir, "manifest.json"), &old); err == nil {
			m.Start, m.RunID = old.Start, old.RunID
		}
	}
	if err := writeJSON(filepath.Join(dir, "manifest.json"), m); err != nil {
		return err
	}
	p := &pipeline{r: r, cfg: &r.Config, dir: dir, opt: o, manifest: m, resume: resume, start: start}
	runErr := p.run()
	if runErr != nil || m.End == "" {
		// A finished run keeps the end time the report printed.
		m.End = nowString()
		m.WallSeconds = time.Since(start).Seconds()
	}
	if errors.Is(runErr, ErrInterrupted) {
		m.Status, m.Error = "interrupted", runErr.Error()
	} else if runErr != nil {
		m.Status, m.Error = "failed", runErr.Error()
	} else {
		m.Status = "done"
	}
	if err := writeJSON(filepath.Join(dir, "manifest.json"), m); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}
