package bytesize

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{"65536": 65536, "4MiB": 4 << 20, " 128 MiB": 128 << 20, "2GiB": 2 << 30, "1KiB": 1024} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "MiB", "x"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %d, want an error", in, got)
		}
	}
}
