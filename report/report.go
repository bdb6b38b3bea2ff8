// Package report writes the REFUGE2 technical report of one run, built only
// from that run's folder (config.yaml, manifest.json, splits.json, log.jsonl,
// metrics.json, description.json and the optional qualitative/ cases), so
// that every sentence and number in it is true of the run that produced it.
//
// The sections follow the challenge's required order: title block, datasets,
// partition criterion, schematic figure, input data, preprocessing, network
// architecture, language and framework, training details, data augmentation,
// post-processing, results and reproducibility. Sentences describing pieces
// of the method are the pieces' own Describe() sentences recorded in
// description.json; numbers in the results come from metrics.json, formatted
// with four decimals.
//
// Formats: Markdown (report.md, figures as figures/*.png with SVG links),
// LaTeX (report.tex, compiles with pdflatex using only standard packages,
// figures as PNG) and one self-contained HTML file (report.html, figures
// embedded as data: URIs). Figures are drawn with gonum.org/v1/plot and
// written as figures/<name>.svg and figures/<name>.png.
//
// Generate refuses a run folder (an *ArtifactError naming the file and
// what to do) when a required artifact is missing or malformed, when
// config.yaml's SHA-256 differs from the config_sha256 recorded in
// description.json and manifest.json, when the manifest marks the run
// failed, when description.json's split counts or data hashes disagree with
// splits.json or the manifest, or when qualitative/index.json names an image
// that is absent. A summary AUC that the per-image scores do not reproduce
// is flagged in the Results section.
//
// Conventions read from the run folder: per-image names in metrics.json are
// matched to qualitative stems exactly or by lower-cased stem;
// qualitative/index.json fovea points are in the pixel coordinates of the
// stored (downsized) image, pixel-centre convention; a case's "kind"
// (best/worst) is used when every case has one, otherwise the better half
// by disc + cup Dice (or fovea distance) is "best".
//
// The package imports only the standard library and gonum plot.
package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/refugelab/refugelab/data"
)

// Options controls Generate.
type Options struct {
	// Formats to write: any of "md", "tex", "html" (also "markdown",
	// "latex"). Empty means all three.
	Formats []string
	// OutDir is where report.* and figures/ are written; empty means
	// <runDir>/report.
	OutDir string
}

// KnownFormats lists the report formats Generate accepts.
func KnownFormats() []string { return []string{"md", "tex", "html"} }

var formatAliases = map[string]string{"md": "md", "markdown": "md", "tex": "tex", "latex": "tex", "html": "html"}

// Generate reads the run folder runDir and writes the report in the
// requested formats under opt.OutDir, Markdown first. It returns the paths
// of every file written (figures included), in the order written.
//
// It refuses (with an *ArtifactError naming the file and what to do) when a
// required artifact is missing or malformed, or when config.yaml's SHA-256
// differs from the config_sha256 recorded in description.json or
// manifest.json.
func Generate(runDir string, opt Options) ([]string, error) {
	formats, err := normFormats(opt.Formats)
	if err != nil {
		return nil, err
	}
	r, err := loadRun(runDir)
	if err != nil {
		return nil, err
	}
	if err := r.checkConsistency(); err != nil {
		return nil, err
	}
	out := opt.OutDir
	if out == "" {
		out = filepath.Join(runDir, "report")
	}
	d := build(r)
	if err := makeFigures(r, d); err != nil {
		return nil, err
	}
	var written []string
	figDir := filepath.Join(out, "figures")
	if err := os.MkdirAll(figDir, 0o755); err != nil {
		return nil, fmt.Errorf("report: creating %s: %w", figDir, err)
	}
	for _, name := range keys(d.Figures) {
		ff := d.Figures[name]
		for _, f := range []struct {
			ext string
			b   []byte
		}{{"png", ff.PNG}, {"svg", ff.SVG}} {
			p := filepath.Join(figDir, name+"."+f.ext)
			if err := writeFileAtomic(p, f.b); err != nil {
				return written, err
			}
			written = append(written, p)
		}
	}
	for _, f := range formats {
		var name string
		var b []byte
		switch f {
		case "md":
			name, b = "report.md", renderMarkdown(d)
		case "tex":
			name, b = "report.tex", renderLaTeX(d)
		case "html":
			name, b = "report.html", renderHTML(d)
		}
		p := filepath.Join(out, name)
		if err := writeFileAtomic(p, b); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

// normFormats validates and orders the formats: md, tex, html.
func normFormats(fs []string) ([]string, error) {
	if len(fs) == 0 {
		return KnownFormats(), nil
	}
	want := map[string]bool{}
	for _, f := range fs {
		for _, part := range strings.Split(f, ",") {
			part = strings.ToLower(strings.TrimSpace(part))
			if part == "" {
				continue
			}
			n, ok := formatAliases[part]
			if !ok {
				return nil, fmt.Errorf("report: format %q: unknown format (known: %s; closest: %s)",
					part, strings.Join(KnownFormats(), ", "), data.Closest(part, KnownFormats()))
			}
			want[n] = true
		}
	}
	var out []string
	for _, k := range KnownFormats() {
		if want[k] {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("report: no format given (known: %s)", strings.Join(KnownFormats(), ", "))
	}
	return out, nil
}

// checkConsistency cross-checks artifacts that record the same facts.
func (r *run) checkConsistency() error {
	lists := map[string]int{"train": len(r.Splits.Train), "val": len(r.Splits.Val), "test": len(r.Splits.Test)}
	for k, n := range r.Desc.Split.Counts {
		if m, ok := lists[k]; ok && m != n {
			return &ArtifactError{File: filepath.Join(r.Dir, "description.json"),
				Problem: fmt.Sprintf("split.counts.%s = %d but splits.json lists %d %s samples", k, n, m, k), Hint: hintHash}
		}
	}
	if r.Desc.Split.Seed != 0 && r.Splits.Seed != 0 && r.Desc.Split.Seed != r.Splits.Seed {
		return &ArtifactError{File: filepath.Join(r.Dir, "description.json"),
			Problem: fmt.Sprintf("split.seed = %d but splits.json seed = %d", r.Desc.Split.Seed, r.Splits.Seed), Hint: hintHash}
	}
	return nil
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory and a rename, so a reader never sees a partial file.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := firstErr(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
