package nn

import (
	"fmt"
	"math"
	"sync"

	"github.com/refugelab/refugelab/data"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Param is one trainable tensor of a model. Data aliases the tensor's
// backing array; optimizers update it in place.
type Param struct {
	Name  string
	Shape []int
	T     *tensor.Dense
	Data  []float32
	// Decay is false for biases and normalisation parameters, which
	// optimizers exclude from weight decay.
	Decay bool
}

// LayerInfo is one row of a model summary.
type LayerInfo struct {
	Name     string `json:"name"`
	OutShape []int  `json:"out_shape"`
	Params   int    `json:"params"`
}

// Model is a network: its spec, its parameters (shared by every graph built
// for it) and cached inference graphs.
type Model struct {
	Spec NetSpec
	In   Shape
	OutC int
	Seed uint64

	params  []*Param
	buffers []*Param // non-trainable state (batch-norm running statistics)
	byName  map[string]*Param
	summary []LayerInfo

	mu    sync.Mutex
	infer map[int]*graph
}

// New builds a model: it validates the spec, creates and initialises the
// parameters from seed (each tensor from data.Seed(seed, "init", name)),
// builds a graph of the given batch size once to check shapes and record
// the summary, and loads spec.InitFrom when set.
func New(spec NetSpec, in Shape, outC int, batch int, seed uint64) (*Model, error) {
	spec = spec.Defaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if in.C < 1 || in.H < 1 || in.W < 1 {
		return nil, fmt.Errorf("nn.New: input shape %+v must be positive", in)
	}
	if outC < 1 {
		return nil, fmt.Errorf("nn.New: output channels %d must be >= 1", outC)
	}
	if batch < 1 {
		return nil, fmt.Errorf("nn.New: batch %d must be >= 1", batch)
	}
	if spec.Arch == "unet" || spec.Arch == "heatmap" || spec.Arch == "multitask" {
		f := 1 << spec.Depth
		if in.H%f != 0 || in.W%f != 0 {
			return nil, fmt.Errorf("network.depth: input %dx%d must be divisible by 2^depth = %d for arch %s", in.W, in.H, f, spec.Arch)
		}
	} else if in.H>>(spec.Depth-1) < 1 || in.W>>(spec.Depth-1) < 1 {
		return nil, fmt.Errorf("network.depth: input %dx%d too small for %d stages", in.W, in.H, spec.Depth)
	}
	m := &Model{Spec: spec, In: in, OutC: outC, Seed: seed, byName: map[string]*Param{}, infer: map[int]*graph{}}
	g, err := m.build(batch, false, true)
	if err != nil {
		return nil, err
	}
	m.infer[batch] = g
	if spec.InitFrom != "" {
		if _, err := m.LoadMatching(spec.InitFrom); err != nil {
			return nil, fmt.Errorf("network.init_from: %w", err)
		}
	}
	return m, nil
}

// Params returns the model's trainable parameters in creation order
// (stable).
func (m *Model) Params() []*Param { return m.params }

// Buffers returns the model's non-trainable state tensors (batch-norm
// running mean and variance), saved and loaded with the weights.
func (m *Model) Buffers() []*Param { return m.buffers }

// tensors is every saved tensor: parameters, then buffers.
func (m *Model) tensors() []*Param {
	return append(append([]*Param(nil), m.params...), m.buffers...)
}

// buffer returns a non-trainable state tensor, creating it filled with v
// on first use.
func (b *builder) buffer(name string, size int, v float32) *Param {
	if p, ok := b.m.byName[name]; ok {
		return p
	}
	vals := make([]float32, size)
	for i := range vals {
		vals[i] = v
	}
	p := &Param{Name: name, Shape: []int{size}, T: tensor.New(tensor.WithShape(size), tensor.WithBacking(vals)), Data: vals}
	b.m.buffers = append(b.m.buffers, p)
	b.m.byName[name] = p
	return p
}

// Summary returns one row per layer: name, output shape (batch 1) and
// parameter count.
func (m *Model) Summary() []LayerInfo {
	out := make([]LayerInfo, len(m.summary))
	copy(out, m.summary)
	return out
}

// TotalParams is the number of trainable scalars.
func (m *Model) TotalParams() int {
	n := 0
	for _, p := range m.params {
		n += len(p.Data)
	}
	return n
}

// OutShape is the per-example output shape: [OutC] for classifiers,
// [OutC, H, W] for dense predictors.
//
// A multitask model gives [OutC*H*W + 1]: the segmentation logits
// (class-major) followed by one classification logit.
func (m *Model) OutShape() []int {
	if m.Multitask() {
		return []int{m.OutC*m.In.H*m.In.W + 1}
	}
	if m.Dense() {
		return []int{m.OutC, m.In.H, m.In.W}
	}
	return []int{m.OutC}
}

// Dense reports whether the model predicts per pixel only (unet, heatmap).
func (m *Model) Dense() bool { return m.Spec.Arch == "unet" || m.Spec.Arch == "heatmap" }

// Multitask reports whether the model is the multitask U-Net (per-pixel
// classes plus one image logit).
func (m *Model) Multitask() bool { return m.Spec.Arch == "multitask" }

// HeadKind is the activation Predict applies: sigmoid, softmax, linear, or
// multitask (softmax over the segmentation classes, sigmoid on the image
// logit).
func (m *Model) HeadKind() string {
	if m.Multitask() {
		return "multitask"
	}
	if m.Spec.Head != "" {
		return m.Spec.Head
	}
	if m.Spec.Arch == "heatmap" {
		return "linear"
	}
	if m.OutC == 1 {
		return "sigmoid"
	}
	return "softmax"
}

// graph is one built expression graph with its input and output nodes.
type graph struct {
	g     *G.ExprGraph
	batch int
	x     *G.Node
	out   *G.Node
	xT    *tensor.Dense
	masks []*dropMask
	nodes map[string]*G.Node // param nodes by name
	vm    G.VM
}

type dropMask struct {
	node *G.Node
	t    *tensor.Dense
	p    float64
	name string
}

// builder carries the state of one graph construction.
type builder struct {
	m      *Model
	gr     *graph
	train  bool
	record bool
}

func (m *Model) build(batch int, train, record bool) (*graph, error) {
	gr := &graph{g: G.NewGraph(), batch: batch, nodes: map[string]*G.Node{}}
	gr.xT = tensor.New(tensor.WithShape(batch, m.In.C, m.In.H, m.In.W), tensor.Of(tensor.Float32))
	gr.x = G.NewTensor(gr.g, tensor.Float32, 4, G.WithShape(batch, m.In.C, m.In.H, m.In.W), G.WithName("x"), G.WithValue(gr.xT))
	b := &builder{m: m, gr: gr, train: train, record: record}
	var out *G.Node
	var err error
	switch m.Spec.Arch {
	case "unet", "heatmap", "multitask":
		out, err = b.unet(gr.x)
	case "cnn":
		out, err = b.cnn(gr.x)
	case "resnet":
		out, err = b.resnet(gr.x)
	default:
		err = fmt.Errorf("network.arch: unknown %q", m.Spec.Arch)
	}
	if err != nil {
		return nil, fmt.Errorf("nn: building %s: %w", m.Spec.Arch, err)
	}
	gr.out = out
	return gr, nil
}

// param returns the graph node of a parameter, creating and initialising
// the parameter on first use.
func (b *builder) param(name string, shape []int, fanIn, fanOut int, kind string) *G.Node {
	if n, ok := b.gr.nodes[name]; ok {
		return n
	}
	p, ok := b.m.byName[name]
	if !ok {
		size := 1
		for _, s := range shape {
			size *= s
		}
		vals := make([]float32, size)
		initValues(vals, kind, b.m.Spec.Init, fanIn, fanOut, data.Seed(b.m.Seed, "init", name))
		t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(vals))
		p = &Param{Name: name, Shape: append([]int(nil), shape...), T: t, Data: vals, Decay: kind == "weight"}
		b.m.params = append(b.m.params, p)
		b.m.byName[name] = p
	}
	n := G.NewTensor(b.gr.g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(p.T))
	b.gr.nodes[name] = n
	return n
}

