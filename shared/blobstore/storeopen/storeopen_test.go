package storeopen_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azblobstore"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/blobstore/blobstoretest"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
)

func TestMain(m *testing.M) { os.Exit(azuritetest.Main(m)) }

func TestOpenPicksByLocator(t *testing.T) {
	dir := t.TempDir()
	s, err := storeopen.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := s.(*blobstore.Dir); !ok || d.Root() != dir {
		t.Fatalf("Open(%s) = %T", dir, s)
	}
	if _, err := storeopen.Open(context.Background(), "", nil); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
	// A store that fails to open is a nil Store, not one holding a nil pointer.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := storeopen.Open(context.Background(), filepath.Join(file, "sub"), nil); err == nil || s != nil {
		t.Fatalf("Open(under a file) = %#v, %v; want nil and an error", s, err)
	}
	if _, err := storeopen.Open(context.Background(), "s3://bucket", nil); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Fatalf("Open(s3://) = %v, want a scheme error", err)
	}
	s, err = storeopen.Open(context.Background(), "https://acct.blob.core.windows.net", &storeopen.Options{Credential: fakeCred{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*azblobstore.Store); !ok {
		t.Fatalf("Open(https URL) = %T", s)
	}
}

func TestMalformedConnectionStringNeverEchoesKey(t *testing.T) {
	const key = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
	_, err := storeopen.Open(context.Background(), "AccountName=acct;AccountKey="+key+";DefaultEndpointsProtocol", nil)
	if err == nil {
		t.Fatal("malformed connection string accepted")
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("error echoes the account key: %v", err)
	}
}

// TestOpenTypoCreatesNothing: a mistyped connection string or a bare word
// is an error, never a directory named after it (with the key in its name).
func TestOpenTypoCreatesNothing(t *testing.T) {
	const key = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
	tests := []struct{ name, locator, want string }{
		{"MisspelledKey", "DefaultEndpointProtocol=https;AccountName=acct;AccountKey=" + key, "did you mean DefaultEndpointsProtocol"},
		{"AllMisspelled", "AcountName=acct;AcountKey=" + key + ";BlobEndpont=http://127.0.0.1:10000/acct", "did you mean AccountName"},
		{"KeyWithoutEquals", "AccountName=acct;AccountKey" + key, "AccountKey has no '='"},
		{"BareWord", "backups", "must start with ./"},
		{"RelativeDir", "data/store", "must start with ./"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			_, err := storeopen.Open(context.Background(), tt.locator, nil)
			if err == nil {
				t.Fatal("Open accepted a typo")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), key) {
				t.Fatalf("error %q: want it to say %q and never the key", err, tt.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("Open created %v in the working directory", ents[0].Name())
			}
		})
	}
	// An explicit relative path is a directory.
	dir := t.TempDir()
	t.Chdir(dir)
	for _, loc := range []string{"./store", "file://other"} {
		s, err := storeopen.Open(context.Background(), loc, nil)
		if err != nil {
			t.Fatalf("Open(%s): %v", loc, err)
		}
		if _, ok := s.(*blobstore.Dir); !ok {
			t.Fatalf("Open(%s) = %T", loc, s)
		}
	}
}

// TestOpenEmulatorForms: the development-storage shorthand and a copied
// emulator string with queue and table endpoints reach Azurite.
func TestOpenEmulatorForms(t *testing.T) {
	conn := azuritetest.Shared(t)
	full := conn + ";QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;TableEndpoint=http://127.0.0.1:2/devstoreaccount1"
	for _, loc := range []string{full, strings.ToLower(conn[:1]) + conn[1:]} {
		s, err := storeopen.Open(context.Background(), loc, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := s.EnsureContainer(context.Background(), blobstoretest.ContainerName(t)); err != nil {
			t.Fatalf("EnsureContainer: %v", err)
		}
	}
}
