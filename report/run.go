package report

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/refugelab/refugelab/eval"
)

// ArtifactError reports a run-folder artifact that is missing, unreadable,
// malformed or inconsistent with the run's config hash. The report refuses to
// render from such a folder, because its sentences and numbers would no
// longer be true of the run.
type ArtifactError struct {
	File    string // path of the artifact inside the run folder (or absolute)
	Problem string // what is wrong
	Hint    string // what to do about it
}

// Error implements error.
func (e *ArtifactError) Error() string {
	s := "report: " + e.File + ": " + e.Problem
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Artifacts every report needs, relative to the run folder.
var requiredArtifacts = []string{
	"config.yaml", "manifest.json", "splits.json", "log.jsonl", "metrics.json", "description.json",
}

const hintFinish = "the report is built only from a complete run folder: let `refugelab run` finish, " +
	"or resume it with `refugelab run --resume DIR`"

const hintHash = "the run folder was edited after the run or mixes files of two runs; " +
	"regenerate it with `refugelab reproduce DIR` instead of editing it"

// manifest mirrors manifest.json (CONTRACTS "The run folder").
type manifest struct {
	RunID      string   `json:"run_id"`
	Name       string   `json:"name"`
	Seed       uint64   `json:"seed"`
	Status     string   `json:"status"`
	Start      string   `json:"start"`
	End        string   `json:"end"`
	Command    []string `json:"command"`
	Overrides  []string `json:"overrides"`
	GoVersion  string   `json:"go_version"`
	Modules    []module `json:"modules"`
	MainModule struct {
		Path    string `json:"path"`
		Version string `json:"version"`
	} `json:"main_module"`
	VCS struct {
		Revision string `json:"revision"`
		Time     string `json:"time"`
		Modified bool   `json:"modified"`
	} `json:"vcs"`
	OS           string            `json:"os"`
	Arch         string            `json:"arch"`
	CPU          string            `json:"cpu"`
	NumCPU       int               `json:"num_cpu"`
	GOMAXPROCS   int               `json:"gomaxprocs"`
	ConfigSHA256 string            `json:"config_sha256"`
	Inputs       map[string]string `json:"inputs"`
	WallSeconds  float64           `json:"wall_seconds"`
	Error        string            `json:"error"`
	MaskRules    []string          `json:"mask_rules"` // "<source>: <rule in words>"
}

// module is one Go module with its version.
type module struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Sum     string `json:"sum,omitempty"`
}

// splitsFile mirrors splits.json.
type splitsFile struct {
	Method    string         `json:"method"`
	Seed      uint64         `json:"seed"`
	Criterion string         `json:"criterion"`
	Counts    map[string]int `json:"counts"`
	Train     []string       `json:"train"`
	Val       []string       `json:"val"`
	Test      []string       `json:"test"`
}

// logEntry is one line of log.jsonl.
type logEntry struct {
	Task      string             `json:"task"`
	Epoch     int                `json:"epoch"`
	TrainLoss *float64           `json:"train_loss"`
	LR        *float64           `json:"lr"`
	Val       map[string]float64 `json:"val"`
	Seconds   float64            `json:"seconds"`
}

// description mirrors description.json: everything the report prints,
// produced by the run from the registered pieces' Describe() sentences.
type description struct {
	ConfigSHA256     string               `json:"config_sha256"`
	Title            string               `json:"title"`
	Team             string               `json:"team"`
	Authors          []string             `json:"authors"`
	CodeURL          string               `json:"code_url"`
	Datasets         []datasetDesc        `json:"datasets"`
	Split            splitDesc            `json:"split"`
	Tasks            map[string]*taskDesc `json:"tasks"`
	Localizer        *taskDesc            `json:"localizer"`
	Language         languageDesc         `json:"language"`
	Hardware         hardwareDesc         `json:"hardware"`
	WallSeconds      float64              `json:"wall_seconds"`
	ReproduceCommand string               `json:"reproduce_command"`
	RunCommand       string               `json:"run_command"`
	DataHashes       map[string]string    `json:"data_hashes"`
	DroppedSamples   []string             `json:"dropped_samples"`
}

