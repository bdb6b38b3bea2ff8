// Command refugelab runs reproducible REFUGE2 experiments: one YAML file
// trains, evaluates and reports the glaucoma classification, optic disc/cup
// segmentation and fovea localisation tasks.
//
// This file only parses flags; all logic lives in package experiments.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"

	"github.com/refugelab/refugelab/experiments"
)

const usage = `refugelab: reproducible REFUGE2 experiments

Usage:
  refugelab run CONFIG [--set key=value]... [--out DIR] [--quiet]
  refugelab run --resume RUN_DIR [--quiet]
  refugelab validate CONFIG [--set key=value]...
  refugelab data check CONFIG [--set key=value]...
  refugelab synth --out DIR --n N [--seed S] [--size WxH] [--layout refuge2018|csv]
  refugelab augment-preview CONFIG [--n 8] --out DIR [--set key=value]...
  refugelab predict RUN_DIR --data CONFIG_OR_SOURCE --out DIR [--quiet]
  refugelab evaluate --submission DIR_OR_ZIP --gt DIR [--layout refuge2018|refuge2|csv] [--strict] [--out DIR]
  refugelab rank SUBMISSION_OR_SCORES... --gt DIR [--layout L]
  refugelab report RUN_DIR [--format md,tex,html] [--out DIR]
  refugelab reproduce RUN_DIR [--out DIR] [--quiet]
  refugelab study CONFIG (--seeds N | --folds K | --grid key=v1,v2 ...) [-j N] [--set k=v]... [--out DIR]
  refugelab study CONFIG ... --executor slurm [--partition P] [--cpus-per-task N] [--mem M] [--time T] [--sbatch-arg A]... [--dry-run]
  refugelab study status STUDY_DIR | study collect STUDY_DIR | study resubmit STUDY_DIR

Exit codes: 0 success, 1 failure or problems found, 2 bad command line or configuration.
`

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// parse parses flags that may appear before, between or after positional
// arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// interruptFlag turns the first SIGINT into a request to stop after the
// current batch (the run stays resumable); a second SIGINT exits at once.
func interruptFlag(stderr io.Writer) *atomic.Bool {
	var flag atomic.Bool
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt)
	go func() {
		<-ch
		flag.Store(true)
		fmt.Fprintln(stderr, "refugelab: interrupt: stopping after the current batch (press Ctrl-C again to quit at once)")
		<-ch
		os.Exit(130)
	}()
	return &flag
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("refugelab "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sets multi
	fs.Var(&sets, "set", "override a config value: key.path=value (repeatable)")
	quiet := fs.Bool("quiet", false, "no progress output")
	out := fs.String("out", "", "output folder")
	fail := func(err error) int {
		if err == nil {
			return 0
		}
		fmt.Fprintln(stderr, "refugelab "+cmd+": "+err.Error())
		if errors.Is(err, experiments.ErrInterrupted) {
			return 130
		}
		var ce *experiments.ConfigError
		var ue *experiments.UsageError
		if errors.As(err, &ce) || errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	need := func(pos []string, n int, what string) error {
		if len(pos) != n {
			return &experiments.UsageError{Msg: fmt.Sprintf("expected %s (see refugelab --help)", what)}
		}
		return nil
	}
	switch cmd {
	case "run":
		resume := fs.String("resume", "", "resume the interrupted run in this folder")
		pos, err := parse(fs, rest)
		if err != nil {
			return 2
		}
		if *resume != "" {
			if len(pos) != 0 || len(sets) != 0 {
				return fail(&experiments.UsageError{Msg: "--resume takes the run folder only (its saved config is used)"})
			}
			dir, err := experiments.Resume(*resume, experiments.RunOptions{Quiet: *quiet, Stderr: stderr, Command: os.Args, Interrupt: interruptFlag(stderr)})
			if err == nil {
				fmt.Fprintln(stdout, dir)
			}
			return fail(err)
		}
		if err := need(pos, 1, "one CONFIG file"); err != nil {
			return fail(err)
		}
		r, err := experiments.Load(pos[0], sets)
		if err != nil {
			return fail(err)
		}
		dir, err := experiments.Run(r, experiments.RunOptions{Out: *out, Quiet: *quiet, Stderr: stderr, Command: os.Args, Interrupt: interruptFlag(stderr)})
		if dir != "" {
			fmt.Fprintln(stdout, dir)
		}
		return fail(err)
	case "validate":
		pos, err := parse(fs, rest)
		if err != nil {
			return 2
		}
		if err := need(pos, 1, "one CONFIG file"); err != nil {
			return fail(err)
		}
		if _, err := experiments.Load(pos[0], sets); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "%s: valid\n", pos[0])
		return 0
	case "data":
		pos, err := parse(fs, rest)
		if err != nil {
			return 2
		}
		if len(pos) != 2 || pos[0] != "check" {
			return fail(&experiments.UsageError{Msg: "expected: refugelab data check CONFIG"})
		}
		r, err := experiments.Load(pos[1], sets)
		if err != nil {
			return fail(err)
		}
		n, err := experiments.CheckData(r, stdout)
		if err != nil {
			return fail(err)
		}
		if n > 0 {
			return 1
		}
		return 0
	case "synth":
		n := fs.Int("n", 100, "number of images")
		seed := fs.Uint64("seed", 1, "random seed")
		size := fs.String("size", "1024x1024", "image size WxH")
		layout := fs.String("layout", "refuge2018", "layout: refuge2018 or csv")
		pos, err := parse(fs, rest)
		if err != nil {
			return 2
		}
		if err := need(pos, 0, "no positional arguments"); err != nil {
			return fail(err)
		}
		return fail(experiments.Synth(experiments.SynthOptions{Out: *out, N: *n, Seed: *seed, Size: *size, Layout: *layout}, stdout))
	case "augment-preview":
		n := fs.Int("n", 8, "augmented versions per sample")
		pos, err := parse(fs, rest)
		if err != nil {
			return 2
		}
		if err := need(pos, 1, "one CONFIG file"); err != nil {
			return fail(err)
		}
		r, err := experiments.Load(pos[0], sets)
		if err != nil {
			return fail(err)
		}
		return fail(experiments.AugmentPreview(r, *n, *out, stdout))
	case "predict":
		dataArg := fs.String("data", "", "a config file, or a data source as format:root")
		pos, err := parse(fs, rest)
		if err != nil {
			return 2
		}
		if err := need(pos, 1, "one RUN_DIR"); err != nil {
			return fail(err)
		}
		return fail(experiments.Predict(pos[0], *dataArg, *out, experiments.RunOptions{Quiet: *quiet, Stderr: stderr}, stdout))
	case "evaluate":
		sub := fs.String("submission", "", "submission folder or zip")
		gt := fs.String("gt", "", "ground-truth folder")
		layout := fs.String("layout", "refuge2018", "ground-truth layout: refuge2018, refuge2 or csv")
		strict := fs.Bool("strict", false, "fail on missing, extra or malformed entries")
		pos, err := parse(fs, rest)
		if err != nil {
			return 2
		}
		if err := need(pos, 0, "no positional arguments"); err != nil {
			return fail(err)
		}
		return fail(experiments.Evaluate(experiments.EvaluateOptions{Submission: *sub, GT: *gt, Layout: *layout, Strict: *strict, Out: *out}, stdout))
	case "rank":
		gt := fs.String("gt", "", "ground-truth folder")
		layout := fs.String("layout", "refuge2018", "ground-truth layout")
		pos, err := parse(fs, rest)
		if err != nil {
			return 2
		}
		if len(pos) < 2 {
			return fail(&experiments.UsageError{Msg: "expected two or more submissions to rank"})
		}
		return fail(experiments.Rank(pos, *gt, *layout, stdout))
	case "study":
		seeds := fs.Int("seeds", 0, "runs with seeds seed, seed+1, ...")
		folds := fs.Int("folds", 0, "k-fold cross-validation, one run per fold")
		jobs := fs.Int("j", 1, "runs in parallel")
		var grid, sbatchArgs multi
		fs.Var(&grid, "grid", "key=v1,v2,... (repeatable; cartesian product)")
		executor := fs.String("executor", "local", "local or slurm")
		partition := fs.String("partition", "", "slurm: partition")
		cpus := fs.Int("cpus-per-task", 0, "slurm: CPUs per run")
		mem := fs.String("mem", "", "slurm: memory per run, e.g. 8G")
		tlimit := fs.String("time", "", "slurm: time limit per run, e.g. 02:00:00")
		fs.Var(&sbatchArgs, "sbatch-arg", "slurm: extra #SBATCH line, e.g. --account=x (repeatable)")
		dry := fs.Bool("dry-run", false, "slurm: write the script, do not submit")
		pos, err := parse(fs, rest)
		if err != nil {
			return 2
		}
		so := experiments.SlurmOptions{Partition: *partition, CPUsPerTask: *cpus, Mem: *mem, Time: *tlimit, SbatchArgs: sbatchArgs, DryRun: *dry}
		if len(pos) == 2 && pos[0] == "collect" {
			_, err := experiments.CollectStudy(pos[1], stdout)
			return fail(err)
		}
		if len(pos) == 2 && pos[0] == "status" {
			return fail(experiments.StudyStatus(pos[1], stdout))
		}
		if len(pos) == 2 && pos[0] == "resubmit" {
			_, err := experiments.ResubmitStudy(pos[1], so, stdout)
			return fail(err)
		}
		if err := need(pos, 1, "one CONFIG file (or: study status|collect|resubmit STUDY_DIR)"); err != nil {
			return fail(err)
		}
		dir, err := experiments.RunStudy(experiments.StudyOptions{Config: pos[0], Overrides: sets, Seeds: *seeds, Folds: *folds, Grid: grid,
			Jobs: *jobs, Executor: *executor, Slurm: so, Out: *out, Quiet: *quiet, Stderr: stderr, Command: os.Args}, stdout)
		if dir != "" {
			fmt.Fprintln(stdout, dir)
		}
		return fail(err)
	case "reproduce":
		pos, err := parse(fs, rest)
		if err != nil {
			return 2
		}
		if err := need(pos, 1, "one RUN_DIR"); err != nil {
			return fail(err)
		}
		v, err := experiments.Reproduce(pos[0], *out, experiments.RunOptions{Quiet: *quiet, Stderr: stderr, Command: os.Args}, stdout)
		if err != nil {
			return fail(err)
		}
		if !v.Identical {
			return 1
		}
		return 0
	case "report":
		format := fs.String("format", "md,tex,html", "comma-separated formats")
		pos, err := parse(fs, rest)
		if err != nil {
			return 2
		}
		if err := need(pos, 1, "one RUN_DIR"); err != nil {
			return fail(err)
		}
		return fail(experiments.Report(pos[0], strings.Split(*format, ","), *out, stdout))
	default:
		fmt.Fprintf(stderr, "refugelab: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}
