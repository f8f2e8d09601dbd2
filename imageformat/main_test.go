package imageformat

import (
	"flag"
	"os"
	"testing"
)

// TestMain shortens the fuzzer's minimization of new inputs to 5 s unless
// -fuzzminimizetime is given: Go's byte minimizer is quadratic in the
// input's length, and executions that lay an input out over a megabyte
// take about a millisecond, so with the default (60 s) a single
// minimization would take up a whole `-fuzztime=60s` run.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if f := flag.Lookup("test.fuzzminimizetime"); f != nil && !set {
		if err := f.Value.Set("5s"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
