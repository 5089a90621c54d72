//go:build unix

package blobstore

import (
	"os"
	"path/filepath"
	"syscall"
)

type guardLock struct{ f *os.File }

// guard takes the per-container file lock (shared for readers, exclusive for
// writers). flock excludes other processes and, because each call opens its
// own file description, other goroutines too.
func (d *Dir) guard(c string, exclusive bool) (guardLock, error) {
	f, err := os.OpenFile(filepath.Join(d.root, metaDir, c+".guard"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return guardLock{}, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return guardLock{}, err
	}
	return guardLock{f}, nil
}

func (g guardLock) unlock() { g.f.Close() } // closing drops the flock
