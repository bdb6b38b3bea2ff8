package eval

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/png" // PNG masks; BMP is registered by package data's x/image/bmp import
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/refugelab/refugelab/data"
)

// ZipLimits bounds what ReadSubmission reads from a zip file. Sizes are
// counted on the bytes actually decompressed, never trusted from headers.
type ZipLimits struct {
	// MaxEntries is the most entries the archive may list.
	MaxEntries int
	// MaxFileBytes is the most decompressed bytes of one entry.
	MaxFileBytes int64
	// MaxTotalBytes is the most decompressed bytes read in all.
	MaxTotalBytes int64
}

// DefaultZipLimits allow 20,000 entries, 256 MiB per file and 8 GiB in all
// (400 uncompressed 2124×2056 BMP masks are 1.75 GB).
var DefaultZipLimits = ZipLimits{MaxEntries: 20000, MaxFileBytes: 256 << 20, MaxTotalBytes: 8 << 30}

// subFile is one file of a submission, read on demand.
type subFile struct {
	rel  string // slash-separated, relative to the submission root
	size int64  // declared size (zip) or stat size (dir)
	open func() ([]byte, error)
}

// ReadSubmission reads a submission folder or .zip file (files at the root:
// classification_results.csv, fovea_location_results.csv,
// segmentation/<stem>.bmp or .png) into predictions keyed by stem, plus the
// list of problems found. It reads as the official scorer does: the first
// CSV row is always skipped (a first row holding data is reported), only
// lowercase .bmp/.png masks are read (other cases are reported and
// ignored), and any mask value is kept (values outside {0,128,255} are
// reported by Score's strict check). Unparsable rows, duplicate names and
// undecodable masks are reported and skipped. A zip is read without
// extracting: entries with unsafe names (absolute, "..", backslashes) are
// reported and never read, and sizes are bounded by DefaultZipLimits. The
// error is reserved for a submission that cannot be read at all.
func ReadSubmission(dirOrZip string) (*Predictions, []Problem, error) {
	return ReadSubmissionLimits(dirOrZip, DefaultZipLimits)
}

