package data

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/xuri/excelize/v2"
)

// SynthLayouts lists the layouts WriteSynthetic can write.
func SynthLayouts() []string { return []string{"csv", "refuge2018"} }

// synthRecord is what a written dataset says about one image.
type synthRecord struct {
	stem, class       string // class: "Glaucoma" / "Non-Glaucoma" (refuge2018)
	label             int
	fovea, disc       Point
	device            string
	imgPath, maskPath string // relative to the dataset folder
}

// WriteSynthetic writes n synthetic images (Synthesize with seed and opt)
// to a new folder dir in a layout that the matching reader loads back:
//
//   - "csv": images/s0001.jpg…, masks/s0001.bmp…, and manifest.csv with
//     columns image, mask, label, fovea_x, fovea_y, disc_x, disc_y, device
//     (0-based pixel-centre coordinates), for the csv source format.
//   - "refuge2018": the REFUGE 2018 training part: Training400/Glaucoma/
//     g0001.jpg…, Training400/Non-Glaucoma/n0001.jpg…, masks under
//     Annotation-Training400/Disc_Cup_Masks/{Glaucoma,Non-Glaucoma}/*.bmp,
//     and Annotation-Training400/Fovea_location.xlsx (ID, ImgName, Fovea_X,
//     Fovea_Y, 0-based), for the refuge2018 source format. Images are
//     numbered per class in generation order. The layout has no device
//     column, so the reader assigns the REFUGE training camera; use csv to
//     keep the two synthetic devices.
//
// Images are JPEG (quality 95), masks 8-bit BMP with values 0/128/255.
// synthetic.json records the generator parameters. dir must not exist.
func WriteSynthetic(dir string, n int, seed uint64, opt SynthOptions, layout string) error {
	if layout != "csv" && layout != "refuge2018" {
		return UnknownNameError("synthetic layout", layout, SynthLayouts())
	}
	if n < 1 {
		return fmt.Errorf("write synthetic: n must be >= 1, got %d", n)
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("write synthetic: %s already exists (a new folder is required)", dir)
	}
	opt = opt.withDefaults()
	recs := make([]synthRecord, n)
	nG, nN := 0, 0
	for i := range recs {
		g := synthGeometry(i, seed, opt)
		r := &recs[i]
		r.label, r.fovea, r.disc, r.device = g.label, g.fovea, g.disc, g.dev.name
		switch layout {
		case "csv":
			r.stem = SyntheticStem(i)
			r.imgPath = filepath.Join("images", r.stem+".jpg")
			r.maskPath = filepath.Join("masks", r.stem+".bmp")
		case "refuge2018":
			if g.label == 1 {
				nG++
				r.stem, r.class = fmt.Sprintf("g%04d", nG), "Glaucoma"
			} else {
				nN++
				r.stem, r.class = fmt.Sprintf("n%04d", nN), "Non-Glaucoma"
			}
			r.imgPath = filepath.Join("Training400", r.class, r.stem+".jpg")
			r.maskPath = filepath.Join("Annotation-Training400", "Disc_Cup_Masks", r.class, r.stem+".bmp")
		}
	}
	// Render and write the images with a small fixed worker pool (each
	// image depends only on its index, so the order does not matter).
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = writeSynthImage(dir, recs[i], i, seed, opt)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	var err error
	if layout == "csv" {
		err = writeSynthManifest(filepath.Join(dir, "manifest.csv"), recs)
	} else {
		err = writeSynthFoveaXLSX(filepath.Join(dir, "Annotation-Training400", "Fovea_location.xlsx"), recs)
	}
	if err != nil {
		return err
	}
	meta, _ := json.MarshalIndent(map[string]any{
		"generator": "refugelab synthetic fundus", "version": synthCacheVersion, "n": n, "seed": seed,
		"width": opt.W, "height": opt.H, "prevalence": opt.Prevalence, "vary_size": opt.VarySize, "layout": layout,
	}, "", "  ")
	return WriteFileAtomic(filepath.Join(dir, "synthetic.json"), meta)
}

func writeSynthImage(dir string, r synthRecord, i int, seed uint64, opt SynthOptions) error {
	img, m, _ := Synthesize(i, seed, opt)
	gi, err := ToGoImage(img)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, gi, &jpeg.Options{Quality: 95}); err != nil {
		return fmt.Errorf("encode %s: %w", r.imgPath, err)
	}
	ip := filepath.Join(dir, r.imgPath)
	mp := filepath.Join(dir, r.maskPath)
	for _, d := range []string{filepath.Dir(ip), filepath.Dir(mp)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("write synthetic: %w", err)
		}
	}
	if err := WriteFileAtomic(ip, buf.Bytes()); err != nil {
		return err
	}
	return WriteMaskBMP(mp, m)
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func writeSynthManifest(path string, recs []synthRecord) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"image", "mask", "label", "fovea_x", "fovea_y", "disc_x", "disc_y", "device"})
	for _, r := range recs {
		w.Write([]string{filepath.ToSlash(r.imgPath), filepath.ToSlash(r.maskPath), strconv.Itoa(r.label),
			ftoa(r.fovea.X), ftoa(r.fovea.Y), ftoa(r.disc.X), ftoa(r.disc.Y), r.device})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return WriteFileAtomic(path, buf.Bytes())
}

func writeSynthFoveaXLSX(path string, recs []synthRecord) error {
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	rows := [][]any{{"ID", "ImgName", "Fovea_X", "Fovea_Y"}}
	for i, r := range recs {
		rows = append(rows, []any{i + 1, r.stem + ".jpg", r.fovea.X, r.fovea.Y})
	}
	for i, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &row); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return WriteFileAtomic(path, buf.Bytes())
}
