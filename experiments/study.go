package experiments

import (
	"fmt"
	"html"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/refugelab/refugelab/data"
)

// StudyOptions are the options of `refugelab study`.
type StudyOptions struct {
	Config    string
	Overrides []string
	Seeds     int      // > 0: this many runs with seeds seed, seed+1, ...
	Folds     int      // > 0: k-fold cross-validation, one run per fold
	Grid      []string // key=v1,v2,... (cartesian product)
	Jobs      int      // runs in parallel
	// Executor is "local" (default: runs in this process, Jobs at a time)
	// or "slurm" (one sbatch job array; Slurm options below).
	Executor string
	Slurm    SlurmOptions
	Out      string
	Quiet    bool
	Stderr   io.Writer
	Command  []string
}

// StudyRun is one planned run of a study.
type StudyRun struct {
	Name      string   `json:"name"`
	Overrides []string `json:"overrides"`
	Dir       string   `json:"dir"`
	Status    string   `json:"status"`
	Error     string   `json:"error,omitempty"`
	// Metrics are the run's summary metrics, "split.task.metric" -> value.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// Aggregate is one metric summarised over the finished runs.
type Aggregate struct {
	Mean   float64   `json:"mean"`
	SD     float64   `json:"sd"`
	N      int       `json:"n"`
	Values []float64 `json:"values"`
}

// Study is study.json.
type Study struct {
	Name      string               `json:"name"`
	Config    string               `json:"config"`
	Overrides []string             `json:"overrides"`
	Kind      string               `json:"kind"`
	Runs      []StudyRun           `json:"runs"`
	Aggregate map[string]Aggregate `json:"aggregate"`
	Missing   []string             `json:"missing,omitempty"`
	Start     string               `json:"start"`
	End       string               `json:"end,omitempty"`
	// Executor ran the study: local or slurm (with its options and the
	// submitted job ids).
	Executor  string        `json:"executor"`
	Slurm     *SlurmOptions `json:"slurm,omitempty"`
	SlurmJobs []string      `json:"slurm_jobs,omitempty"`
}

// PlanStudy expands the study options into runs.
func PlanStudy(base *Config, o StudyOptions) (string, []StudyRun, error) {
	kinds := 0
	if o.Seeds > 0 {
		kinds++
	}
	if o.Folds > 0 {
		kinds++
	}
	if len(o.Grid) > 0 {
		kinds++
	}
	if kinds != 1 {
		return "", nil, &UsageError{Msg: "give exactly one of --seeds N, --folds K or --grid key=v1,v2 (repeatable)"}
	}
	var runs []StudyRun
	switch {
	case o.Seeds > 0:
		for i := 0; i < o.Seeds; i++ {
			s := base.Seed + uint64(i)
			runs = append(runs, StudyRun{Name: fmt.Sprintf("seed-%d", s), Overrides: []string{fmt.Sprintf("seed=%d", s)}})
		}
		return "seeds", runs, nil
	case o.Folds > 0:
		if o.Folds < 2 {
			return "", nil, &UsageError{Msg: "--folds: expected at least 2"}
		}
		for f := 0; f < o.Folds; f++ {
			runs = append(runs, StudyRun{Name: fmt.Sprintf("fold-%d", f), Overrides: []string{"data.split.method=kfold", fmt.Sprintf("data.split.k=%d", o.Folds), fmt.Sprintf("data.split.fold=%d", f)}})
		}
		return "folds", runs, nil
	}
	runs = []StudyRun{{}}
	for _, g := range o.Grid {
		key, vals, ok := strings.Cut(g, "=")
		if !ok || key == "" || vals == "" {
			return "", nil, &UsageError{Msg: fmt.Sprintf("--grid %q: expected key=v1,v2,...", g)}
		}
		var next []StudyRun
		for _, r := range runs {
			for _, v := range strings.Split(vals, ",") {
				n := r.Name
				if n != "" {
					n += "_"
				}
				n += sanitize(key + "-" + v)
				next = append(next, StudyRun{Name: n, Overrides: append(append([]string(nil), r.Overrides...), key+"="+v)})
			}
		}
		runs = next
	}
	return "grid", runs, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// RunStudy plans, runs (up to Jobs at once) and collects a study.
func RunStudy(o StudyOptions, w io.Writer) (string, error) {
	base, err := Load(o.Config, o.Overrides)
	if err != nil {
		return "", err
	}
	kind, runs, err := PlanStudy(&base.Config, o)
	if err != nil {
		return "", err
	}
	// Every run's config must be valid before anything runs.
	for _, r := range runs {
		if _, err := Load(o.Config, append(append([]string(nil), o.Overrides...), r.Overrides...)); err != nil {
			return "", fmt.Errorf("study run %s: %w", r.Name, err)
		}
	}
	dir, err := newRunDir(o.Out, base.Config.Name+"-study", time.Now())
	if err != nil {
		return "", err
	}
	if o.Executor == "" {
		o.Executor = "local"
	}
	if o.Executor != "local" && o.Executor != "slurm" {
		return "", &UsageError{Msg: fmt.Sprintf("--executor: expected local or slurm, got %q", o.Executor)}
	}
	cfgAbs, err := filepath.Abs(o.Config)
	if err != nil {
		return "", err
	}
	st := &Study{Name: base.Config.Name, Config: cfgAbs, Overrides: o.Overrides, Kind: kind, Runs: runs, Start: nowString(), Executor: o.Executor}
	if st.Overrides == nil {
		st.Overrides = []string{}
	}
	for i := range st.Runs {
		st.Runs[i].Dir = st.Runs[i].Name
		st.Runs[i].Status = "pending"
	}
	if err := writeJSON(filepath.Join(dir, "study.json"), st); err != nil {
		return dir, err
	}
	if o.Executor == "slurm" {
		so := o.Slurm
		st.Slurm = &so
		id, err := submitSlurm(dir, st, so, w)
		if err != nil {
			return dir, err
		}
		if id != "" {
			st.SlurmJobs = append(st.SlurmJobs, id)
		}
		if err := writeJSON(filepath.Join(dir, "study.json"), st); err != nil {
			return dir, err
		}
		fmt.Fprintf(w, "follow it with: refugelab study status %s; aggregate with: refugelab study collect %s\n", dir, dir)
		return dir, nil
	}
	jobs := max(1, o.Jobs)
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range st.Runs {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			sr := &st.Runs[i]
			r, err := Load(o.Config, append(append([]string(nil), o.Overrides...), sr.Overrides...))
			if err == nil {
				_, err = Run(r, RunOptions{Out: filepath.Join(dir, sr.Dir), Quiet: o.Quiet || jobs > 1, Stderr: o.Stderr, Command: o.Command})
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				sr.Status, sr.Error = "failed", err.Error()
				fmt.Fprintf(w, "run %s failed: %v\n", sr.Name, err)
			} else {
				sr.Status = "done"
				fmt.Fprintf(w, "run %s done\n", sr.Name)
			}
		}(i)
	}
	wg.Wait()
	_, err = CollectStudy(dir, w)
	return dir, err
}

// CollectStudy aggregates the finished runs of a study folder into
// study.json, study.md and study.html. Runs that are missing or failed are
// listed, never silently averaged away.
func CollectStudy(dir string, w io.Writer) (*Study, error) {
	var st Study
	if err := readJSON(filepath.Join(dir, "study.json"), &st); err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("%s: not a study folder (%v)", dir, err)}
	}
	st.Missing = nil
	for i := range st.Runs {
		sr := &st.Runs[i]
		var man Manifest
		err := readJSON(filepath.Join(dir, sr.Dir, "manifest.json"), &man)
		switch {
		case err != nil:
			sr.Status = "missing"
		case man.Status == "done":
			sr.Status = "done"
			sr.Metrics = summaryMetrics(filepath.Join(dir, sr.Dir))
		default:
			sr.Status = man.Status
			sr.Error = man.Error
		}
		if sr.Status != "done" {
			st.Missing = append(st.Missing, fmt.Sprintf("%s (%s)", sr.Name, sr.Status))
		}
	}
	st.Aggregate = map[string]Aggregate{}
	keys := map[string]bool{}
	for _, sr := range st.Runs {
		for k := range sr.Metrics {
			keys[k] = true
		}
	}
	for k := range keys {
		var a Aggregate
		for _, sr := range st.Runs {
			if v, ok := sr.Metrics[k]; ok && sr.Status == "done" {
				a.Values = append(a.Values, v)
			}
		}
		a.N = len(a.Values)
		a.Mean, a.SD = meanSD(a.Values)
		st.Aggregate[k] = a
	}
	st.End = nowString()
	if err := writeJSON(filepath.Join(dir, "study.json"), &st); err != nil {
		return nil, err
	}
	md, htm := studyTables(&st)
	if err := data.WriteFileAtomic(filepath.Join(dir, "study.md"), []byte(md)); err != nil {
		return nil, err
	}
	if err := data.WriteFileAtomic(filepath.Join(dir, "study.html"), []byte(htm)); err != nil {
		return nil, err
	}
	fmt.Fprint(w, md)
	return &st, nil
}