// ReadSubmissionLimits is ReadSubmission with explicit zip limits.
func ReadSubmissionLimits(dirOrZip string, lim ZipLimits) (*Predictions, []Problem, error) {
	st, err := os.Stat(dirOrZip)
	if err != nil {
		return nil, nil, fmt.Errorf("read submission: %w", err)
	}
	var files []subFile
	var probs []Problem
	if st.IsDir() {
		files, err = dirFiles(dirOrZip)
	} else {
		var closer io.Closer
		files, probs, closer, err = zipFiles(dirOrZip, lim)
		if closer != nil {
			defer closer.Close()
		}
	}
	if err != nil {
		return nil, probs, err
	}
	files, probs = rootOf(dirOrZip, files, probs)
	pred := &Predictions{}
	byRel := map[string]subFile{}
	for _, f := range files {
		byRel[f.rel] = f
	}
	if f, ok := byRel[ClassificationFile]; ok {
		rows, ps, err := readCSVRows(f, 2)
		probs = append(probs, ps...)
		if err != nil {
			return nil, probs, err
		}
		pred.Class = map[string]float64{}
		for _, r := range rows {
			v, err := strconv.ParseFloat(strings.TrimSpace(r.cells[1]), 64)
			if err != nil || !finite(v) {
				probs = append(probs, Problem{Task: "classification", File: f.rel, Row: r.row, Name: r.cells[0], Kind: "unparsable",
					What: fmt.Sprintf("score %q is not a finite number", r.cells[1]), Expected: "a number"})
				continue
			}
			s := stemOf(r.cells[0])
			if _, dup := pred.Class[s]; dup {
				probs = append(probs, Problem{Task: "classification", File: f.rel, Row: r.row, Name: s, Kind: "duplicate", What: "second row for this image ignored", Expected: "one row per image"})
				continue
			}
			pred.Class[s] = v
		}
	}
	if f, ok := byRel[FoveaFile]; ok {
		rows, ps, err := readCSVRows(f, 3)
		probs = append(probs, ps...)
		if err != nil {
			return nil, probs, err
		}
		pred.Fovea = map[string]data.Point{}
		for _, r := range rows {
			x, ex := strconv.ParseFloat(strings.TrimSpace(r.cells[1]), 64)
			y, ey := strconv.ParseFloat(strings.TrimSpace(r.cells[2]), 64)
			if ex != nil || ey != nil || !finite(x) || !finite(y) {
				probs = append(probs, Problem{Task: "fovea", File: f.rel, Row: r.row, Name: r.cells[0], Kind: "unparsable",
					What: fmt.Sprintf("coordinates (%q, %q) are not finite numbers", r.cells[1], r.cells[2]), Expected: "x,y in pixels"})
				continue
			}
			s := stemOf(r.cells[0])
			if _, dup := pred.Fovea[s]; dup {
				probs = append(probs, Problem{Task: "fovea", File: f.rel, Row: r.row, Name: s, Kind: "duplicate", What: "second row for this image ignored", Expected: "one row per image"})
				continue
			}
			pred.Fovea[s] = data.Point{X: x, Y: y}
		}
	}
	// Masks.
	var maskFiles []subFile
	for _, f := range files {
		dir, base := path.Split(f.rel)
		if dir != SegmentationDir+"/" || base == "" {
			continue
		}
		ext := path.Ext(base)
		switch {
		case ext == ".bmp" || ext == ".png":
			maskFiles = append(maskFiles, f)
		case strings.EqualFold(ext, ".bmp") || strings.EqualFold(ext, ".png"):
			probs = append(probs, Problem{Task: "segmentation", File: f.rel, Kind: "name-case",
				What: fmt.Sprintf("extension %q is ignored: the official scorer reads only lowercase .bmp/.png", ext), Expected: "a lowercase extension"})
		default:
			probs = append(probs, Problem{Task: "segmentation", File: f.rel, Kind: "extra",
				What: "not a .bmp/.png mask; ignored (JPEG masks are lossy and never accepted)", Expected: "lossless .bmp or .png masks"})
		}
	}
	if len(maskFiles) > 0 {
		masks := make([]*data.Mask, len(maskFiles))
		mprobs := make([][]Problem, len(maskFiles))
		parallelFor(len(maskFiles), func(i int) {
			masks[i], mprobs[i] = decodeSubmissionMask(maskFiles[i])
		})
		pred.Masks = map[string]*data.Mask{}
		for i, f := range maskFiles {
			probs = append(probs, mprobs[i]...)
			if masks[i] == nil {
				continue
			}
			s := stemOf(path.Base(f.rel))
			if _, dup := pred.Masks[s]; dup {
				probs = append(probs, Problem{Task: "segmentation", File: f.rel, Name: s, Kind: "duplicate", What: "a second mask for this image is ignored", Expected: "one mask per image"})
				continue
			}
			pred.Masks[s] = masks[i]
		}
	}
	if pred.Class == nil && pred.Fovea == nil && pred.Masks == nil {
		return nil, probs, fmt.Errorf("read submission %s: found none of %s, %s, %s/*.bmp|*.png at its root", dirOrZip, ClassificationFile, FoveaFile, SegmentationDir)
	}
	return pred, probs, nil
}

// stemOf strips a known image extension (any case) from a file name.
func stemOf(name string) string {
	name = strings.TrimSpace(name)
	ext := path.Ext(name)
	switch strings.ToLower(ext) {
	case ".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff":
		return strings.TrimSuffix(name, ext)
	}
	return name
}

// dirFiles lists the regular files of a submission folder (not following
// symbolic links out of it).
func dirFiles(dir string) ([]subFile, error) {
	var files []subFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, subFile{rel: filepath.ToSlash(rel), size: info.Size(), open: func() ([]byte, error) { return os.ReadFile(p) }})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read submission %s: %w", dir, err)
	}
	return files, nil
}

