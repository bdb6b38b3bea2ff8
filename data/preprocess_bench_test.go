package data

import (
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// roiBenchPipeline is the REFUGE segmentation input path: an 800-px window
// around the disc of a 2124×2056 training image resampled to 512², then
// per-image normalisation.
func roiBenchPipeline(b *testing.B) *Pipeline {
	p, err := NewPipeline([]StepSpec{{Name: "roi", Params: map[string]any{"size": 512, "window": 800}}, {Name: "normalize"}})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkROI2124To512 measures preprocessing alone (image and mask in
// memory): images/s of the 2124×2056 -> 512² ROI path.
func BenchmarkROI2124To512(b *testing.B) {
	img, m, tr := Synthesize(0, 1, SynthOptions{W: 2124, H: 2056})
	p := roiBenchPipeline(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Prepare(img, m, &tr.DiscCenter, tr.DiscDiamV); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkROI2124To512Decode measures JPEG decoding plus preprocessing,
// with one sample per goroutine (RunParallel), as the loader runs them.
func BenchmarkROI2124To512Decode(b *testing.B) {
	img, _, tr := Synthesize(0, 1, SynthOptions{W: 2124, H: 2056})
	path := filepath.Join(b.TempDir(), "g0001.jpg")
	gi, err := ToGoImage(img)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := jpeg.Encode(f, gi, &jpeg.Options{Quality: 95}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	p := roiBenchPipeline(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			x, err := ReadImage(path)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := p.Prepare(x, nil, &tr.DiscCenter, tr.DiscDiamV); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
