package experiments

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/refugelab/refugelab/data"
)

// Problem is one configuration error: where it is and what is wrong.
type Problem struct {
	File string // the YAML file ("" for command-line overrides)
	Line int    // 1-based line, 0 when unknown
	Path string // key path, e.g. "train.optimizer.lr"
	Msg  string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc += ":" + strconv.Itoa(p.Line)
	}
	if loc == "" {
		loc = "config"
	}
	if p.Path == "" {
		return loc + ": " + p.Msg
	}
	return loc + ": " + p.Path + ": " + p.Msg
}

// ConfigError lists every problem found in a configuration.
type ConfigError struct {
	Problems []Problem
	// Msg, when set, is the whole message (the file could not be read or
	// parsed at all).
	Msg string
}

func (e *ConfigError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// decoder maps a YAML node tree onto typed structs strictly: unknown keys,
// wrong kinds and unparsable scalars become problems with file, line and key
// path. It keeps on after a problem so that all of them are reported.
type decoder struct {
	file     string
	problems []Problem
	nodes    map[string]*yaml.Node // key path -> the node that set it (key node for mapping entries)
	overlays map[string]*yaml.Node // key path -> raw node of an overlay field
	origin   map[*yaml.Node]string // node -> file it came from, or "--set k=v" (line 0)
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, nodes: map[string]*yaml.Node{}, overlays: map[string]*yaml.Node{}, origin: map[*yaml.Node]string{}}
}

func (d *decoder) locate(n *yaml.Node, p *Problem) {
	if n == nil {
		return
	}
	p.Line = n.Line
	if o, ok := d.origin[n]; ok {
		p.File = o
		if strings.HasPrefix(o, "--set ") {
			p.Line = 0
		}
	}
}

func (d *decoder) addf(n *yaml.Node, path, format string, args ...any) {
	p := Problem{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	d.locate(n, &p)
	d.problems = append(d.problems, p)
}

// at returns a problem located at the given key path (or its closest
// recorded ancestor).
func (d *decoder) at(path, format string, args ...any) Problem {
	p := Problem{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	for q := path; ; {
		if n, ok := d.nodes[q]; ok {
			d.locate(n, &p)
			break
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	return p
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlName(f reflect.StructField) (name string, overlay bool, ok bool) {
	tag := f.Tag.Get("yaml")
	if tag == "-" || !f.IsExported() {
		return "", false, false
	}
	parts := strings.Split(tag, ",")
	name = parts[0]
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, f.Tag.Get("refuge") == "overlay", true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if _, seen := d.nodes[path]; !seen {
		d.nodes[path] = n
	}
	switch v.Kind() {
	case reflect.Pointer:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.addf(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		t := v.Type()
		fields := map[string]int{}
		overlay := map[string]bool{}
		var known []string
		for i := 0; i < t.NumField(); i++ {
			name, ov, ok := yamlName(t.Field(i))
			if !ok {
				continue
			}
			fields[name] = i
			overlay[name] = ov
			known = append(known, name)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			idx, ok := fields[k.Value]
			if !ok {
				d.addf(k, kp, "unknown key (did you mean %q?)", data.Closest(k.Value, known))
				continue
			}
			if seen[k.Value] {
				d.addf(k, kp, "key given twice")
				continue
			}
			seen[k.Value] = true
			d.nodes[kp] = k
			if overlay[k.Value] {
				d.overlays[kp] = val
				continue
			}
			d.decode(val, v.Field(idx), kp)
		}
		return
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.addf(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
		return
	case reflect.Map:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if n.Kind != yaml.MappingNode {
			d.addf(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			d.nodes[kp] = k
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, kp)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
		return
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.addf(n, path, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(&x).Elem())
		return
	}
	// Scalars.
	if n.Kind != yaml.ScalarNode {
		d.addf(n, path, "expected %s, got %s", typeWord(v.Type()), kindName(n))
		return
	}
	if n.Tag == "!!null" {
		d.addf(n, path, "expected %s, got null", typeWord(v.Type()))
		return
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		if n.Tag != "!!int" {
			d.addf(n, path, "expected %s, got %q", typeWord(v.Type()), n.Value)
			return
		}
	}
	ptr := reflect.New(v.Type())
	if err := n.Decode(ptr.Interface()); err != nil {
		d.addf(n, path, "expected %s, got %q", typeWord(v.Type()), n.Value)
		return
	}
	v.Set(ptr.Elem())
}

func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return t.String()
}

// sortProblems orders problems by file, then line, then path.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Path < ps[j].Path
	})
}

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }
