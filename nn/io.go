package nn

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/refugelab/refugelab/data"
	"github.com/sbinet/npyio"
)

// WeightsHeader is header.json of a saved weight folder.
type WeightsHeader struct {
	Format string        `json:"format"`
	Spec   NetSpec       `json:"spec"`
	In     Shape         `json:"in"`
	OutC   int           `json:"out_c"`
	Params []ParamHeader `json:"params"`
}

// ParamHeader names one saved tensor: its .npy file, shape and the SHA-256
// of the file bytes.
type ParamHeader struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Shape  []int  `json:"shape"`
	SHA256 string `json:"sha256"`
}

const weightsFormat = "refugelab-weights/1"

// Save writes every parameter as <name>.npy (little-endian float32, C
// order) and header.json into dir (created if needed), each atomically.
func (m *Model) Save(dir string) error { return m.SaveWith(dir, data.WriteFileAtomic) }

// SaveWith is Save with a caller-supplied file writer (train writes
// checkpoints into a temporary folder that is renamed as a whole, so it
// skips the per-file sync of WriteFileAtomic).
func (m *Model) SaveWith(dir string, write func(path string, b []byte) error) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save weights: %w", err)
	}
	h := WeightsHeader{Format: weightsFormat, Spec: m.Spec, In: m.In, OutC: m.OutC}
	for _, p := range m.tensors() {
		b := EncodeNPY(p.Data, p.Shape)
		file := p.Name + ".npy"
		if err := write(filepath.Join(dir, file), b); err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.Params = append(h.Params, ParamHeader{Name: p.Name, File: file, Shape: p.Shape, SHA256: hex.EncodeToString(sum[:])})
	}
	j, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	return write(filepath.Join(dir, "header.json"), append(j, '\n'))
}

// EncodeNPY returns the NumPy .npy (format 1.0) bytes of a float32 array.
func EncodeNPY(vals []float32, shape []int) []byte {
	dims := make([]string, len(shape))
	for i, s := range shape {
		dims[i] = fmt.Sprint(s)
	}
	sh := strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	hdr := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", sh)
	// magic(6)+version(2)+len(2)+header+newline, padded to a multiple of 64.
	total := 10 + len(hdr) + 1
	pad := (64 - total%64) % 64
	hdr += strings.Repeat(" ", pad) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&buf, binary.LittleEndian, uint16(len(hdr)))
	buf.WriteString(hdr)
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	buf.Write(b)
	return buf.Bytes()
}

// ReadNPY reads a float32 .npy file (C order) with npyio and returns its
// values and shape.
func ReadNPY(path string) ([]float32, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return DecodeNPY(f, path)
}

// DecodeNPY decodes a float32 .npy stream (C order); name is used in
// errors.
func DecodeNPY(f io.Reader, path string) ([]float32, []int, error) {
	r, err := npyio.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Header.Descr.Type != "<f4" {
		return nil, nil, fmt.Errorf("%s: dtype %s, expected <f4 (float32)", path, r.Header.Descr.Type)
	}
	if r.Header.Descr.Fortran {
		return nil, nil, fmt.Errorf("%s: Fortran order not supported", path)
	}
	var vals []float32
	if err := r.Read(&vals); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return vals, r.Header.Descr.Shape, nil
}

func readHeader(dir string) (*WeightsHeader, error) {
	b, err := os.ReadFile(filepath.Join(dir, "header.json"))
	if err != nil {
		return nil, fmt.Errorf("load weights: %w", err)
	}
	var h WeightsHeader
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("load weights: %s: %w", filepath.Join(dir, "header.json"), err)
	}
	if h.Format != weightsFormat {
		return nil, fmt.Errorf("load weights: %s: format %q, expected %q", filepath.Join(dir, "header.json"), h.Format, weightsFormat)
	}
	return &h, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Load replaces every parameter and buffer with the tensors saved in dir.
// The folder must hold exactly this model's tensors with the same shapes; a
// file whose bytes do not match the header's SHA-256 is an error naming it.
// Weights written elsewhere (numpy.save of float32 C-order arrays) load
// when header.json lists them with an empty sha256.
func (m *Model) Load(dir string) error {
	h, err := readHeader(dir)
	if err != nil {
		return err
	}
	saved := map[string]ParamHeader{}
	for _, p := range h.Params {
		saved[p.Name] = p
	}
	all := m.tensors()
	if len(saved) != len(all) {
		return fmt.Errorf("load weights: %s holds %d tensors, the model has %d", dir, len(saved), len(all))
	}
	vals := make([][]float32, len(all))
	for i, p := range all {
		ph, ok := saved[p.Name]
		if !ok {
			return fmt.Errorf("load weights: %s has no tensor %s", dir, p.Name)
		}
		v, err := loadParam(dir, ph, p)
		if err != nil {
			return err
		}
		vals[i] = v
	}
	for i, p := range all {
		copy(p.Data, vals[i])
	}
	return nil
}

func loadParam(dir string, ph ParamHeader, p *Param) ([]float32, error) {
	path := filepath.Join(dir, ph.File)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load weights: %w", err)
	}
	if ph.SHA256 != "" {
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != ph.SHA256 {
			return nil, fmt.Errorf("load weights: %s: SHA-256 does not match header.json (file damaged)", path)
		}
	}
	v, shape, err := ReadNPY(path)
	if err != nil {
		return nil, fmt.Errorf("load weights: %w", err)
	}
	if !sameShape(shape, p.Shape) {
		return nil, fmt.Errorf("load weights: %s: shape %v, expected %v for %s", path, shape, p.Shape, p.Name)
	}
	return v, nil
}

// LoadMatching copies the tensors of dir whose name and shape match a
// parameter of m (for network.init_from) and returns how many matched.
func (m *Model) LoadMatching(dir string) (int, error) {
	h, err := readHeader(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ph := range h.Params {
		p, ok := m.byName[ph.Name]
		if !ok || !sameShape(ph.Shape, p.Shape) {
			continue
		}
		v, err := loadParam(dir, ph, p)
		if err != nil {
			return n, err
		}
		copy(p.Data, v)
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("%s: no tensor matches a layer of this %s network by name and shape", dir, m.Spec.Arch)
	}
	return n, nil
}

// WeightsHash is the SHA-256 of all parameters and buffers (names,
// shapes, float32 bits) in order: equal hashes mean bit-identical weights.
func (m *Model) WeightsHash() string {
	h := sha256.New()
	for _, p := range m.tensors() {
		fmt.Fprintf(h, "%s%v;", p.Name, p.Shape)
		b := make([]byte, 4*len(p.Data))
		for i, v := range p.Data {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}
