package experiments

import (
	"fmt"
	"io"
)

// Predict applies a trained run to new images and writes a submission.
func Predict(runDir, dataArg, out string, o RunOptions, w io.Writer) error {
	return fmt.Errorf("predict is not implemented yet")
}
