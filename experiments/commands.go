package experiments

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/refugelab/refugelab/augment"
	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/eval"
	"github.com/refugelab/refugelab/report"
)

// CheckData loads every source of a config and prints counts per source,
// split, class and annotation kind, image sizes, and every problem found.
// It returns the number of problems.
func CheckData(r *Resolved, w io.Writer) (int, error) {
	p := &pipeline{r: r, cfg: &r.Config, opt: RunOptions{Quiet: true}, byID: map[string]*data.Sample{}}
	samples, reports, problems, err := data.CheckSources(p.sourceSpecs(), filepath.Dir(r.File), r.Config.Seed, p.workers())
	if err != nil {
		return 0, err
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "source\tformat\timages\tglaucoma\tnormal\tunknown label\twith mask\twith fovea\twith disc centre\tsizes")
	for _, rep := range reports {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", rep.Name, rep.Format, rep.Images, rep.Glaucoma, rep.Normal, rep.UnknownLabel, rep.WithMask, rep.WithFovea, rep.WithDisc, sizeList(rep.Sizes))
	}
	tw.Flush()
	for _, rep := range reports {
		if rep.MaskRule != "" {
			fmt.Fprintf(w, "%s masks: %s\n", rep.Name, rep.MaskRule)
		}
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "%s: %s\n", rep.Name, n)
		}
	}
	for _, s := range samples {
		p.samples = append(p.samples, s)
		p.byID[s.ID] = s
	}
	if err := p.split(); err == nil {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "split\timages\tglaucoma\tnormal\tunknown label\twith mask\twith fovea")
		for _, sp := range []string{"train", "val", "test"} {
			var ss []*data.Sample
			for _, id := range p.splitIDs(sp) {
				ss = append(ss, p.byID[id])
			}
			c := counts(ss)
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", sp, c["images"], c["glaucoma"], c["normal"], c["unknown_label"], c["with_mask"], c["with_fovea"])
		}
		tw.Flush()
		fmt.Fprintf(w, "split criterion: %s\n", p.splits.Criterion)
	} else {
		problems = append(problems, data.Problem{File: r.File, What: "the split cannot be made: " + err.Error(), Expected: "a split with every part non-empty"})
	}
	if len(problems) == 0 {
		fmt.Fprintln(w, "\nno problems found")
		return 0, nil
	}
	fmt.Fprintf(w, "\n%d problems:\n", len(problems))
	for _, pr := range problems {
		fmt.Fprintf(w, "  %s\n", pr.Error())
	}
	return len(problems), nil
}