// safeZipName tells whether an entry name stays inside the archive root.
func safeZipName(n string) bool {
	if n == "" || strings.ContainsAny(n, "\\\x00") || strings.HasPrefix(n, "/") || (len(n) > 1 && n[1] == ':') {
		return false
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

// limitedTotal counts decompressed bytes across a zip's entries.
type limitedTotal struct {
	lim   ZipLimits
	mu    sync.Mutex
	total int64
}

func zipFiles(zipPath string, lim ZipLimits) ([]subFile, []Problem, io.Closer, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read submission %s: not a readable zip file: %w", zipPath, err)
	}
	if len(zr.File) > lim.MaxEntries {
		zr.Close()
		return nil, nil, nil, fmt.Errorf("read submission %s: %d entries, more than the limit of %d", zipPath, len(zr.File), lim.MaxEntries)
	}
	tot := &limitedTotal{lim: lim}
	var files []subFile
	var probs []Problem
	seen := map[string]bool{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			if !safeZipName(strings.TrimSuffix(f.Name, "/")) {
				probs = append(probs, Problem{Task: "submission", File: f.Name, Kind: "unsafe-path", What: "directory entry escapes the archive root; ignored", Expected: "relative names without .."})
			}
			continue
		}
		if !safeZipName(f.Name) {
			probs = append(probs, Problem{Task: "submission", File: f.Name, Kind: "unsafe-path", What: "entry name is absolute, contains .. or a backslash; never read", Expected: "relative names inside the archive"})
			continue
		}
		if !f.Mode().IsRegular() {
			probs = append(probs, Problem{Task: "submission", File: f.Name, Kind: "unsafe-path", What: "entry is not a regular file (link or device); ignored", Expected: "regular files"})
			continue
		}
		name := path.Clean(f.Name)
		if seen[name] {
			probs = append(probs, Problem{Task: "submission", File: f.Name, Kind: "duplicate", What: "the archive holds this name twice; the second is ignored", Expected: "unique names"})
			continue
		}
		seen[name] = true
		f := f
		files = append(files, subFile{rel: name, size: int64(f.UncompressedSize64), open: func() ([]byte, error) { return readZipEntry(f, tot, zipPath) }})
	}
	return files, probs, zr, nil
}

// readZipEntry decompresses one entry within the per-file and total limits.
func readZipEntry(f *zip.File, tot *limitedTotal, zipPath string) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", f.Name, zipPath, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, tot.lim.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", f.Name, zipPath, err)
	}
	if int64(len(b)) > tot.lim.MaxFileBytes {
		return nil, fmt.Errorf("%s in %s: decompresses to more than %d bytes (limit per file)", f.Name, zipPath, tot.lim.MaxFileBytes)
	}
	tot.mu.Lock()
	tot.total += int64(len(b))
	over := tot.total > tot.lim.MaxTotalBytes
	tot.mu.Unlock()
	if over {
		return nil, fmt.Errorf("%s in %s: the archive decompresses to more than %d bytes in all (limit)", f.Name, zipPath, tot.lim.MaxTotalBytes)
	}
	return b, nil
}

// rootOf accepts files at the root; when none of the expected names is at
// the root but all sit in one top-level folder, that folder is used and a
// problem recorded (the official layout has the files at the root).
func rootOf(where string, files []subFile, probs []Problem) ([]subFile, []Problem) {
	isSub := func(rel string) bool {
		return rel == ClassificationFile || rel == FoveaFile || strings.HasPrefix(rel, SegmentationDir+"/")
	}
	for _, f := range files {
		if isSub(f.rel) {
			return files, probs
		}
	}
	tops := map[string]bool{}
	for _, f := range files {
		if i := strings.Index(f.rel, "/"); i > 0 {
			tops[f.rel[:i]] = true
		} else {
			tops[""] = true
		}
	}
	if len(tops) != 1 || tops[""] {
		return files, probs
	}
	var top string
	for t := range tops {
		top = t
	}
	out := make([]subFile, 0, len(files))
	for _, f := range files {
		f.rel = strings.TrimPrefix(f.rel, top+"/")
		out = append(out, f)
	}
	probs = append(probs, Problem{Task: "submission", File: where, Kind: "layout",
		What: fmt.Sprintf("the files sit in the folder %q, not at the root", top), Expected: "files at the root of the submission"})
	return out, probs
}

type csvRow struct {
	row   int
	cells []string
}

// readCSVRows parses a submission CSV, skipping the first row as the
// official scorer does; rows with fewer than minCols cells are reported.
func readCSVRows(f subFile, minCols int) ([]csvRow, []Problem, error) {
	task := "classification"
	if f.rel == FoveaFile {
		task = "fovea"
	}
	b, err := f.open()
	if err != nil {
		return nil, nil, fmt.Errorf("read submission: %w", err)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var probs []Problem
	var rows []csvRow
	for n := 1; ; n++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				probs = append(probs, Problem{Task: task, File: f.rel, Row: pe.StartLine, Kind: "unparsable", What: pe.Err.Error(), Expected: "valid CSV"})
				continue
			}
			return nil, probs, fmt.Errorf("read submission %s: %w", f.rel, err)
		}
		if n == 1 {
			// The official scorer always skips the first row.
			if len(rec) >= 2 {
				if _, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64); err == nil {
					probs = append(probs, Problem{Task: task, File: f.rel, Row: line, Name: rec[0], Kind: "header",
						What: fmt.Sprintf("the first row %q holds data and is skipped by the official scorer", strings.Join(rec, ",")), Expected: "a header row"})
				}
			}
			continue
		}
		if len(rec) < minCols || strings.TrimSpace(rec[0]) == "" {
			probs = append(probs, Problem{Task: task, File: f.rel, Row: line, Kind: "unparsable",
				What: fmt.Sprintf("row %q has %d cells", strings.Join(rec, ","), len(rec)), Expected: fmt.Sprintf("a name and %d numbers", minCols-1)})
			continue
		}
		rows = append(rows, csvRow{row: line, cells: rec})
	}
	return rows, probs, nil
}

