package data

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
)

// Seed derives an independent 64-bit seed from a root seed and a path of
// parts (component names, epochs, sample indices). Streams derived with
// different parts never depend on each other, so adding a component never
// shifts another's randomness. Parts are hashed with FNV-1a (type-tagged),
// then mixed with splitmix64.
func Seed(root uint64, parts ...any) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], root)
	h.Write(buf[:])
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			h.Write([]byte{'s'})
			binary.LittleEndian.PutUint64(buf[:], uint64(len(v)))
			h.Write(buf[:])
			h.Write([]byte(v))
		case int:
			h.Write([]byte{'i'})
			binary.LittleEndian.PutUint64(buf[:], uint64(int64(v)))
			h.Write(buf[:])
		case int64:
			h.Write([]byte{'i'})
			binary.LittleEndian.PutUint64(buf[:], uint64(v))
			h.Write(buf[:])
		case uint64:
			h.Write([]byte{'u'})
			binary.LittleEndian.PutUint64(buf[:], v)
			h.Write(buf[:])
		default:
			h.Write([]byte{'?'})
			h.Write([]byte(fmt.Sprint(v)))
		}
	}
	return splitmix64(h.Sum64())
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// NewRand returns a deterministic PCG generator for a derived seed.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, splitmix64(seed)))
}
