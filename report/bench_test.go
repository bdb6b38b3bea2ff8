package report

import "testing"

// BenchmarkGenerateFixture measures a whole report of the test fixture
// (figures dominate: PNG encoding and the qualitative tiles).
func BenchmarkGenerateFixture(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Generate("testdata/run", Options{OutDir: b.TempDir()}); err != nil {
			b.Fatal(err)
		}
	}
}