// decodeSubmissionMask decodes a mask leniently, as the official scorer
// reads it: one 8-bit channel (channel 0 of a colour file), any value. A
// colour file whose channels differ and a decoding failure are reported.
func decodeSubmissionMask(f subFile) (*data.Mask, []Problem) {
	b, err := f.open()
	if err != nil {
		return nil, []Problem{{Task: "segmentation", File: f.rel, Kind: "unparsable", What: err.Error(), Expected: "a readable file within the limits"}}
	}
	m, differ, err := DecodeMaskLenient(b)
	if err != nil {
		return nil, []Problem{{Task: "segmentation", File: f.rel, Kind: "unparsable", What: err.Error(), Expected: "an 8-bit .bmp or .png mask"}}
	}
	var probs []Problem
	if differ > 0 {
		probs = append(probs, Problem{Task: "segmentation", File: f.rel, Name: stemOf(path.Base(f.rel)), Kind: "values",
			What: fmt.Sprintf("colour mask whose channels differ at %d px; channel 0 is scored", differ), Expected: "a single-channel mask"})
	}
	return m, probs
}

// MaxMaskPixels bounds the size a compressed submitted mask may declare
// (a small PNG can declare a huge image): 2^27 px, e.g. 11585×11585.
const MaxMaskPixels = 1 << 27

// DecodeMaskLenient decodes a PNG or BMP mask into channel-0 values without
// checking them (the official scorer's leniency), and returns how many
// pixels have differing colour channels.
func DecodeMaskLenient(b []byte) (*data.Mask, int, error) {
	if m, differ, ok, err := decodeBMP8(b); ok {
		return m, differ, err
	}
	cfg, kind, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, 0, fmt.Errorf("cannot decode (%d bytes): %w", len(b), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxMaskPixels {
		return nil, 0, fmt.Errorf("%s header declares %dx%d pixels; more than the %d-pixel limit for a mask", kind, cfg.Width, cfg.Height, MaxMaskPixels)
	}
	img, kind, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, 0, fmt.Errorf("cannot decode (%d bytes): %w", len(b), err)
	}
	if kind != "png" && kind != "bmp" {
		return nil, 0, fmt.Errorf("%s file; expected a lossless .bmp or .png mask", kind)
	}
	bd := img.Bounds()
	w, h := bd.Dx(), bd.Dy()
	m := &data.Mask{W: w, H: h, Pix: make([]uint8, w*h)}
	differ := 0
	switch s := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			copy(m.Pix[y*w:(y+1)*w], s.Pix[y*s.Stride:y*s.Stride+w])
		}
	case *image.Paletted:
		var lut [256]uint8
		var bad [256]bool
		for i, c := range s.Palette {
			r, g, bb, _ := c.RGBA()
			lut[i] = uint8(r >> 8)
			bad[i] = r>>8 != g>>8 || r>>8 != bb>>8
		}
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride : y*s.Stride+w]
			for x, v := range row {
				m.Pix[y*w+x] = lut[v]
				if bad[v] {
					differ++
				}
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(bd.Min.X+x, bd.Min.Y+y)).(color.NRGBA)
				m.Pix[y*w+x] = c.R
				if c.R != c.G || c.R != c.B {
					differ++
				}
			}
		}
	}
	return m, differ, nil
}

