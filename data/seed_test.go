package data

import "testing"

func TestSeedIndependentStreams(t *testing.T) {
	a := Seed(42, "augment/rotate", 3, 17)
	if a != Seed(42, "augment/rotate", 3, 17) {
		t.Fatal("Seed is not deterministic")
	}
	// Changing any part, or its type, changes the stream.
	for _, b := range []uint64{Seed(43, "augment/rotate", 3, 17), Seed(42, "augment/flip", 3, 17),
		Seed(42, "augment/rotate", 4, 17), Seed(42, "augment/rotate", 3, 18), Seed(42, "augment/rotate", "3", 17)} {
		if a == b {
			t.Fatalf("distinct parts gave the same seed %d", a)
		}
	}
}

func TestClosest(t *testing.T) {
	if got := Closest("optimzer", []string{"epochs", "optimizer", "lr"}); got != "optimizer" {
		t.Fatalf("Closest = %q, want optimizer", got)
	}
	// levenshtein("kitten","sitting") = 3 (textbook example).
	if d := levenshtein("kitten", "sitting"); d != 3 {
		t.Fatalf("levenshtein = %d, want 3", d)
	}
}
