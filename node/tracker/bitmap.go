package tracker

// Bitmaps have one bit per chunk: chunk i is bit i%8 of byte i/8, least
// significant first (peer.ImageHoldings.Bits).

// hasBit reports whether bit i of bits is set.
func hasBit(bits []byte, i int) bool {
	return i >= 0 && i/8 < len(bits) && bits[i/8]&(1<<(i%8)) != 0
}

// setBit sets bit i of bits.
func setBit(bits []byte, i int) { bits[i/8] |= 1 << (i % 8) }

// allSet reports whether all n bits of bits are set.
func allSet(bits []byte, n int) bool {
	for i := 0; i < n/8; i++ {
		if bits[i] != 0xff {
			return false
		}
	}
	if r := n % 8; r != 0 {
		want := byte(1<<r) - 1
		return bits[n/8]&want == want
	}
	return true
}

// holds reports whether a holder of total chunks (all, or bits) has
// chunk idx.
func holds(total int, all bool, bits []byte, idx int) bool {
	if idx < 0 || idx >= total {
		return false
	}
	return all || hasBit(bits, idx)
}