// summaryMetrics reads a run's headline metrics.
func summaryMetrics(runDir string) map[string]float64 {
	all := flatMetrics(runDir)
	out := map[string]float64{}
	for k, v := range all {
		parts := strings.Split(k, ".")
		if len(parts) != 3 || strings.Contains(k, "per_image") {
			continue
		}
		switch parts[2] {
		case "auc", "sensitivity_at_spec_0.85", "dice_disc", "dice_cup", "vcdr_mae", "mean_distance_px":
			out[k] = v
		}
	}
	return out
}

// meanSD returns the mean and the sample standard deviation (n-1).
func meanSD(v []float64) (float64, float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	var s float64
	for _, x := range v {
		s += x
	}
	m := s / float64(len(v))
	if len(v) < 2 {
		return m, 0
	}
	var q float64
	for _, x := range v {
		q += (x - m) * (x - m)
	}
	return m, math.Sqrt(q / float64(len(v)-1))
}

func studyTables(st *Study) (string, string) {
	keys := sortedKeys(st.Aggregate)
	var b strings.Builder
	fmt.Fprintf(&b, "# Study %s (%s, %d runs)\n\n", st.Name, st.Kind, len(st.Runs))
	if len(st.Missing) > 0 {
		fmt.Fprintf(&b, "**Not included (not finished):** %s\n\n", strings.Join(st.Missing, ", "))
	}
	b.WriteString("| metric | mean ± SD | n |")
	for _, r := range st.Runs {
		b.WriteString(" " + r.Name + " |")
	}
	b.WriteString("\n|---|---|---:|")
	for range st.Runs {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	var h strings.Builder
	fmt.Fprintf(&h, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Study %s</title><style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}table{border-collapse:collapse}</style></head><body>", html.EscapeString(st.Name))
	fmt.Fprintf(&h, "<h1>Study %s (%s, %d runs)</h1>", html.EscapeString(st.Name), html.EscapeString(st.Kind), len(st.Runs))
	if len(st.Missing) > 0 {
		fmt.Fprintf(&h, "<p><b>Not included (not finished):</b> %s</p>", html.EscapeString(strings.Join(st.Missing, ", ")))
	}
	h.WriteString("<table><tr><th>metric</th><th>mean ± SD</th><th>n</th>")
	for _, r := range st.Runs {
		fmt.Fprintf(&h, "<th>%s</th>", html.EscapeString(r.Name))
	}
	h.WriteString("</tr>")
	for _, k := range keys {
		a := st.Aggregate[k]
		cell := fmt.Sprintf("%.4f ± %.4f", a.Mean, a.SD)
		if a.N < 2 {
			cell = fmt.Sprintf("%.4f (one run; no SD)", a.Mean)
		}
		fmt.Fprintf(&b, "| %s | %s | %d |", k, cell, a.N)
		fmt.Fprintf(&h, "<tr><td>%s</td><td>%s</td><td>%d</td>", html.EscapeString(k), cell, a.N)
		for _, r := range st.Runs {
			v, ok := r.Metrics[k]
			s := "–"
			if ok {
				s = strconv.FormatFloat(v, 'f', 4, 64)
			}
			fmt.Fprintf(&b, " %s |", s)
			fmt.Fprintf(&h, "<td>%s</td>", s)
		}
		b.WriteString("\n")
		h.WriteString("</tr>")
	}
	h.WriteString("</table></body></html>\n")
	sort.Strings(keys)
	return b.String(), h.String()
}
