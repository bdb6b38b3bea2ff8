package data

import "fmt"

// fileLoader reads a sample's image (and mask, when HasMask) from disk. The
// file readers of this package install it in an init function; it stays nil
// only in a build without them.
var fileLoader func(*Sample) (*Image, *Mask, error)

// Load returns the sample's image and mask (mask nil when the sample has
// none). In-memory samples (the synthetic source) use their own loader;
// samples backed by files are read with the package's file readers.
func (s *Sample) Load() (*Image, *Mask, error) {
	if s.loader != nil {
		return s.loader()
	}
	if fileLoader == nil {
		return nil, nil, fmt.Errorf("load sample %q (image %q): no file reader is registered in package data", s.ID, s.ImagePath)
	}
	return fileLoader(s)
}
