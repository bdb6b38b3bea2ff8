package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/refugelab/refugelab/data"
)

// Module is one module of the binary's build information.
type Module struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Sum     string `json:"sum,omitempty"`
}

// VCS is the version-control state the binary was built from.
type VCS struct {
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	// Modified is set only when the build recorded the VCS state.
	Modified *bool `json:"modified,omitempty"`
}

// Manifest records what ran, where, and on which inputs.
type Manifest struct {
	RunID        string            `json:"run_id"`
	Name         string            `json:"name"`
	Seed         uint64            `json:"seed"`
	Status       string            `json:"status"`
	Error        string            `json:"error,omitempty"`
	Start        string            `json:"start"`
	End          string            `json:"end,omitempty"`
	WallSeconds  float64           `json:"wall_seconds,omitempty"`
	Command      []string          `json:"command"`
	Overrides    []string          `json:"overrides"`
	GoVersion    string            `json:"go_version"`
	MainModule   Module            `json:"main_module"`
	Modules      []Module          `json:"modules"`
	VCS          VCS               `json:"vcs"`
	OS           string            `json:"os"`
	Arch         string            `json:"arch"`
	CPU          string            `json:"cpu"`
	NumCPU       int               `json:"num_cpu"`
	GOMAXPROCS   int               `json:"gomaxprocs"`
	ConfigSHA256 string            `json:"config_sha256"`
	Inputs       map[string]string `json:"inputs"`
	Dropped      []string          `json:"dropped_samples,omitempty"`
	// MaskRules records how each source's masks were decoded.
	MaskRules []string `json:"mask_rules,omitempty"`
}

// BuildFacts fills the language, module and machine fields from the
// running binary's build information.
func BuildFacts(m *Manifest) {
	m.GoVersion = runtime.Version()
	m.OS, m.Arch = runtime.GOOS, runtime.GOARCH
	m.NumCPU, m.GOMAXPROCS = runtime.NumCPU(), runtime.GOMAXPROCS(0)
	m.CPU = cpuModel()
	if bi, ok := debug.ReadBuildInfo(); ok {
		m.MainModule = Module{Path: bi.Main.Path, Version: bi.Main.Version, Sum: bi.Main.Sum}
		for _, d := range bi.Deps {
			mod := d
			if d.Replace != nil {
				mod = d.Replace
			}
			m.Modules = append(m.Modules, Module{Path: d.Path, Version: mod.Version, Sum: mod.Sum})
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				m.VCS.Revision = s.Value
			case "vcs.time":
				m.VCS.Time = s.Value
			case "vcs.modified":
				v := s.Value == "true"
				m.VCS.Modified = &v
			}
		}
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.IndexByte(line, ':'); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return runtime.GOARCH
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

// writeJSON writes v as indented JSON through a temporary file and rename.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return data.WriteFileAtomic(path, append(b, '\n'))
}

func nowString() string { return time.Now().UTC().Format(time.RFC3339) }

// readJSON decodes a JSON file, naming the file in errors.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
