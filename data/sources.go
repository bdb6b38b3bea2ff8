package data

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"weak"
)

// SourceSpec configures one data source of an experiment
// (`data.sources[]`): a name unique in the run, a registered format, the
// root folder (or manifest file for the csv format) relative to the config
// file's folder, an optional release part, and format parameters.
type SourceSpec struct {
	Name   string         `yaml:"name" json:"name"`
	Format string         `yaml:"format" json:"format"`
	Root   string         `yaml:"root,omitempty" json:"root,omitempty"`
	Subset string         `yaml:"subset,omitempty" json:"subset,omitempty"`
	Params map[string]any `yaml:"params,omitempty" json:"params,omitempty"`
}

// SourceReport describes what a source loaded: counts per annotation kind,
// sizes and devices, the mask rule in words, notes, and any problems found
// while pairing files (LoadSource fails when Problems is not empty).
type SourceReport struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	// Root is the resolved root path.
	Root   string `json:"root"`
	Subset string `json:"subset,omitempty"`
	// Sentence is DescribeSource's sentence for the report.
	Sentence string `json:"sentence"`
	// MaskRule says how masks were decoded ("" when the source has none).
	MaskRule     string         `json:"mask_rule,omitempty"`
	Images       int            `json:"images"`
	Glaucoma     int            `json:"glaucoma"`
	Normal       int            `json:"normal"`
	UnknownLabel int            `json:"unknown_label"`
	WithMask     int            `json:"with_mask"`
	WithFovea    int            `json:"with_fovea"`
	WithDisc     int            `json:"with_disc"`
	Sizes        map[string]int `json:"sizes"`
	Devices      map[string]int `json:"devices"`
	Notes        []string       `json:"notes,omitempty"`
	Problems     []Problem      `json:"problems,omitempty"`
}

// sourceFormat is one registered reader.
type sourceFormat struct {
	// params are the known parameter keys.
	params []string
	// summary is the reader's sentence body (what it reads and how).
	summary func(spec SourceSpec) string
	// load fills l.samples, l.problems and l.decoders.
	load func(l *srcLoader) error
	// noRoot is true for generated sources.
	noRoot bool
}

var sourceFormats map[string]*sourceFormat

func init() {
	sourceFormats = map[string]*sourceFormat{
		"rimone-dl":  rimoneFormat,
		"fundus-dg":  fundusDGFormat,
		"idrid":      idridFormat,
		"csv":        csvFormat,
		"refuge2018": refuge2018Format,
		"refuge2":    refuge2Format,
		"synthetic":  syntheticFormat,
	}
	fileLoader = loadSampleFiles
}