// decodeBMP8 decodes an uncompressed 8-bit paletted BMP (the REFUGE mask
// storage) directly: one pass mapping palette indices to the palette's red
// channel. ok is false for any other kind of file (the caller falls back to
// the general decoders); err reports a damaged 8-bit BMP.
func decodeBMP8(b []byte) (m *data.Mask, differ int, ok bool, err error) {
	if len(b) < 54 || b[0] != 'B' || b[1] != 'M' {
		return nil, 0, false, nil
	}
	le := binary.LittleEndian
	off := int64(le.Uint32(b[10:]))
	dib := int64(le.Uint32(b[14:]))
	if dib < 40 || 14+dib > int64(len(b)) {
		return nil, 0, false, nil
	}
	w := int64(int32(le.Uint32(b[18:])))
	h := int64(int32(le.Uint32(b[22:])))
	bpp := le.Uint16(b[28:])
	comp := le.Uint32(b[30:])
	ncol := int64(le.Uint32(b[46:]))
	if bpp != 8 || comp != 0 {
		return nil, 0, false, nil
	}
	topDown := h < 0
	if topDown {
		h = -h
	}
	if ncol == 0 {
		ncol = 256
	}
	stride := (w + 3) &^ 3
	palOff := 14 + dib
	if w <= 0 || h <= 0 || w > 1<<16 || h > 1<<16 || ncol > 256 || palOff+4*ncol > off || off+stride*h > int64(len(b)) {
		return nil, 0, true, fmt.Errorf("damaged 8-bit BMP: %dx%d, %d colours, pixel data at %d, %d bytes", w, h, ncol, off, len(b))
	}
	var lut [256]uint8
	var bad, missing [256]bool
	for i := int64(0); i < 256; i++ {
		if i >= ncol {
			missing[i] = true
			continue
		}
		e := b[palOff+4*i : palOff+4*i+3] // blue, green, red
		lut[i] = e[2]
		bad[i] = e[0] != e[2] || e[1] != e[2]
	}
	identity := ncol == 256
	for i := 0; i < 256 && identity; i++ {
		identity = lut[i] == uint8(i) && !bad[i]
	}
	W, H := int(w), int(h)
	m = &data.Mask{W: W, H: H, Pix: make([]uint8, W*H)}
	for y := 0; y < H; y++ {
		src := y
		if !topDown {
			src = H - 1 - y
		}
		row := b[off+int64(src)*stride : off+int64(src)*stride+w]
		dst := m.Pix[y*W : (y+1)*W]
		if identity { // grey ramp palette (what REFUGE and package data write)
			copy(dst, row)
			continue
		}
		for x, v := range row {
			dst[x] = lut[v]
			if bad[v] {
				differ++
			}
			if missing[v] {
				return nil, 0, true, fmt.Errorf("damaged 8-bit BMP: pixel (%d, %d) uses colour index %d of a %d-colour palette", x, y, v, ncol)
			}
		}
	}
	return m, differ, true, nil
}

// ---- ground truth ----

// GTLayouts lists the ground-truth layouts ReadGroundTruth knows.
func GTLayouts() []string { return []string{"csv", "refuge2", "refuge2018"} }

// ReadGroundTruth reads ground truth keyed by image stem. Which reader is
// used follows from what dir holds:
//
//   - a dataset release with its fundus images (any .jpg/.jpeg file in the
//     tree), or a CSV manifest file for layout "csv": package data's source
//     reader of that format (data.LoadSource, format = layout, default
//     parameters; see ReadGroundTruthSource for others), exactly as training
//     reads it — labels from the sheets or class folders, fovea, masks with
//     their decoding rule. Its problems (e.g. an image without its mask) are
//     errors; nothing is dropped silently.
//   - a ground-truth folder without images (e.g. REFUGE-Validation400-GT
//     with the sheet exported as CSV): ReadGTFolder.
func ReadGroundTruth(dir, layout string) (*GroundTruth, error) {
	if !slices.Contains(GTLayouts(), layout) {
		return nil, fmt.Errorf("read ground truth %s: %w", dir, data.UnknownNameError("ground-truth layout", layout, GTLayouts()))
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("read ground truth: %w", err)
	}
	if !st.IsDir() {
		return ReadGroundTruthSource(data.SourceSpec{Name: "gt", Format: layout, Root: dir})
	}
	if hasFundusImages(dir) {
		root := dir
		if layout == "csv" { // the csv format's root is the manifest file
			ms, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
			if len(ms) != 1 {
				return nil, fmt.Errorf("read ground truth %s (layout csv): the folder holds images, so it is read through its CSV manifest, but %d .csv files sit at its top (%s); pass the manifest file itself", dir, len(ms), strings.Join(ms, ", "))
			}
			root = ms[0]
		}
		return ReadGroundTruthSource(data.SourceSpec{Name: "gt", Format: layout, Root: root})
	}
	return ReadGTFolder(dir, layout)
}

