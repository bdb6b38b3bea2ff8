package data

// ParamNumber converts a scalar decoded from YAML or JSON (any Go integer or
// float type) to float64; ok is false for anything else. Every package's
// parameter reader uses it, so a number is accepted the same way everywhere.
func ParamNumber(v any) (f float64, ok bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint:
		return float64(x), true
	}
	return 0, false
}

// ParamList converts a decoded sequence ([]any, []float64 or []int) to
// []any; ok is false for anything else.
func ParamList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case []float64:
		out := make([]any, len(x))
		for i := range x {
			out[i] = x[i]
		}
		return out, true
	case []int:
		out := make([]any, len(x))
		for i := range x {
			out[i] = x[i]
		}
		return out, true
	}
	return nil, false
}