type datasetDesc struct {
	Name     string         `json:"name"`
	Format   string         `json:"format"`
	Root     string         `json:"root"`
	Sentence string         `json:"sentence"`
	Counts   datasetCounts  `json:"counts"`
	Sizes    map[string]int `json:"sizes"`
	Devices  map[string]int `json:"devices"`
}

type datasetCounts struct {
	Images       int `json:"images"`
	Glaucoma     int `json:"glaucoma"`
	Normal       int `json:"normal"`
	UnknownLabel int `json:"unknown_label"`
	WithMask     int `json:"with_mask"`
	WithFovea    int `json:"with_fovea"`
}

type splitDesc struct {
	Method    string                    `json:"method"`
	Seed      uint64                    `json:"seed"`
	Criterion string                    `json:"criterion"`
	Counts    map[string]int            `json:"counts"`
	PerSplit  map[string]map[string]int `json:"per_split"`
}

type taskDesc struct {
	Input          string       `json:"input"`
	InputSize      []int        `json:"input_size"`
	InputSentence  string       `json:"input_sentence"`
	Preprocessing  []string     `json:"preprocessing"`
	Network        networkDesc  `json:"network"`
	Training       trainingDesc `json:"training"`
	Augmentation   []string     `json:"augmentation"`
	Postprocessing []string     `json:"postprocessing"`
	Output         string       `json:"output"`
}

type networkDesc struct {
	Arch        string      `json:"arch"`
	Sentence    string      `json:"sentence"`
	BasedOn     string      `json:"based_on"`
	Differences []string    `json:"differences"`
	Layers      []layerDesc `json:"layers"`
	TotalParams int         `json:"total_params"`
}

type layerDesc struct {
	Name     string `json:"name"`
	OutShape []int  `json:"out_shape"`
	Params   int    `json:"params"`
}

// trainingDesc holds the training details. Fields that the engine may
// describe either as a sentence or as a structured value are kept as
// json.RawMessage and rendered by plainValue.
type trainingDesc struct {
	Optimizer     json.RawMessage    `json:"optimizer"`
	LR            json.RawMessage    `json:"lr"`
	Schedule      json.RawMessage    `json:"schedule"`
	BatchSize     json.RawMessage    `json:"batch_size"`
	Epochs        json.RawMessage    `json:"epochs"`
	EpochsRun     json.RawMessage    `json:"epochs_run"`
	BestEpoch     json.RawMessage    `json:"best_epoch"`
	Loss          json.RawMessage    `json:"loss"`
	Init          json.RawMessage    `json:"init"`
	Seed          json.RawMessage    `json:"seed"`
	EarlyStopping json.RawMessage    `json:"early_stopping"`
	Selection     json.RawMessage    `json:"selection"`
	WallSeconds   *float64           `json:"wall_seconds"`
	Best          map[string]float64 `json:"best"`
	Sentences     []string           `json:"sentences"`
}

type languageDesc struct {
	GoVersion string   `json:"go_version"`
	Framework string   `json:"framework"`
	Modules   []module `json:"modules"`
}

