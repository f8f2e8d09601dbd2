package diskfree

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	free, ok := Bytes(dir)
	if !ok {
		t.Skip("this platform cannot tell free space")
	}
	if free <= 0 {
		t.Fatalf("Bytes(%s) = %d", dir, free)
	}
	if err := Check(dir, 0, free*2); err != nil {
		t.Fatalf("no reserve: %v", err)
	}
	if err := Check(dir, 1, 0); err != nil {
		t.Fatalf("a reserve of 1 byte with nothing to write: %v", err)
	}
	if err := Check(dir, free, free); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("a write of all the free space past a reserve: %v, want ErrNoSpace", err)
	}
	if err := Check(dir+"/missing", 1<<62, 0); err != nil {
		t.Fatalf("a path statfs cannot read must not refuse: %v", err)
	}
}
