package policy

import "math/rand/v2"

// Rand is the randomness a decision draws on: *rand.Rand (math/rand/v2)
// satisfies it, and [Global] is the process-wide generator.
type Rand interface {
	// IntN returns a uniform int in [0, n); n > 0.
	IntN(n int) int
}

type globalRand struct{}

func (globalRand) IntN(n int) int { return rand.IntN(n) }

// Global is math/rand/v2's top-level generator, safe for concurrent use:
// what the agents pass.
var Global Rand = globalRand{}

// Shuffle puts s in a uniformly random order (Fisher-Yates).
func Shuffle[T any](rng Rand, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}