type hardwareDesc struct {
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPU        string `json:"cpu"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
}

// taskMetrics is one task block of metrics.json for one split: the scalar
// metrics by key (value, _sd, _ci95 and n are all kept in raw form).
type taskMetrics map[string]json.RawMessage

// splitMetrics is one split of metrics.json.
type splitMetrics struct {
	Tasks    map[string]taskMetrics // classification, segmentation, fovea, ...
	PerImage perImage
	Problems []metricProblem // what the submission check found or tolerated
}

// metricProblem is one entry of a split's "problems" list in metrics.json
// (eval's submission check writes them).
type metricProblem = eval.Problem

type perImage struct {
	Classification []perImageClass `json:"classification"`
	Segmentation   []perImageSeg   `json:"segmentation"`
	Fovea          []perImageFovea `json:"fovea"`
}

type perImageClass struct {
	Name  string  `json:"name"`
	Label int     `json:"label"`
	Score float64 `json:"score"`
}

type perImageSeg struct {
	Name       string   `json:"name"`
	DiceDisc   *float64 `json:"dice_disc"`
	DiceCup    *float64 `json:"dice_cup"`
	VCDRGT     *float64 `json:"vcdr_gt"`
	VCDRPred   *float64 `json:"vcdr_pred"`
	VCDRAbsErr *float64 `json:"vcdr_abs_err"`
}

type perImageFovea struct {
	Name       string  `json:"name"`
	GTX        float64 `json:"gt_x"`
	GTY        float64 `json:"gt_y"`
	X          float64 `json:"x"`
	Y          float64 `json:"y"`
	DistancePx float64 `json:"distance_px"`
}

// qualCase is one entry of qualitative/index.json.
type qualCase struct {
	Split     string    `json:"split"`
	Stem      string    `json:"stem"`
	Kind      string    `json:"kind"` // "best" or "worst" when the run chose them
	DiceCup   *float64  `json:"dice_cup"`
	DiceDisc  *float64  `json:"dice_disc"`
	FoveaGT   []float64 `json:"fovea_gt"`
	FoveaPred []float64 `json:"fovea_pred"`
}

// run is everything the report reads from a run folder.
type run struct {
	Dir         string
	ConfigHash  string
	Manifest    manifest
	Splits      splitsFile
	Log         []logEntry
	Metrics     map[string]*splitMetrics
	Desc        description
	Qual        []qualCase // nil when qualitative/ is absent
	QualDir     string
	QualMissing []string // image files named by index.json that are absent
}

// loadRun reads and cross-checks a run folder.
func loadRun(dir string) (*run, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, &ArtifactError{File: dir, Problem: "run folder not found", Hint: "pass the folder written by `refugelab run` (runs/<name>-<yyyymmdd-hhmmss>)"}
	}
	if !st.IsDir() {
		return nil, &ArtifactError{File: dir, Problem: "not a directory", Hint: "pass the run folder, not a file inside it"}
	}
	var missing []string
	for _, f := range requiredArtifacts {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return nil, &ArtifactError{
			File:    filepath.Join(dir, missing[0]),
			Problem: fmt.Sprintf("missing required artifact(s) %s (required: %s)", strings.Join(missing, ", "), strings.Join(requiredArtifacts, ", ")),
			Hint:    hintFinish,
		}
	}
	r := &run{Dir: dir}
	cfg, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return nil, &ArtifactError{File: filepath.Join(dir, "config.yaml"), Problem: err.Error()}
	}
	sum := sha256.Sum256(cfg)
	r.ConfigHash = hex.EncodeToString(sum[:])

	if err := readJSON(dir, "manifest.json", &r.Manifest); err != nil {
		return nil, err
	}
	if err := readJSON(dir, "description.json", &r.Desc); err != nil {
		return nil, err
	}
	if err := readJSON(dir, "splits.json", &r.Splits); err != nil {
		return nil, err
	}
	if d, m := r.Desc.ConfigSHA256, r.Manifest.ConfigSHA256; d != "" && strings.EqualFold(d, m) && !strings.EqualFold(d, r.ConfigHash) {
		// Both records agree: config.yaml itself was changed.
		return nil, &ArtifactError{
			File:    filepath.Join(dir, "config.yaml"),
			Problem: fmt.Sprintf("sha256 %s differs from config_sha256 %s recorded by the run in description.json and manifest.json", r.ConfigHash, d),
			Hint:    hintHash,
		}
	}
	for _, c := range []struct{ file, got string }{
		{"description.json", r.Desc.ConfigSHA256},
		{"manifest.json", r.Manifest.ConfigSHA256},
	} {
		if c.got == "" {
			return nil, &ArtifactError{File: filepath.Join(dir, c.file), Problem: "key config_sha256 is missing or empty", Hint: hintHash}
		}
		if !strings.EqualFold(c.got, r.ConfigHash) {
			return nil, &ArtifactError{
				File:    filepath.Join(dir, c.file),
				Problem: fmt.Sprintf("config_sha256 %s does not match sha256(config.yaml) = %s", c.got, r.ConfigHash),
				Hint:    hintHash,
			}
		}
	}
	if r.Manifest.Status == "failed" {
		problem := `status is "failed"`
		if r.Manifest.Error != "" {
			problem += " (error: " + r.Manifest.Error + ")"
		}
		return nil, &ArtifactError{File: filepath.Join(dir, "manifest.json"), Problem: problem, Hint: "a failed run has no trustworthy results; fix the cause and resume it with `refugelab run --resume DIR`"}
	}
	// Data hashes recorded twice must agree.
	for p, h := range r.Desc.DataHashes {
		if mh, ok := r.Manifest.Inputs[p]; ok && !strings.EqualFold(mh, h) {
			return nil, &ArtifactError{File: filepath.Join(dir, "description.json"),
				Problem: fmt.Sprintf("data_hashes[%q] = %s but manifest.json inputs[%q] = %s", p, h, p, mh), Hint: hintHash}
		}
	}
	if r.Log, err = readLog(dir); err != nil {
		return nil, err
	}
	if r.Metrics, err = readMetrics(dir); err != nil {
		return nil, err
	}
	if err := r.readQualitative(); err != nil {
		return nil, err
	}
	return r, nil
}

func readJSON(dir, name string, v any) error {
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return &ArtifactError{File: p, Problem: err.Error(), Hint: hintFinish}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &ArtifactError{File: p, Problem: "malformed JSON: " + err.Error(), Hint: hintHash}
	}
	return nil
}

func readLog(dir string) ([]logEntry, error) {
	p := filepath.Join(dir, "log.jsonl")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, &ArtifactError{File: p, Problem: err.Error(), Hint: hintFinish}
	}
	var out []logEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		t := bytes.TrimSpace(sc.Bytes())
		if len(t) == 0 {
			continue
		}
		var e logEntry
		if err := json.Unmarshal(t, &e); err != nil {
			return nil, &ArtifactError{File: p, Problem: fmt.Sprintf("line %d: malformed JSON: %v", line, err), Hint: hintHash}
		}
		if e.Task == "" {
			return nil, &ArtifactError{File: p, Problem: fmt.Sprintf("line %d: key task is missing", line), Hint: hintHash}
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, &ArtifactError{File: p, Problem: err.Error()}
	}
	return out, nil
}

func readMetrics(dir string) (map[string]*splitMetrics, error) {
	p := filepath.Join(dir, "metrics.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, &ArtifactError{File: p, Problem: err.Error(), Hint: hintFinish}
	}
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, &ArtifactError{File: p, Problem: "malformed JSON (expected {split: {task: {metric: value}}}): " + err.Error(), Hint: hintHash}
	}
	out := map[string]*splitMetrics{}
	for split, blocks := range raw {
		sm := &splitMetrics{Tasks: map[string]taskMetrics{}}
		for task, rb := range blocks {
			switch task {
			case "per_image":
				if err := json.Unmarshal(rb, &sm.PerImage); err != nil {
					return nil, &ArtifactError{File: p, Problem: fmt.Sprintf("%s.per_image: %v", split, err), Hint: hintHash}
				}
				continue
			case "problems":
				if err := json.Unmarshal(rb, &sm.Problems); err != nil {
					return nil, &ArtifactError{File: p, Problem: fmt.Sprintf("%s.problems: expected a list of problems: %v", split, err), Hint: hintHash}
				}
				continue
			}
			if t := bytes.TrimSpace(rb); len(t) == 0 || t[0] != '{' {
				continue // not a task block (a note or a count added by the scorer)
			}
			var tm taskMetrics
			if err := json.Unmarshal(rb, &tm); err != nil {
				return nil, &ArtifactError{File: p, Problem: fmt.Sprintf("%s.%s: expected an object of metrics: %v", split, task, err), Hint: hintHash}
			}
			for k, v := range tm {
				if err := checkMetricValue(k, v); err != nil {
					return nil, &ArtifactError{File: p, Problem: fmt.Sprintf("%s.%s.%s: %v", split, task, k, err), Hint: hintHash}
				}
			}
			sm.Tasks[task] = tm
		}
		out[split] = sm
	}
	return out, nil
}

// checkMetricValue accepts a number, null, or (for *_ci95) a pair of numbers.
func checkMetricValue(key string, v json.RawMessage) error {
	if strings.HasSuffix(key, "_ci95") {
		var ci []*float64
		if err := json.Unmarshal(v, &ci); err != nil || (ci != nil && len(ci) != 2) {
			return fmt.Errorf("expected [lo, hi], got %s", string(v))
		}
		return nil
	}
	var f *float64
	if err := json.Unmarshal(v, &f); err != nil {
		// Non-numeric descriptive fields (e.g. a policy string) are allowed,
		// except under the names of numeric metrics.
		_, known := metricNames[key]
		var s string
		if !known && !isAuxKey(key) && json.Unmarshal(v, &s) == nil {
			return nil
		}
		return fmt.Errorf("expected a number, got %s", string(v))
	}
	return nil
}

func (r *run) readQualitative() error {
	qdir := filepath.Join(r.Dir, "qualitative")
	idx := filepath.Join(qdir, "index.json")
	if _, err := os.Stat(idx); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	r.QualDir = qdir
	if err := readJSON(r.Dir, filepath.Join("qualitative", "index.json"), &r.Qual); err != nil {
		return err
	}
	if r.Qual == nil {
		r.Qual = []qualCase{}
	}
	for i, q := range r.Qual {
		if q.Split == "" || q.Stem == "" {
			return &ArtifactError{File: idx, Problem: fmt.Sprintf("entry %d: keys split and stem are required", i), Hint: hintHash}
		}
		if q.FoveaGT != nil && len(q.FoveaGT) != 2 || q.FoveaPred != nil && len(q.FoveaPred) != 2 {
			return &ArtifactError{File: idx, Problem: fmt.Sprintf("entry %d (%s): fovea_gt/fovea_pred must be [x, y] or null", i, q.Stem), Hint: hintHash}
		}
		img := filepath.Join(qdir, q.Split, q.Stem+"_image.png")
		if _, err := os.Stat(img); err != nil {
			r.QualMissing = append(r.QualMissing, filepath.Join("qualitative", q.Split, q.Stem+"_image.png"))
		}
	}
	if len(r.QualMissing) > 0 {
		return &ArtifactError{File: filepath.Join(r.Dir, r.QualMissing[0]),
			Problem: fmt.Sprintf("named by qualitative/index.json but missing (%d missing in all)", len(r.QualMissing)), Hint: hintFinish}
	}
	return nil
}

// taskOrder returns the configured tasks in the challenge's order, then any
// other task names sorted.
func (r *run) taskOrder() []string {
	return orderKeys(keys(r.Desc.Tasks), []string{"classification", "segmentation", "fovea"})
}

// splitOrder returns the metric splits in train, val, test order, then others.
func (r *run) splitOrder() []string {
	return orderKeys(keys(r.Metrics), []string{"train", "val", "test"})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// orderKeys returns the elements of ks, first those listed in pref (in that
// order), then the rest sorted.
func orderKeys(ks, pref []string) []string {
	have := map[string]bool{}
	for _, k := range ks {
		have[k] = true
	}
	var out []string
	for _, p := range pref {
		if have[p] {
			out = append(out, p)
			delete(have, p)
		}
	}
	rest := keys(have)
	return append(out, rest...)
}
