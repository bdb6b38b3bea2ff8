package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	htmlpkg "html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fixture is the tiny fake run folder written by testdata/genfixture.
const fixture = "testdata/run"

// copyRun copies the fixture run folder to a temporary directory.
func copyRun(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "run")
	err := filepath.Walk(fixture, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(fixture, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

var (
	baseOnce sync.Once
	baseDir  string
	baseErr  error
	tmpRoot  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	tmpRoot, err = os.MkdirTemp("", "report-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

// base returns the report of the unmodified fixture, generated once and
// shared by the tests that only read it.
func base(t *testing.T) string {
	t.Helper()
	baseOnce.Do(func() {
		baseDir = filepath.Join(tmpRoot, "base")
		_, baseErr = Generate(fixture, Options{OutDir: baseDir})
	})
	if baseErr != nil {
		t.Fatalf("Generate: %v", baseErr)
	}
	return baseDir
}

// generate runs Generate on dir into a fresh output folder and returns it.
func generate(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report")
	files, err := Generate(dir, Options{OutDir: out})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(files) == 0 {
		t.Fatal("Generate wrote no files")
	}
	return out
}

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var dataURI = regexp.MustCompile(`src="data:([a-z/+]+);base64,[A-Za-z0-9+/=]+"`)

// normHTML replaces embedded figures by a placeholder: figures are compared
// separately (TestFiguresGolden), so the HTML golden stays readable.
func normHTML(b []byte) []byte {
	return dataURI.ReplaceAll(b, []byte(`src="data:$1;base64,(figure)"`))
}

func TestGolden(t *testing.T) {
	out := base(t)
	for _, name := range []string{"report.md", "report.tex", "report.html"} {
		got := read(t, filepath.Join(out, name))
		if name == "report.html" {
			if !dataURI.Match(got) {
				t.Errorf("report.html embeds no figure as a data: URI")
			}
			got = normHTML(got)
		}
		gp := filepath.Join("testdata", "golden", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(gp), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(gp, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want := read(t, gp)
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (run go test ./report -run TestGolden -update after checking the change):\n%s", name, gp, firstDiff(want, got))
		}
	}
}

// figureHashes lists "sha256  name" of every file in the figures folder.
func figureHashes(t *testing.T, out string) []byte {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(out, "figures"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, e := range ents {
		s := sha256.Sum256(read(t, filepath.Join(out, "figures", e.Name())))
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(s[:]), e.Name())
	}
	return b.Bytes()
}

// TestFiguresDeterministic: two runs give byte-identical figures and
// reports (gonum plot's SVG and PNG output carry no time stamps).
func TestFiguresDeterministic(t *testing.T) {
	a, b := base(t), generate(t, fixture)
	if ha, hb := figureHashes(t, a), figureHashes(t, b); !bytes.Equal(ha, hb) {
		t.Errorf("figures differ between two runs:\n%s\n---\n%s", ha, hb)
	}
	for _, name := range []string{"report.md", "report.tex", "report.html"} {
		if !bytes.Equal(read(t, filepath.Join(a, name)), read(t, filepath.Join(b, name))) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	want := []string{"curves_classification", "curves_fovea", "curves_localizer", "curves_segmentation", "qualitative", "roc", "schematic"}
	for _, n := range want {
		for _, ext := range []string{".png", ".svg"} {
			if _, err := os.Stat(filepath.Join(a, "figures", n+ext)); err != nil {
				t.Errorf("figure %s%s not written", n, ext)
			}
		}
	}
}

// TestFiguresGolden pins the figure bytes. Rasterisation goes through
// floating point, so the hashes are only pinned on the platform that wrote
// them (linux/amd64); elsewhere TestFiguresDeterministic still applies.
func TestFiguresGolden(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("figure hashes are pinned for linux/amd64, this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	got := figureHashes(t, base(t))
	gp := filepath.Join("testdata", "golden", "figures.sha256")
	if *update {
		if err := os.WriteFile(gp, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want := read(t, gp); !bytes.Equal(got, want) {
		t.Errorf("figure bytes changed (look at them, then -update):\n%s", firstDiff(want, got))
	}
}

func firstDiff(want, got []byte) string {
	wl := strings.Split(string(want), "\n")
	gl := strings.Split(string(got), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\nwant: %.300s\ngot:  %.300s", i+1, w, g)
		}
	}
	return "(no line differs)"
}

// editJSON rewrites a JSON file of the run folder through f.
func editJSON(t *testing.T, dir, name string, f func(m map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, name)
	var m map[string]any
	if err := json.Unmarshal(read(t, p), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func obj(v any, path ...string) map[string]any {
	m := v.(map[string]any)
	for _, k := range path {
		m = m[k].(map[string]any)
	}
	return m
}

// changedLines returns the lines that differ between a and b (which must
// have the same number of lines).
func changedLines(t *testing.T, name string, a, b []byte) []string {
	t.Helper()
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	if len(al) != len(bl) {
		t.Fatalf("%s: %d lines before, %d after", name, len(al), len(bl))
	}
	var out []string
	for i := range al {
		if al[i] != bl[i] {
			out = append(out, bl[i])
		}
	}
	return out
}

// TestOneValueChangesOneSentence: a change of one description value changes
// exactly the line that states it, in every format.
func TestOneValueChangesOneSentence(t *testing.T) {
	orig := base(t)
	cases := []struct {
		name   string
		edit   func(m map[string]any)
		want   map[string]string // format -> text the changed line must contain
		figure bool              // the schematic figure may change too
	}{
		{
			name: "segmentation learning rate 0.001 -> 0.0025",
			edit: func(m map[string]any) { obj(m, "tasks", "segmentation", "training")["lr"] = 0.0025 },
			want: map[string]string{"report.md": "| Learning rate | 0.0025 |", "report.tex": "Learning rate & 0.0025 \\\\", "report.html": "<td>Learning rate</td><td>0.0025</td>"},
		},
		{
			name: "one augmentation sentence",
			edit: func(m map[string]any) {
				obj(m, "tasks", "segmentation")["augmentation"].([]any)[1] = "Rotation by an angle uniform in [-30°, 30°] with probability 0.7 (mask nearest)"
			},
			want: map[string]string{"report.md": "- Rotation by an angle uniform in \\[-30°, 30°\\] with probability 0.7 (mask nearest).",
				"report.tex":  "\\item Rotation by an angle uniform in {[}-30$^\\circ$, 30$^\\circ${]} with probability 0.7 (mask nearest).",
				"report.html": "<li>Rotation by an angle uniform in [-30°, 30°] with probability 0.7 (mask nearest).</li>"},
		},
		{
			name: "batch size of classification",
			edit: func(m map[string]any) { obj(m, "tasks", "classification", "training")["batch_size"] = 16 },
			want: map[string]string{"report.md": "| Batch size | 16 |", "report.tex": "Batch size & 16 \\\\", "report.html": "<td>Batch size</td><td>16</td>"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyRun(t)
			editJSON(t, dir, "description.json", tc.edit)
			out := generate(t, dir)
			for _, f := range []string{"report.md", "report.tex", "report.html"} {
				a, b := read(t, filepath.Join(orig, f)), read(t, filepath.Join(out, f))
				if f == "report.html" {
					a, b = normHTML(a), normHTML(b)
				}
				ch := changedLines(t, f, a, b)
				if len(ch) != 1 {
					t.Errorf("%s: %d lines changed, want exactly 1: %q", f, len(ch), ch)
					continue
				}
				if !strings.Contains(ch[0], tc.want[f]) {
					t.Errorf("%s: changed line %q does not contain %q", f, ch[0], tc.want[f])
				}
			}
		})
	}
}

// section returns the text of Markdown section "## <n> ..." up to the next one.
func mdSection(t *testing.T, md string, n int) string {
	t.Helper()
	start := strings.Index(md, fmt.Sprintf("\n## %d ", n))
	if start < 0 {
		t.Fatalf("section %d not found", n)
	}
	rest := md[start+1:]
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// metricsNumbers collects every number of metrics.json (the source of
// truth, read here independently of the package's own types).
func metricsJSON(t *testing.T) map[string]map[string]map[string]any {
	t.Helper()
	var raw map[string]map[string]any
	if err := json.Unmarshal(read(t, filepath.Join(fixture, "metrics.json")), &raw); err != nil {
		t.Fatal(err)
	}
	m := map[string]map[string]map[string]any{}
	for split, blocks := range raw {
		m[split] = map[string]map[string]any{}
		for k, v := range blocks {
			if o, ok := v.(map[string]any); ok {
				m[split][k] = o
			} else {
				m[split]["_"+k] = map[string]any{k: v} // e.g. the problems list
			}
		}
	}
	return m
}

var tableRow = regexp.MustCompile(`^\| (.*) \|$`)

// TestResultsNumbersEqualMetrics: every number in the Results section is a
// metrics.json value; every metric of metrics.json appears with its value,
// interval, SD and n.
func TestResultsNumbersEqualMetrics(t *testing.T) {
	out := base(t)
	md := string(read(t, filepath.Join(out, "report.md")))
	res := mdSection(t, md, 11)
	mj := metricsJSON(t)

	// 1. The metrics table, row by row.
	seen := map[string]bool{}
	for _, line := range strings.Split(res, "\n") {
		m := tableRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		cols := strings.Split(m[1], " | ")
		if len(cols) != 7 || !strings.Contains(cols[2], "`") || cols[0] == "best" || cols[0] == "worst" {
			continue // header, rule or the qualitative table
		}
		split, task := cols[0], cols[1]
		key := cols[2][strings.Index(cols[2], "`")+1 : strings.LastIndex(cols[2], "`")]
		block := mj[split][task]
		if block == nil {
			t.Errorf("row %q: metrics.json has no %s.%s", line, split, task)
			continue
		}
		seen[split+"/"+task+"/"+key] = true
		if want := fmt.Sprintf("%.4f", block[key].(float64)); cols[3] != want {
			t.Errorf("%s.%s.%s: report %s, metrics.json %s", split, task, key, cols[3], want)
		}
		if ci, ok := block[key+"_ci95"].([]any); ok {
			want := fmt.Sprintf(`\[%.4f, %.4f\]`, ci[0].(float64), ci[1].(float64))
			if cols[4] != want {
				t.Errorf("%s.%s.%s CI: report %s, metrics.json %s", split, task, key, cols[4], want)
			}
		} else if cols[4] != "–" {
			t.Errorf("%s.%s.%s: CI %s shown but metrics.json has none", split, task, key, cols[4])
		}
		if sd, ok := block[key+"_sd"].(float64); ok {
			if want := fmt.Sprintf("%.4f", sd); cols[5] != want {
				t.Errorf("%s.%s.%s SD: report %s, metrics.json %s", split, task, key, cols[5], want)
			}
		} else if cols[5] != "–" {
			t.Errorf("%s.%s.%s: SD %s shown but metrics.json has none", split, task, key, cols[5])
		}
		if want := fmt.Sprint(block["n"]); cols[6] != want {
			t.Errorf("%s.%s n: report %s, metrics.json %s", split, task, cols[6], want)
		}
	}
	for split, tasks := range mj {
		for task, block := range tasks {
			if task == "per_image" || strings.HasPrefix(task, "_") {
				continue
			}
			for k := range block {
				if k == "n" || k == "specificity" || strings.HasPrefix(k, "n_") || strings.HasSuffix(k, "_undefined") ||
					strings.HasSuffix(k, "_sd") || strings.HasSuffix(k, "_ci95") {
					continue
				}
				if !seen[split+"/"+task+"/"+k] {
					t.Errorf("metrics.json %s.%s.%s is missing from the results table", split, task, k)
				}
			}
		}
	}
	if len(seen) != 8 { // fixture: val 2+3+1, test 2
		t.Errorf("results table has %d metric rows, want 8", len(seen))
	}

	// 2. Every number token in the section is a metrics.json number.
	allowed := map[string]bool{"95": true} // "95% confidence interval"
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case float64:
			allowed[fmt.Sprintf("%.4f", x)] = true
			if x == float64(int64(x)) {
				allowed[fmt.Sprint(int64(x))] = true
			}
		case string: // numbers inside metrics.json text (problem descriptions)
			for _, n := range regexp.MustCompile(`\d+(\.\d+)?`).FindAllString(x, -1) {
				allowed[n] = true
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, tasks := range mj {
		for _, b := range tasks {
			walk(b)
		}
	}
	clean := regexp.MustCompile(`^## 11 |\*\*(Figure|Table) \d+\.\*\*|`+"`[^`]*`"+`|\(figures/[^)]*\)|\[SVG\]`).ReplaceAllString(res, "")
	nums := regexp.MustCompile(`\d+(\.\d+)?`).FindAllString(clean, -1)
	if len(nums) < 30 {
		t.Fatalf("only %d numbers found in the results section", len(nums))
	}
	for _, n := range nums {
		if !allowed[n] {
			t.Errorf("number %s in the results section is not a metrics.json value", n)
		}
	}

	// 2b. The same holds for the HTML rendering of the section.
	html := string(read(t, filepath.Join(out, "report.html")))
	hs := html[strings.Index(html, `<h2 id="s11">`):strings.Index(html, `<h2 id="s12">`)]
	hs = regexp.MustCompile(`<code>[^<]*</code>|<img [^>]*>|<h2[^>]*>11 |Figure \d+\.|Table \d+\.|<[^>]+>`).ReplaceAllString(hs, " ")
	hnums := regexp.MustCompile(`\d+(\.\d+)?`).FindAllString(htmlpkg.UnescapeString(hs), -1)
	if len(hnums) != len(nums) {
		t.Errorf("HTML results section has %d numbers, Markdown %d", len(hnums), len(nums))
	}
	for _, n := range hnums {
		if !allowed[n] {
			t.Errorf("number %s in the HTML results section is not a metrics.json value", n)
		}
	}

	// 3. The qualitative table equals metrics.json per_image.
	per := map[string][]any{}
	for _, e := range mj["val"]["per_image"]["segmentation"].([]any) {
		m := e.(map[string]any)
		per[strings.TrimSuffix(m["name"].(string), ".jpg")] = []any{m["dice_disc"], m["dice_cup"], m["vcdr_abs_err"]}
	}
	for _, e := range mj["val"]["per_image"]["fovea"].([]any) {
		m := e.(map[string]any)
		k := strings.TrimSuffix(m["name"].(string), ".jpg")
		per[k] = append(per[k], m["distance_px"])
	}
	rows := 0
	for _, line := range strings.Split(res, "\n") {
		m := tableRow.FindStringSubmatch(line)
		if m == nil || !(strings.HasPrefix(line, "| best |") || strings.HasPrefix(line, "| worst |")) {
			continue
		}
		rows++
		cols := strings.Split(m[1], " | ")
		stem := strings.Trim(cols[2], "`")
		want := per[stem]
		for i, v := range want {
			if w := fmt.Sprintf("%.4f", v.(float64)); cols[3+i] != w {
				t.Errorf("qualitative %s column %d: report %s, metrics.json %s", stem, 3+i, cols[3+i], w)
			}
		}
	}
	if rows != 4 {
		t.Errorf("qualitative table has %d rows, want the 4 cases of qualitative/index.json", rows)
	}
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		file   string   // file the error must name
		words  []string // further words the message must contain
	}{
		{"config edited", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "config.yaml")
			b := read(t, p)
			os.WriteFile(p, bytes.Replace(b, []byte("seed: 42"), []byte("seed: 43"), 1), 0o644)
		}, "config.yaml", []string{"config_sha256", "description.json and manifest.json", "reproduce"}},
		{"description hash differs", func(t *testing.T, dir string) {
			editJSON(t, dir, "description.json", func(m map[string]any) { m["config_sha256"] = strings.Repeat("1", 64) })
		}, "description.json", []string{"config_sha256", strings.Repeat("1", 64), "sha256(config.yaml)"}},
		{"manifest hash differs", func(t *testing.T, dir string) {
			editJSON(t, dir, "manifest.json", func(m map[string]any) { m["config_sha256"] = strings.Repeat("0", 64) })
		}, "manifest.json", []string{"config_sha256", strings.Repeat("0", 64)}},
		{"description hash missing", func(t *testing.T, dir string) {
			editJSON(t, dir, "description.json", func(m map[string]any) { delete(m, "config_sha256") })
		}, "description.json", []string{"config_sha256", "missing"}},
		{"failed run", func(t *testing.T, dir string) {
			editJSON(t, dir, "manifest.json", func(m map[string]any) { m["status"] = "failed"; m["error"] = "out of memory" })
		}, "manifest.json", []string{"failed", "out of memory", "--resume"}},
		{"malformed metrics", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "metrics.json"), []byte(`{"val": {"classification": {"auc": "high"}}}`), 0o644)
		}, "metrics.json", []string{"val.classification.auc", "expected a number"}},
		{"malformed log line", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, "log.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("{\"task\": \"fovea\", \"epoch\": \n")
			f.Close()
		}, "log.jsonl", []string{"line 18"}},
		{"split counts disagree", func(t *testing.T, dir string) {
			editJSON(t, dir, "description.json", func(m map[string]any) { obj(m, "split", "counts")["val"] = 7 })
		}, "description.json", []string{"split.counts.val = 7", "splits.json lists 6"}},
		{"data hash disagrees", func(t *testing.T, dir string) {
			editJSON(t, dir, "description.json", func(m map[string]any) {
				obj(m, "data_hashes")["data/REFUGE_train/Training400/Glaucoma/g0001.jpg"] = "abc"
			})
		}, "description.json", []string{"data_hashes", "g0001.jpg", "manifest.json inputs"}},
		{"qualitative image missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "qualitative", "val", "g0001_image.png"))
		}, "g0001_image.png", []string{"index.json", "missing"}},
	}
	for _, f := range requiredArtifacts {
		f := f
		cases = append(cases, struct {
			name   string
			break_ func(t *testing.T, dir string)
			file   string
			words  []string
		}{"missing " + f, func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, f)) }, f, []string{"missing", "refugelab run"}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyRun(t)
			tc.break_(t, dir)
			out := filepath.Join(t.TempDir(), "out")
			files, err := Generate(dir, Options{OutDir: out})
			if err == nil {
				t.Fatalf("Generate accepted the broken run folder (wrote %d files)", len(files))
			}
			var ae *ArtifactError
			if !errors.As(err, &ae) {
				t.Errorf("error %v is not an *ArtifactError", err)
			}
			msg := err.Error()
			for _, w := range append([]string{tc.file}, tc.words...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("output folder written although the run folder was refused")
			}
		})
	}
}

func TestFormats(t *testing.T) {
	_, err := Generate(fixture, Options{Formats: []string{"pdf"}, OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `"pdf"`) || !strings.Contains(err.Error(), "md, tex, html") {
		t.Errorf("unknown format: got %v", err)
	}
	_, err = Generate(fixture, Options{Formats: []string{"htm"}, OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "closest: html") {
		t.Errorf("closest format: got %v", err)
	}
	out := t.TempDir()
	files, err := Generate(fixture, Options{Formats: []string{"html,markdown"}, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	var reports []string
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "report.") {
			reports = append(reports, filepath.Base(f))
		}
	}
	if strings.Join(reports, ",") != "report.md,report.html" {
		t.Errorf("written reports %v, want report.md then report.html", reports)
	}
	if _, err := os.Stat(filepath.Join(out, "report.tex")); err == nil {
		t.Errorf("report.tex written although not requested")
	}
	// Default output folder is <run>/report; no temporary files are left.
	dir := copyRun(t)
	if _, err := Generate(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "report"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "figures,report.html,report.md,report.tex" {
		t.Errorf("report folder holds %v", names)
	}
}

func TestTexEscape(t *testing.T) {
	for in, want := range map[string]string{
		`a_b % c & d # e $ f { g } h ~ i ^ j \ k`: `a\_b \% c \& d \# e \$ f \{ g \} h $\sim$ i \^{} j \textbackslash{} k`,
		"512×512 → σ ≥ 1":                         `512$\times$512 $\rightarrow$ $\sigma$ $\ge$ 1`,
		"Ö é":                                     "Ö é",
		"日":                                       "{[}U+65E5{]}",
		"a<b>c|d":                                 "a$<$b$>$c$|$d",
		"[0.5, 1]":                                "{[}0.5, 1{]}",
	} {
		if got := texEsc(in); got != want {
			t.Errorf("texEsc(%q) = %q, want %q", in, got, want)
		}
	}
	if got := texBreakable("x~y_z"); got != `x{\char126}y\_\allowbreak{}z` {
		t.Errorf("texBreakable = %q", got)
	}
}

func TestMarkdownEscape(t *testing.T) {
	for in, want := range map[string]string{
		"pos_weight * 9 | [a] <b> #1 $x$": `pos\_weight \* 9 \| \[a\] &lt;b&gt; \#1 \$x\$`,
		"1. not a list":                   `1\. not a list`,
		"0.8125":                          "0.8125",
		"- not a bullet":                  `\- not a bullet`,
	} {
		if got := mdEsc(in); got != want {
			t.Errorf("mdEsc(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestROCPoints: the fixture's val scores (hand-made, see genfixture):
// positives 0.81 and 0.42, negatives 0.66, 0.42, 0.35, 0.12. Sorted by score
// the vertices are (0,0.5) after 0.81, (0.25,0.5) after 0.66, (0.5,1) after
// the tie at 0.42, then (0.75,1) and (1,1); the trapezoid area is
// 0.125+0.1875+0.25+0.25 = 0.8125, the Mann-Whitney AUC in metrics.json.
func TestROCPoints(t *testing.T) {
	r, err := loadRun(fixture)
	if err != nil {
		t.Fatal(err)
	}
	pts := rocPoints(r.Metrics["val"].PerImage.Classification)
	want := [][2]float64{{0, 0}, {0, 0.5}, {0.25, 0.5}, {0.5, 1}, {0.75, 1}, {1, 1}}
	if len(pts) != len(want) {
		t.Fatalf("ROC has %d points, want %d: %v", len(pts), len(want), pts)
	}
	for i, p := range pts {
		if p.X != want[i][0] || p.Y != want[i][1] {
			t.Errorf("vertex %d = (%v,%v), want %v", i, p.X, p.Y, want[i])
		}
	}
	if area := rocArea(pts); area != 0.8125 {
		t.Errorf("trapezoid area %v, want 0.8125", area)
	}
	// A summary AUC that the per-image scores do not give is flagged.
	dir := copyRun(t)
	editJSON(t, dir, "metrics.json", func(m map[string]any) { obj(m, "val", "classification")["auc"] = 0.9 })
	md := string(read(t, filepath.Join(generate(t, dir), "report.md")))
	if !strings.Contains(md, "on split val the area under the ROC of the per-image scores is 0.8125, but metrics.json gives AUC 0.9000") {
		t.Errorf("AUC inconsistency not reported")
	}
	if strings.Contains(string(read(t, filepath.Join(base(t), "report.md"))), "Inconsistency") {
		t.Errorf("consistent fixture reported as inconsistent")
	}
}

// TestLaTeXCompiles compiles the fixture's report.tex with pdflatex when it
// is installed (Debian: texlive-latex-base, texlive-latex-recommended).
func TestLaTeXCompiles(t *testing.T) {
	if _, err := exec.LookPath("pdflatex"); err != nil {
		t.Skip("pdflatex not installed: apt-get install texlive-latex-base texlive-latex-recommended")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	out := generate(t, fixture)
	cmd := exec.Command("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex")
	cmd.Dir = out
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pdflatex failed: %v\n%s", err, tail(string(b), 3000))
	}
	log := string(read(t, filepath.Join(out, "report.log")))
	if strings.Contains(log, "Missing character") || strings.Contains(log, "! ") {
		t.Errorf("report.log reports problems:\n%s", tail(log, 3000))
	}
	if st, err := os.Stat(filepath.Join(out, "report.pdf")); err != nil || st.Size() < 10000 {
		t.Errorf("report.pdf missing or tiny: %v", err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// nasty holds strings that break naive Markdown, LaTeX and HTML writers.
var nasty = []string{
	`\input{/etc/passwd} \\ \end{document}`,
	`50% of {braces} & $math$ #hash ~tilde ^caret _under`,
	"<script>alert(1)</script> | pipe | `tick` *star* [link](x)",
	"日本語 😀 µ σ → ≥ – — “quotes”",
	"1. looks like a list",
	"# looks like a heading",
}

// TestNastyStrings puts hostile text into every kind of description field
// and checks that the report still renders: LaTeX compiles (when pdflatex
// is installed), HTML carries no raw tag, Markdown no raw heading.
func TestNastyStrings(t *testing.T) {
	dir := copyRun(t)
	editJSON(t, dir, "description.json", func(m map[string]any) {
		m["title"] = nasty[0]
		m["team"] = nasty[1]
		m["authors"] = []any{nasty[2], nasty[3]}
		m["code_url"] = "javascript:alert(1)"
		seg := obj(m, "tasks", "segmentation")
		seg["preprocessing"] = []any{nasty[0], nasty[1], nasty[2], nasty[3], nasty[4], nasty[5]}
		seg["output"] = nasty[1]
		obj(seg, "network")["sentence"] = nasty[2]
		obj(seg, "training")["optimizer"] = nasty[0]
		obj(m, "split")["criterion"] = nasty[5]
		ds := m["datasets"].([]any)[0].(map[string]any)
		ds["name"] = nasty[1]
		ds["root"] = nasty[0]
	})
	out := generate(t, dir)
	md := string(read(t, filepath.Join(out, "report.md")))
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "# looks") || strings.HasPrefix(l, "1. looks") {
			t.Errorf("Markdown line %q turns text into structure", l)
		}
	}
	html := string(read(t, filepath.Join(out, "report.html")))
	if strings.Contains(html, "<script>") {
		t.Errorf("HTML contains a raw <script> tag")
	}
	if strings.Contains(html, `href="javascript:`) || strings.Contains(md, "](<javascript:") {
		t.Errorf("a javascript: code_url became a live link")
	}
	tex := string(read(t, filepath.Join(out, "report.tex")))
	if strings.Contains(tex, `\input{`) || strings.Count(tex, `\end{document}`) != 1 {
		t.Errorf("LaTeX special characters not escaped")
	}
	if _, err := exec.LookPath("pdflatex"); err != nil || testing.Short() {
		return
	}
	cmd := exec.Command("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "report.tex")
	cmd.Dir = out
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pdflatex failed on hostile text: %v\n%s", err, tail(string(b), 3000))
	}
}

// TestMinimalRun: a run with one task, no localiser, no qualitative cases,
// an empty log and no split counts still gives a complete report.
func TestMinimalRun(t *testing.T) {
	dir := copyRun(t)
	editJSON(t, dir, "description.json", func(m map[string]any) {
		tasks := obj(m, "tasks")
		delete(tasks, "segmentation")
		delete(tasks, "fovea")
		delete(m, "localizer")
		delete(m, "datasets")
		obj(m, "split")["per_split"] = map[string]any{}
		// The glaucoma score taken from the segmentation's vCDR: no network.
		cl := obj(m, "tasks", "classification")
		cl["network"] = map[string]any{"arch": "none", "sentence": "No network of its own: the score is the predicted vCDR.", "layers": []any{}, "total_params": 0}
		delete(cl, "training")
	})
	editJSON(t, dir, "metrics.json", func(m map[string]any) {
		delete(m, "test")
		v := obj(m, "val")
		delete(v, "segmentation")
		delete(v, "fovea")
	})
	os.WriteFile(filepath.Join(dir, "log.jsonl"), nil, 0o644)
	os.RemoveAll(filepath.Join(dir, "qualitative"))
	out := generate(t, dir)
	md := string(read(t, filepath.Join(out, "report.md")))
	for i, title := range []string{"Datasets", "Partition criterion", "Schematic figure", "Input data", "Preprocessing",
		"Network architecture", "Language and framework", "Training details", "Data augmentation", "Post-processing",
		"Results", "Reproducibility"} {
		if !strings.Contains(md, fmt.Sprintf("\n## %d %s\n", i+1, title)) {
			t.Errorf("section %d %s missing", i+1, title)
		}
	}
	for _, absent := range []string{"qualitative.png", "curves_", "Optic disc and cup segmentation"} {
		if strings.Contains(md, absent) {
			t.Errorf("report mentions %q although the run has none", absent)
		}
	}
	for _, want := range []string{"→ no network of its own →", "No network of its own: the score is the predicted vCDR.", "No training is recorded for this model"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md, "Architecture `none`") {
		t.Errorf("report presents arch none as an architecture")
	}
	if !strings.Contains(md, "figures/roc.png") || !strings.Contains(md, "| val | classification | AUC `auc` | 0.8125 |") {
		t.Errorf("classification results missing:\n%s", mdSection(t, md, 11))
	}
}
