package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/image/bmp"
)

// Mask conventions a MaskRule can name.
const (
	// ConventionRefuge is the strict REFUGE codec: one file per image holding
	// only 0 (cup), 128 (rim) and 255 (background), single-channel or with
	// three identical channels.
	ConventionRefuge = "refuge"
	// ConventionBinary is one structure per file (RIM-ONE style). Foreground
	// is decided on channel 0 by an explicit polarity and threshold.
	ConventionBinary = "binary"
)

// Binary mask polarities and thresholds.
const (
	// PolarityBright means the structure is bright (RIM-ONE: 255 = inside).
	PolarityBright = "bright"
	// PolarityDark means the structure is dark (the complement of bright).
	PolarityDark = "dark"
	// ThresholdHalf counts channel 0 > 127 as bright.
	ThresholdHalf = ">127"
	// ThresholdNonzero counts channel 0 != 0 as bright.
	ThresholdNonzero = "nonzero"
)

// MaskRule says how a mask file is decoded into REFUGE codes. The zero value
// is invalid on purpose: the rule is always explicit. Use RefugeRule for
// REFUGE-coded files; binary sources (RIM-ONE) must state polarity and
// threshold in the configuration, never by default.
type MaskRule struct {
	// Convention is ConventionRefuge or ConventionBinary.
	Convention string `json:"convention" yaml:"convention"`
	// Polarity (binary only) is PolarityBright or PolarityDark.
	Polarity string `json:"polarity,omitempty" yaml:"polarity,omitempty"`
	// Threshold (binary only) is ThresholdHalf or ThresholdNonzero.
	Threshold string `json:"threshold,omitempty" yaml:"threshold,omitempty"`
}

// RefugeRule is the strict REFUGE codec rule.
var RefugeRule = MaskRule{Convention: ConventionRefuge}

// Validate reports an incomplete or unknown rule, naming the field.
func (r MaskRule) Validate() error {
	switch r.Convention {
	case ConventionRefuge:
		if r.Polarity != "" || r.Threshold != "" {
			return fmt.Errorf("mask rule: convention %q takes no polarity/threshold (got polarity %q, threshold %q)", r.Convention, r.Polarity, r.Threshold)
		}
		return nil
	case ConventionBinary:
		if r.Polarity != PolarityBright && r.Polarity != PolarityDark {
			return fmt.Errorf("mask rule: polarity %q is invalid for a binary mask (expected %q or %q; no default is assumed)", r.Polarity, PolarityBright, PolarityDark)
		}
		if r.Threshold != ThresholdHalf && r.Threshold != ThresholdNonzero {
			return fmt.Errorf("mask rule: threshold %q is invalid for a binary mask (expected %q or %q; no default is assumed)", r.Threshold, ThresholdHalf, ThresholdNonzero)
		}
		return nil
	}
	return fmt.Errorf("mask rule: convention %q is unknown (expected %q or %q)", r.Convention, ConventionRefuge, ConventionBinary)
}

// String describes the rule in words, for the manifest and the report.
func (r MaskRule) String() string {
	switch r.Convention {
	case ConventionRefuge:
		return "REFUGE codes (0 = cup, 128 = rim, 255 = background; any other value rejected)"
	case ConventionBinary:
		t := "channel 0 > 127"
		if r.Threshold == ThresholdNonzero {
			t = "channel 0 non-zero"
		}
		if r.Polarity == PolarityDark {
			return fmt.Sprintf("binary, dark = structure (structure where not %s)", t)
		}
		return fmt.Sprintf("binary, bright = structure (structure where %s)", t)
	}
	return fmt.Sprintf("invalid mask rule %+v", struct{ Convention, Polarity, Threshold string }(r))
}

// foreground applies a binary rule to a channel-0 value.
func (r MaskRule) foreground(v uint8) bool {
	var bright bool
	if r.Threshold == ThresholdNonzero {
		bright = v != 0
	} else {
		bright = v > 127
	}
	if r.Polarity == PolarityDark {
		return !bright
	}
	return bright
}

// rawMask holds the 8-bit channels of a decoded mask file.
type rawMask struct {
	w, h int
	ch   [][]uint8 // 1 or 3 channels, each w*h
}

