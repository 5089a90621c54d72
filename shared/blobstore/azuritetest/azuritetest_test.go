package azuritetest_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/langsync/langsync/shared/blobstore/azuritetest"
)

func TestMain(m *testing.M) { os.Exit(azuritetest.Main(m)) }

func blobEndpoint(t *testing.T, conn string) *url.URL {
	t.Helper()
	for _, part := range strings.Split(conn, ";") {
		if v, ok := strings.CutPrefix(part, "BlobEndpoint="); ok {
			u, err := url.Parse(v)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
	}
	t.Fatalf("no BlobEndpoint in %q", conn)
	return nil
}

func TestStartServesBlobsAndStopsOnCleanup(t *testing.T) {
	var host string
	t.Run("serve", func(t *testing.T) {
		conn := azuritetest.Start(t)
		u := blobEndpoint(t, conn)
		host = u.Host
		if u.Hostname() != "127.0.0.1" || u.Port() == "0" || u.Port() == "" {
			t.Fatalf("endpoint %s, want 127.0.0.1 with a real port", u)
		}
		client, err := azblob.NewClientFromConnectionString(conn, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := client.CreateContainer(ctx, "probe", nil); err != nil {
			t.Fatalf("create container: %v", err)
		}
		if _, err := client.UploadBuffer(ctx, "probe", "a.txt", []byte("hello"), nil); err != nil {
			t.Fatalf("upload: %v", err)
		}
	})
	// The subtest's cleanup has run: nothing may listen on that port now.
	conn, err := net.DialTimeout("tcp", host, time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("azurite still listening on %s after cleanup", host)
	}
}

func TestSharedReturnsOneInstance(t *testing.T) {
	a := azuritetest.Shared(t)
	b := azuritetest.Shared(t)
	if a != b {
		t.Fatalf("Shared returned %q then %q, want the same", a, b)
	}
	if !strings.Contains(a, "AccountName=devstoreaccount1") {
		t.Fatalf("connection string %q lacks the account", a)
	}
}

func TestBinaryMissingSaysMakeDeps(t *testing.T) {
	t.Setenv(azuritetest.EnvBinary, t.TempDir()+"/no-such-azurite")
	_, err := azuritetest.Binary()
	if err == nil || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("Binary() error = %v, want one telling to run make deps", err)
	}
}