// KnownFormats lists the registered source formats, sorted.
func KnownFormats() []string {
	out := make([]string, 0, len(sourceFormats))
	for k := range sourceFormats {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DescribeSource returns one sentence describing the source with its
// resolved parameters, used verbatim by the report. An invalid spec yields a
// sentence saying so.
func DescribeSource(spec SourceSpec) string {
	f, ok := sourceFormats[spec.Format]
	if !ok {
		return fmt.Sprintf("Source %q has the unknown format %q.", spec.Name, spec.Format)
	}
	head := fmt.Sprintf("Source %q (format %s", spec.Name, spec.Format)
	if spec.Subset != "" {
		head += ", subset " + spec.Subset
	}
	if !f.noRoot {
		head += ", root " + spec.Root
	}
	head += ")"
	return head + ": " + f.summary(spec)
}

// srcLoader is the state of one LoadSource call.
type srcLoader struct {
	spec     SourceSpec
	root     string
	rootSeed uint64
	p        *srcParams
	samples  []*Sample
	problems []Problem
	// decoders holds the samples whose mask is not a single REFUGE-coded
	// file (attached once loading is done).
	decoders map[*Sample]maskDecoder
	notes    []string
	maskRule string
}

func (l *srcLoader) problem(file string, row int, what, expected string) {
	l.problems = append(l.problems, Problem{File: file, Row: row, What: what, Expected: expected})
}

// newSample builds a file-backed sample, reading the image size from the
// header only. An unreadable header is a problem and yields nil.
func (l *srcLoader) newSample(stem, imgPath string) *Sample {
	w, h, err := ImageSize(imgPath)
	if err != nil {
		l.problem(imgPath, 0, "image header unreadable: "+err.Error(), "a readable PNG, JPEG or BMP image")
		return nil
	}
	return &Sample{
		ID: l.spec.Name + "/" + stem, Stem: stem, Name: filepath.Base(imgPath),
		Source: l.spec.Name, Format: l.spec.Format, ImagePath: imgPath,
		W: w, H: h, Label: -1,
	}
}

// setMask attaches a mask file after a header-only size check; a size
// mismatch or unreadable header is a problem naming both files and sizes.
func (l *srcLoader) setMask(s *Sample, maskPath string) {
	s.MaskPath = maskPath
	s.HasMask = true
	w, h, err := ImageSize(maskPath)
	if err != nil {
		l.problem(maskPath, 0, "mask header unreadable: "+err.Error(), "a lossless PNG or BMP mask")
		return
	}
	if w != s.W || h != s.H {
		l.problem(maskPath, 0, fmt.Sprintf("mask is %dx%d but its image %s is %dx%d", w, h, s.ImagePath, s.W, s.H),
			"the mask to have the size of its image")
	}
}

// walkFile is one regular file found under a root.
type walkFile struct {
	path string   // full path
	rel  string   // path relative to the walked root, slash-separated
	dirs []string // folder names of rel, shallowest first
	stem string   // base name without extension
	ext  string   // extension, lower case, with the dot
}

// key is the case-insensitive stem used for pairing files.
func (f walkFile) key() string { return strings.ToLower(f.stem) }

// walkTree lists the regular files under root in lexical order, skipping
// hidden entries (".*", including macOS "._x" resource forks) and
// "__MACOSX" folders that zip tools add. Symbolic links are followed (a
// dataset folder is often a link), with each real folder walked once.
func walkTree(root string) ([]walkFile, error) {
	var out []walkFile
	seen := map[string]bool{}
	if err := walkInto(root, "", seen, &out); err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	return out, nil
}

// walkInto walks dir, whose path relative to the walk's root is prefix.
func walkInto(dir, prefix string, seen map[string]bool, out *[]walkFile) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if seen[real] {
		return nil
	}
	seen[real] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		if strings.HasPrefix(name, ".") || name == "__MACOSX" {
			continue
		}
		path := filepath.Join(dir, name)
		rel := name
		if prefix != "" {
			rel = prefix + "/" + name
		}
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			st, err := os.Stat(path)
			if err != nil {
				continue // dangling link
			}
			isDir = st.IsDir()
			if !isDir && !st.Mode().IsRegular() {
				continue
			}
		} else if !isDir && !e.Type().IsRegular() {
			continue
		}
		if isDir {
			if err := walkInto(path, rel, seen, out); err != nil {
				return err
			}
			continue
		}
		parts := strings.Split(rel, "/")
		ext := filepath.Ext(name)
		*out = append(*out, walkFile{path: path, rel: rel, dirs: parts[:len(parts)-1],
			stem: strings.TrimSuffix(name, ext), ext: strings.ToLower(ext)})
	}
	return nil
}

// sameBytes tells whether two files have identical contents.
func sameBytes(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil || sa.Size() != sb.Size() {
		return false
	}
	h := func(p string) []byte {
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		s := sha256.New()
		if _, err := io.Copy(s, f); err != nil {
			return nil
		}
		return s.Sum(nil)
	}
	ha, hb := h(a), h(b)
	return ha != nil && bytes.Equal(ha, hb)
}

// uniqueByStem groups files by case-insensitive stem. Identical copies (a
// doubled folder) collapse to the first path with a note; different files
// sharing a stem are a problem (the pairing would be ambiguous) and the stem
// is dropped.
func (l *srcLoader) uniqueByStem(files []walkFile, what string) map[string]walkFile {
	groups := map[string][]walkFile{}
	var order []string
	for _, f := range files {
		k := f.key()
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], f)
	}
	out := map[string]walkFile{}
	for _, k := range order {
		g := groups[k]
		if len(g) == 1 {
			out[k] = g[0]
			continue
		}
		identical := true
		for _, f := range g[1:] {
			if !sameBytes(g[0].path, f.path) {
				identical = false
			}
		}
		paths := make([]string, len(g))
		for i, f := range g {
			paths[i] = f.rel
		}
		if identical {
			out[k] = g[0]
			l.notes = append(l.notes, fmt.Sprintf("%d identical copies of %s %q (%s): using %s", len(g), what, g[0].stem, strings.Join(paths, ", "), g[0].rel))
			continue
		}
		l.problem(g[0].path, 0, fmt.Sprintf("%d different %s files share the stem %q: %s", len(g), what, g[0].stem, strings.Join(paths, ", ")),
			"one file per stem (stems are matched case-insensitively)")
	}
	return out
}

