package schema

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Object is a JSON object whose members keep their order, so documents
// list keys in the order Glance's Python dicts do.
type Object []Member

// Member is one member of an Object. It is an alias of an unnamed struct
// so that documents in other packages can be written as compact literals
// (Object{{"type", "string"}}) without go vet's unkeyed-fields warning.
type Member = struct {
	Key   string
	Value any
}

// Encode serialises v like Python's json.dumps with its default
// separators (", " and ": ") and ensure_ascii. v may hold Object,
// map[string]any (keys sorted), []any, []string, string, bool, int, int64,
// float64 and nil; any other type is a bug in the caller, and Encode
// panics.
func Encode(v any) []byte {
	var b strings.Builder
	encodeTo(&b, v)
	return []byte(b.String())
}

func encodeTo(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case int:
		b.WriteString(strconv.Itoa(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(t, 'g', -1, 64))
	case string:
		b.WriteString(Quote(t))
	case Object:
		b.WriteByte('{')
		for i, kv := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(Quote(kv.Key))
			b.WriteString(": ")
			encodeTo(b, kv.Value)
		}
		b.WriteByte('}')
	case map[string]any:
		encodeTo(b, sortedObject(t))
	case []string:
		encodeTo(b, Strings(t...))
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			encodeTo(b, e)
		}
		b.WriteByte(']')
	default:
		panic(fmt.Sprintf("schema: Encode: unsupported type %T", v))
	}
}

// sortedObject turns a map into an Object with sorted keys.
func sortedObject(m map[string]any) Object {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	o := make(Object, len(keys))
	for i, k := range keys {
		o[i] = Member{k, m[k]}
	}
	return o
}

// Strings converts a string list to a JSON array.
func Strings(ss ...string) []any {
	a := make([]any, len(ss))
	for i, s := range ss {
		a[i] = s
	}
	return a
}

// ToAny deep-converts Object values to map[string]any and copies arrays,
// so callers get a value they may freely modify.
func ToAny(v any) any {
	switch t := v.(type) {
	case Object:
		m := make(map[string]any, len(t))
		for _, kv := range t {
			m[kv.Key] = ToAny(kv.Value)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = ToAny(e)
		}
		return a
	case []string:
		return Strings(t...)
	default:
		return v
	}
}

// Quote quotes s as Python's json.dumps does with the default
// ensure_ascii=True: \" \\ \b \f \n \r \t, every other character outside
// printable ASCII as \uXXXX (lower-case hex, surrogate pairs above U+FFFF).
// Unlike encoding/json it leaves <, > and & alone.
func Quote(s string) string {
	const hex = "0123456789abcdef"
	u4 := func(b *strings.Builder, v rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[v>>12&0xf])
		b.WriteByte(hex[v>>8&0xf])
		b.WriteByte(hex[v>>4&0xf])
		b.WriteByte(hex[v&0xf])
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			u4(&b, 0xd800|(r>>10&0x3ff))
			u4(&b, 0xdc00|(r&0x3ff))
		default:
			u4(&b, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
