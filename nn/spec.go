// Package nn builds the project's networks as Gorgonia graphs: layers,
// seeded initialisers, architectures (cnn, resnet, unet, heatmap), a
// Gorgonia custom op that plugs a plain-Go loss into the graph, a training
// step driver with one TapeMachine per graph, and weight save/load as .npy
// files with a JSON header.
//
// Gorgonia (v0.9.18) provides the expression graph, symbolic
// differentiation and the TapeMachine. Every layer is a project op (a
// kern: plain-Go forward and per-input backward, wrapped by kernOp and
// kernGradOp), checked against float64 references, finite differences and
// PyTorch fixtures. The activation is ReLU or leaky ReLU (NetSpec.Activation).
// Stock ops are not used because of their traps
// (DESIGN §5): clock-seeded initialisers and dropout, BatchNorm statistics
// reset by every TapeMachine, an im2col convolution with large temporaries;
// and in a first trial with stock ops (Conv2d + BroadcastAdd bias,
// GroupNorm, MaxPool2D, Upsample2D, GlobalAveragePool2D) a classifier
// panicked inside Grad (an op on the path reported no DiffWRT) and a U-Net
// produced all-zero outputs and gradients.
// One more trap found here: with BindDualValues the TapeMachine adds each
// step's gradient into the dual value, so Trainer.Step clears it after
// reading (Gorgonia's own solvers do the same).
//
// Convolutions (stride, padding and dilation; NetSpec.Dilation dilates the
// U-Net bottleneck) are implicit GEMMs per image, images in parallel
// (conv.go): cache-sized blocks of the im2col matrix, read from a
// zero-padded copy of the image for stride 1, feed 6×16 and 4×16 AVX2/FMA
// assembly micro-kernels; small images skip im2col altogether and the
// kernel reads the padded image through a table of row offsets
// (convdirect.go). The input gradient of a stride-1 convolution is the
// convolution of dY with the flipped kernel. Normalisation layers carry the
// activation fused, with AVX2 sweeps (norm.go, act_amd64.s). Other CPUs and
// the purego build tag run the same algorithms in portable Go. Training
// graphs recycle gradient buffers within a step (gradPool). Per-image work
// writes only its own outputs and reductions run in a fixed order, so
// training is bit-identical across thread counts. bench/RESULTS.md has the
// measurements against PyTorch.
package nn

import (
	"fmt"

	"github.com/refugelab/refugelab/data"
)

// Shape is the shape of one network input: channels, height, width.
type Shape struct {
	C int `yaml:"c" json:"c"`
	H int `yaml:"h" json:"h"`
	W int `yaml:"w" json:"w"`
}

// NetSpec describes a network: architecture name and its width/depth
// parameters. Zero values take the defaults of Defaults.
type NetSpec struct {
	// Arch is the architecture: cnn, resnet, unet, heatmap or multitask (a
	// U-Net whose bottleneck also feeds a one-logit classifier).
	Arch string `yaml:"arch" json:"arch"`
	// Base is the channel count of the first stage; each stage doubles it.
	Base int `yaml:"base" json:"base"`
	// Depth is the number of down-sampling stages.
	Depth int `yaml:"depth" json:"depth"`
	// Norm is the normalisation after each convolution: group (default),
	// batch or none. Batch norm uses batch statistics in training and
	// running averages (momentum 0.1) at inference; the running statistics
	// are saved with the weights.
	Norm string `yaml:"norm" json:"norm"`
	// Groups is the number of GroupNorm groups (clamped to divide the channels).
	Groups int `yaml:"groups" json:"groups"`
	// Dropout is the drop probability before the classifier (cnn/resnet) or
	// at the bottleneck (unet/heatmap); 0 disables it.
	Dropout float64 `yaml:"dropout" json:"dropout"`
	// Init is the weight initialiser: he (default) or glorot.
	Init string `yaml:"init" json:"init"`
	// InitFrom is an optional weight folder (Save layout) whose tensors
	// replace the initial values of layers with the same name and shape.
	InitFrom string `yaml:"init_from" json:"init_from"`
	// Head is the output activation Predict applies: sigmoid, softmax or
	// linear. Empty picks the arch default (heatmap: linear; others: softmax
	// for more than one output channel, sigmoid for one).
	Head string `yaml:"head" json:"head"`
	// Dilation is the dilation of the two 3x3 bottleneck convolutions
	// (bottom.0 and bottom.1) of unet, heatmap and multitask, padded by
	// Dilation so the bottleneck keeps its size; every other convolution
	// keeps dilation 1. Default 1 (an ordinary U-Net); must be >= 1, and
	// cnn/resnet accept only 1.
	Dilation int `yaml:"dilation" json:"dilation"`
	// Activation follows every normalised convolution (and each residual
	// sum of resnet): relu (default) or leaky-relu.
	Activation string `yaml:"activation" json:"activation"`
	// LeakySlope is the negative-side slope of leaky-relu, in (0, 1);
	// default 0.01. It must be left 0 with relu.
	LeakySlope float64 `yaml:"leaky_slope" json:"leaky_slope"`
}

