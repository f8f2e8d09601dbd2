package transfer

import "sync"

// Buffer is one chunk-sized byte slice from the Transfer's pool: a
// fetched chunk's bytes live in it until the caller releases it.
type Buffer struct {
	b    []byte
	pool *bufferPool
}

// Release returns the buffer to its pool; the bytes read into it must
// not be used after. Releasing nil does nothing.
func (b *Buffer) Release() {
	if b != nil {
		b.pool.put(b)
	}
}

// bufferPool recycles chunk-sized buffers so uploads and downloads do not
// allocate a fresh 4 MiB slice per chunk.
type bufferPool struct{ p sync.Pool }

func newBufferPool(size int) *bufferPool {
	bp := &bufferPool{}
	bp.p.New = func() any { return &Buffer{b: make([]byte, size), pool: bp} }
	return bp
}

func (bp *bufferPool) get() *Buffer { return bp.p.Get().(*Buffer) }

func (bp *bufferPool) put(b *Buffer) {
	b.b = b.b[:cap(b.b)]
	bp.p.Put(b)
}
