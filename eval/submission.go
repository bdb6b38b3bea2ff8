package eval

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/refugelab/refugelab/data"
)

// Submission file names and headers (DESIGN §4, field cases C04/C05). Both
// layouts use the same CSV files and headers; they differ in the mask
// format: REFUGE 2018 lossless 8-bit BMP, REFUGE2 8-bit PNG. Every CSV is
// written with a header row because the official scorer always skips the
// first row.
const (
	ClassificationFile = "classification_results.csv"
	FoveaFile          = "fovea_location_results.csv"
	SegmentationDir    = "segmentation"
)

// Submission CSV headers.
var (
	ClassificationHeader = []string{"FileName", "Glaucoma Risk"}
	FoveaHeader          = []string{"ImageName", "Fovea_X", "Fovea_Y"}
)

// SubmissionFormats lists the submission layouts.
func SubmissionFormats() []string { return []string{"refuge2", "refuge2018"} }

// maskExt returns the lowercase mask extension of a layout.
func maskExt(format string) (string, error) {
	switch format {
	case "refuge2018":
		return ".bmp", nil
	case "refuge2":
		return ".png", nil
	}
	return "", data.UnknownNameError("submission format", format, SubmissionFormats())
}

// zipEpoch is the fixed modification time of every zip entry, so that the
// same submission gives the same zip bytes.
var zipEpoch = time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)

// formatFloat writes the shortest decimal that reads back to the same
// float64 (lossless).
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// WriteSubmission writes a submission folder in the REFUGE 2018 ("refuge2018")
// or REFUGE2 ("refuge2") layout:
//
//	classification_results.csv  FileName,Glaucoma Risk   (one row per image)
//	fovea_location_results.csv  ImageName,Fovea_X,Fovea_Y (x = column, y = row, original pixels)
//	segmentation/<stem>.bmp     (refuge2018) or .png (refuge2): 8-bit single channel, 0/128/255
//
// A file is written only for a task with predictions (a nil map is
// skipped). names maps each prediction stem to the ground-truth image name
// written in the CSVs (e.g. "g0001" -> "g0001.jpg"); a stem without a name
// is an error naming it, since the official scorer matches the exact names.
// Mask files take the stem with a lowercase extension. Rows are sorted by
// name; numbers are written losslessly. Every file is written atomically.
// With makeZip, dir+".zip" holds the same files at its root (fixed
// timestamps and order, so the bytes are reproducible). Stale mask files in
// dir/segmentation that are not part of this submission are an error (the
// scorer would read them).
func WriteSubmission(dir, format string, pred *Predictions, names map[string]string, makeZip bool) error {
	ext, err := maskExt(format)
	if err != nil {
		return fmt.Errorf("write submission %s: %w", dir, err)
	}
	if pred == nil {
		return fmt.Errorf("write submission %s: no predictions", dir)
	}
	nameOf := func(stem string) (string, error) {
		n, ok := names[stem]
		if !ok || n == "" {
			return "", fmt.Errorf("write submission %s: no ground-truth image name for stem %q (names must map every predicted stem to its image file name, e.g. %q)", dir, stem, stem+".jpg")
		}
		return n, nil
	}
	type file struct {
		rel string
		b   []byte
	}
	var files []file

	if pred.Class != nil {
		rows := [][]string{ClassificationHeader}
		for _, s := range sortedKeys(pred.Class) {
			n, err := nameOf(s)
			if err != nil {
				return err
			}
			v := pred.Class[s]
			if !finite(v) {
				return fmt.Errorf("write submission %s: classification score of %s is %v; expected a finite number", dir, s, v)
			}
			rows = append(rows, []string{n, formatFloat(v)})
		}
		b, err := csvBytes(rows)
		if err != nil {
			return fmt.Errorf("write submission %s: %w", dir, err)
		}
		files = append(files, file{ClassificationFile, b})
	}
	if pred.Fovea != nil {
		rows := [][]string{FoveaHeader}
		for _, s := range sortedKeys(pred.Fovea) {
			n, err := nameOf(s)
			if err != nil {
				return err
			}
			p := pred.Fovea[s]
			if !finite(p.X) || !finite(p.Y) {
				return fmt.Errorf("write submission %s: fovea of %s is (%v, %v); expected finite coordinates", dir, s, p.X, p.Y)
			}
			rows = append(rows, []string{n, formatFloat(p.X), formatFloat(p.Y)})
		}
		b, err := csvBytes(rows)
		if err != nil {
			return fmt.Errorf("write submission %s: %w", dir, err)
		}
		files = append(files, file{FoveaFile, b})
	}
	if pred.Masks != nil {
		keep := map[string]bool{}
		for _, s := range sortedKeys(pred.Masks) {
			if s == "" || strings.ContainsAny(s, `/\`) || s == "." || s == ".." {
				return fmt.Errorf("write submission %s: mask stem %q is not a plain file name", dir, s)
			}
			m := pred.Masks[s]
			var b []byte
			var err error
			if ext == ".bmp" {
				b, err = data.EncodeMaskBMP(m)
			} else {
				b, err = data.EncodeMaskPNG(m)
			}
			if err != nil {
				return fmt.Errorf("write submission %s: mask %s: %w", dir, s, err)
			}
			rel := SegmentationDir + "/" + s + ext
			keep[s+ext] = true
			files = append(files, file{rel, b})
		}
		if err := checkStaleMasks(filepath.Join(dir, SegmentationDir), keep); err != nil {
			return fmt.Errorf("write submission %s: %w", dir, err)
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("write submission %s: the predictions hold no task", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write submission: %w", err)
	}
	if pred.Masks != nil {
		if err := os.MkdirAll(filepath.Join(dir, SegmentationDir), 0o755); err != nil {
			return fmt.Errorf("write submission: %w", err)
		}
	}
	for _, f := range files {
		if err := data.WriteFileAtomic(filepath.Join(dir, filepath.FromSlash(f.rel)), f.b); err != nil {
			return fmt.Errorf("write submission: %w", err)
		}
	}
	if !makeZip {
		return nil
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.rel, Method: zip.Deflate, Modified: zipEpoch})
		if err != nil {
			return fmt.Errorf("write submission zip: %w", err)
		}
		if _, err := w.Write(f.b); err != nil {
			return fmt.Errorf("write submission zip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write submission zip: %w", err)
	}
	return data.WriteFileAtomic(filepath.Clean(dir)+".zip", buf.Bytes())
}

// checkStaleMasks fails when segDir holds mask files not in keep.
func checkStaleMasks(segDir string, keep map[string]bool) error {
	ents, err := os.ReadDir(segDir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var stale []string
	for _, e := range ents {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.Type().IsRegular() && (ext == ".bmp" || ext == ".png") && !keep[e.Name()] {
			stale = append(stale, e.Name())
		}
	}
	if len(stale) > 0 {
		if len(stale) > 5 {
			stale = append(stale[:5], fmt.Sprintf("... %d more", len(stale)-5))
		}
		return fmt.Errorf("%s holds mask files that are not part of this submission (%s); the scorer would read them: write into an empty folder", segDir, strings.Join(stale, ", "))
	}
	return nil
}

func csvBytes(rows [][]string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
