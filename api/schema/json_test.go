package schema

import (
	"testing"
)

func TestEncodeLikeJSONDumps(t *testing.T) {
	// Expectations written from Python's json.dumps (default separators,
	// ensure_ascii, sort_keys only for the map).
	v := Object{
		{"z", nil},
		{"a", []any{true, false, 1, int64(-2), 0.5, 1e21, "s"}},
		{"m", map[string]any{"b": 1, "a": []string{"x", "y"}}},
		{"o", Object{}},
		{"e", []any{}},
	}
	want := `{"z": null, "a": [true, false, 1, -2, 0.5, 1e+21, "s"], "m": {"a": ["x", "y"], "b": 1}, "o": {}, "e": []}`
	if got := string(Encode(v)); got != want {
		t.Errorf("Encode = %s\nwant     %s", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("Encode of an unsupported type did not panic")
		}
	}()
	Encode(struct{}{})
}

func TestQuoteEnsureASCII(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        `"plain"`,
		`q"b\`:         `"q\"b\\"`,
		"\b\f\n\r\t":   `"\b\f\n\r\t"`,
		"\x00\x1f\x7f": `"\u0000\u001f\u007f"`,
		"<a&b>":        `"<a&b>"`,
		"é€":           `"\u00e9\u20ac"`,
		"💥":            `"\ud83d\udca5"`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestToAnyCopies(t *testing.T) {
	o := Object{{"a", []any{Object{{"b", []string{"c"}}}}}}
	m := ToAny(o).(map[string]any)
	inner := m["a"].([]any)[0].(map[string]any)
	if bs := inner["b"].([]any); len(bs) != 1 || bs[0] != "c" {
		t.Fatalf("ToAny = %v", m)
	}
	inner["b"] = nil
	if o[0].Value.([]any)[0].(Object)[0].Value == nil {
		t.Fatal("ToAny shares its input")
	}
}
