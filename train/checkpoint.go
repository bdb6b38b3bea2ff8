package train

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/refugelab/refugelab/nn"
)

// optHeader is optimizer.json inside optimizer.npz.
type optHeader struct {
	Name  string   `json:"name"`
	Step  int64    `json:"step"`
	Files []string `json:"files"`
}

// saveOptimizer writes the optimizer state as one NumPy .npz archive
// (stored zip of m.<param>.npy and v.<param>.npy, readable with
// numpy.load) plus optimizer.json with the name and step count.
func saveOptimizer(path string, m *nn.Model, o *Optimizer) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := optHeader{Name: o.State.Name, Step: o.State.Step}
	add := func(name string, b []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	for i, p := range m.Params() {
		for _, bf := range []struct {
			kind string
			v    [][]float32
		}{{"m", o.State.M}, {"v", o.State.V}} {
			if bf.v == nil {
				continue
			}
			f := bf.kind + "." + p.Name + ".npy"
			if err := add(f, nn.EncodeNPY(bf.v[i], p.Shape)); err != nil {
				return err
			}
			h.Files = append(h.Files, f)
		}
	}
	j, _ := json.MarshalIndent(h, "", "  ")
	if err := add("optimizer.json", j); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return writeFile(path, buf.Bytes())
}

func loadOptimizer(path string, m *nn.Model, o *Optimizer) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("optimizer state: %w", err)
	}
	defer zr.Close()
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	read := func(name string) ([]byte, error) {
		f, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("optimizer state %s: no %s", path, name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	hb, err := read("optimizer.json")
	if err != nil {
		return err
	}
	var h optHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return fmt.Errorf("optimizer state %s: %w", path, err)
	}
	if h.Name != o.State.Name {
		return fmt.Errorf("optimizer state %s: optimizer %s, the config asks for %s", path, h.Name, o.State.Name)
	}
	for i, p := range m.Params() {
		for _, bf := range []struct {
			kind string
			v    [][]float32
		}{{"m", o.State.M}, {"v", o.State.V}} {
			if bf.v == nil {
				continue
			}
			name := bf.kind + "." + p.Name + ".npy"
			b, err := read(name)
			if err != nil {
				return err
			}
			vals, shape, err := nn.DecodeNPY(bytes.NewReader(b), path+":"+name)
			if err != nil {
				return fmt.Errorf("optimizer state: %w", err)
			}
			if len(vals) != len(bf.v[i]) {
				return fmt.Errorf("optimizer state %s:%s: shape %v, expected %v", path, name, shape, p.Shape)
			}
			copy(bf.v[i], vals)
		}
	}
	o.State.Step = h.Step
	return nil
}

// writeFile writes a file inside a checkpoint's temporary folder. No
// per-file sync: the folder becomes visible only by the final rename, so a
// killed process leaves either the old or the new complete checkpoint
// (after a power loss, header.json's SHA-256 sums reveal a torn file).
func writeFile(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// saveCheckpoint writes a checkpoint folder (weights as in nn.Save, the
// optimizer state as .npy files under optimizer/, state.json) into dir.tmp
// and swaps it into place, so dir is always a complete checkpoint.
func saveCheckpoint(dir string, m *nn.Model, o *Optimizer, st *fitState) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if err := m.SaveWith(tmp, writeFile); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if o != nil {
		if err := saveOptimizer(filepath.Join(tmp, "optimizer.npz"), m, o); err != nil {
			return fmt.Errorf("checkpoint %s: %w", dir, err)
		}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(tmp, "state.json"), append(b, '\n')); err != nil {
		return err
	}
	old := dir + ".old"
	os.RemoveAll(old)
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("checkpoint %s: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	os.RemoveAll(old)
	return nil
}

// loadLatest restores weights, optimizer state and loop state from
// ckpt/latest (or latest.old when a swap was interrupted). It returns
// false when there is no checkpoint yet.
func loadLatest(ckpt string, m *nn.Model, o *Optimizer, st *fitState) (bool, error) {
	dir := filepath.Join(ckpt, "latest")
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
		alt := filepath.Join(ckpt, "latest.old")
		if _, err2 := os.Stat(filepath.Join(alt, "state.json")); err2 != nil {
			return false, nil
		}
		dir = alt
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return false, err
	}
	var s fitState
	if err := json.Unmarshal(b, &s); err != nil {
		return false, fmt.Errorf("%s: %w", filepath.Join(dir, "state.json"), err)
	}
	if s.Task != st.Task {
		return false, fmt.Errorf("%s belongs to task %q, not %q", dir, s.Task, st.Task)
	}
	if err := m.Load(dir); err != nil {
		return false, err
	}
	if err := loadOptimizer(filepath.Join(dir, "optimizer.npz"), m, o); err != nil {
		return false, err
	}
	s.mem = nil
	*st = s
	return true, nil
}
