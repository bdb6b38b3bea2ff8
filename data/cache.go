package data

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
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/sbinet/npyio"
)

// Cache stores prepared arrays as .npy files (float32, C order, the real
// shape in the header, readable by NumPy) under Dir, one per key, each
// with a JSON sidecar holding the key, shape and SHA-256 of the data. A
// file that is missing, unreadable, truncated, of the wrong shape or whose
// data no longer matches its hash is treated as a miss: recomputed and
// rewritten (atomically). Safe for concurrent use with distinct or equal
// keys; use it through a pointer (it holds counters).
type Cache struct {
	// Dir is the cache folder; "" disables caching (always compute).
	Dir string

	hits, misses, rebuilt atomic.Int64
}

// CacheStats counts lookups: hits, misses (absent entries) and rebuilt
// (damaged entries detected and recomputed).
type CacheStats struct{ Hits, Misses, Rebuilt int64 }

// Stats returns the counters so far.
func (c *Cache) Stats() CacheStats {
	return CacheStats{c.hits.Load(), c.misses.Load(), c.rebuilt.Load()}
}

type cacheMeta struct {
	Key    string `json:"key"`
	Dtype  string `json:"dtype"`
	Shape  []int  `json:"shape"`
	SHA256 string `json:"sha256"`
	// Affine and MaskPlane describe a cached Prepared (see PrepareSample).
	Affine    *Affine `json:"affine,omitempty"`
	MaskPlane bool    `json:"mask_plane,omitempty"`
}

