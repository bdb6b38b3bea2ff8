package data

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SplitSpec configures how samples are divided into training, validation
// and test sets (config key data.split).
//
// Methods:
//   - random: shuffle and take fractions Val and Test; the rest trains
//     (Stratify and StratifyBy are not used).
//   - stratified: the same fractions within each group of StratifyBy
//     (default: label; "source" groups by source too).
//   - kfold: K folds (stratified when Stratify or StratifyBy is set);
//     fold Fold (0-based, 0..K-1) validates, the others train. With Test > 0
//     a test set is first held out (stratified the same way) and the folds
//     are made from the rest. Val is not used (the criterion says so when
//     it is set).
//   - by-source: TrainSources / ValSources / TestSources name sources or
//     devices; when ValSources (TestSources) is empty and Val (Test) > 0,
//     that set is drawn from the training sources instead. Samples of other
//     sources are not used.
//   - predefined: File (a splits.json, or CSV lines "id,split") or, without
//     File, each sample's Subset (training/train, validation/val, test).
//     Val and Test are not used.
type SplitSpec struct {
	Method       string   `yaml:"method" json:"method"`
	Val          float64  `yaml:"val" json:"val"`
	Test         float64  `yaml:"test" json:"test"`
	Stratify     bool     `yaml:"stratify" json:"stratify"`
	StratifyBy   []string `yaml:"stratify_by,omitempty" json:"stratify_by,omitempty"`
	K            int      `yaml:"k,omitempty" json:"k,omitempty"`
	Fold         int      `yaml:"fold,omitempty" json:"fold,omitempty"`
	TrainSources []string `yaml:"train_sources,omitempty" json:"train_sources,omitempty"`
	ValSources   []string `yaml:"val_sources,omitempty" json:"val_sources,omitempty"`
	TestSources  []string `yaml:"test_sources,omitempty" json:"test_sources,omitempty"`
	File         string   `yaml:"file,omitempty" json:"file,omitempty"`
}

// Splits holds sample IDs per part, each sorted, with the criterion in
// words for the report.
type Splits struct {
	Train     []string `json:"train"`
	Val       []string `json:"val"`
	Test      []string `json:"test"`
	Criterion string   `json:"criterion"`
	Method    string   `json:"method"`
	Seed      uint64   `json:"seed"`
}

// KnownSplitMethods lists the split methods.
func KnownSplitMethods() []string {
	return []string{"by-source", "kfold", "predefined", "random", "stratified"}
}

// Counts returns the number of IDs per part.
func (s *Splits) Counts() map[string]int {
	return map[string]int{"train": len(s.Train), "val": len(s.Val), "test": len(s.Test)}
}

// Select returns the samples of one part ("train", "val" or "test") in
// the part's ID order.
func (s *Splits) Select(samples []*Sample, part string) []*Sample {
	var ids []string
	switch part {
	case "train":
		ids = s.Train
	case "val":
		ids = s.Val
	case "test":
		ids = s.Test
	}
	byID := make(map[string]*Sample, len(samples))
	for _, x := range samples {
		byID[x.ID] = x
	}
	out := make([]*Sample, 0, len(ids))
	for _, id := range ids {
		if x, ok := byID[id]; ok {
			out = append(out, x)
		}
	}
	return out
}

// MakeSplit divides samples according to spec. The result depends only on
// the sample IDs (and labels/sources), the spec and the seed: samples are
// sorted by ID before shuffling with a stream derived from (seed, "split").
func MakeSplit(samples []*Sample, spec SplitSpec, seed uint64) (*Splits, error) {
	if len(samples) == 0 {
		return nil, fmt.Errorf("split: no samples to split")
	}
	sorted := append([]*Sample(nil), samples...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].ID == sorted[i-1].ID {
			return nil, fmt.Errorf("split: duplicate sample id %q", sorted[i].ID)
		}
	}
	if spec.Val < 0 || spec.Val >= 1 || math.IsNaN(spec.Val) {
		return nil, fmt.Errorf("split.val: expected a fraction in [0, 1), got %v", spec.Val)
	}
	if spec.Test < 0 || spec.Test >= 1 || math.IsNaN(spec.Test) {
		return nil, fmt.Errorf("split.test: expected a fraction in [0, 1), got %v", spec.Test)
	}
	if spec.Val+spec.Test >= 1 {
		return nil, fmt.Errorf("split: val %v + test %v leaves nothing for training (need val + test < 1)", spec.Val, spec.Test)
	}
	by, err := stratifyKeys(spec)
	if err != nil {
		return nil, err
	}
	var out *Splits
	switch spec.Method {
	case "random":
		out, err = splitFractions(sorted, spec, nil, seed)
	case "stratified":
		if len(by) == 0 {
			by = []string{"label"}
		}
		out, err = splitFractions(sorted, spec, by, seed)
	case "kfold":
		out, err = splitKFold(sorted, spec, by, seed)
	case "by-source":
		out, err = splitBySource(sorted, spec, by, seed)
	case "predefined":
		out, err = splitPredefined(sorted, spec)
	default:
		return nil, UnknownNameError("split method", spec.Method, KnownSplitMethods())
	}
	if err != nil {
		return nil, err
	}
	if len(out.Train) == 0 {
		return nil, fmt.Errorf("split %s: the training split is empty (%s)", spec.Method, out.Criterion)
	}
	sort.Strings(out.Train)
	sort.Strings(out.Val)
	sort.Strings(out.Test)
	out.Method, out.Seed = spec.Method, seed
	return out, nil
}

