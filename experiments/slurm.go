package experiments

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/refugelab/refugelab/data"
)

// SlurmOptions configure the Slurm executor of a study.
type SlurmOptions struct {
	Partition   string   `json:"partition,omitempty"`
	CPUsPerTask int      `json:"cpus_per_task,omitempty"`
	Mem         string   `json:"mem,omitempty"`
	Time        string   `json:"time,omitempty"`
	SbatchArgs  []string `json:"sbatch_args,omitempty"`
	DryRun      bool     `json:"-"`
	// Binary is the refugelab binary copied into the study folder for the
	// nodes to run ("" = this executable).
	Binary string `json:"-"`
}

// ResubmitStudy submits again, to Slurm, the runs of a study that are not
// done (a run folder a killed task left behind resumes from its checkpoint).
func ResubmitStudy(dir string, o SlurmOptions, w io.Writer) (string, error) {
	var st Study
	if err := readJSON(filepath.Join(dir, "study.json"), &st); err != nil {
		return "", &UsageError{Msg: fmt.Sprintf("%s: not a study folder (%v)", dir, err)}
	}
	if st.Slurm != nil {
		bin, dry := o.Binary, o.DryRun
		o = *st.Slurm
		o.Binary, o.DryRun = bin, dry
	}
	id, err := submitSlurm(dir, &st, o, w)
	if err != nil || id == "" {
		return id, err
	}
	st.Executor = "slurm"
	st.SlurmJobs = append(st.SlurmJobs, id)
	return id, writeJSON(filepath.Join(dir, "study.json"), &st)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// SlurmScript renders the sbatch job-array script of a study: one array
// task per run, each running `refugelab run` into its own folder under the
// study folder (or resuming it when a previous task left one), with the
// binary copied into the study folder so every node runs the same build.
func SlurmScript(studyDir, bin, config string, base []string, runs []StudyRun, o SlurmOptions) string {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=refugelab-%s\n", sanitize(filepath.Base(studyDir)))
	fmt.Fprintf(&b, "#SBATCH --array=0-%d\n", len(runs)-1)
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", filepath.Join(studyDir, "slurm", "%A_%a.out"))
	if o.Partition != "" {
		fmt.Fprintf(&b, "#SBATCH --partition=%s\n", o.Partition)
	}
	if o.CPUsPerTask > 0 {
		fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", o.CPUsPerTask)
	}
	if o.Mem != "" {
		fmt.Fprintf(&b, "#SBATCH --mem=%s\n", o.Mem)
	}
	if o.Time != "" {
		fmt.Fprintf(&b, "#SBATCH --time=%s\n", o.Time)
	}
	for _, a := range o.SbatchArgs {
		fmt.Fprintf(&b, "#SBATCH %s\n", a)
	}
	b.WriteString("set -euo pipefail\n")
	b.WriteString("# One array task per run of the study (written by refugelab study --executor slurm).\n")
	b.WriteString("case \"$SLURM_ARRAY_TASK_ID\" in\n")
	for i, r := range runs {
		args := []string{"run", config}
		for _, s := range append(append([]string(nil), base...), r.Overrides...) {
			args = append(args, "--set", s)
		}
		var q []string
		for _, a := range args {
			q = append(q, shellQuote(a))
		}
		fmt.Fprintf(&b, "  %d) name=%s; args=(%s) ;;\n", i, shellQuote(r.Dir), strings.Join(q, " "))
	}
	b.WriteString("  *) echo \"refugelab: no run for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\nesac\n")
	fmt.Fprintf(&b, "dir=%s/\"$name\"\n", shellQuote(studyDir))
	fmt.Fprintf(&b, "bin=%s\n", shellQuote(bin))
	b.WriteString("if [ -f \"$dir/manifest.json\" ]; then\n")
	b.WriteString("  # A task killed by Slurm (time limit, preemption) left a resumable folder.\n")
	b.WriteString("  exec \"$bin\" run --resume \"$dir\" --quiet\n")
	b.WriteString("fi\n")
	b.WriteString("exec \"$bin\" \"${args[@]}\" --out \"$dir\" --quiet\n")
	return b.String()
}

// submitSlurm writes the study's sbatch script and submits the runs that
// are not done (all of them for a new study). It returns the job id ("" on
// a dry run).
func submitSlurm(dir string, st *Study, o SlurmOptions, w io.Writer) (string, error) {
	self := o.Binary
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return "", fmt.Errorf("find the refugelab binary to copy into the study: %w", err)
		}
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(absDir, "bin", "refugelab")
	if _, err := os.Stat(bin); err != nil {
		b, err := os.ReadFile(self)
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
			return "", err
		}
		if err := data.WriteFileAtomic(bin, b); err != nil {
			return "", err
		}
		if err := os.Chmod(bin, 0o755); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "slurm"), 0o755); err != nil {
		return "", err
	}
	cfg, err := filepath.Abs(st.Config)
	if err != nil {
		return "", err
	}
	script := SlurmScript(absDir, bin, cfg, st.Overrides, st.Runs, o)
	sp := filepath.Join(dir, "slurm.sbatch")
	if err := data.WriteFileAtomic(sp, []byte(script)); err != nil {
		return "", err
	}
	var todo []string
	for i, r := range st.Runs {
		var man Manifest
		if readJSON(filepath.Join(dir, r.Dir, "manifest.json"), &man) == nil && man.Status == "done" {
			continue
		}
		todo = append(todo, strconv.Itoa(i))
	}
	fmt.Fprintf(w, "wrote %s (%d array tasks)\n", sp, len(st.Runs))
	if len(todo) == 0 {
		fmt.Fprintln(w, "every run is done; nothing to submit")
		return "", nil
	}
	args := []string{"--parsable", "--array=" + strings.Join(todo, ","), sp}
	if o.DryRun {
		fmt.Fprintf(w, "dry run: would submit sbatch %s\n", strings.Join(args, " "))
		return "", nil
	}
	cmd := exec.Command("sbatch", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("sbatch %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	id := strings.TrimSpace(strings.Split(out.String(), ";")[0])
	fmt.Fprintf(w, "submitted job %s (array tasks %s)\n", id, strings.Join(todo, ","))
	return id, nil
}

// StudyStatus prints each run's state from the run folders and, when the
// study was submitted to Slurm, from squeue/sacct.
func StudyStatus(dir string, w io.Writer) error {
	var st Study
	if err := readJSON(filepath.Join(dir, "study.json"), &st); err != nil {
		return &UsageError{Msg: fmt.Sprintf("%s: not a study folder (%v)", dir, err)}
	}
	// Queued and running array tasks come from squeue; finished ones from
	// the run folders (sacct needs accounting, which many clusters lack).
	slurmState := map[int]string{}
	for _, job := range st.SlurmJobs {
		out, err := exec.Command("squeue", "-h", "-r", "-j", job, "-o", "%i|%T").Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(line, "|")
			if len(f) != 2 {
				continue
			}
			if _, idx, ok := strings.Cut(f[0], "_"); ok {
				if i, err := strconv.Atoi(idx); err == nil {
					slurmState[i] = f[1]
				}
			}
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tstate\tslurm\tfolder")
	for i, r := range st.Runs {
		state := "pending"
		var man Manifest
		ss := slurmState[i]
		if readJSON(filepath.Join(dir, r.Dir, "manifest.json"), &man) == nil {
			switch man.Status {
			case "done":
				state = "done"
			case "running":
				state = "running"
				if len(st.SlurmJobs) > 0 && ss == "" {
					state = "failed" // its task left the queue without finishing (killed)
				}
			default:
				state = "failed"
			}
		} else if len(st.SlurmJobs) > 0 && ss == "" {
			state = "failed" // never started, and no longer queued
		}
		if ss == "RUNNING" && state == "pending" {
			state = "running"
		}
		if ss == "" {
			ss = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, state, ss, filepath.Join(dir, r.Dir))
	}
	return tw.Flush()
}
