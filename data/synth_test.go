package data

import (
	"math"
	"reflect"
	"runtime"
	"sort"
	"testing"
)

// mannWhitneyAUC is the probability that a random positive scores above a
// random negative, ties counting half (the Mann-Whitney U statistic / n1 n0),
// computed by brute force over all pairs.
func mannWhitneyAUC(scores []float64, labels []int) float64 {
	var pos, neg []float64
	for i, s := range scores {
		if labels[i] == 1 {
			pos = append(pos, s)
		} else {
			neg = append(neg, s)
		}
	}
	u := 0.0
	for _, p := range pos {
		for _, n := range neg {
			switch {
			case p > n:
				u++
			case p == n:
				u += 0.5
			}
		}
	}
	return u / float64(len(pos)*len(neg))
}

func TestMannWhitneyHelper(t *testing.T) {
	// Hand-worked: positives {0.9, 0.4}, negatives {0.5, 0.4}: pairs
	// (0.9>0.5)=1, (0.9>0.4)=1, (0.4<0.5)=0, (0.4=0.4)=0.5 -> 2.5/4.
	if got := mannWhitneyAUC([]float64{0.9, 0.4, 0.5, 0.4}, []int{1, 1, 0, 0}); got != 0.625 {
		t.Fatalf("AUC = %v, want 0.625", got)
	}
}

func TestSynthesizeDeterministic(t *testing.T) {
	opt := SynthOptions{W: 96, H: 80}
	a, ma, ta := Synthesize(3, 42, opt)
	b, mb, tb := Synthesize(3, 42, opt)
	if ta != tb {
		t.Fatalf("truth differs: %+v vs %+v", ta, tb)
	}
	for i := range a.Pix {
		if math.Float32bits(a.Pix[i]) != math.Float32bits(b.Pix[i]) {
			t.Fatalf("pixel %d differs: %v vs %v", i, a.Pix[i], b.Pix[i])
		}
	}
	for i := range ma.Pix {
		if ma.Pix[i] != mb.Pix[i] {
			t.Fatalf("mask pixel %d differs", i)
		}
	}
	c, _, _ := Synthesize(4, 42, opt)
	same := true
	for i := range a.Pix {
		if a.Pix[i] != c.Pix[i] {
			same = false
			break
		}
	}
	if same {
		t.Fatal("images 3 and 4 are identical")
	}
	if a.W != 96 || a.H != 80 || a.C != 3 || ma.W != 96 || ma.H != 80 {
		t.Fatalf("sizes: image %dx%dx%d mask %dx%d, want 96x80x3", a.W, a.H, a.C, ma.W, ma.H)
	}
}

