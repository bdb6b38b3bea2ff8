package experiments

import "github.com/refugelab/refugelab/data"

// TEMPORARY until data.Check / data.WriteSynthetic land.
func dataCheck(s []*data.Sample, w int) []data.Problem { return nil }
func writeSynthetic(out string, n int, seed uint64, o data.SynthOptions, layout string) error {
	return nil
}