func sizeList(sizes map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(sizes) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, sizes[k]))
	}
	return strings.Join(parts, " ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SynthOptions are the options of `refugelab synth`.
type SynthOptions struct {
	Out    string
	N      int
	Seed   uint64
	Size   string // WxH
	Layout string // refuge2018 or csv
}

// Synth writes a synthetic dataset in a release layout that the readers load
// back.
func Synth(o SynthOptions, w io.Writer) error {
	if o.Out == "" {
		return &UsageError{Msg: "--out DIR is required"}
	}
	if o.N < 1 {
		return &UsageError{Msg: fmt.Sprintf("--n: expected a number of images >= 1, got %d", o.N)}
	}
	ws, hs, ok := strings.Cut(o.Size, "x")
	width, err1 := strconv.Atoi(ws)
	height, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || width < 64 || height < 64 {
		return &UsageError{Msg: fmt.Sprintf("--size: expected WxH with both at least 64, e.g. 1024x1024 (got %q)", o.Size)}
	}
	if o.Layout != "refuge2018" && o.Layout != "csv" {
		return &UsageError{Msg: fmt.Sprintf("--layout: expected refuge2018 or csv, got %q", o.Layout)}
	}
	if _, err := os.Stat(o.Out); err == nil {
		return &UsageError{Msg: fmt.Sprintf("%s: already exists; synth writes a new folder and never overwrites one", o.Out)}
	}
	if err := data.WriteSynthetic(o.Out, o.N, o.Seed, data.SynthOptions{W: width, H: height}, o.Layout); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %d synthetic images (%dx%d, %s layout) to %s\n", o.N, width, height, o.Layout, o.Out)
	return nil
}

// AugmentPreview writes a contact sheet of augmented training samples.
func AugmentPreview(r *Resolved, n int, out string, w io.Writer) error {
	if out == "" {
		return &UsageError{Msg: "--out DIR is required"}
	}
	if n < 1 {
		return &UsageError{Msg: "--n: expected at least 1"}
	}
	p := &pipeline{r: r, cfg: &r.Config, opt: RunOptions{Quiet: true}, byID: map[string]*data.Sample{}}
	for _, s := range r.Config.Data.Sources {
		samples, _, err := data.LoadSource(sourceSpec(s), filepath.Dir(r.File), r.Config.Seed)
		if err != nil {
			return fmt.Errorf("source %q: %w", s.Name, err)
		}
		// A few samples of each source.
		for i := 0; i < len(samples) && i < 2; i++ {
			p.samples = append(p.samples, samples[i])
		}
	}
	if err := p.buildPieces(); err != nil {
		return err
	}
	var items []augment.PreviewItem
	for _, s := range p.samples {
		img, m, err := s.Load()
		if err != nil {
			return err
		}
		pl := p.full
		var center *data.Point
		if p.needsROI() && m != nil {
			center = groundTruthDisc(s, m)
			if center != nil {
				pl = p.roi
			}
		}
		x, wm, t, err := geometry(pl, img, m, center)
		if err != nil {
			return fmt.Errorf("%s: %w", s.ID, err)
		}
		var pt *data.Point
		if s.Fovea != nil && pl == p.full {
			q := t.Apply(*s.Fovea)
			pt = &q
		}
		items = append(items, augment.PreviewItem{Image: x, Mask: wm, Point: pt})
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(out, "augment-preview.png")
	if err := augment.Preview(items, p.aug, data.Seed(r.Config.Seed, "augment-preview"), n, path); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s (%d samples × %d augmentations)\n", path, len(items), n)
	for _, d := range p.aug.Describe() {
		fmt.Fprintf(w, "  - %s\n", d)
	}
	return nil
}

// Report regenerates the report of a run folder.
func Report(dir string, formats []string, out string, w io.Writer) error {
	for _, f := range formats {
		if !slices.Contains(report.KnownFormats(), f) {
			return &UsageError{Msg: fmt.Sprintf("--format: %v", data.UnknownNameError("report format", f, report.KnownFormats()))}
		}
	}
	files, err := report.Generate(dir, report.Options{Formats: formats, OutDir: out})
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintln(w, f)
	}
	return nil
}

// EvaluateOptions are the options of `refugelab evaluate`.
type EvaluateOptions struct {
	Submission, GT, Layout, Out string
	Strict                      bool
}

// Evaluate scores a submission against ground truth like the official code
// (or strictly), prints a table and writes the official-style CSVs.
func Evaluate(o EvaluateOptions, w io.Writer) error {
	if o.Submission == "" || o.GT == "" {
		return &UsageError{Msg: "--submission and --gt are required"}
	}
	tm, err := eval.Evaluate(o.Submission, o.GT, o.Layout, eval.ScoreOptions{Strict: o.Strict})
	if tm != nil {
		fmt.Fprint(w, eval.FormatTable(tm))
		if o.Out != "" {
			if err := os.MkdirAll(o.Out, 0o755); err != nil {
				return err
			}
			files, err := eval.WriteOfficialCSVs(o.Out, tm)
			if err != nil {
				return err
			}
			for _, f := range files {
				fmt.Fprintln(w, "wrote", f)
			}
		}
	}
	return err
}

// Rank ranks several submissions with the REFUGE 2018 weights.
func Rank(subs []string, gt, layout string, w io.Writer) error {
	if gt == "" {
		return &UsageError{Msg: "--gt is required"}
	}
	all := map[string]*eval.TaskMetrics{}
	for _, s := range subs {
		tm, err := eval.Evaluate(s, gt, layout, eval.ScoreOptions{})
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		all[s] = tm
	}
	wts := eval.Refuge2018Weights()
	rows, err := eval.Rank(all, wts)
	if err != nil {
		return err
	}
	fmt.Fprint(w, eval.FormatRanking(rows, wts))
	return nil
}