// resolveRoot joins a relative root to baseDir and checks it exists.
func resolveRoot(spec SourceSpec, baseDir string) (string, error) {
	if spec.Root == "" {
		return "", fmt.Errorf("source %q (format %s): root is empty; expected the dataset folder (or manifest file) relative to the config file", spec.Name, spec.Format)
	}
	root := spec.Root
	if !filepath.IsAbs(root) {
		root = filepath.Join(baseDir, root)
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	if _, err := os.Stat(root); err != nil {
		return "", fmt.Errorf("source %q (format %s): root %s does not exist (root %q relative to %s): %v", spec.Name, spec.Format, root, spec.Root, baseDir, err)
	}
	return root, nil
}

// LoadSource reads one source into samples (sorted by ID) and a report.
// Relative roots are resolved against baseDir (the config file's folder);
// rootSeed seeds generated sources. A bad spec (unknown format or
// parameter, missing root) is an error naming it. Pairing problems (images
// without their masks, label rows naming missing images, different files
// sharing a stem, mask and image sizes that differ, an empty source) are all
// collected: LoadSource then returns nil samples, the report with every
// problem in Problems, and a *ProblemsError. Files are always paired by
// stem, case-insensitively, never by position.
func LoadSource(spec SourceSpec, baseDir string, rootSeed uint64) ([]*Sample, *SourceReport, error) {
	samples, rep, err := loadSource(spec, baseDir, rootSeed)
	if err != nil {
		return nil, rep, err
	}
	if len(rep.Problems) > 0 {
		return nil, rep, &ProblemsError{Context: fmt.Sprintf("source %q (format %s, root %s)", spec.Name, spec.Format, rep.Root), Problems: rep.Problems}
	}
	return samples, rep, nil
}

// LoadSourceProblems is LoadSource without failing on pairing problems: it
// returns every sample that could be built (an image whose mask is missing
// comes back without a mask) and the report with every problem in
// Problems; err is reserved for specs that cannot be read at all (unknown
// format or parameter, missing root). For `data check`, and for runs that
// opt into dropping problem samples: a problem whose File is a sample's
// image or mask file concerns that sample.
func LoadSourceProblems(spec SourceSpec, baseDir string, rootSeed uint64) ([]*Sample, *SourceReport, error) {
	return loadSource(spec, baseDir, rootSeed)
}

// loadSource returns the samples that could be built together with every
// problem found; err is reserved for specs that cannot be read at all.
func loadSource(spec SourceSpec, baseDir string, rootSeed uint64) ([]*Sample, *SourceReport, error) {
	f, ok := sourceFormats[spec.Format]
	if !ok {
		return nil, nil, fmt.Errorf("source %q: %w", spec.Name, UnknownNameError("source format", spec.Format, KnownFormats()))
	}
	if spec.Name == "" {
		return nil, nil, fmt.Errorf("source with format %s: name is empty; every source needs a name unique in the run (sample IDs are \"<name>/<stem>\")", spec.Format)
	}
	if strings.ContainsAny(spec.Name, "/\\") {
		return nil, nil, fmt.Errorf("source %q: name must not contain '/' or '\\' (sample IDs are \"<name>/<stem>\")", spec.Name)
	}
	p, err := newSrcParams(spec.Format, spec.Params, f.params)
	if err != nil {
		return nil, nil, fmt.Errorf("source %q: %w", spec.Name, err)
	}
	l := &srcLoader{spec: spec, p: p, rootSeed: rootSeed, decoders: map[*Sample]maskDecoder{}}
	if !f.noRoot {
		if l.root, err = resolveRoot(spec, baseDir); err != nil {
			return nil, nil, err
		}
	}
	rep := &SourceReport{Name: spec.Name, Format: spec.Format, Root: l.root, Subset: spec.Subset,
		Sentence: DescribeSource(spec), Sizes: map[string]int{}, Devices: map[string]int{}}
	if err := f.load(l); err != nil {
		return nil, rep, fmt.Errorf("source %q (format %s): %w", spec.Name, spec.Format, err)
	}
	sort.Slice(l.samples, func(i, j int) bool { return l.samples[i].ID < l.samples[j].ID })
	for i := 1; i < len(l.samples); i++ {
		if l.samples[i].ID == l.samples[i-1].ID {
			l.problem(l.samples[i].ImagePath, 0, fmt.Sprintf("duplicate sample id %q (also %s)", l.samples[i].ID, l.samples[i-1].ImagePath), "unique image stems within a source")
		}
	}
	if len(l.samples) == 0 && len(l.problems) == 0 {
		where := l.root
		if where == "" {
			where = spec.Name
		}
		l.problem(where, 0, fmt.Sprintf("source %q is empty: no images found", spec.Name), "at least one image in the layout of format "+spec.Format)
	}
	for _, s := range l.samples {
		if d, ok := l.decoders[s]; ok {
			attachDecoder(s, d)
		}
	}
	sortProblems(l.problems)
	sort.Strings(l.notes)
	rep.MaskRule = l.maskRule
	rep.Notes = l.notes
	rep.Problems = l.problems
	for _, s := range l.samples {
		rep.count(s)
	}
	return l.samples, rep, nil
}

// count adds one sample to the report's counts.
func (r *SourceReport) count(s *Sample) {
	r.Images++
	switch s.Label {
	case 1:
		r.Glaucoma++
	case 0:
		r.Normal++
	default:
		r.UnknownLabel++
	}
	if s.HasMask {
		r.WithMask++
	}
	if s.Fovea != nil {
		r.WithFovea++
	}
	if s.DiscCenter != nil {
		r.WithDisc++
	}
	r.Sizes[fmt.Sprintf("%dx%d", s.W, s.H)]++
	dev := s.Device
	if dev == "" {
		dev = "unknown"
	}
	r.Devices[dev]++
}

// maskDecoder is how a mask that is not a single REFUGE-coded file is
// decoded: a binary rule, with the cup file of a disc/cup pair.
type maskDecoder struct {
	rule    MaskRule
	cupPath string
}

// sampleMasks maps a *Sample whose mask is not a single REFUGE-coded file
// to its decoder. Sample (types.go) has no field for the mask rule, so the
// readers keep it here, keyed by the sample pointer: no global conflicts
// when the same files are loaded twice under different rules. Loading is
// also robust to copies of the Sample value: such samples get an in-memory
// loader (SetLoader) that captures the decoder, so (*Sample).Load and Check
// decode a copy correctly too; only MaskRuleOf and SampleFiles need the
// original pointer.
// Keys are weak pointers, and an entry is removed when its sample is
// garbage-collected, so the map never keeps samples alive.
var sampleMasks sync.Map // weak.Pointer[Sample] -> maskDecoder

// attachDecoder records a non-REFUGE mask decoding for s.
func attachDecoder(s *Sample, d maskDecoder) {
	k := weak.Make(s)
	sampleMasks.Store(k, d)
	runtime.AddCleanup(s, func(k weak.Pointer[Sample]) { sampleMasks.Delete(k) }, k)
	img, disc := s.ImagePath, s.MaskPath
	s.SetLoader(func() (*Image, *Mask, error) {
		return loadFilesWith(s.ID, img, disc, d)
	})
}

// MaskRuleOf returns the rule under which the sample's mask is decoded and,
// for binary disc/cup pairs (RIM-ONE), the cup file ("" otherwise).
// REFUGE-coded samples, and samples without a mask, get RefugeRule.
func MaskRuleOf(s *Sample) (MaskRule, string) {
	if d, ok := sampleMasks.Load(weak.Make(s)); ok {
		d := d.(maskDecoder)
		return d.rule, d.cupPath
	}
	return RefugeRule, ""
}

// SampleFiles lists every file the sample is read from: the image, the mask
// and, for disc/cup pairs, the cup file. Use it to hash a sample's inputs
// (cache keys, the manifest). In-memory samples have none.
func SampleFiles(s *Sample) []string {
	var out []string
	for _, f := range []string{s.ImagePath, s.MaskPath} {
		if f != "" {
			out = append(out, f)
		}
	}
	if _, cup := MaskRuleOf(s); cup != "" {
		out = append(out, cup)
	}
	return out
}

// readMaskWith reads a mask file (or disc/cup pair) with a decoder.
func readMaskWith(path string, d maskDecoder) (*Mask, error) {
	if d.cupPath != "" {
		return ReadBinaryPair(path, d.cupPath, d.rule)
	}
	return ReadMask(path, d.rule)
}

// readSampleMask reads a file-backed sample's mask with its rule.
func readSampleMask(s *Sample) (*Mask, error) {
	rule, cup := MaskRuleOf(s)
	return readMaskWith(s.MaskPath, maskDecoder{rule: rule, cupPath: cup})
}

// loadSampleFiles is the package's file loader behind (*Sample).Load for
// samples without an in-memory loader: the image with ReadImage and, when
// HasMask, the mask with the strict REFUGE codec.
func loadSampleFiles(s *Sample) (*Image, *Mask, error) {
	if s.ImagePath == "" {
		return nil, nil, fmt.Errorf("load sample %q: no image path and no in-memory loader", s.ID)
	}
	if s.HasMask && s.MaskPath == "" {
		return nil, nil, fmt.Errorf("load sample %q: HasMask is set but MaskPath is empty", s.ID)
	}
	mask := ""
	if s.HasMask {
		mask = s.MaskPath
	}
	rule, cup := MaskRuleOf(s)
	return loadFilesWith(s.ID, s.ImagePath, mask, maskDecoder{rule: rule, cupPath: cup})
}

// loadFilesWith reads an image and (when maskPath is set) its mask with a
// decoder; a mask whose size differs from the image is an error naming both
// files and sizes.
func loadFilesWith(id, imgPath, maskPath string, d maskDecoder) (*Image, *Mask, error) {
	img, err := ReadImage(imgPath)
	if err != nil {
		return nil, nil, fmt.Errorf("load sample %q: %w", id, err)
	}
	if maskPath == "" {
		return img, nil, nil
	}
	m, err := readMaskWith(maskPath, d)
	if err != nil {
		return nil, nil, fmt.Errorf("load sample %q: %w", id, err)
	}
	if m.W != img.W || m.H != img.H {
		return nil, nil, fmt.Errorf("load sample %q: mask %s is %dx%d but image %s is %dx%d; expected equal sizes", id, maskPath, m.W, m.H, imgPath, img.W, img.H)
	}
	return img, m, nil
}

// subsetName normalises a release part name: "train"/"training" ->
// "training", "val"/"valid"/"validation" -> "validation", "test" -> "test";
// "" and "all" -> "". ok is false for anything else.
func subsetName(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "all":
		return "", true
	case "train", "training":
		return "training", true
	case "val", "valid", "validation":
		return "validation", true
	case "test", "testing":
		return "test", true
	}
	return "", false
}

