package main

import (
	"flag"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// minParallel is how many t.Parallel tests of this package run at once
// when -parallel is not given (its default is GOMAXPROCS, 2 on the CI
// machine). The long tests here mostly wait: on emulated job durations,
// claim deadlines, child processes and a browser, not on the CPU.
const minParallel = 4

// TestMain raises -parallel to minParallel unless it was set explicitly.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && runtime.GOMAXPROCS(0) < minParallel {
		if err := flag.Set("test.parallel", strconv.Itoa(minParallel)); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