func TestSynthesizeGroundTruth(t *testing.T) {
	opt := SynthOptions{W: 160, H: 160}
	eyes := map[string]int{}
	devs := map[string]int{}
	for i := 0; i < 40; i++ {
		img, m, tr := Synthesize(i, 7, opt)
		eyes[tr.Eye]++
		devs[tr.Device]++
		counts := map[uint8]int{}
		for _, v := range m.Pix {
			counts[v]++
		}
		for v := range counts {
			if v != Cup && v != Rim && v != Background {
				t.Fatalf("image %d: mask value %d outside {0,128,255}", i, v)
			}
		}
		if counts[Cup] == 0 || counts[Rim] == 0 {
			t.Fatalf("image %d: cup %d px, rim %d px; want both > 0", i, counts[Cup], counts[Rim])
		}
		// Cup inside disc: no cup pixel touches the background (4-neighbours),
		// and the disc ellipse contains every cup pixel.
		for y := 0; y < m.H; y++ {
			for x := 0; x < m.W; x++ {
				if m.Pix[y*m.W+x] != Cup {
					continue
				}
				for _, d := range [][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
					if m.Pix[(y+d[1])*m.W+x+d[0]] == Background {
						t.Fatalf("image %d: cup pixel (%d,%d) touches the background", i, x, y)
					}
				}
				ex := (float64(x) - tr.DiscCenter.X) / (tr.DiscDiamH / 2)
				ey := (float64(y) - tr.DiscCenter.Y) / (tr.DiscDiamV / 2)
				if ex*ex+ey*ey > 1 {
					t.Fatalf("image %d: cup pixel (%d,%d) outside the disc ellipse", i, x, y)
				}
			}
		}
		// The disc mask's centroid is the exact disc centre within a pixel.
		var sx, sy, n float64
		for y := 0; y < m.H; y++ {
			for x := 0; x < m.W; x++ {
				if m.Pix[y*m.W+x] < Background {
					sx += float64(x)
					sy += float64(y)
					n++
				}
			}
		}
		if c := (Point{sx / n, sy / n}); c.Dist(tr.DiscCenter) > 0.5 {
			t.Fatalf("image %d: disc centroid %v, truth %v", i, c, tr.DiscCenter)
		}
		// Fovea on the temporal side: left of the disc in a right eye.
		dx := tr.Fovea.X - tr.DiscCenter.X
		if (tr.Eye == "right" && dx >= 0) || (tr.Eye == "left" && dx <= 0) {
			t.Fatalf("image %d (%s eye): fovea %v not temporal to disc %v", i, tr.Eye, tr.Fovea, tr.DiscCenter)
		}
		// About 2.5 disc diameters away (jitter ±6 % per sd, vertical offset).
		if r := tr.Fovea.Dist(tr.DiscCenter) / tr.DiscDiamH; r < 2.0 || r > 3.1 {
			t.Fatalf("image %d: fovea–disc distance %.2f disc diameters, want about 2.5", i, r)
		}
		// The macula is darker than the disc in the green channel.
		fx, fy := int(math.Round(tr.Fovea.X)), int(math.Round(tr.Fovea.Y))
		dcx, dcy := int(math.Round(tr.DiscCenter.X)), int(math.Round(tr.DiscCenter.Y))
		if img.At(1, fx, fy) >= img.At(1, dcx, dcy) {
			t.Fatalf("image %d: fovea green %v not darker than disc green %v", i, img.At(1, fx, fy), img.At(1, dcx, dcy))
		}
		// Corners are outside the field of view: black.
		if img.At(0, 0, 0) > 0.05 {
			t.Fatalf("image %d: corner red %v, want black", i, img.At(0, 0, 0))
		}
		if tr.Label != 0 && tr.Label != 1 {
			t.Fatalf("label %d", tr.Label)
		}
	}
	for _, k := range []string{"left", "right"} {
		if eyes[k] == 0 {
			t.Fatalf("no %s eye in 40 images: %v", k, eyes)
		}
	}
	for _, k := range []string{SynthDeviceA, SynthDeviceB} {
		if devs[k] == 0 {
			t.Fatalf("no %s image in 40: %v", k, devs)
		}
	}
}

func TestSynthVCDRSeparatesClasses(t *testing.T) {
	if testing.Short() {
		t.Skip("400 images")
	}
	var scores []float64
	var labels []int
	for i := 0; i < 400; i++ {
		// Geometry and mask only: the truth does not depend on rendering.
		g := synthGeometry(i, 11, SynthOptions{W: 256, H: 256})
		tr := g.truth(g.mask())
		scores = append(scores, tr.VCDR)
		labels = append(labels, tr.Label)
	}
	auc := mannWhitneyAUC(scores, labels)
	pos := 0
	for _, l := range labels {
		pos += l
	}
	t.Logf("AUC of true vCDR over 400 images: %.4f; glaucoma %d/400", auc, pos)
	if auc < 0.8 || auc > 0.97 {
		t.Fatalf("AUC %.4f outside [0.8, 0.97]", auc)
	}
	// Prevalence 0.5 by default: binomial sd over 400 is 10.
	if pos < 160 || pos > 240 {
		t.Fatalf("glaucoma count %d of 400, want about 200", pos)
	}
	// The truth from geometry equals the one Synthesize returns.
	_, _, tr := Synthesize(5, 11, SynthOptions{W: 256, H: 256})
	if tr.VCDR != scores[5] || tr.Label != labels[5] {
		t.Fatalf("Synthesize truth %+v differs from geometry (vcdr %v label %d)", tr, scores[5], labels[5])
	}
}

