// Package data turns dataset releases into samples: source readers (REFUGE
// 2018, REFUGE2, RIM-ONE DL, IDRiD, CSV manifests and the synthetic fundus
// generator), image and mask I/O with the REFUGE mask codec, splits,
// deterministic preprocessing with exact inverse geometry, and the .npy cache.
//
// Conventions used everywhere in refugelab:
//   - Pixel coordinates are continuous with the pixel-centre convention: the
//     centre of pixel (column i, row j) is the point (i, j); pixel i covers
//     [i-0.5, i+0.5). x is the column, y the row, origin top-left.
//   - Masks use the REFUGE codes: 0 = cup, 128 = rim, 255 = background.
//     Disc = every pixel below 255 (cup included).
//   - Images are float32, planar (channel-major), values in [0, 1].
package data

import (
	"fmt"
	"math"
)

// Mask codes of the REFUGE convention.
const (
	Cup        uint8 = 0
	Rim        uint8 = 128
	Background uint8 = 255
)

// Image is a planar float32 image: Pix[c*W*H + y*W + x], values in [0, 1].
type Image struct {
	W, H, C int
	Pix     []float32
}

// NewImage returns a zeroed image of the given size and channel count.
func NewImage(w, h, c int) *Image {
	return &Image{W: w, H: h, C: c, Pix: make([]float32, w*h*c)}
}

// At returns channel c of pixel (x, y).
func (im *Image) At(c, x, y int) float32 { return im.Pix[c*im.W*im.H+y*im.W+x] }

// Set writes channel c of pixel (x, y).
func (im *Image) Set(c, x, y int, v float32) { im.Pix[c*im.W*im.H+y*im.W+x] = v }

// Clone returns a deep copy.
func (im *Image) Clone() *Image {
	out := &Image{W: im.W, H: im.H, C: im.C, Pix: make([]float32, len(im.Pix))}
	copy(out.Pix, im.Pix)
	return out
}

// Mask is a single-channel label image with REFUGE codes (0 cup, 128 rim,
// 255 background): Pix[y*W + x].
type Mask struct {
	W, H int
	Pix  []uint8
}

// NewMask returns a mask of the given size filled with Background.
func NewMask(w, h int) *Mask {
	m := &Mask{W: w, H: h, Pix: make([]uint8, w*h)}
	for i := range m.Pix {
		m.Pix[i] = Background
	}
	return m
}

// Clone returns a deep copy.
func (m *Mask) Clone() *Mask {
	out := &Mask{W: m.W, H: m.H, Pix: make([]uint8, len(m.Pix))}
	copy(out.Pix, m.Pix)
	return out
}

// Point is a position in pixel coordinates (pixel-centre convention).
type Point struct {
	X, Y float64
}

// Dist returns the Euclidean distance between two points.
func (p Point) Dist(q Point) float64 { return math.Hypot(p.X-q.X, p.Y-q.Y) }

// Sample is one image with whatever ground truth its source provides.
// A sample may carry any subset of annotations.
type Sample struct {
	// ID is unique across all sources of a run: "<source name>/<stem>".
	ID string `json:"id"`
	// Stem is the image file name without extension, used in submissions.
	Stem string `json:"stem"`
	// Name is the image file name as the ground truth names it (e.g. "g0001.jpg").
	Name string `json:"name"`
	// Source is the configured source name; Format its reader.
	Source string `json:"source"`
	Format string `json:"format"`
	// Device is the camera or domain, when known ("" otherwise).
	Device string `json:"device,omitempty"`
	// Subset is the release part (training, validation, test) when known.
	Subset string `json:"subset,omitempty"`
	// ImagePath and MaskPath are files on disk ("" for in-memory synthetic
	// samples or when there is no mask).
	ImagePath string `json:"image_path,omitempty"`
	MaskPath  string `json:"mask_path,omitempty"`
	// W and H are the original image size in pixels.
	W int `json:"width"`
	H int `json:"height"`
	// Label is 1 = glaucoma, 0 = normal, -1 = unknown.
	Label int `json:"label"`
	// HasMask tells whether a disc/cup mask exists.
	HasMask bool `json:"has_mask"`
	// Fovea and DiscCenter are in original pixels; nil when unknown.
	Fovea      *Point `json:"fovea,omitempty"`
	DiscCenter *Point `json:"disc_center,omitempty"`

	// loader, when set, produces the image and mask in memory (synthetic).
	loader func() (*Image, *Mask, error)
}

// SetLoader installs an in-memory loader (used by generated sources).
func (s *Sample) SetLoader(f func() (*Image, *Mask, error)) { s.loader = f }

// HasLabel tells whether the glaucoma label is known.
func (s *Sample) HasLabel() bool { return s.Label == 0 || s.Label == 1 }

// Affine maps points from one pixel frame to another:
// x' = A[0]*x + A[1]*y + A[2]; y' = A[3]*x + A[4]*y + A[5].
type Affine [6]float64

// Identity is the identity transform.
var Identity = Affine{1, 0, 0, 0, 1, 0}

// Apply maps a point.
func (a Affine) Apply(p Point) Point {
	return Point{a[0]*p.X + a[1]*p.Y + a[2], a[3]*p.X + a[4]*p.Y + a[5]}
}

// Then returns the transform "a, then b".
func (a Affine) Then(b Affine) Affine {
	return Affine{
		b[0]*a[0] + b[1]*a[3], b[0]*a[1] + b[1]*a[4], b[0]*a[2] + b[1]*a[5] + b[2],
		b[3]*a[0] + b[4]*a[3], b[3]*a[1] + b[4]*a[4], b[3]*a[2] + b[4]*a[5] + b[5],
	}
}

// Inverse returns the inverse transform, or an error when a is singular.
func (a Affine) Inverse() (Affine, error) {
	det := a[0]*a[4] - a[1]*a[3]
	if det == 0 || math.IsNaN(det) || math.IsInf(det, 0) {
		return Affine{}, fmt.Errorf("affine transform %v is not invertible", a)
	}
	i0, i1 := a[4]/det, -a[1]/det
	i3, i4 := -a[3]/det, a[0]/det
	return Affine{i0, i1, -(i0*a[2] + i1*a[5]), i3, i4, -(i3*a[2] + i4*a[5])}, nil
}

// CropResize returns the transform that maps the window [x0, x0+w) x
// [y0, y0+h) of a frame onto an outW x outH frame, with the pixel-centre
// convention: x' = (x - x0 + 0.5) * outW/w - 0.5 (and the same for y with its
// own scale).
func CropResize(x0, y0, w, h float64, outW, outH int) Affine {
	sx, sy := float64(outW)/w, float64(outH)/h
	return Affine{sx, 0, (0.5-x0)*sx - 0.5, 0, sy, (0.5-y0)*sy - 0.5}
}