// CacheKey hashes its parts (each length-prefixed, so part boundaries
// matter) into a hex SHA-256 key.
func CacheKey(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		io.WriteString(h, p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// FileSHA256 returns the hex SHA-256 of a file's bytes.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// synthCacheVersion changes whenever the synthetic generator's output
// changes, so cached synthetic inputs are not reused across versions.
const synthCacheVersion = "synth-v2"

// SampleCacheKey returns the cache key of a sample prepared by p: the
// SHA-256 of the image (and mask) file bytes, or for in-memory synthetic
// samples their identity and exact ground truth plus the generator
// version, together with the pipeline fingerprint and extra (for example
// the ROI centre source, "gt-disc" or a localiser run id).
func SampleCacheKey(s *Sample, p *Pipeline, extra string) (string, error) {
	parts := []string{"refugelab-cache-v1", p.Fingerprint(), extra}
	if s.ImagePath == "" {
		parts = append(parts, synthCacheVersion, s.ID, s.Format, fmt.Sprintf("%dx%d label=%d fovea=%v disc=%v", s.W, s.H, s.Label, s.Fovea, s.DiscCenter))
		return CacheKey(parts...), nil
	}
	for _, path := range []string{s.ImagePath, s.MaskPath} {
		if path == "" {
			parts = append(parts, "-")
			continue
		}
		h, err := FileSHA256(path)
		if err != nil {
			return "", fmt.Errorf("cache key of %s: %w", s.ID, err)
		}
		parts = append(parts, h)
	}
	return CacheKey(parts...), nil
}

func (c *Cache) paths(key string) (string, string) {
	name := key
	for _, r := range key {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			name = CacheKey(key)
			break
		}
	}
	if len(name) < 3 {
		name = CacheKey(key)
	}
	dir := filepath.Join(c.Dir, name[:2])
	return filepath.Join(dir, name+".npy"), filepath.Join(dir, name+".json")
}

// GetOrCompute returns the cached array for key, or calls compute, stores
// its result and returns it. The shape's product must equal len(data).
func (c *Cache) GetOrCompute(key string, compute func() ([]float32, []int, error)) ([]float32, []int, error) {
	data, shape, _, err := c.getOrCompute(key, func() ([]float32, []int, cacheMeta, error) {
		d, sh, err := compute()
		return d, sh, cacheMeta{}, err
	})
	return data, shape, err
}

func (c *Cache) getOrCompute(key string, compute func() ([]float32, []int, cacheMeta, error)) ([]float32, []int, cacheMeta, error) {
	if c.Dir == "" {
		return compute()
	}
	npyPath, metaPath := c.paths(key)
	data, shape, meta, err := readCached(npyPath, metaPath, key)
	switch {
	case err == nil:
		c.hits.Add(1)
		return data, shape, meta, nil
	case os.IsNotExist(err):
		c.misses.Add(1)
	default:
		c.rebuilt.Add(1)
	}
	data, shape, meta, err = compute()
	if err != nil {
		return nil, nil, meta, err
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(shape) == 0 || n != len(data) {
		return nil, nil, meta, fmt.Errorf("cache %s: computed %d values but shape %v", key, len(data), shape)
	}
	if err := writeCached(npyPath, metaPath, key, data, shape, meta); err != nil {
		return nil, nil, meta, err
	}
	return data, shape, meta, nil
}

// PrepareSample is Pipeline.PrepareSample through the cache: the entry
// holds the prepared image planes, plus the warped mask as a last plane
// when there is one, and the transform T in the sidecar (exact float64).
// The key covers the sample's files (or synthetic identity), the resolved
// pipeline, the ROI centre and disc diameter given (nil centre = ground
// truth) and geometricOnly. With an empty Dir it just prepares.
func (c *Cache) PrepareSample(p *Pipeline, s *Sample, center *Point, discDiam float64, geometricOnly bool) (*Prepared, error) {
	if c.Dir == "" {
		return p.PrepareSample(s, center, discDiam, geometricOnly)
	}
	ctr := "gt"
	if center != nil {
		ctr = strconv.FormatFloat(center.X, 'g', -1, 64) + "," + strconv.FormatFloat(center.Y, 'g', -1, 64)
	}
	extra := fmt.Sprintf("prepare center=%s diam=%s geometric=%v", ctr, strconv.FormatFloat(discDiam, 'g', -1, 64), geometricOnly)
	key, err := SampleCacheKey(s, p, extra)
	if err != nil {
		return nil, err
	}
	data, shape, meta, err := c.getOrCompute(key, func() ([]float32, []int, cacheMeta, error) {
		pr, err := p.PrepareSample(s, center, discDiam, geometricOnly)
		if err != nil {
			return nil, nil, cacheMeta{}, err
		}
		planes := pr.X.C
		d := append([]float32(nil), pr.X.Pix...)
		if pr.M != nil {
			planes++
			for _, v := range pr.M.Pix {
				d = append(d, float32(v))
			}
		}
		T := pr.T
		return d, []int{planes, pr.H, pr.W}, cacheMeta{Affine: &T, MaskPlane: pr.M != nil}, nil
	})
	if err != nil {
		return nil, err
	}
	if len(shape) != 3 || meta.Affine == nil || (meta.MaskPlane && shape[0] < 2) {
		return nil, fmt.Errorf("cache entry %s: shape %v without a prepared-sample layout", key, shape)
	}
	h, w := shape[1], shape[2]
	ch := shape[0]
	if meta.MaskPlane {
		ch--
	}
	plane := w * h
	out := &Prepared{X: &Image{W: w, H: h, C: ch, Pix: data[:ch*plane]}, T: *meta.Affine, W: w, H: h}
	if meta.MaskPlane {
		m := &Mask{W: w, H: h, Pix: make([]uint8, plane)}
		for i, v := range data[ch*plane:] {
			m.Pix[i] = uint8(v)
		}
		out.M = m
	}
	return out, nil
}

func encodeNPY(data []float32, shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	sh := "(" + strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	sh += ")"
	hdr := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", sh)
	// Version 1.0: magic (6) + version (2) + header length (2) + header,
	// padded with spaces and a final newline to a multiple of 64 bytes.
	total := 10 + len(hdr) + 1
	pad := (64 - total%64) % 64
	hdr += strings.Repeat(" ", pad) + "\n"
	var buf bytes.Buffer
	buf.Grow(10 + len(hdr) + 4*len(data))
	buf.Write(npyio.Magic[:])
	buf.Write([]byte{1, 0})
	binary.Write(&buf, binary.LittleEndian, uint16(len(hdr)))
	buf.WriteString(hdr)
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	buf.Write(b)
	return buf.Bytes()
}

func writeCached(npyPath, metaPath, key string, data []float32, shape []int, meta cacheMeta) error {
	if err := os.MkdirAll(filepath.Dir(npyPath), 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	b := encodeNPY(data, shape)
	sum := sha256.Sum256(b)
	meta.Key, meta.Dtype, meta.Shape, meta.SHA256 = key, "<f4", shape, hex.EncodeToString(sum[:])
	mb, _ := json.Marshal(meta)
	// Data first, then the sidecar: a reader only trusts an .npy whose
	// bytes match the sidecar's hash.
	if err := WriteFileAtomic(npyPath, b); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := WriteFileAtomic(metaPath, mb); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// readCached returns an os.IsNotExist error when the entry is absent and
// another error when it is damaged.
func readCached(npyPath, metaPath, key string) (data []float32, shape []int, meta cacheMeta, err error) {
	data, shape, err = readCachedData(npyPath, metaPath, key, &meta)
	return data, shape, meta, err
}

func readCachedData(npyPath, metaPath, key string, metaOut *cacheMeta) (data []float32, shape []int, err error) {
	mb, err := os.ReadFile(metaPath)
	if err != nil {
		return nil, nil, err
	}
	b, err := os.ReadFile(npyPath)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil, fmt.Errorf("cache %s: sidecar without data", npyPath)
		}
		return nil, nil, err
	}
	var meta cacheMeta
	if err := json.Unmarshal(mb, &meta); err != nil {
		return nil, nil, fmt.Errorf("cache %s: damaged sidecar: %w", metaPath, err)
	}
	*metaOut = meta
	if meta.Key != key {
		return nil, nil, fmt.Errorf("cache %s: sidecar key %q, want %q", metaPath, meta.Key, key)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != meta.SHA256 {
		return nil, nil, fmt.Errorf("cache %s: data hash mismatch (damaged or partly written)", npyPath)
	}
	defer func() {
		if r := recover(); r != nil {
			data, shape, err = nil, nil, fmt.Errorf("cache %s: malformed .npy header: %v", npyPath, r)
		}
	}()
	br := bytes.NewReader(b)
	r, err := npyio.NewReader(br)
	if err != nil {
		return nil, nil, fmt.Errorf("cache %s: %w", npyPath, err)
	}
	if r.Header.Descr.Type != "<f4" || r.Header.Descr.Fortran {
		return nil, nil, fmt.Errorf("cache %s: dtype %q fortran=%v, want <f4 C order", npyPath, r.Header.Descr.Type, r.Header.Descr.Fortran)
	}
	shape = r.Header.Descr.Shape
	n := 1
	for _, d := range shape {
		n *= d
	}
	if fmt.Sprint(shape) != fmt.Sprint(meta.Shape) {
		return nil, nil, fmt.Errorf("cache %s: shape %v, sidecar says %v", npyPath, shape, meta.Shape)
	}
	rest := b[len(b)-br.Len():]
	if len(rest) != 4*n {
		return nil, nil, fmt.Errorf("cache %s: %d data bytes, shape %v needs %d", npyPath, len(rest), shape, 4*n)
	}
	data = make([]float32, n)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
	}
	return data, shape, nil
}
