package keystone

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// tokenKey names a token in the cache: its SHA-256, so the cache never
// holds a usable token.
type tokenKey [sha256.Size]byte

func keyOf(token string) tokenKey { return sha256.Sum256([]byte(token)) }

// tokenCache is a size-capped LRU of validation results
// (hashicorp/golang-lru's simplelru under one mutex). An entry is never
// returned after its deadline (the token's expiry or the cache TTL,
// whichever is first). Deadlines are per entry and read from the caller's
// clock, so the cache takes now as an argument; golang-lru's expirable
// LRU has one TTL on the wall clock and a cleanup goroutine that cannot be
// stopped, so it does not fit.
type tokenCache struct {
	mu  sync.Mutex
	lru *simplelru.LRU[tokenKey, tokenEntry]
}

// tokenEntry is one validation result: the identity, or nil for a token
// Keystone refused.
type tokenEntry struct {
	id    *Identity
	until time.Time
}

// newTokenCache returns a cache of at most max entries (max > 0).
func newTokenCache(max int) (*tokenCache, error) {
	l, err := simplelru.NewLRU[tokenKey, tokenEntry](max, nil)
	if err != nil {
		return nil, fmt.Errorf("token cache of %d: %w", max, err)
	}
	return &tokenCache{lru: l}, nil
}

// get returns the entry for key if it is still valid at now.
func (c *tokenCache) get(key tokenKey, now time.Time) (tokenEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	if !ok {
		return tokenEntry{}, false
	}
	if !now.Before(e.until) {
		c.lru.Remove(key)
		return tokenEntry{}, false
	}
	return e, true
}

// put stores a result valid until until, evicting the least recently
// used entries beyond the cap.
func (c *tokenCache) put(key tokenKey, id *Identity, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Add(key, tokenEntry{id: id, until: until})
}

// len returns the number of entries (expired ones included until looked
// up or evicted).
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