// imageFiles keeps the files with an image extension.
func imageFiles(files []walkFile) []walkFile {
	var out []walkFile
	for _, f := range files {
		if IsImageFile(f.path) {
			out = append(out, f)
		}
	}
	return out
}

// statPath is os.Stat (a seam for the helpers isDir and isFile).
func statPath(p string) (os.FileInfo, error) { return os.Stat(p) }

// subsetFromDirs is the release part named by the deepest folder called
// train/training, val/validation or test ("" when none).
func subsetFromDirs(dirs []string) string {
	part := ""
	for _, d := range dirs {
		if s, ok := subsetName(d); ok && s != "" {
			part = s
		}
	}
	return part
}

// dirHasToken tells whether a folder of f has a name token (letters only,
// lower case) starting with prefix: "Disc_Cup_Masks" has the token "masks",
// "unmasked" has none starting with "mask".
func (f walkFile) dirHasToken(prefix string) bool {
	for _, d := range f.dirs {
		for _, tok := range nameTokens(d) {
			if strings.HasPrefix(tok, prefix) {
				return true
			}
		}
	}
	return false
}

// nameTokens splits a folder name into lower-case runs of ASCII letters:
// "REFUGE-Validation400-GT" gives refuge, validation, gt.
func nameTokens(name string) []string {
	return strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r < 'a' || r > 'z' })
}
