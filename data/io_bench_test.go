package data

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user + system CPU time so far. Benchmarks report
// CPU ms per item besides items/s: on a shared, loaded machine the wall
// clock measures the neighbours too, the CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRates(b *testing.B, n int, cpu0 time.Duration, unit string) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), unit+"/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(n), "cpu-ms/"+unit)
}

// refugeSizeJPEG writes a 2124x2056 (REFUGE training size) JPEG with a
// fundus-like gradient and texture, quality 95, and returns its path.
func refugeSizeJPEG(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "g0001.jpg")
	img := image.NewNRGBA(image.Rect(0, 0, 2124, 2056))
	for y := 0; y < 2056; y++ {
		for x := 0; x < 2124; x++ {
			i := img.PixOffset(x, y)
			n := uint8((x*7 + y*13 + (x*y)%29) % 32)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 150+n, 60+n/2, 20+n/4, 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkReadImageREFUGESize decodes a 2124x2056 JPEG into the planar
// float32 Image, one goroutine; reports images/s.
func BenchmarkReadImageREFUGESize(b *testing.B) {
	p := refugeSizeJPEG(b)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := ReadImage(p); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, b.N, cpu0, "image")
}

// BenchmarkReadMaskREFUGESize reads a 2124x2056 8-bit BMP mask with the
// strict codec.
func BenchmarkReadMaskREFUGESize(b *testing.B) {
	m := NewMask(2124, 2056)
	for i := range m.Pix {
		if i%2124 > 900 && i%2124 < 1200 {
			m.Pix[i] = Rim
		}
	}
	p := filepath.Join(b.TempDir(), "g0001.bmp")
	if err := WriteMaskBMP(p, m); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := ReadMask(p, RefugeRule); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, b.N, cpu0, "mask")
}

// BenchmarkLoadIDRiDParallel loads the 20 full-size IDRiD images
// (4288x2848 JPEG) of ../shared/data through LoadSource and Sample.Load
// with GOMAXPROCS workers over a fixed partition; reports images/s.
func BenchmarkLoadIDRiDParallel(b *testing.B) {
	root := sharedData(b, "idrid-localization")
	samples, _, err := LoadSource(SourceSpec{Name: "idrid", Format: "idrid", Root: root}, "/", 1)
	if err != nil {
		b.Fatal(err)
	}
	workers := runtime.GOMAXPROCS(0)
	b.ResetTimer()
	cpu0 := cpuTime()
	var n atomic.Int64
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for j := w; j < len(samples); j += workers {
					if _, _, err := samples[j].Load(); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			}(w)
		}
		wg.Wait()
	}
	reportRates(b, int(n.Load()), cpu0, "image")
}

// BenchmarkImageSizeIDRiD measures the header-only size read LoadSource uses.
func BenchmarkImageSizeIDRiD(b *testing.B) {
	root := sharedData(b, "idrid-localization")
	p := filepath.Join(root, "images", "IDRiD_001.jpg")
	for i := 0; i < b.N; i++ {
		if _, _, err := ImageSize(p); err != nil {
			b.Fatal(err)
		}
	}
}
