package data

import "testing"

// Every integer and float type a YAML or JSON decoder yields converts to the
// same float64; other kinds are refused.
func TestParamNumberAndList(t *testing.T) {
	for _, v := range []any{3, int32(3), int64(3), uint(3), uint32(3), uint64(3), float32(3), 3.0} {
		if f, ok := ParamNumber(v); !ok || f != 3 {
			t.Errorf("ParamNumber(%T 3) = %v, %v", v, f, ok)
		}
	}
	for _, v := range []any{"3", true, nil, []any{3}} {
		if _, ok := ParamNumber(v); ok {
			t.Errorf("ParamNumber(%T %v) accepted", v, v)
		}
	}
	l, ok := ParamList([]int{1, 2})
	if !ok || len(l) != 2 || l[0] != 1 || l[1] != 2 {
		t.Errorf("ParamList([]int{1,2}) = %v, %v", l, ok)
	}
	if _, ok := ParamList(3.0); ok {
		t.Error("ParamList(3.0) accepted a scalar")
	}
}