// initValues fills vals: weights from the named seeded initialiser, "zero"
// with 0 and "one" with 1.
func initValues(vals []float32, kind, init string, fanIn, fanOut int, seed uint64) {
	switch kind {
	case "zero":
		return
	case "one":
		for i := range vals {
			vals[i] = 1
		}
		return
	}
	r := data.NewRand(seed)
	switch init {
	case "glorot":
		// Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fanIn + fanOut)).
		a := math.Sqrt(6 / float64(fanIn+fanOut))
		for i := range vals {
			vals[i] = float32((2*r.Float64() - 1) * a)
		}
	default:
		// He/Kaiming normal: N(0, 2/fanIn).
		sd := math.Sqrt(2 / float64(fanIn))
		for i := range vals {
			vals[i] = float32(r.NormFloat64() * sd)
		}
	}
}

// rec records a summary row (first build only).
func (b *builder) rec(name string, n *G.Node, params ...string) {
	if !b.record {
		return
	}
	cnt := 0
	for _, pn := range params {
		if p, ok := b.m.byName[pn]; ok {
			cnt += len(p.Data)
		}
	}
	s := append([]int(nil), n.Shape()...)
	if len(s) > 0 {
		s[0] = 1
	}
	b.m.summary = append(b.m.summary, LayerInfo{Name: name, OutShape: s, Params: cnt})
}

// ReleaseGraphs drops the cached inference graphs and their activation
// buffers (for a U-Net at 128², batch 8, about 150 MB); the next Forward
// rebuilds what it needs. Weights are kept.
func (m *Model) ReleaseGraphs() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.infer = map[int]*graph{}
}

// Forward runs the inference graph (no dropout) on n examples stored back
// to back in x (n*C*H*W values) and returns the raw outputs (logits),
// n*prod(OutShape) values. Graphs are cached per batch size; calls are
// serialised.
func (m *Model) Forward(x []float32, n int) ([]float32, error) {
	per := m.In.C * m.In.H * m.In.W
	if n < 1 || len(x) != n*per {
		return nil, fmt.Errorf("nn.Forward: got %d values for %d examples of %dx%dx%d", len(x), n, m.In.C, m.In.H, m.In.W)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	gr, ok := m.infer[n]
	if !ok {
		var err error
		if gr, err = m.build(n, false, false); err != nil {
			return nil, err
		}
		m.infer[n] = gr
	}
	if gr.vm == nil {
		gr.vm = G.NewTapeMachine(gr.g)
	}
	copy(gr.xT.Data().([]float32), x)
	if err := G.Let(gr.x, gr.xT); err != nil {
		return nil, fmt.Errorf("nn.Forward: %w", err)
	}
	defer gr.vm.Reset()
	if err := gr.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("nn.Forward: %w", err)
	}
	v := gr.out.Value()
	if v == nil {
		return nil, fmt.Errorf("nn.Forward: output has no value")
	}
	src := v.Data().([]float32)
	out := make([]float32, len(src))
	copy(out, src)
	return out, nil
}
