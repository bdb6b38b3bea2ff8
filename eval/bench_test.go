package eval

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/refugelab/refugelab/data"
)

// benchMask draws a REFUGE-like mask of the training image size: an
// elliptic disc with an elliptic cup, centred differently per index.
func benchMask(w, h, i int, shift float64) *data.Mask {
	m := data.NewMask(w, h)
	cx, cy := 600+float64(i%7)*40+shift, 1000+float64(i%5)*30
	rd, rc := 150+float64(i%3)*10, 70+float64(i%4)*8
	for y := int(cy - rd - 2); y <= int(cy+rd+2); y++ {
		for x := int(cx - rd - 2); x <= int(cx+rd+2); x++ {
			dx, dy := float64(x)-cx, (float64(y)-cy)*1.1
			d := math.Hypot(dx, dy)
			switch {
			case d <= rc:
				m.Pix[y*w+x] = data.Cup
			case d <= rd:
				m.Pix[y*w+x] = data.Rim
			}
		}
	}
	return m
}

const benchN, benchW, benchH = 400, 2124, 2056

func benchSets(n int) (*Predictions, *GroundTruth) {
	gt := &GroundTruth{Masks: map[string]*data.Mask{}}
	pred := &Predictions{Masks: map[string]*data.Mask{}}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("g%04d", i)
		gt.Masks[name] = benchMask(benchW, benchH, i, 0)
		pred.Masks[name] = benchMask(benchW, benchH, i, 6)
	}
	return pred, gt
}

// BenchmarkScore400 scores 400 in-memory 2124×2056 mask pairs (Dice, vCDR,
// per-image table, means; no bootstrap).
func BenchmarkScore400(b *testing.B) {
	pred, gt := benchSets(benchN)
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for it := 0; it < b.N; it++ {
		if _, err := Score(pred, gt, ScoreOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
}

// BenchmarkEvaluate400Files scores 400 submitted BMP masks against 400 GT
// BMP masks of 2124×2056 from disk: reading, decoding (strict codec for the
// GT, lenient for the submission) and scoring. Set EVAL_BENCH_DIR to reuse
// a folder of written files between runs.
func BenchmarkEvaluate400Files(b *testing.B) {
	dir := os.Getenv("EVAL_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	gtDir, subDir := filepath.Join(dir, "gt"), filepath.Join(dir, "sub")
	if _, err := os.Stat(filepath.Join(subDir, "segmentation", fmt.Sprintf("g%04d.bmp", benchN-1))); err != nil {
		os.MkdirAll(filepath.Join(gtDir, "Disc_Cup_Masks"), 0o755)
		names := map[string]string{}
		pred := &Predictions{Masks: map[string]*data.Mask{}}
		for i := 0; i < benchN; i++ {
			name := fmt.Sprintf("g%04d", i)
			if err := data.WriteMaskBMP(filepath.Join(gtDir, "Disc_Cup_Masks", name+".bmp"), benchMask(benchW, benchH, i, 0)); err != nil {
				b.Fatal(err)
			}
			pred.Masks[name] = benchMask(benchW, benchH, i, 6)
			names[name] = name + ".jpg"
			if len(pred.Masks) == 50 || i == benchN-1 {
				if err := writeMasksOnly(subDir, pred); err != nil {
					b.Fatal(err)
				}
				pred.Masks = map[string]*data.Mask{}
			}
		}
	}
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for it := 0; it < b.N; it++ {
		tm, err := Evaluate(subDir, gtDir, "refuge2018", ScoreOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if tm.Segmentation.N != benchN {
			b.Fatalf("scored %d images", tm.Segmentation.N)
		}
	}
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
}

// cpuSeconds is the process's user + system CPU time: on a shared, loaded
// machine it measures the work independently of the wall clock.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// writeMasksOnly writes masks into dir/segmentation (benchmark setup in
// batches, to bound memory).
func writeMasksOnly(dir string, pred *Predictions) error {
	os.MkdirAll(filepath.Join(dir, SegmentationDir), 0o755)
	for k, m := range pred.Masks {
		if err := data.WriteMaskBMP(filepath.Join(dir, SegmentationDir, k+".bmp"), m); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkSegImage scores one 2124×2056 mask pair (single core).
func BenchmarkSegImage(b *testing.B) {
	gt, pred := benchMask(benchW, benchH, 1, 0), benchMask(benchW, benchH, 1, 6)
	b.SetBytes(int64(2 * benchW * benchH))
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		if _, err := SegImage(gt, pred); err != nil {
			b.Fatal(err)
		}
	}
}