// maskRaw decodes a mask file into 8-bit channels. JPEG masks are refused by
// extension (lossy compression adds stray values at label edges), and so are
// masks with transparency or 16-bit values that are not 8-bit levels.
func maskRaw(path string) (*rawMask, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".jpg" || ext == ".jpeg" {
		return nil, fmt.Errorf("read mask %s: JPEG masks are refused (lossy compression adds stray values at label edges); expected a lossless .png or .bmp", path)
	}
	src, _, err := decodeFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mask: %w", err)
	}
	return rawFromGo(path, src)
}

func rawFromGo(path string, src image.Image) (*rawMask, error) {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	n := w * h
	one := func() *rawMask { return &rawMask{w: w, h: h, ch: [][]uint8{make([]uint8, n)}} }
	three := func() *rawMask {
		return &rawMask{w: w, h: h, ch: [][]uint8{make([]uint8, n), make([]uint8, n), make([]uint8, n)}}
	}
	switch s := src.(type) {
	case *image.Gray:
		r := one()
		for y := 0; y < h; y++ {
			copy(r.ch[0][y*w:(y+1)*w], s.Pix[y*s.Stride:y*s.Stride+w])
		}
		return r, nil
	case *image.Paletted:
		type rgb struct{ r, g, b uint8 }
		pal := make([]rgb, 256)
		grey := true
		for k, c := range s.Palette {
			nc := color.NRGBAModel.Convert(c).(color.NRGBA)
			if nc.A != 255 {
				return nil, fmt.Errorf("read mask %s: palette entry %d is transparent (alpha %d); expected an opaque mask", path, k, nc.A)
			}
			pal[k] = rgb{nc.R, nc.G, nc.B}
			if nc.R != nc.G || nc.R != nc.B {
				grey = false
			}
		}
		var r *rawMask
		if grey {
			r = one()
		} else {
			r = three()
		}
		for y := 0; y < h; y++ {
			for x, k := range s.Pix[y*s.Stride : y*s.Stride+w] {
				if int(k) >= len(s.Palette) {
					return nil, fmt.Errorf("read mask %s: pixel (%d, %d) has palette index %d beyond the %d-entry palette", path, x, y, k, len(s.Palette))
				}
				c := pal[k]
				i := y*w + x
				r.ch[0][i] = c.r
				if !grey {
					r.ch[1][i], r.ch[2][i] = c.g, c.b
				}
			}
		}
		return r, nil
	case *image.RGBA, *image.NRGBA:
		var pix []uint8
		var stride int
		if t, ok := s.(*image.RGBA); ok {
			pix, stride = t.Pix, t.Stride
		} else {
			t := s.(*image.NRGBA)
			pix, stride = t.Pix, t.Stride
		}
		r := three()
		transparent := 0
		for y := 0; y < h; y++ {
			row := pix[y*stride : y*stride+4*w]
			for x := 0; x < w; x++ {
				i := y*w + x
				r.ch[0][i], r.ch[1][i], r.ch[2][i] = row[4*x], row[4*x+1], row[4*x+2]
				if row[4*x+3] != 255 {
					transparent++
				}
			}
		}
		if transparent > 0 {
			return nil, fmt.Errorf("read mask %s: %d of %d pixels are not opaque (alpha < 255); expected an opaque mask", path, transparent, n)
		}
		return r, nil
	}
	// 16-bit and other layouts: accept only exact 8-bit levels.
	r := three()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA64Model.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
			if c.A != 0xffff {
				return nil, fmt.Errorf("read mask %s: pixel (%d, %d) is not opaque; expected an opaque mask", path, x, y)
			}
			for k, v := range []uint16{c.R, c.G, c.B} {
				if v%257 != 0 {
					return nil, fmt.Errorf("read mask %s: pixel (%d, %d) channel %d has the 16-bit value %d, which is no 8-bit level; expected 8-bit mask values", path, x, y, k, v)
				}
				r.ch[k][y*w+x] = uint8(v / 257)
			}
		}
	}
	return r, nil
}

// valueCounts is a histogram of byte values.
type valueCounts [256]int

func histogram(p []uint8) (h valueCounts) {
	for _, v := range p {
		h[v]++
	}
	return
}

// set lists the values present, ascending, as "{0,1,2}".
func (h *valueCounts) set() string {
	var s []string
	for v, c := range h {
		if c > 0 {
			s = append(s, fmt.Sprint(v))
		}
	}
	return "{" + strings.Join(s, ",") + "}"
}

