package schematest

import (
	"fmt"
	"math"
	"regexp"
	"slices"
)

// Check is a tiny structural validator of doc against a schema document
// (decoded as map[string]any): type, enum, maxLength, pattern, items and
// additionalProperties, which is what matters for python-glanceclient's
// validation of our responses. It returns one message per violation.
func Check(schema map[string]any, doc map[string]any) []string {
	var errs []string
	props := schema["properties"].(map[string]any)
	for k, v := range doc {
		p, ok := props[k].(map[string]any)
		if !ok {
			ap, _ := schema["additionalProperties"].(map[string]any)
			if ap == nil {
				errs = append(errs, k+": additional property not allowed")
				continue
			}
			p = ap
		}
		errs = append(errs, checkValue(k, p, v)...)
	}
	return errs
}

func checkValue(path string, p map[string]any, v any) []string {
	var types []string
	switch ty := p["type"].(type) {
	case string:
		types = []string{ty}
	case []any:
		for _, x := range ty {
			types = append(types, x.(string))
		}
	}
	var kind string
	switch x := v.(type) {
	case nil:
		kind = "null"
	case bool:
		kind = "boolean"
	case string:
		kind = "string"
	case float64:
		kind = "number"
		if x == math.Trunc(x) {
			kind = "integer"
		}
	case []any:
		kind = "array"
	case map[string]any:
		kind = "object"
	}
	if len(types) > 0 && !slices.Contains(types, kind) && !(kind == "integer" && slices.Contains(types, "number")) {
		return []string{fmt.Sprintf("%s: %v is %s, want %v", path, v, kind, types)}
	}
	var errs []string
	if enum, ok := p["enum"].([]any); ok && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %v not in enum", path, v))
	}
	if s, ok := v.(string); ok {
		if max, ok := p["maxLength"].(float64); ok && float64(len([]rune(s))) > max {
			errs = append(errs, path+": too long")
		}
		if pat, ok := p["pattern"].(string); ok && !regexp.MustCompile(pat).MatchString(s) {
			errs = append(errs, path+": pattern mismatch")
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := p["items"].(map[string]any); ok {
			for i, e := range arr {
				errs = append(errs, checkValue(fmt.Sprintf("%s[%d]", path, i), items, e)...)
			}
		}
	}
	return errs
}
