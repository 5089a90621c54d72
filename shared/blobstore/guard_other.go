//go:build !unix

package blobstore

import "sync"

// Without flock, the guard only excludes goroutines of this process.
var guardMu sync.RWMutex

type guardLock struct{ exclusive bool }

func (d *Dir) guard(c string, exclusive bool) (guardLock, error) {
	if exclusive {
		guardMu.Lock()
	} else {
		guardMu.RLock()
	}
	return guardLock{exclusive}, nil
}

func (g guardLock) unlock() {
	if g.exclusive {
		guardMu.Unlock()
	} else {
		guardMu.RUnlock()
	}
}