var knownArchs = []string{"cnn", "heatmap", "multitask", "resnet", "unet"}
var knownNorms = []string{"batch", "group", "none"}
var knownInits = []string{"glorot", "he"}
var knownHeads = []string{"linear", "sigmoid", "softmax"}
var knownActivations = []string{"leaky-relu", "relu"}

// KnownArchs lists the registered architecture names.
func KnownArchs() []string { return append([]string(nil), knownArchs...) }

// Defaults returns s with every zero field replaced by its default.
func (s NetSpec) Defaults() NetSpec {
	if s.Arch == "" {
		s.Arch = "unet"
	}
	if s.Base == 0 {
		s.Base = 16
	}
	if s.Depth == 0 {
		switch s.Arch {
		case "cnn", "resnet":
			s.Depth = 4
		default:
			s.Depth = 3
		}
	}
	if s.Norm == "" {
		s.Norm = "group"
	}
	if s.Groups == 0 {
		s.Groups = 4
	}
	if s.Init == "" {
		s.Init = "he"
	}
	if s.Dilation == 0 {
		s.Dilation = 1
	}
	if s.Activation == "" {
		s.Activation = "relu"
	}
	if s.Activation == "leaky-relu" && s.LeakySlope == 0 {
		s.LeakySlope = 0.01
	}
	return s
}

