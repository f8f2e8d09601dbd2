package keystone

import (
	"testing"
	"time"
)

func TestTokenCacheDeadlineAndLRU(t *testing.T) {
	c, err := newTokenCache(2)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b, d := keyOf("a"), keyOf("b"), keyOf("d")
	c.put(a, &Identity{}, now.Add(time.Minute))
	c.put(b, nil, now.Add(time.Second))
	if e, ok := c.get(b, now); !ok || e.id != nil {
		t.Fatalf("refusal before its deadline: %v %v", e, ok)
	}
	if _, ok := c.get(b, now.Add(time.Second)); ok {
		t.Fatal("an entry was returned at its deadline")
	}
	if n := c.len(); n != 1 {
		t.Fatalf("expired entry kept after lookup: %d entries", n)
	}
	c.put(b, nil, now.Add(time.Minute))
	if _, ok := c.get(a, now); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.put(d, nil, now.Add(time.Minute)) // evicts b, the least recently used
	if _, ok := c.get(b, now); ok {
		t.Fatal("the least recently used entry survived the cap")
	}
	if _, ok := c.get(a, now); !ok {
		t.Fatal("a recently used entry was evicted")
	}
	if c.len() != 2 {
		t.Fatalf("cache holds %d entries, cap 2", c.len())
	}
	if _, err := newTokenCache(0); err == nil {
		t.Fatal("a cache of 0 entries was made")
	}
}
