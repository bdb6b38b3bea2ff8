package data

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCacheRoundTripAndRebuild(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	calls := 0
	want := []float32{0, 1.5, -2, 3.25, 4, 5}
	compute := func() ([]float32, []int, error) {
		calls++
		return append([]float32(nil), want...), []int{1, 2, 3}, nil
	}
	key := CacheKey("img-sha", "pipeline")
	for i := 0; i < 2; i++ {
		d, sh, err := c.GetOrCompute(key, compute)
		if err != nil || !reflect.DeepEqual(d, want) || !reflect.DeepEqual(sh, []int{1, 2, 3}) {
			t.Fatalf("get %d: %v %v %v", i, d, sh, err)
		}
	}
	if calls != 1 || c.Stats() != (CacheStats{Hits: 1, Misses: 1}) {
		t.Fatalf("calls %d stats %+v", calls, c.Stats())
	}
	npyPath, metaPath := c.paths(key)
	b, err := os.ReadFile(npyPath)
	if err != nil {
		t.Fatal(err)
	}
	// NPY 1.0: magic, version 1.0, header length; header+preamble padded to
	// 64 bytes, then 6 little-endian float32 (24 bytes).
	hl := int(b[8]) | int(b[9])<<8
	if !bytes.HasPrefix(b, []byte("\x93NUMPY\x01\x00")) || (10+hl)%64 != 0 || len(b) != 10+hl+24 ||
		!strings.Contains(string(b[10:10+hl]), "'shape': (1, 2, 3)") || !strings.Contains(string(b[10:10+hl]), "'descr': '<f4'") {
		t.Fatalf("npy header %q", b[:10+hl])
	}

	damage := []struct {
		name string
		do   func()
	}{
		{"truncated data", func() { os.WriteFile(npyPath, b[:len(b)-4], 0o644) }},
		{"flipped byte", func() {
			bb := append([]byte(nil), b...)
			bb[len(bb)-1] ^= 0xff
			os.WriteFile(npyPath, bb, 0o644)
		}},
		{"garbage header", func() { os.WriteFile(npyPath, []byte("\x93NUMPY\x01\x00\x04\x00abcd"), 0o644) }},
		{"damaged sidecar", func() { os.WriteFile(metaPath, []byte("{"), 0o644) }},
		{"missing data", func() { os.Remove(npyPath) }},
	}
	for i, d := range damage {
		d.do()
		got, _, err := c.GetOrCompute(key, compute)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %v %v", d.name, got, err)
		}
		if calls != 2+i || c.Stats().Rebuilt != int64(i+1) {
			t.Fatalf("%s: calls %d stats %+v (damage not detected)", d.name, calls, c.Stats())
		}
		if b2, _ := os.ReadFile(npyPath); !bytes.Equal(b2, b) {
			t.Fatalf("%s: entry not rewritten identically", d.name)
		}
	}
	// A mismatched shape from compute is an error.
	_, _, err = c.GetOrCompute("other", func() ([]float32, []int, error) { return []float32{1, 2}, []int{3}, nil })
	if err == nil || !strings.Contains(err.Error(), "computed 2 values but shape [3]") {
		t.Fatalf("shape error: %v", err)
	}
	// No Dir: always computes.
	off := &Cache{}
	off.GetOrCompute(key, compute)
	off.GetOrCompute(key, compute)
	if calls != 1+len(damage)+2 {
		t.Fatalf("disabled cache calls %d", calls)
	}
}

func TestSampleCacheKey(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "a.png")
	os.WriteFile(img, []byte("abc"), 0o644)
	p1, _ := NewPipeline([]StepSpec{{Name: "resize", Params: map[string]any{"size": 64}}})
	p2, _ := NewPipeline([]StepSpec{{Name: "resize", Params: map[string]any{"size": 65}}})
	s := &Sample{ID: "x/a", ImagePath: img}
	k1, err := SampleCacheKey(s, p1, "")
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := SampleCacheKey(s, p2, "")
	os.WriteFile(img, []byte("abd"), 0o644)
	k3, _ := SampleCacheKey(s, p1, "")
	if k1 == k2 || k1 == k3 || len(k1) != 64 {
		t.Fatalf("keys %s %s %s", k1, k2, k3)
	}
	syn := SyntheticSamples("s", 2, 1, SynthOptions{W: 32, H: 32})
	a, _ := SampleCacheKey(syn[0], p1, "")
	b, _ := SampleCacheKey(syn[1], p1, "")
	if a == b {
		t.Fatal("synthetic samples share a key")
	}
	// Part boundaries matter.
	if CacheKey("ab", "c") == CacheKey("a", "bc") {
		t.Fatal("CacheKey ignores part boundaries")
	}
}

// TestCachePrepareSample: a cached prepared sample equals the direct one
// bit for bit (image planes, mask, exact float64 T), the second call is a
// hit, and a different centre is a different entry.
func TestCachePrepareSample(t *testing.T) {
	ss := SyntheticSamples("syn", 2, 4, SynthOptions{W: 160, H: 160})
	p, err := NewPipeline([]StepSpec{{Name: "roi", Params: map[string]any{"size": 48, "disc_factor": 2.2}}, {Name: "normalize"}})
	if err != nil {
		t.Fatal(err)
	}
	c := &Cache{Dir: t.TempDir()}
	want, err := p.PrepareSample(ss[0], nil, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		got, err := c.PrepareSample(p, ss[0], nil, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		if got.T != want.T || got.W != 48 || got.H != 48 || !reflect.DeepEqual(got.X, want.X) || !reflect.DeepEqual(got.M, want.M) {
			t.Fatalf("call %d: cached prepared sample differs (T %v vs %v)", i, got.T, want.T)
		}
	}
	if st := c.Stats(); st.Hits != 1 || st.Misses != 1 {
		t.Fatalf("stats %+v", st)
	}
	ctr := *ss[0].DiscCenter
	ctr.X += 3
	got, err := c.PrepareSample(p, ss[0], &ctr, 30, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.T == want.T || c.Stats().Misses != 2 {
		t.Fatalf("other centre reused the entry: %+v", c.Stats())
	}
	// Without a Dir it prepares directly.
	d, err := (&Cache{}).PrepareSample(p, ss[1], nil, 0, false)
	if err != nil || d.X.W != 48 {
		t.Fatal(err)
	}
}
