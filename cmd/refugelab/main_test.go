package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input: each case is a short error naming the file and what to do,
// exit status 2, and nothing written.
func TestBadInputExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: x\ntrain:\n  epochs: 3\n bad: 1\n"), 0o644)
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("name: x\ndata:\n  sources: [{name: s, format: synthetic}]\ntasks: {fovea: {}}\ntrain:\n  optimzer: {name: adam}\n"), 0o644)
	noroot := filepath.Join(dir, "noroot.yaml")
	os.WriteFile(noroot, []byte("name: x\ndata:\n  sources: [{name: s, format: csv, root: nowhere/labels.csv}]\ntasks: {fovea: {}}\n"), 0o644)
	exists := filepath.Join(dir, "exists")
	os.Mkdir(exists, 0o755)
	demo, _ := filepath.Abs("../../configs/demo.yaml")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", filepath.Join(dir, "missing.yaml")}, "missing.yaml: config file not found"},
		{[]string{"run", bad}, "bad.yaml:3: YAML syntax error at or just after this line: "},
		{[]string{"validate", typo}, `typo.yaml:6: train.optimzer: unknown key (did you mean "optimizer"?)`},
		{[]string{"run", noroot}, "noroot.yaml:3: data.sources[0].root: "},
		{[]string{"run", demo, "--out", exists}, "exists: the output folder already exists"},
		{[]string{"run", demo, "--set", "train.epoch=3"}, `--set train.epoch=3: train.epoch: unknown key (did you mean "epochs"?)`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run"}, "expected one CONFIG file"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", c.args, code, errb.String())
		}
		if !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: stderr %q lacks %q", c.args, errb.String(), c.want)
		}
	}
	if entries, _ := os.ReadDir(exists); len(entries) != 0 {
		t.Errorf("the existing output folder was written to: %v", entries)
	}
	if _, err := os.Stat("runs"); err == nil {
		t.Errorf("a failed command created runs/")
	}
}

func TestValidateOK(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"validate", "../../configs/demo.yaml"}, &out, &errb); code != 0 {
		t.Fatalf("validate demo: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "valid") {
		t.Errorf("stdout %q", out.String())
	}
}