func TestSynthPrevalenceAndSizes(t *testing.T) {
	n, pos := 300, 0
	for i := 0; i < n; i++ {
		pos += synthGeometry(i, 3, SynthOptions{Prevalence: 0.1}).label
	}
	// Binomial(300, 0.1): mean 30, sd 5.2.
	if pos < 15 || pos > 45 {
		t.Fatalf("prevalence 0.1 gave %d/300 glaucoma", pos)
	}
	sizes := map[[2]int]string{}
	for i := 0; i < 20; i++ {
		g := synthGeometry(i, 3, SynthOptions{W: 200, H: 180, VarySize: true})
		sizes[[2]int{g.w, g.h}] = g.dev.name
	}
	want := map[[2]int]string{{200, 180}: SynthDeviceA, {160, 144}: SynthDeviceB}
	if len(sizes) != 2 || sizes[[2]int{200, 180}] != want[[2]int{200, 180}] || sizes[[2]int{160, 144}] != want[[2]int{160, 144}] {
		t.Fatalf("VarySize sizes %v, want %v", sizes, want)
	}
}

func TestSyntheticSamples(t *testing.T) {
	opt := SynthOptions{W: 64, H: 64}
	ss := SyntheticSamples("demo", 5, 9, opt)
	if len(ss) != 5 {
		t.Fatalf("%d samples", len(ss))
	}
	ids := []string{}
	for i, s := range ss {
		ids = append(ids, s.ID)
		img, m, err := s.Load()
		if err != nil {
			t.Fatal(err)
		}
		_, _, tr := Synthesize(i, 9, opt)
		if s.Label != tr.Label || *s.Fovea != tr.Fovea || *s.DiscCenter != tr.DiscCenter || s.Device != tr.Device {
			t.Fatalf("sample %s: %+v does not match truth %+v", s.ID, s, tr)
		}
		if img.W != s.W || img.H != s.H || m == nil || !s.HasMask || s.Format != "synthetic" || s.Source != "demo" {
			t.Fatalf("sample %s fields: %+v", s.ID, s)
		}
	}
	if !sort.StringsAreSorted(ids) || ids[0] != "demo/s0001" || ids[4] != "demo/s0005" {
		t.Fatalf("ids %v", ids)
	}
}

func BenchmarkSynthesize1024(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Synthesize(i, 1, SynthOptions{W: 1024, H: 1024})
	}
}

// TestDeterministicAcrossThreads: rendering and warping split rows over
// goroutines; the bytes must not depend on GOMAXPROCS.
func TestDeterministicAcrossThreads(t *testing.T) {
	run := func(procs int) (*Image, *Mask, *Image) {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		img, m, tr := Synthesize(1, 8, SynthOptions{W: 150, H: 130})
		p, _ := NewPipeline([]StepSpec{{Name: "roi", Params: map[string]any{"size": 40, "disc_factor": 2.0}}, {Name: "clahe"}})
		pr, err := p.Prepare(img, m, &tr.DiscCenter, tr.DiscDiamV)
		if err != nil {
			t.Fatal(err)
		}
		return img, m, pr.X
	}
	a1, m1, x1 := run(1)
	a4, m4, x4 := run(4)
	if !reflect.DeepEqual(a1, a4) || !reflect.DeepEqual(m1, m4) || !reflect.DeepEqual(x1, x4) {
		t.Fatal("output depends on GOMAXPROCS")
	}
}