// strays lists values outside {0,128,255} by decreasing count (ties by
// value) as "254×3, 138×2, 3×1", with their total.
func (h *valueCounts) strays() (string, int) {
	type vc struct{ v, c int }
	var l []vc
	total := 0
	for v, c := range h {
		if c > 0 && v != 0 && v != 128 && v != 255 {
			l = append(l, vc{v, c})
			total += c
		}
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].c != l[j].c {
			return l[i].c > l[j].c
		}
		return l[i].v < l[j].v
	})
	var s []string
	for i, e := range l {
		if i == 20 {
			s = append(s, fmt.Sprintf("... (%d more values)", len(l)-20))
			break
		}
		s = append(s, fmt.Sprintf("%d×%d", e.v, e.c))
	}
	return strings.Join(s, ", "), total
}

// refugeFromRaw applies the strict REFUGE codec to decoded channels.
func refugeFromRaw(path string, r *rawMask) (*Mask, error) {
	c0 := r.ch[0]
	h0 := histogram(c0)
	strayList, strays := h0.strays()
	var msgs []string
	if len(r.ch) == 3 {
		var diff []string
		for k := 1; k < 3; k++ {
			d := 0
			for i, v := range r.ch[k] {
				if v != c0[i] {
					d++
				}
			}
			if d > 0 {
				diff = append(diff, fmt.Sprintf("channel %d differs from channel 0 at %d px", k, d))
			}
		}
		if len(diff) > 0 {
			msgs = append(msgs, fmt.Sprintf("the mask has 3 channels that differ (%s); expected a single-channel mask or R = G = B", strings.Join(diff, ", ")))
		}
	}
	if strays > 0 {
		m := fmt.Sprintf("%d of %d px (channel 0) are outside {0,128,255}: %s; values found %s", strays, len(c0), strayList, h0.set())
		if h0[3] == 0 && strays == h0[1]+h0[2] {
			m += " (this looks like a class-index mask 0/1/2, not REFUGE codes 0 = cup, 128 = rim, 255 = background)"
		}
		msgs = append(msgs, m)
	}
	if len(msgs) > 0 {
		return nil, fmt.Errorf("read mask %s (REFUGE codec): %s", path, strings.Join(msgs, "; "))
	}
	m := &Mask{W: r.w, H: r.h, Pix: make([]uint8, len(c0))}
	copy(m.Pix, c0)
	return m, nil
}

// binaryFromRaw applies a binary rule to channel 0: structure = Rim (128),
// elsewhere Background (255).
func binaryFromRaw(r *rawMask, rule MaskRule) *Mask {
	m := &Mask{W: r.w, H: r.h, Pix: make([]uint8, r.w*r.h)}
	for i, v := range r.ch[0] {
		if rule.foreground(v) {
			m.Pix[i] = Rim
		} else {
			m.Pix[i] = Background
		}
	}
	return m
}

// ReadMask reads a mask file under an explicit rule.
//
// With RefugeRule (strict REFUGE codec) it accepts only lossless files
// (.png/.bmp; .jpg/.jpeg is refused by extension) that are single-channel or
// have three identical channels, holding only 0, 128 and 255. Otherwise the
// error names the file and what is wrong: channels that differ, and the
// stray values with their pixel counts and the value set found (a 0/1/2
// class-index mask is named as such).
//
// With a binary rule the file holds one structure; channel 0 is thresholded
// as the rule says and the result has structure = 128 (rim) and the rest 255.
// Use ReadBinaryPair to combine a disc and a cup file.
func ReadMask(path string, rule MaskRule) (*Mask, error) {
	if err := rule.Validate(); err != nil {
		return nil, fmt.Errorf("read mask %s: %w", path, err)
	}
	r, err := maskRaw(path)
	if err != nil {
		return nil, err
	}
	if rule.Convention == ConventionBinary {
		return binaryFromRaw(r, rule), nil
	}
	return refugeFromRaw(path, r)
}

