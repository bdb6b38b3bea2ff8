package data

import "fmt"

// synthetic: in-memory samples of the synthetic fundus generator
// (SyntheticSamples in synth.go). Params: n (default 100), width and height
// (default 256), prevalence (default 0.5), vary_size (default false), seed
// (default: derived from the run's root seed and the source name with
// Seed(root, "source", name); an explicit seed reproduces
// `refugelab synth --seed S`).
var syntheticFormat = &sourceFormat{
	params: []string{"n", "width", "height", "prevalence", "vary_size", "seed"},
	noRoot: true,
	summary: func(spec SourceSpec) string {
		p := spec.Params
		seed := "derived from the run seed and the source name"
		if v, ok := p["seed"]; ok {
			seed = fmt.Sprint(v)
		}
		vary := "same size for both devices"
		if b, ok := p["vary_size"].(bool); ok && b {
			vary = "the second device 80 % the size of the first"
		}
		return fmt.Sprintf("%v synthetic fundus images of %vx%v px (%s) rendered in memory with exact disc/cup masks, fovea and disc centres, glaucoma prevalence %v, generator seed %s.",
			anyOr(p, "n", 100), anyOr(p, "width", 256), anyOr(p, "height", 256), vary, anyOr(p, "prevalence", 0.5), seed)
	},
	load: loadSynthetic,
}

func loadSynthetic(l *srcLoader) error {
	n, err := l.p.integer("n", 100, 1)
	if err != nil {
		return err
	}
	w, err := l.p.integer("width", 256, 16)
	if err != nil {
		return err
	}
	h, err := l.p.integer("height", 256, 16)
	if err != nil {
		return err
	}
	prev, err := l.p.float("prevalence", 0.5, 1e-9, 1)
	if err != nil {
		return err
	}
	vary, err := l.p.boolean("vary_size", false)
	if err != nil {
		return err
	}
	seed := Seed(l.rootSeed, "source", l.spec.Name)
	if l.p.has("seed") {
		s, err := l.p.integer("seed", 0, 0)
		if err != nil {
			return err
		}
		seed = uint64(s)
	}
	l.maskRule = "exact REFUGE codes from the generator"
	l.samples = SyntheticSamples(l.spec.Name, n, seed, SynthOptions{W: w, H: h, Prevalence: prev, VarySize: vary})
	return nil
}
