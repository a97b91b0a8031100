package model

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// JSON is a JSON object passed through the API (attributes, variables, variant extras).
type JSON map[string]any

// UnmarshalGQL accepts a JSON object, or a string holding one.
func (j *JSON) UnmarshalGQL(v any) error {
	switch x := v.(type) {
	case nil:
		*j = nil
		return nil
	case map[string]any:
		*j = normalize(x).(map[string]any)
		return nil
	case string:
		var m map[string]any
		if err := json.Unmarshal([]byte(x), &m); err != nil {
			return fmt.Errorf("JSON must be an object: %w", err)
		}
		*j = normalize(m).(map[string]any)
		return nil
	default:
		return fmt.Errorf("JSON must be an object, got %T", v)
	}
}

// MarshalGQL writes the object as JSON.
func (j JSON) MarshalGQL(w io.Writer) {
	if j == nil {
		_, _ = io.WriteString(w, "null")
		return
	}
	b, err := json.Marshal(map[string]any(j))
	if err != nil {
		_, _ = io.WriteString(w, "null")
		return
	}
	_, _ = w.Write(b)
}

// Duration is a time span written as Go duration text ("30s", "5m", "1h").
type Duration time.Duration

// UnmarshalGQL parses duration text such as "30s".
func (d *Duration) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("duration must be a string such as \"30s\", got %T", v)
	}
	p, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a form such as \"30s\", \"5m\" or \"1h\"", s)
	}
	if p < 0 {
		return fmt.Errorf("duration %q must not be negative", s)
	}
	*d = Duration(p)
	return nil
}

// MarshalGQL writes the duration as text.
func (d Duration) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(time.Duration(d).String()))
}

// normalize turns json.Number values into float64, so variables compare as numbers.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}
