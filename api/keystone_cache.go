package api

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// tokenKey names a token in the cache: its SHA-256, so the cache never
// holds a usable token.
type tokenKey [sha256.Size]byte

func keyOf(token string) tokenKey { return sha256.Sum256([]byte(token)) }

// tokenCache is a size-capped LRU of validation results. An entry is
// never returned after its deadline (the token's expiry or the cache
// TTL, whichever is first).
type tokenCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List // front: most recently used; values are *tokenEntry
	m   map[tokenKey]*list.Element
}

// tokenEntry is one validation result: the identity, or nil for a token
// Keystone refused.
type tokenEntry struct {
	key   tokenKey
	auth  *Auth
	until time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, ll: list.New(), m: make(map[tokenKey]*list.Element)}
}

// get returns the entry for key if it is still valid at now.
func (c *tokenCache) get(key tokenKey, now time.Time) (*tokenEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*tokenEntry)
	if !now.Before(e.until) {
		c.ll.Remove(el)
		delete(c.m, key)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e, true
}

// put stores a result valid until until, evicting the least recently
// used entries beyond the cap.
func (c *tokenCache) put(key tokenKey, auth *Auth, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		el.Value = &tokenEntry{key: key, auth: auth, until: until}
		c.ll.MoveToFront(el)
		return
	}
	c.m[key] = c.ll.PushFront(&tokenEntry{key: key, auth: auth, until: until})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.m, last.Value.(*tokenEntry).key)
	}
}

// len returns the number of entries (expired ones included until looked
// up or evicted).
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
