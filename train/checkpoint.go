package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/nn"
)

// optHeader is optimizer/optimizer.json of a checkpoint.
type optHeader struct {
	Name  string   `json:"name"`
	Step  int64    `json:"step"`
	Files []string `json:"files"`
}

// saveCheckpoint writes a checkpoint folder (weights as in nn.Save, the
// optimizer state as .npy files under optimizer/, state.json) into dir.tmp
// and swaps it into place, so dir is always a complete checkpoint.
func saveCheckpoint(dir string, m *nn.Model, o *Optimizer, st *fitState) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if err := m.Save(tmp); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if o != nil {
		od := filepath.Join(tmp, "optimizer")
		if err := os.MkdirAll(od, 0o755); err != nil {
			return err
		}
		h := optHeader{Name: o.State.Name, Step: o.State.Step}
		for i, p := range m.Params() {
			for _, buf := range []struct {
				kind string
				v    [][]float32
			}{{"m", o.State.M}, {"v", o.State.V}} {
				if buf.v == nil {
					continue
				}
				f := buf.kind + "." + p.Name + ".npy"
				if err := data.WriteFileAtomic(filepath.Join(od, f), nn.EncodeNPY(buf.v[i], p.Shape)); err != nil {
					return err
				}
				h.Files = append(h.Files, f)
			}
		}
		b, _ := json.MarshalIndent(h, "", "  ")
		if err := data.WriteFileAtomic(filepath.Join(od, "optimizer.json"), append(b, '\n')); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := data.WriteFileAtomic(filepath.Join(tmp, "state.json"), append(b, '\n')); err != nil {
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
	od := filepath.Join(dir, "optimizer")
	hb, err := os.ReadFile(filepath.Join(od, "optimizer.json"))
	if err != nil {
		return false, fmt.Errorf("optimizer state: %w", err)
	}
	var h optHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return false, fmt.Errorf("%s: %w", filepath.Join(od, "optimizer.json"), err)
	}
	if h.Name != o.State.Name {
		return false, fmt.Errorf("%s: optimizer %s, the config asks for %s", od, h.Name, o.State.Name)
	}
	for i, p := range m.Params() {
		for _, buf := range []struct {
			kind string
			v    [][]float32
		}{{"m", o.State.M}, {"v", o.State.V}} {
			if buf.v == nil {
				continue
			}
			path := filepath.Join(od, buf.kind+"."+p.Name+".npy")
			vals, shape, err := nn.ReadNPY(path)
			if err != nil {
				return false, fmt.Errorf("optimizer state: %w", err)
			}
			if len(vals) != len(buf.v[i]) {
				return false, fmt.Errorf("optimizer state %s: shape %v, expected %v", path, shape, p.Shape)
			}
			copy(buf.v[i], vals)
		}
	}
	o.State.Step = h.Step
	s.mem = nil
	*st = s
	return true, nil
}