// ReadBinaryPair reads a disc file and a cup file of a binary source (e.g.
// RIM-ONE DL "<id>-1-Disc-T.png" and "<id>-1-Cup-T.png") under an explicit
// binary rule and merges them into REFUGE codes: cup 0, disc without cup
// 128, background 255. Different sizes or cup pixels outside the disc are
// errors naming both files.
func ReadBinaryPair(discPath, cupPath string, rule MaskRule) (*Mask, error) {
	if err := rule.Validate(); err != nil {
		return nil, fmt.Errorf("read mask pair %s + %s: %w", discPath, cupPath, err)
	}
	if rule.Convention != ConventionBinary {
		return nil, fmt.Errorf("read mask pair %s + %s: rule %q is not binary; a disc/cup file pair needs convention %q", discPath, cupPath, rule.Convention, ConventionBinary)
	}
	disc, err := ReadMask(discPath, rule)
	if err != nil {
		return nil, err
	}
	cup, err := ReadMask(cupPath, rule)
	if err != nil {
		return nil, err
	}
	if disc.W != cup.W || disc.H != cup.H {
		return nil, fmt.Errorf("read mask pair: disc mask %s is %dx%d but cup mask %s is %dx%d; expected equal sizes", discPath, disc.W, disc.H, cupPath, cup.W, cup.H)
	}
	outside := 0
	for i, v := range cup.Pix {
		if v == Rim {
			if disc.Pix[i] != Rim {
				outside++
			}
			disc.Pix[i] = Cup
		}
	}
	if outside > 0 {
		return nil, fmt.Errorf("read mask pair: %d cup px of %s lie outside the disc of %s; expected the cup inside the disc", outside, cupPath, discPath)
	}
	return disc, nil
}

// checkCodes verifies that a mask holds only REFUGE codes and is consistent.
func checkCodes(m *Mask) error {
	if m == nil || m.W <= 0 || m.H <= 0 || len(m.Pix) != m.W*m.H {
		if m == nil {
			return fmt.Errorf("mask is nil")
		}
		return fmt.Errorf("mask is empty or inconsistent (W=%d H=%d len=%d)", m.W, m.H, len(m.Pix))
	}
	h := histogram(m.Pix)
	if list, n := h.strays(); n > 0 {
		return fmt.Errorf("mask has %d px outside {0,128,255}: %s; only REFUGE codes may be written", n, list)
	}
	return nil
}

// maskGray wraps a mask as an 8-bit Go grey image (sharing no memory).
func maskGray(m *Mask) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, m.W, m.H))
	copy(g.Pix, m.Pix)
	return g
}

// EncodeMaskBMP encodes a REFUGE-coded mask as an 8-bit single-channel BMP
// with a 256-entry grey palette (the REFUGE 2018 Disc_Cup_Masks storage;
// Pillow opens it in mode "L"). Values outside {0,128,255} are an error.
func EncodeMaskBMP(m *Mask) ([]byte, error) {
	if err := checkCodes(m); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := bmp.Encode(&buf, maskGray(m)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// EncodeMaskPNG encodes a REFUGE-coded mask as an 8-bit greyscale PNG (the
// REFUGE2 storage). Values outside {0,128,255} are an error.
func EncodeMaskPNG(m *Mask) ([]byte, error) {
	if err := checkCodes(m); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, maskGray(m)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteMaskBMP writes a REFUGE-coded mask as an 8-bit paletted BMP,
// atomically. The path must end in lowercase ".bmp": the official REFUGE
// scorer only reads lowercase .bmp files.
func WriteMaskBMP(path string, m *Mask) error {
	if filepath.Ext(path) != ".bmp" {
		return fmt.Errorf("write mask %s: extension %q; expected lowercase \".bmp\" (the official scorer reads only *.bmp)", path, filepath.Ext(path))
	}
	b, err := EncodeMaskBMP(m)
	if err != nil {
		return fmt.Errorf("write mask %s: %w", path, err)
	}
	return WriteFileAtomic(path, b)
}

// WriteMaskPNG writes a REFUGE-coded mask as an 8-bit greyscale PNG,
// atomically. The path must end in lowercase ".png".
func WriteMaskPNG(path string, m *Mask) error {
	if filepath.Ext(path) != ".png" {
		return fmt.Errorf("write mask %s: extension %q; expected lowercase \".png\"", path, filepath.Ext(path))
	}
	b, err := EncodeMaskPNG(m)
	if err != nil {
		return fmt.Errorf("write mask %s: %w", path, err)
	}
	return WriteFileAtomic(path, b)
}
