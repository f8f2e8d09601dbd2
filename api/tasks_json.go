package api

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// pyJSON re-encodes a JSON document with Python's json.dumps separators,
// as the rest of the API answers; empty or invalid input is null.
func pyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "null"
	}
	return pyJSONValue(v)
}

// pyJSONValue encodes v (decoded JSON: maps, slices, strings, numbers,
// booleans, nil) with Python's separators and sorted object keys.
func pyJSONValue(v any) string {
	var b strings.Builder
	writePy(&b, v)
	return b.String()
}

func writePy(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case map[string]any:
		if x == nil {
			b.WriteString("null")
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(jsonString(k))
			b.WriteString(": ")
			writePy(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writePy(b, e)
		}
		b.WriteByte(']')
	case string:
		b.WriteString(jsonString(x))
	case json.Number:
		b.WriteString(x.String())
	case bool:
		b.WriteString(strconv.FormatBool(x))
	default:
		raw, err := json.Marshal(x)
		if err != nil {
			b.WriteString("null")
			return
		}
		b.WriteString(pyJSON(raw))
	}
}
