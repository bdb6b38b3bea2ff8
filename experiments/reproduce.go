package experiments

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Verdict is the outcome of comparing a re-run with the original run.
type Verdict struct {
	Identical bool
	Rows      []VerdictRow
	NewDir    string
}

// VerdictRow is one compared item.
type VerdictRow struct {
	Item, Original, Reproduced, Result string
}

// InputChangeError lists input files whose content changed or that are
// missing: a reproduction cannot start.
type InputChangeError struct{ Items []string }

func (e *InputChangeError) Error() string {
	return fmt.Sprintf("%d input file(s) changed or missing since the run; nothing was re-run:\n  %s", len(e.Items), strings.Join(e.Items, "\n  "))
}

// Reproduce re-verifies a run's input hashes, re-runs it from its saved
// resolved config into a new folder and compares weights and metrics.
func Reproduce(dir, out string, o RunOptions, w io.Writer) (*Verdict, error) {
	var man Manifest
	if err := readJSON(filepath.Join(dir, "manifest.json"), &man); err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("%s: not a run folder (manifest.json: %v)", dir, err)}
	}
	if man.Status != "done" {
		return nil, &UsageError{Msg: fmt.Sprintf("%s: the run's status is %q; only a finished run can be reproduced (resume it first with refugelab run --resume %s)", dir, man.Status, dir)}
	}
	sha, err := FileSHA256(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return nil, err
	}
	if sha != man.ConfigSHA256 {
		return nil, &InputChangeError{Items: []string{fmt.Sprintf("%s: sha256 %s, the manifest records %s", filepath.Join(dir, "config.yaml"), sha, man.ConfigSHA256)}}
	}
	var changed []string
	paths := sortedKeys(man.Inputs)
	for _, p := range paths {
		h, err := FileSHA256(p)
		switch {
		case err != nil:
			changed = append(changed, fmt.Sprintf("%s: missing or unreadable (%v)", p, err))
		case h != man.Inputs[p]:
			changed = append(changed, fmt.Sprintf("%s: sha256 %s, the run read %s", p, h, man.Inputs[p]))
		}
	}
	if len(changed) > 0 {
		return nil, &InputChangeError{Items: changed}
	}
	fmt.Fprintf(w, "%d input files verified\n", len(paths))
	r, err := Load(filepath.Join(dir, "config.yaml"), nil)
	if err != nil {
		return nil, err
	}
	b, _ := os.ReadFile(filepath.Join(dir, "overrides.txt"))
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			r.Overrides = append(r.Overrides, l)
		}
	}
	if out == "" {
		out = filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-reproduce-"+time.Now().UTC().Format("20060102-150405"))
	}
	newDir, err := Run(r, RunOptions{Out: out, Quiet: o.Quiet, Stderr: o.Stderr, Command: o.Command})
	if err != nil {
		return nil, fmt.Errorf("re-run in %s: %w", newDir, err)
	}
	v := compareRuns(dir, newDir)
	v.NewDir = newDir
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "item\toriginal\treproduced\tresult")
	for _, row := range v.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Item, row.Original, row.Reproduced, row.Result)
	}
	tw.Flush()
	if v.Identical {
		fmt.Fprintf(w, "verdict: IDENTICAL (%s reproduces %s)\n", newDir, dir)
	} else {
		fmt.Fprintf(w, "verdict: DIFFERENT (%s does not reproduce %s)\n", newDir, dir)
	}
	return v, nil
}

// compareRuns compares weights (SHA-256 of every best/latest tensor file)
// and every metric value of two run folders.
func compareRuns(a, b string) *Verdict {
	v := &Verdict{Identical: true}
	add := func(item, x, y string, same bool) {
		res := "identical"
		if !same {
			res = "DIFFERENT"
			v.Identical = false
		}
		v.Rows = append(v.Rows, VerdictRow{item, x, y, res})
	}
	short := func(h string) string {
		if len(h) > 12 {
			return h[:12]
		}
		return h
	}
	wa, wb := weightHashes(a), weightHashes(b)
	for _, task := range sortedKeys(union(wa, wb)) {
		add("weights "+task, short(wa[task]), short(wb[task]), wa[task] == wb[task] && wa[task] != "")
	}
	ma, mb := flatMetrics(a), flatMetrics(b)
	// Per-image values: one row, all of them compared.
	nPer, samePer := 0, true
	for _, k := range sortedKeys(union(ma, mb)) {
		if strings.Contains(k, "per_image") {
			nPer++
			x, okx := ma[k]
			y, oky := mb[k]
			samePer = samePer && okx && oky && x == y
			delete(ma, k)
			delete(mb, k)
		}
	}
	add(fmt.Sprintf("per-image values (%d)", nPer), "", "", samePer)
	for _, k := range sortedKeys(union(ma, mb)) {
		x, okx := ma[k]
		y, oky := mb[k]
		same := okx && oky && (x == y || math.IsNaN(x) && math.IsNaN(y))
		add("metric "+k, fmt.Sprintf("%.6g", x), fmt.Sprintf("%.6g", y), same)
	}
	return v
}

func union[V any](a, b map[string]V) map[string]V {
	out := map[string]V{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// weightHashes hashes, per task, the concatenated SHA-256 of the best
// checkpoint's tensor files in name order.
func weightHashes(dir string) map[string]string {
	out := map[string]string{}
	tasks, _ := os.ReadDir(filepath.Join(dir, "checkpoints"))
	for _, t := range tasks {
		files, _ := filepath.Glob(filepath.Join(dir, "checkpoints", t.Name(), "best", "*.npy"))
		sort.Strings(files)
		var all strings.Builder
		for _, f := range files {
			h, err := FileSHA256(f)
			if err != nil {
				continue
			}
			all.WriteString(h)
		}
		out[t.Name()] = sha256Hex([]byte(all.String()))
	}
	return out
}

// flatMetrics flattens metrics.json's numbers (per-image tables included)
// into "split.task.key" -> value.
func flatMetrics(dir string) map[string]float64 {
	out := map[string]float64{}
	b, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err != nil {
		return out
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return out
	}
	var walk func(prefix string, x any)
	walk = func(prefix string, x any) {
		switch t := x.(type) {
		case map[string]any:
			for k, c := range t {
				walk(join(prefix, k), c)
			}
		case []any:
			for i, c := range t {
				walk(fmt.Sprintf("%s[%d]", prefix, i), c)
			}
		case float64:
			out[prefix] = t
		}
	}
	walk("", v)
	return out
}
