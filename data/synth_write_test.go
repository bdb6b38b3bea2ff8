package data

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func maskCounts(m *Mask) (cup, disc int) {
	for _, v := range m.Pix {
		if v < Background {
			disc++
		}
		if v == Cup {
			cup++
		}
	}
	return cup, disc
}

// TestWriteSyntheticLoadsBack writes both layouts and loads them with the
// csv and refuge2018 readers: labels, fovea (within 1e-9 px: the csv keeps
// full precision, the xlsx 15 significant digits; read 0-based) and mask pixel counts (BMP is lossless) must
// equal the generator's truth; JPEG images (q95, 4:2:0 chroma) stay within
// a mean absolute difference of 0.02 of the render at 96×96.
func TestWriteSyntheticLoadsBack(t *testing.T) {
	const n, seed = 6, 21
	opt := SynthOptions{W: 96, H: 96}
	type truth struct {
		tr       SynthTruth
		cup, dsc int
		img      *Image
	}
	var want []truth
	for i := 0; i < n; i++ {
		img, m, tr := Synthesize(i, seed, opt)
		c, d := maskCounts(m)
		want = append(want, truth{tr, c, d, img})
	}
	for _, layout := range []string{"csv", "refuge2018"} {
		dir := filepath.Join(t.TempDir(), "ds")
		if err := WriteSynthetic(dir, n, seed, opt, layout); err != nil {
			t.Fatal(err)
		}
		spec := SourceSpec{Name: "syn", Format: layout, Root: dir}
		if layout == "csv" {
			spec.Root = filepath.Join(dir, "manifest.csv")
		}
		samples, _, err := LoadSource(spec, "", 1)
		if err != nil {
			t.Fatalf("%s: %v", layout, err)
		}
		if len(samples) != n {
			t.Fatalf("%s: %d samples, want %d", layout, len(samples), n)
		}
		// Match each loaded sample to its truth by fovea (unique floats).
		for _, s := range samples {
			if s.Fovea == nil {
				t.Fatalf("%s: %s has no fovea", layout, s.ID)
			}
			k := -1
			for i, w := range want {
				if w.tr.Fovea.Dist(*s.Fovea) < 1e-9 {
					k = i
				}
			}
			if k < 0 {
				t.Fatalf("%s: %s fovea %v matches no generated image", layout, s.ID, *s.Fovea)
			}
			w := want[k]
			if s.Label != w.tr.Label || !s.HasMask {
				t.Fatalf("%s: %s label %d mask %v, want %d", layout, s.ID, s.Label, s.HasMask, w.tr.Label)
			}
			if layout == "refuge2018" && strings.HasPrefix(s.Stem, "g") != (w.tr.Label == 1) {
				t.Fatalf("%s: stem %s for label %d", layout, s.Stem, w.tr.Label)
			}
			if layout == "csv" && (s.Device != w.tr.Device || s.DiscCenter == nil || *s.DiscCenter != w.tr.DiscCenter) {
				t.Fatalf("csv: %s device %q disc %v", s.ID, s.Device, s.DiscCenter)
			}
			img, m, err := s.Load()
			if err != nil {
				t.Fatal(err)
			}
			if c, d := maskCounts(m); c != w.cup || d != w.dsc {
				t.Fatalf("%s: %s mask cup/disc %d/%d, want %d/%d", layout, s.ID, c, d, w.cup, w.dsc)
			}
			var diff float64
			for i := range img.Pix {
				diff += math.Abs(float64(img.Pix[i] - w.img.Pix[i]))
			}
			if diff /= float64(len(img.Pix)); diff > 0.02 {
				t.Fatalf("%s: %s mean JPEG error %v", layout, s.ID, diff)
			}
		}
	}
	if err := WriteSynthetic(t.TempDir(), 1, 1, opt, "csv"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("existing dir: %v", err)
	}
	if err := WriteSynthetic(filepath.Join(t.TempDir(), "x"), 1, 1, opt, "refuge"); err == nil || !strings.Contains(err.Error(), `did you mean "refuge2018"`) {
		t.Fatalf("layout: %v", err)
	}
}