func inList(v string, l []string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// Validate checks the (defaulted) spec and names the offending field.
func (s NetSpec) Validate() error {
	s = s.Defaults()
	if !inList(s.Arch, knownArchs) {
		return fmt.Errorf("network.arch: %w", data.UnknownNameError("architecture", s.Arch, knownArchs))
	}
	if !inList(s.Norm, knownNorms) {
		return fmt.Errorf("network.norm: %w", data.UnknownNameError("norm", s.Norm, knownNorms))
	}
	if !inList(s.Init, knownInits) {
		return fmt.Errorf("network.init: %w", data.UnknownNameError("initialiser", s.Init, knownInits))
	}
	if s.Head != "" && !inList(s.Head, knownHeads) {
		return fmt.Errorf("network.head: %w", data.UnknownNameError("head", s.Head, knownHeads))
	}
	if s.Base < 1 || s.Base > 512 {
		return fmt.Errorf("network.base: %d out of range (expected 1..512)", s.Base)
	}
	if s.Depth < 1 || s.Depth > 7 {
		return fmt.Errorf("network.depth: %d out of range (expected 1..7)", s.Depth)
	}
	if s.Groups < 1 {
		return fmt.Errorf("network.groups: %d must be >= 1", s.Groups)
	}
	if s.Dropout < 0 || s.Dropout >= 1 {
		return fmt.Errorf("network.dropout: %g out of range (expected 0 <= p < 1)", s.Dropout)
	}
	if s.Dilation < 1 {
		return fmt.Errorf("network.dilation: %d must be >= 1", s.Dilation)
	}
	if s.Dilation > 1 && (s.Arch == "cnn" || s.Arch == "resnet") {
		return fmt.Errorf("network.dilation: %d applies only to the bottleneck of unet, heatmap and multitask (arch %s expects 1)", s.Dilation, s.Arch)
	}
	if !inList(s.Activation, knownActivations) {
		return fmt.Errorf("network.activation: %w", data.UnknownNameError("activation", s.Activation, knownActivations))
	}
	if s.Activation == "leaky-relu" {
		if !(s.LeakySlope > 0 && s.LeakySlope < 1) {
			return fmt.Errorf("network.leaky_slope: %g out of range (expected 0 < slope < 1)", s.LeakySlope)
		}
	} else if s.LeakySlope != 0 {
		return fmt.Errorf("network.leaky_slope: %g is set but network.activation is %s (expected leaky-relu)", s.LeakySlope, s.Activation)
	}
	return nil
}

// Describe is one sentence naming the architecture and its parameters.
func (s NetSpec) Describe() string {
	s = s.Defaults()
	norm := "no normalisation"
	switch s.Norm {
	case "group":
		norm = fmt.Sprintf("GroupNorm (%d groups)", s.Groups)
	case "batch":
		norm = "batch normalisation (batch statistics in training, running averages with momentum 0.1 at inference)"
	}
	drop := ""
	if s.Dropout > 0 {
		drop = fmt.Sprintf(", dropout %g", s.Dropout)
	}
	init := "He-normal"
	if s.Init == "glorot" {
		init = "Glorot-uniform"
	}
	from := ""
	if s.InitFrom != "" {
		from = fmt.Sprintf(", initialised from %s for matching layers", s.InitFrom)
	}
	act := "ReLU"
	if s.Activation == "leaky-relu" {
		act = fmt.Sprintf("leaky ReLU (negative slope %g)", s.LeakySlope)
	}
	bottom := ""
	if s.Dilation > 1 {
		bottom = fmt.Sprintf("; the two bottleneck 3x3 convolutions are dilated by %d (padding %d, size kept), all others undilated", s.Dilation, s.Dilation)
	}
	var body string
	switch s.Arch {
	case "cnn":
		body = fmt.Sprintf("A VGG-style classifier with %d stages of two 3x3 convolutions and 2x2 max pooling (%d base channels, doubling per stage), global average pooling and a dense output layer", s.Depth, s.Base)
	case "resnet":
		body = fmt.Sprintf("A ResNet-18-style classifier with a 3x3 stem and %d stages of two basic residual blocks (%d base channels, doubling per stage, stride 2 from the second stage), global average pooling and a dense output layer", s.Depth, s.Base)
	case "unet":
		body = fmt.Sprintf("A U-Net with %d down-sampling stages (%d base channels, doubling per stage; two 3x3 convolutions per stage, 2x2 max pooling, nearest 2x upsampling followed by a 3x3 convolution, concatenated skips%s) and a 1x1 convolution head", s.Depth, s.Base, bottom)
	case "multitask":
		body = fmt.Sprintf("A multitask U-Net with %d down-sampling stages (%d base channels, doubling per stage; two 3x3 convolutions per stage, 2x2 max pooling, nearest 2x upsampling followed by a 3x3 convolution, concatenated skips%s) and a 1x1 convolution segmentation head, whose shared encoder's bottleneck also feeds a glaucoma classifier (global average pooling and a dense layer giving one logit)", s.Depth, s.Base, bottom)
	case "heatmap":
		body = fmt.Sprintf("A U-Net heatmap regressor with %d down-sampling stages (%d base channels, doubling per stage; two 3x3 convolutions per stage, 2x2 max pooling, nearest 2x upsampling followed by a 3x3 convolution, concatenated skips%s) and a 1x1 convolution producing a Gaussian heatmap", s.Depth, s.Base, bottom)
	}
	return fmt.Sprintf("%s, %s and %s after each convolution%s, %s initialisation%s.", body, norm, act, drop, init, from)
}