// hasFundusImages tells whether a tree holds .jpg/.jpeg files (REFUGE
// images are JPEG; masks never are).
func hasFundusImages(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found {
			return filepath.SkipAll
		}
		if ext := strings.ToLower(filepath.Ext(p)); !d.IsDir() && (ext == ".jpg" || ext == ".jpeg") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// ReadGroundTruthSource reads ground truth through package data's source
// reader (any registered format and parameters): labels of samples with a
// known label, fovea points, and masks (REFUGE-coded files through the
// strict codec; binary sources through their configured rule). Keys are the
// samples' stems; two samples with one stem are an error.
func ReadGroundTruthSource(spec data.SourceSpec) (*GroundTruth, error) {
	samples, _, err := data.LoadSource(spec, "", 0)
	if err != nil {
		return nil, fmt.Errorf("read ground truth: %w", err)
	}
	gt := &GroundTruth{Labels: map[string]int{}, Fovea: map[string]data.Point{}, Masks: map[string]*data.Mask{}}
	seen := map[string]string{}
	var withMask []*data.Sample
	for _, s := range samples {
		if old, ok := seen[s.Stem]; ok {
			return nil, fmt.Errorf("read ground truth: samples %s and %s share the stem %q; submissions are keyed by stem", old, s.ID, s.Stem)
		}
		seen[s.Stem] = s.ID
		if s.HasLabel() {
			gt.Labels[s.Stem] = s.Label
		}
		if s.Fovea != nil {
			gt.Fovea[s.Stem] = *s.Fovea
		}
		if s.HasMask {
			withMask = append(withMask, s)
		}
	}
	masks := make([]*data.Mask, len(withMask))
	errs := make([]error, len(withMask))
	parallelFor(len(withMask), func(i int) {
		s := withMask[i]
		switch rule, cup := data.MaskRuleOf(s); {
		case cup != "":
			masks[i], errs[i] = data.ReadBinaryPair(s.MaskPath, cup, rule)
		case rule == data.RefugeRule && s.MaskPath != "":
			masks[i], errs[i] = readGTMask(s.MaskPath)
		case s.MaskPath != "":
			masks[i], errs[i] = data.ReadMask(s.MaskPath, rule)
		default: // in-memory (synthetic) sample
			_, masks[i], errs[i] = s.Load()
		}
	})
	for i, s := range withMask {
		if errs[i] != nil {
			return nil, fmt.Errorf("read ground truth: %w", errs[i])
		}
		if masks[i] == nil {
			return nil, fmt.Errorf("read ground truth: sample %s has a mask but none was read", s.ID)
		}
		gt.Masks[s.Stem] = masks[i]
	}
	if len(gt.Labels)+len(gt.Fovea)+len(gt.Masks) == 0 {
		return nil, fmt.Errorf("read ground truth %s (format %s): the samples carry no label, fovea or mask", spec.Root, spec.Format)
	}
	return gt, nil
}

// ReadGTFolder reads a ground-truth folder without fundus images:
//
//   - masks: every mask file of the layout (refuge2018: .bmp; refuge2: .png;
//     csv: .bmp or .png), any extension case, found by walking the tree; when
//     some folder name contains "mask", only files below such folders count
//     (so fundus images stored as PNG are not taken for masks). Masks are read
//     with the strict REFUGE codec (data.ReadMask).
//   - labels: from the folder names Glaucoma / Non-Glaucoma above a mask
//     (REFUGE 2018 training) and from CSV tables with a name column
//     (ImgName, FileName, ImageName, Name, Image) and a label column
//     (Glaucoma Label, Label, Glaucoma, Glaucoma Risk with 0/1 values);
//   - fovea: from CSV tables with Fovea_X and Fovea_Y columns.
//
// Columns are picked by header name (case, spaces and underscores ignored).
// Two files with one stem, or conflicting values for one image, are errors
// naming both. Tables may be CSV or .xlsx (first sheet); legacy .xls
// workbooks are refused with a message saying so.
func ReadGTFolder(dir, layout string) (*GroundTruth, error) {
	var exts []string
	switch layout {
	case "refuge2018":
		exts = []string{".bmp"}
	case "refuge2":
		exts = []string{".png"}
	case "csv":
		exts = []string{".bmp", ".png"}
	default:
		return nil, fmt.Errorf("read ground truth %s: %w", dir, data.UnknownNameError("ground-truth layout", layout, GTLayouts()))
	}
	var maskPaths, tables, sheets []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		ext := strings.ToLower(filepath.Ext(p))
		switch {
		case ext == ".csv":
			tables = append(tables, p)
		case ext == ".xlsx":
			tables = append(tables, p)
		case ext == ".xls":
			sheets = append(sheets, p)
		default:
			for _, e := range exts {
				if ext == e {
					maskPaths = append(maskPaths, p)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read ground truth: %w", err)
	}
	inMaskDir := func(p string) bool {
		rel, _ := filepath.Rel(dir, filepath.Dir(p))
		for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
			if strings.Contains(strings.ToLower(part), "mask") {
				return true
			}
		}
		return false
	}
	anyMaskDir := false
	for _, p := range maskPaths {
		anyMaskDir = anyMaskDir || inMaskDir(p)
	}
	if anyMaskDir {
		kept := maskPaths[:0]
		for _, p := range maskPaths {
			if inMaskDir(p) {
				kept = append(kept, p)
			}
		}
		maskPaths = kept
	}
	sort.Strings(maskPaths)
	gt := &GroundTruth{Labels: map[string]int{}, Fovea: map[string]data.Point{}, Masks: map[string]*data.Mask{}}
	byStem := map[string]string{}
	for _, p := range maskPaths {
		s := stemOf(filepath.Base(p))
		if old, ok := byStem[strings.ToLower(s)]; ok {
			return nil, fmt.Errorf("read ground truth: two masks share the stem %q: %s and %s", s, old, p)
		}
		byStem[strings.ToLower(s)] = p
	}
	masks := make([]*data.Mask, len(maskPaths))
	errs := make([]error, len(maskPaths))
	parallelFor(len(maskPaths), func(i int) {
		masks[i], errs[i] = readGTMask(maskPaths[i])
	})
	labelSrc := map[string]string{}
	setLabel := func(stem string, l int, src string) error {
		if old, ok := gt.Labels[stem]; ok && old != l {
			return fmt.Errorf("read ground truth: image %s has label %d in %s but %d in %s", stem, old, labelSrc[stem], l, src)
		}
		gt.Labels[stem] = l
		labelSrc[stem] = src
		return nil
	}
	for i, p := range maskPaths {
		if errs[i] != nil {
			return nil, fmt.Errorf("read ground truth: %w", errs[i])
		}
		s := stemOf(filepath.Base(p))
		gt.Masks[s] = masks[i]
		rel, _ := filepath.Rel(dir, filepath.Dir(p))
		for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
			switch strings.ToLower(part) {
			case "glaucoma":
				if err := setLabel(s, 1, "folder "+filepath.Dir(p)); err != nil {
					return nil, err
				}
			case "non-glaucoma":
				if err := setLabel(s, 0, "folder "+filepath.Dir(p)); err != nil {
					return nil, err
				}
			}
		}
	}
	sort.Strings(tables)
	usedTable := false
	for _, t := range tables {
		used, err := readGTTable(t, gt, setLabel)
		if err != nil {
			return nil, err
		}
		usedTable = usedTable || used
	}
	if len(sheets) > 0 && !usedTable {
		return nil, fmt.Errorf("read ground truth %s: label/fovea sheets %s are legacy .xls workbooks, which this reader does not parse; save them as .xlsx or CSV (columns by name: ImgName, Glaucoma Label, Fovea_X, Fovea_Y)", dir, strings.Join(sheets, ", "))
	}
	if len(gt.Masks) == 0 && len(gt.Labels) == 0 && len(gt.Fovea) == 0 {
		return nil, fmt.Errorf("read ground truth %s (layout %s): no masks (%s) and no label or fovea table found", dir, layout, strings.Join(exts, ", "))
	}
	return gt, nil
}

// readGTMask reads a ground-truth mask with the strict REFUGE codec of
// package data. An 8-bit BMP that the codec certainly accepts (uncompressed,
// grey palette, values only 0/128/255) is decoded directly in one pass,
// which is several times faster on 2124×2056 masks and gives the same
// values; every other file, and every failure, goes through data.ReadMask,
// whose errors name the file and what is wrong.
func readGTMask(p string) (*data.Mask, error) {
	if strings.ToLower(filepath.Ext(p)) == ".bmp" {
		if b, err := os.ReadFile(p); err == nil && len(b) >= 18 {
			dib := binary.LittleEndian.Uint32(b[14:])
			if dib == 40 || dib == 108 || dib == 124 {
				if m, differ, ok, err := decodeBMP8(b); ok && err == nil && differ == 0 && strayValues(m) == "" {
					return m, nil
				}
			}
		}
	}
	return data.ReadMask(p, data.RefugeRule)
}

// normCol normalises a header cell: lower case without spaces, underscores
// and hyphens.
func normCol(s string) string {
	s = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(s, "\ufeff")))
	return strings.NewReplacer(" ", "", "_", "", "-", "").Replace(s)
}