func stratifyKeys(spec SplitSpec) ([]string, error) {
	by := append([]string(nil), spec.StratifyBy...)
	for _, k := range by {
		if k != "label" && k != "source" {
			return nil, fmt.Errorf("split.stratify_by: unknown key %q (known: label, source)", k)
		}
	}
	if spec.Stratify && len(by) == 0 {
		by = []string{"label"}
	}
	return by, nil
}

func labelName(l int) string {
	switch l {
	case 1:
		return "glaucoma"
	case 0:
		return "normal"
	}
	return "unknown"
}

// groups partitions samples (kept in order) by the stratification keys.
func groups(samples []*Sample, by []string) ([]string, map[string][]*Sample) {
	m := map[string][]*Sample{}
	for _, s := range samples {
		var parts []string
		for _, k := range by {
			if k == "label" {
				parts = append(parts, labelName(s.Label))
			} else {
				parts = append(parts, s.Source)
			}
		}
		key := strings.Join(parts, "/")
		m[key] = append(m[key], s)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, m
}

func shuffled(samples []*Sample, seed uint64, parts ...any) []*Sample {
	out := append([]*Sample(nil), samples...)
	r := NewRand(Seed(seed, append([]any{"split"}, parts...)...))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func ids(samples []*Sample) []string {
	out := make([]string, len(samples))
	for i, s := range samples {
		out[i] = s.ID
	}
	return out
}

// carve takes round(val·n) validation and round(test·n) test samples from
// each group (after a seeded shuffle); the rest train.
func carve(samples []*Sample, val, test float64, by []string, seed uint64, tag string) (train, v, te []*Sample) {
	keys, m := groups(samples, by)
	for _, k := range keys {
		g := shuffled(m[k], seed, tag, k)
		nt := int(math.Round(test * float64(len(g))))
		nv := int(math.Round(val * float64(len(g))))
		if nt+nv > len(g) {
			nv = len(g) - nt
		}
		te = append(te, g[:nt]...)
		v = append(v, g[nt:nt+nv]...)
		train = append(train, g[nt+nv:]...)
	}
	return train, v, te
}

func byDescription(by []string) string {
	if len(by) == 0 {
		return ""
	}
	return " stratified by " + strings.Join(by, " and ")
}

func splitFractions(samples []*Sample, spec SplitSpec, by []string, seed uint64) (*Splits, error) {
	train, val, test := carve(samples, spec.Val, spec.Test, by, seed, "fractions")
	if err := checkNonEmpty(spec, len(samples), len(val), len(test)); err != nil {
		return nil, err
	}
	kind := "Random split"
	if len(by) > 0 {
		kind = "Split" + byDescription(by) + " (the fractions applied within each group)"
	}
	return &Splits{Train: ids(train), Val: ids(val), Test: ids(test),
		Criterion: fmt.Sprintf("%s of the %d samples with seed %d: %s validation (%d), %s test (%d), the rest training (%d).",
			kind, len(samples), seed, pct(spec.Val), len(val), pct(spec.Test), len(test), len(train))}, nil
}

func pct(f float64) string { return fmt.Sprintf("%.4g%%", 100*f) }

func checkNonEmpty(spec SplitSpec, n, nVal, nTest int) error {
	if spec.Val > 0 && nVal == 0 {
		return fmt.Errorf("split.val: fraction %v of %d samples gives an empty validation split", spec.Val, n)
	}
	if spec.Test > 0 && nTest == 0 {
		return fmt.Errorf("split.test: fraction %v of %d samples gives an empty test split", spec.Test, n)
	}
	return nil
}

func splitKFold(samples []*Sample, spec SplitSpec, by []string, seed uint64) (*Splits, error) {
	if spec.K < 2 {
		return nil, fmt.Errorf("split.k: kfold needs k >= 2, got %d", spec.K)
	}
	if spec.Fold < 0 || spec.Fold >= spec.K {
		return nil, fmt.Errorf("split.fold: expected 0..%d (0-based) for k = %d, got %d", spec.K-1, spec.K, spec.Fold)
	}
	pool, _, test := carve(samples, 0, spec.Test, by, seed, "kfold-test")
	if err := checkNonEmpty(spec, len(samples), 1, len(test)); err != nil {
		return nil, err
	}
	if len(pool) < spec.K {
		return nil, fmt.Errorf("split.k: %d samples cannot fill %d folds", len(pool), spec.K)
	}
	keys, m := groups(pool, by)
	var train, val []*Sample
	pos := 0 // round-robin continues across groups so fold sizes differ by at most 1
	for _, k := range keys {
		for _, s := range shuffled(m[k], seed, "kfold", k) {
			if pos%spec.K == spec.Fold {
				val = append(val, s)
			} else {
				train = append(train, s)
			}
			pos++
		}
	}
	held := ""
	if len(test) > 0 {
		held = fmt.Sprintf(" after holding out %s (%d) as test", pct(spec.Test), len(test))
	}
	note := ""
	if spec.Val > 0 {
		note = fmt.Sprintf(" (the val fraction %v is not used: the fold is the validation set)", spec.Val)
	}
	return &Splits{Train: ids(train), Val: ids(val), Test: ids(test),
		Criterion: fmt.Sprintf("Fold %d (0-based) of %d-fold cross-validation%s with seed %d%s: the fold (%d samples) validates, the other folds (%d) train%s.",
			spec.Fold, spec.K, byDescription(by), seed, held, len(val), len(train), note)}, nil
}

func splitBySource(samples []*Sample, spec SplitSpec, by []string, seed uint64) (*Splits, error) {
	if len(spec.TrainSources) == 0 {
		return nil, fmt.Errorf("split.train_sources: by-source needs at least one training source or device")
	}
	known := map[string]bool{}
	for _, s := range samples {
		known[s.Source] = true
		if s.Device != "" {
			known[s.Device] = true
		}
	}
	knownList := make([]string, 0, len(known))
	for k := range known {
		knownList = append(knownList, k)
	}
	part := map[string]string{}
	for _, l := range []struct {
		key   string
		names []string
	}{{"train_sources", spec.TrainSources}, {"val_sources", spec.ValSources}, {"test_sources", spec.TestSources}} {
		for _, n := range l.names {
			if !known[n] {
				return nil, fmt.Errorf("split.%s: %w", l.key, UnknownNameError("source or device", n, knownList))
			}
			if prev, dup := part[n]; dup {
				return nil, fmt.Errorf("split.%s: %q is already listed in split.%s", l.key, n, prev)
			}
			part[n] = l.key
		}
	}
	var train, val, test []*Sample
	unused := 0
	for _, s := range samples {
		p, ok := part[s.Source]
		if !ok && s.Device != "" {
			p, ok = part[s.Device]
		}
		switch {
		case !ok:
			unused++
		case p == "train_sources":
			train = append(train, s)
		case p == "val_sources":
			val = append(val, s)
		default:
			test = append(test, s)
		}
	}
	var extra []string
	vf, tf := 0.0, 0.0
	if len(spec.ValSources) == 0 {
		vf = spec.Val
	}
	if len(spec.TestSources) == 0 {
		tf = spec.Test
	}
	if vf > 0 || tf > 0 {
		var v2, t2 []*Sample
		train, v2, t2 = carve(train, vf, tf, by, seed, "by-source")
		if err := checkNonEmpty(SplitSpec{Val: vf, Test: tf}, len(train)+len(v2)+len(t2), len(v2), len(t2)); err != nil {
			return nil, err
		}
		val, test = append(val, v2...), append(test, t2...)
		if vf > 0 {
			extra = append(extra, fmt.Sprintf("validation is %s of the training sources%s", pct(vf), byDescription(by)))
		}
		if tf > 0 {
			extra = append(extra, fmt.Sprintf("test is %s of the training sources%s", pct(tf), byDescription(by)))
		}
	}
	for _, c := range []struct {
		names []string
		n     int
		what  string
	}{{spec.ValSources, len(val), "validation"}, {spec.TestSources, len(test), "test"}} {
		if len(c.names) > 0 && c.n == 0 {
			return nil, fmt.Errorf("split: the %s sources %v hold no samples", c.what, c.names)
		}
	}
	crit := fmt.Sprintf("Split by source or device: training on %s (%d)", strings.Join(spec.TrainSources, ", "), len(train))
	if len(spec.ValSources) > 0 {
		crit += fmt.Sprintf(", validation on %s (%d)", strings.Join(spec.ValSources, ", "), len(val))
	}
	if len(spec.TestSources) > 0 {
		crit += fmt.Sprintf(", test on %s (%d)", strings.Join(spec.TestSources, ", "), len(test))
	}
	if len(extra) > 0 {
		crit += "; " + strings.Join(extra, "; ") + fmt.Sprintf(" (seed %d)", seed)
	}
	if unused > 0 {
		crit += fmt.Sprintf("; %d samples of other sources are not used", unused)
	}
	return &Splits{Train: ids(train), Val: ids(val), Test: ids(test), Criterion: crit + "."}, nil
}

// partName maps a release part or split name to train/val/test.
func partName(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "train", "training":
		return "train", true
	case "val", "valid", "validation":
		return "val", true
	case "test", "testing":
		return "test", true
	}
	return "", false
}

func splitPredefined(samples []*Sample, spec SplitSpec) (*Splits, error) {
	assign := map[string]string{}
	var crit string
	if spec.File == "" {
		for _, s := range samples {
			p, ok := partName(s.Subset)
			if !ok {
				return nil, fmt.Errorf("split predefined: sample %q has subset %q, expected training, validation or test (or set split.file)", s.ID, s.Subset)
			}
			assign[s.ID] = p
		}
		crit = "Predefined split: the release's own parts (training, validation, test)"
	} else {
		var err error
		assign, err = readSplitFile(spec.File)
		if err != nil {
			return nil, err
		}
		crit = fmt.Sprintf("Predefined split from %s", filepath.Base(spec.File))
		have := map[string]bool{}
		for _, s := range samples {
			have[s.ID] = true
		}
		var missing []string
		for id := range assign {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return nil, fmt.Errorf("split.file %s: %d ids name no loaded sample, e.g. %s", spec.File, len(missing), strings.Join(missing[:min(5, len(missing))], ", "))
		}
		var unassigned []string
		for _, s := range samples {
			if _, ok := assign[s.ID]; !ok {
				unassigned = append(unassigned, s.ID)
			}
		}
		if len(unassigned) > 0 {
			return nil, fmt.Errorf("split.file %s: %d loaded samples are not assigned to a split, e.g. %s", spec.File, len(unassigned), strings.Join(unassigned[:min(5, len(unassigned))], ", "))
		}
	}
	out := &Splits{}
	for _, s := range samples {
		switch assign[s.ID] {
		case "train":
			out.Train = append(out.Train, s.ID)
		case "val":
			out.Val = append(out.Val, s.ID)
		case "test":
			out.Test = append(out.Test, s.ID)
		}
	}
	out.Criterion = fmt.Sprintf("%s: train %d, validation %d, test %d.", crit, len(out.Train), len(out.Val), len(out.Test))
	return out, nil
}

// readSplitFile reads a splits.json ({"train": [ids], "val": [...],
// "test": [...]}) or CSV lines "id,split" (an optional header row
// "id,split" is skipped).
func readSplitFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("split.file: %w", err)
	}
	assign := map[string]string{}
	put := func(id, part, where string) error {
		p, ok := partName(part)
		if !ok {
			return fmt.Errorf("split.file %s%s: split %q, expected train, val or test", path, where, part)
		}
		if prev, dup := assign[id]; dup && prev != p {
			return fmt.Errorf("split.file %s%s: id %q is in both %s and %s", path, where, id, prev, p)
		}
		assign[id] = p
		return nil
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		var js map[string]json.RawMessage
		if err := json.Unmarshal(b, &js); err != nil {
			return nil, fmt.Errorf("split.file %s: %w", path, err)
		}
		for _, part := range []string{"train", "val", "test"} {
			raw, ok := js[part]
			if !ok {
				continue
			}
			var list []string
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, fmt.Errorf("split.file %s: key %q: expected a list of ids: %w", path, part, err)
			}
			for _, id := range list {
				if err := put(id, part, ""); err != nil {
					return nil, err
				}
			}
		}
		return assign, nil
	}
	r := csv.NewReader(strings.NewReader(string(b)))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("split.file %s: %w", path, err)
	}
	for i, row := range rows {
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue
		}
		if len(row) < 2 {
			return nil, fmt.Errorf("split.file %s row %d: expected \"id,split\", got %q", path, i+1, strings.Join(row, ","))
		}
		if i == 0 && strings.EqualFold(strings.TrimSpace(row[0]), "id") {
			continue
		}
		if err := put(strings.TrimSpace(row[0]), row[1], fmt.Sprintf(" row %d", i+1)); err != nil {
			return nil, err
		}
	}
	return assign, nil
}
