package augment

import (
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/refugelab/refugelab/data"
)

// benchApply measures augmented samples per second with the typical pipeline
// (hflip, rotate, scale, gamma, elastic at their usual probabilities) on an
// RGB size x size sample with mask and point, one goroutine.
func benchApply(b *testing.B, size int) {
	img, m, pt := testSample(size, size, data.Point{X: float64(size) / 3, Y: float64(size) / 2})
	p, err := Build(typical())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	c0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		p.Apply(img, m, pt, 1, 0, i)
	}
	reportRates(b, c0)
}

// cpuSeconds returns the process's user + system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// reportRates reports wall-clock samples/s and CPU milliseconds per sample
// (the latter barely depends on other load on the machine; 1000 divided by
// it is the rate one otherwise idle core sustains).
func reportRates(b *testing.B, cpu0 float64) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(1000*(cpuSeconds()-cpu0)/float64(b.N), "cpu-ms/sample")
}

// BenchmarkTypical256 is the typical pipeline at 256x256.
func BenchmarkTypical256(b *testing.B) { benchApply(b, 256) }

// BenchmarkTypical512 is the typical pipeline at 512x512.
func BenchmarkTypical512(b *testing.B) { benchApply(b, 512) }

// BenchmarkElastic512 is the elastic transform alone (always applied) at 512x512.
func BenchmarkElastic512(b *testing.B) {
	img, m, pt := testSample(512, 512, data.Point{X: 100, Y: 200})
	p, _ := Build([]Spec{{Name: "elastic", Prob: 1}})
	b.ResetTimer()
	c0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		p.Apply(img, m, pt, 1, 0, i)
	}
	reportRates(b, c0)
}

// BenchmarkTypical256Parallel runs the typical pipeline at 256x256 from
// GOMAXPROCS goroutines (the loader's situation): total samples/s.
func BenchmarkTypical256Parallel(b *testing.B) { benchParallel(b, 256) }

// BenchmarkTypical512Parallel is the same at 512x512.
func BenchmarkTypical512Parallel(b *testing.B) { benchParallel(b, 512) }

func benchParallel(b *testing.B, size int) {
	img, m, pt := testSample(size, size, data.Point{X: float64(size) / 3, Y: float64(size) / 2})
	p, err := Build(typical())
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.ResetTimer()
	c0 := cpuSeconds()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Apply(img, m, pt, 1, 0, int(next.Add(1)))
		}
	})
	reportRates(b, c0)
}