// readGTTable reads labels and fovea points from one CSV table with a
// header; tables without a recognised name column are skipped (false).
func readGTTable(p string, gt *GroundTruth, setLabel func(string, int, string) error) (bool, error) {
	var recs [][]string
	if strings.EqualFold(filepath.Ext(p), ".xlsx") {
		h, rows, err := data.ReadSheet(p)
		if err != nil {
			return false, fmt.Errorf("read ground truth table: %w", err)
		}
		recs = append([][]string{h}, rows...)
	} else {
		b, err := os.ReadFile(p)
		if err != nil {
			return false, fmt.Errorf("read ground truth: %w", err)
		}
		r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))))
		r.FieldsPerRecord = -1
		r.TrimLeadingSpace = true
		if recs, err = r.ReadAll(); err != nil {
			return false, fmt.Errorf("read ground truth table %s: %w", p, err)
		}
	}
	if len(recs) == 0 {
		return false, nil
	}
	col := func(names ...string) int {
		for _, n := range names {
			for i, h := range recs[0] {
				if normCol(h) == n {
					return i
				}
			}
		}
		return -1
	}
	ni := col("imgname", "filename", "imagename", "name", "image")
	li := col("glaucomalabel", "label", "glaucoma", "glaucomarisk")
	xi, yi := col("foveax"), col("foveay")
	if ni < 0 || (li < 0 && (xi < 0 || yi < 0)) {
		return false, nil
	}
	for k, rec := range recs[1:] {
		row := k + 2
		cell := func(i int) string {
			if i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		name := cell(ni)
		if name == "" {
			continue
		}
		s := stemOf(name)
		if li >= 0 && cell(li) != "" {
			l, err := strconv.Atoi(cell(li))
			if err != nil || (l != 0 && l != 1) {
				return false, fmt.Errorf("read ground truth table %s row %d: label %q of %s; expected 0 or 1", p, row, cell(li), name)
			}
			if err := setLabel(s, l, fmt.Sprintf("%s row %d", p, row)); err != nil {
				return false, err
			}
		}
		if xi >= 0 && yi >= 0 && (cell(xi) != "" || cell(yi) != "") {
			x, ex := strconv.ParseFloat(cell(xi), 64)
			y, ey := strconv.ParseFloat(cell(yi), 64)
			if ex != nil || ey != nil || !finite(x) || !finite(y) {
				return false, fmt.Errorf("read ground truth table %s row %d: fovea (%q, %q) of %s; expected two numbers", p, row, cell(xi), cell(yi), name)
			}
			pt := data.Point{X: x, Y: y}
			if old, ok := gt.Fovea[s]; ok && old != pt {
				return false, fmt.Errorf("read ground truth table %s row %d: fovea of %s is %v here but %v in an earlier row or table", p, row, name, pt, old)
			}
			gt.Fovea[s] = pt
		}
	}
	return true, nil
}

