package e2e

import (
	"encoding/json"
	"strconv"
)

// jsonMarshal encodes values into one string, for substring assertions on policy rules.
func jsonMarshal(v ...any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// promFloat is how the Prometheus text format writes a sample value.
func promFloat(v int64) string { return strconv.FormatFloat(float64(v), 'g', -1, 64) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
