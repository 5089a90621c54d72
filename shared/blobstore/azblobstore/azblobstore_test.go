package azblobstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azblobstore"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/blobstore/blobstoretest"
)

func TestMain(m *testing.M) { os.Exit(azuritetest.Main(m)) }

func TestAzuriteContract(t *testing.T) {
	conn := azuritetest.Shared(t)
	blobstoretest.Run(t, func(t *testing.T, now func() time.Time) blobstore.Store {
		s, err := azblobstore.NewFromConnectionString(conn, &azblobstore.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestAzureLeaseDurations(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s, err := azblobstore.NewFromConnectionString(azuritetest.Shared(t), &azblobstore.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	c := blobstoretest.ContainerName(t)
	if err := s.EnsureContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ttl, want time.Duration
	}{
		{time.Second, 15 * time.Second}, // Azure's minimum lease
		{30 * time.Second, 30 * time.Second},
		{1500 * time.Millisecond, 15 * time.Second},
		{10 * time.Minute, 10 * time.Minute}, // infinite lease, expiry in metadata
	} {
		l, err := s.Lock(ctx, c, "lock-"+tt.ttl.String(), tt.ttl)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Expires().Sub(now); got != tt.want {
			t.Errorf("Lock(ttl %s) expires after %s, want %s", tt.ttl, got, tt.want)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAzureErrorsNeverCarryTheKey(t *testing.T) {
	conn := azuritetest.Shared(t)
	s, err := azblobstore.NewFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(context.Background(), blobstoretest.ContainerName(t), "k", strings.NewReader("x"), nil)
	if !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Put into a missing container: %v", err)
	}
	if strings.Contains(err.Error(), azuritetest.AccountKey) || strings.Contains(fmt.Sprintf("%+v", err), azuritetest.AccountKey) {
		t.Fatalf("error carries the account key: %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error is not one line: %q", err)
	}
}