// Evaluate reads a submission (folder or zip) and a ground-truth folder and
// scores it. In strict mode the problems found while reading the submission
// join Score's strict check in the returned *StrictError; in official mode
// they are appended to TaskMetrics.Problems.
func Evaluate(submission, gtDir, layout string, opt ScoreOptions) (*TaskMetrics, error) {
	gt, err := ReadGroundTruth(gtDir, layout)
	if err != nil {
		return nil, err
	}
	pred, readProbs, err := ReadSubmission(submission)
	if err != nil {
		if opt.Strict && len(readProbs) > 0 {
			return nil, &StrictError{Problems: readProbs}
		}
		return nil, err
	}
	tm, err := Score(pred, gt, opt)
	if errors.Is(err, ErrSingleClass) {
		// AUC is undefined: score the other tasks and say why classification
		// has no block, rather than failing the whole evaluation.
		why := err.Error()
		gt.Labels = nil
		tm, err = Score(pred, gt, opt)
		if tm != nil {
			tm.Problems = append(tm.Problems, Problem{Task: "classification", Kind: "undefined", What: "classification not scored: " + why})
		}
	}
	var se *StrictError
	if opt.Strict && (len(readProbs) > 0 || errors.As(err, &se)) {
		all := append([]Problem(nil), readProbs...)
		if se != nil {
			all = append(all, se.Problems...)
		} else if err != nil {
			all = append(all, Problem{Task: "submission", Kind: "error", What: err.Error()})
		}
		if tm != nil {
			tm.Problems = all
		}
		return tm, &StrictError{Problems: all}
	}
	if err != nil {
		return tm, err
	}
	tm.Problems = append(readProbs, tm.Problems...)
	return tm, nil
}
