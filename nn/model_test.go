package nn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParamCount: cnn base 8, depth 3, input 3 channels, 3 outputs, group
// norm. Hand count (weights O·C·9 + O biases, norm 2·O):
// stage0 3→8: 224+16, 8→8: 584+16; stage1 8→16: 1168+32, 16→16: 2320+32;
// stage2 16→32: 4640+64, 32→32: 9248+64; fc 32·3+3 = 99; total 18507.
func TestParamCount(t *testing.T) {
	m, err := New(NetSpec{Arch: "cnn", Base: 8, Depth: 3}, Shape{C: 3, H: 32, W: 32}, 3, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := m.TotalParams(); n != 18507 {
		t.Fatalf("TotalParams %d, hand count 18507", n)
	}
	sum := 0
	for _, l := range m.Summary() {
		sum += l.Params
	}
	if sum != 18507 {
		t.Fatalf("summary rows add up to %d, expected 18507", sum)
	}
	last := m.Summary()[len(m.Summary())-1]
	if last.Name != "fc" || len(last.OutShape) != 2 || last.OutShape[1] != 3 {
		t.Fatalf("last summary row %+v, expected fc with shape [1 3]", last)
	}
}

func TestArchShapes(t *testing.T) {
	for _, tc := range []struct {
		arch string
		outC int
		want []int
	}{
		{"unet", 3, []int{3, 16, 16}}, {"heatmap", 1, []int{1, 16, 16}},
		{"cnn", 1, []int{1}}, {"resnet", 2, []int{2}},
		{"multitask", 3, []int{3*16*16 + 1}},
	} {
		m, err := New(NetSpec{Arch: tc.arch, Base: 4, Depth: 2}, Shape{C: 3, H: 16, W: 16}, tc.outC, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.OutShape(); len(got) != len(tc.want) || got[0] != tc.want[0] {
			t.Fatalf("%s: OutShape %v, expected %v", tc.arch, got, tc.want)
		}
		out, err := m.Forward(make([]float32, 3*3*16*16), 3)
		if err != nil {
			t.Fatal(err)
		}
		n := 3
		for _, v := range tc.want {
			n *= v
		}
		if len(out) != n {
			t.Fatalf("%s: Forward gave %d values for 3 examples, expected %d", tc.arch, len(out), n)
		}
	}
}

func TestSpecErrors(t *testing.T) {
	_, err := New(NetSpec{Arch: "unte"}, Shape{C: 3, H: 16, W: 16}, 3, 1, 1)
	if err == nil || !strings.Contains(err.Error(), `did you mean "unet"`) || !strings.Contains(err.Error(), "network.arch") {
		t.Fatalf("unknown arch error %v should name network.arch and suggest unet", err)
	}
	_, err = New(NetSpec{Arch: "unet", Depth: 3}, Shape{C: 3, H: 20, W: 20}, 3, 1, 1)
	if err == nil || !strings.Contains(err.Error(), "divisible by 2^depth = 8") {
		t.Fatalf("20x20 input with depth 3: error %v", err)
	}
	if err := (NetSpec{Dropout: 1}).Validate(); err == nil || !strings.Contains(err.Error(), "network.dropout") {
		t.Fatalf("dropout 1: error %v", err)
	}
}

// TestInitSeeded: initial weights depend only on (seed, layer name);
// He-normal weights have variance 2/fanIn (within sampling error).
func TestInitSeeded(t *testing.T) {
	a, _ := New(NetSpec{Arch: "unet", Base: 8, Depth: 2}, Shape{C: 3, H: 16, W: 16}, 3, 1, 9)
	b, _ := New(NetSpec{Arch: "unet", Base: 8, Depth: 2}, Shape{C: 3, H: 16, W: 16}, 3, 4, 9)
	c, _ := New(NetSpec{Arch: "unet", Base: 8, Depth: 2}, Shape{C: 3, H: 16, W: 16}, 3, 1, 10)
	if a.WeightsHash() != b.WeightsHash() {
		t.Fatal("same seed, different batch: weights differ")
	}
	if a.WeightsHash() == c.WeightsHash() {
		t.Fatal("different seeds give identical weights")
	}
	p := a.byName["down1.0.conv.weight"] // 16×8×3×3, fanIn 72
	var s float64
	for _, v := range p.Data {
		s += float64(v) * float64(v)
	}
	v := s / float64(len(p.Data))
	if want := 2.0 / 72; v < 0.8*want || v > 1.2*want {
		t.Fatalf("He init variance %.5f, expected 2/72 = %.5f ±20%% (1152 samples)", v, want)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	a, _ := New(NetSpec{Arch: "unet", Base: 4, Depth: 2}, Shape{C: 3, H: 16, W: 16}, 3, 1, 1)
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := New(NetSpec{Arch: "unet", Base: 4, Depth: 2}, Shape{C: 3, H: 16, W: 16}, 3, 1, 2)
	if err := b.Load(dir); err != nil {
		t.Fatal(err)
	}
	if a.WeightsHash() != b.WeightsHash() {
		t.Fatal("weights differ after Save/Load")
	}
	// .npy readable with its shape
	vals, shape, err := ReadNPY(filepath.Join(dir, "down0.0.conv.weight.npy"))
	if err != nil || len(shape) != 4 || shape[0] != 4 || shape[1] != 3 || len(vals) != 4*3*9 {
		t.Fatalf("npy: shape %v, %d values, err %v", shape, len(vals), err)
	}
	// init_from: a cnn shares no names except by chance; a unet of another
	// depth shares the first stages.
	c, err := New(NetSpec{Arch: "unet", Base: 4, Depth: 2, InitFrom: dir}, Shape{C: 3, H: 16, W: 16}, 3, 1, 3)
	if err != nil || c.WeightsHash() != a.WeightsHash() {
		t.Fatalf("init_from of the same network: err %v, equal %v", err, c.WeightsHash() == a.WeightsHash())
	}
	d, _ := New(NetSpec{Arch: "unet", Base: 4, Depth: 1}, Shape{C: 3, H: 16, W: 16}, 3, 1, 3)
	if n, err := d.LoadMatching(dir); err != nil || n == 0 || n == len(d.Params()) {
		t.Fatalf("LoadMatching across depths: %d of %d, err %v (expected some, not all)", n, len(d.Params()), err)
	}
	// damaged file
	f := filepath.Join(dir, "head.weight.npy")
	raw, _ := os.ReadFile(f)
	raw[len(raw)-1] ^= 0xff
	os.WriteFile(f, raw, 0o644)
	if err := b.Load(dir); err == nil || !strings.Contains(err.Error(), "head.weight.npy") {
		t.Fatalf("damaged file: error %v should name it", err)
	}
	// shape mismatch
	e, _ := New(NetSpec{Arch: "unet", Base: 8, Depth: 2}, Shape{C: 3, H: 16, W: 16}, 3, 1, 1)
	if err := e.Load(dir); err == nil {
		t.Fatal("loading base-4 weights into a base-8 network succeeded")
	}
}

// TestForwardKeepsWeights: inference never writes into the parameters.
func TestForwardKeepsWeights(t *testing.T) {
	m, _ := New(NetSpec{Arch: "resnet", Base: 4, Depth: 2}, Shape{C: 3, H: 16, W: 16}, 1, 2, 1)
	h := m.WeightsHash()
	x := randVals(2*3*16*16, 1, 1)
	o1, _ := m.Forward(x, 2)
	o2, _ := m.Forward(x, 2)
	if m.WeightsHash() != h {
		t.Fatal("Forward changed the weights")
	}
	for i := range o1 {
		if o1[i] != o2[i] {
			t.Fatal("Forward is not repeatable")
		}
	}
}

// TestReadNumPy: a file written by numpy.save (testdata/numpy_arange.npy,
// np.arange(24, dtype=float32).reshape(2, 3, 4)) reads back exactly.
func TestReadNumPy(t *testing.T) {
	vals, shape, err := ReadNPY("testdata/numpy_arange.npy")
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 3 || shape[0] != 2 || shape[1] != 3 || shape[2] != 4 || len(vals) != 24 {
		t.Fatalf("shape %v, %d values", shape, len(vals))
	}
	for i, v := range vals {
		if v != float32(i) {
			t.Fatalf("value %d = %v", i, v)
		}
	}
	// our encoder gives byte-identical output to numpy.save
	want, _ := os.ReadFile("testdata/numpy_arange.npy")
	if got := EncodeNPY(vals, shape); string(got) != string(want) {
		t.Fatalf("EncodeNPY differs from numpy.save (%d vs %d bytes)", len(got), len(want))
	}
}

// TestReleaseGraphs: after ReleaseGraphs, Forward rebuilds its graph and
// gives the same outputs.
func TestReleaseGraphs(t *testing.T) {
	m, _ := New(NetSpec{Arch: "unet", Base: 4, Depth: 2}, Shape{C: 3, H: 16, W: 16}, 3, 2, 1)
	x := randVals(2*3*16*16, 1, 1)
	a, _ := m.Forward(x, 2)
	m.ReleaseGraphs()
	b, err := m.Forward(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("output %d differs after ReleaseGraphs", i)
		}
	}
}
