package augment

import (
	"bytes"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestYAMLSpecs decodes an augment list as the experiment config writes it:
// params keep their YAML types (ints, lists), a missing p is an error naming
// augment[i].p, an explicit p: 0 is accepted, strict decoding still rejects
// unknown keys, and the resolved specs marshal back with every default.
func TestYAMLSpecs(t *testing.T) {
	src := `
augment:
  - name: hflip
    p: 0.5
  - name: rotate
    p: 0.3
    params: {degrees: [-10, 10]}
  - name: vflip
    p: 0
`
	var cfg struct {
		Augment []Spec `yaml:"augment"`
	}
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	p, err := Build(cfg.Augment)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Describe()[1]; !strings.HasPrefix(got, "rotation about the image centre by a uniform angle in [-10°, 10°] (counter-clockwise positive) with probability 0.3,") {
		t.Errorf("rotate sentence %q", got)
	}
	out, err := yaml.Marshal(p.Specs())
	if err != nil {
		t.Fatal(err)
	}
	want := "- name: hflip\n  p: 0.5\n- name: rotate\n  p: 0.3\n  params:\n    degrees:\n        - -10\n        - 10\n- name: vflip\n  p: 0\n"
	if string(out) != want {
		t.Errorf("resolved specs:\n%s\nwant:\n%s", out, want)
	}

	missing := "augment:\n  - name: hflip\n    p: 0.5\n  - name: gamma\n"
	cfg.Augment = nil
	if err := yaml.Unmarshal([]byte(missing), &cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(cfg.Augment); err == nil || !strings.Contains(err.Error(), "augment[1].p: missing: give the probability of applying transform gamma") {
		t.Errorf("missing p: error %v", err)
	}

	unknown := "augment:\n  - name: hflip\n    prob: 0.5\n"
	dec = yaml.NewDecoder(bytes.NewReader([]byte(unknown)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err == nil || !strings.Contains(err.Error(), "prob") {
		t.Errorf("strict decoding of an unknown key: error %v", err)
	}
}
