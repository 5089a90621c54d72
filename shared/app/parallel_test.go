package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/langsync/langsync/shared/blobstore"
)

// putAll writes documents into a store's container, 16 at a time.
func putAll(tb testing.TB, s blobstore.Store, container string, docs map[string]string) {
	names := make([]string, 0, len(docs))
	for k := range docs {
		names = append(names, k)
	}
	parallel(tb, len(names), func(i int) error {
		_, err := s.Put(context.Background(), container, names[i], strings.NewReader(docs[names[i]]), &blobstore.PutOptions{ContentType: "text/plain; charset=utf-8"})
		return err
	})
}

// parallel runs fn(0..n-1) on 16 goroutines and fails tb on the first error.
func parallel(tb testing.TB, n int, fn func(i int) error) {
	tb.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		tb.Fatal(first)
	}
}
