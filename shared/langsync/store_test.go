package langsync_test

import (
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/langsync"
)

// key and sas are fake credentials; no message may contain them (or a
// recognisable part of them).
const (
	key = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
	sas = "sv=2024-01-01&ss=b&srt=sco&sp=rl&sig=U2VjcmV0U2lnbmF0dXJl"
)

func TestParseStoreLocatorAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind langsync.StoreKind
		want string // Path, ConnectionString or AccountURL
	}{
		{"Absolute", "/var/lib/langsync", langsync.StoreDirectory, "/var/lib/langsync"},
		{"DotSlash", "./langsync-data/store", langsync.StoreDirectory, "./langsync-data/store"},
		{"DotDotSlash", "../store", langsync.StoreDirectory, "../store"},
		{"Dot", ".", langsync.StoreDirectory, "."},
		{"FileAbsolute", "file:///var/lib/langsync", langsync.StoreDirectory, "/var/lib/langsync"},
		{"FileRelative", "file://data/store", langsync.StoreDirectory, "data/store"},
		{"Spaces", "  /srv/x  ", langsync.StoreDirectory, "/srv/x"},
		{"KeyString", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core.windows.net",
			langsync.StoreConnectionString, "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core.windows.net"},
		{"TrailingSemicolonAndCase", "accountname=acct;ACCOUNTKEY=" + key + ";",
			langsync.StoreConnectionString, "AccountName=acct;AccountKey=" + key},
		{"AzuriteFull", "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key + ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
			langsync.StoreConnectionString, "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key + ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1"},
		{"SASString", "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=" + sas,
			langsync.StoreConnectionString, "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=" + sas},
		{"DevStorage", "UseDevelopmentStorage=true", langsync.StoreConnectionString, ""},
		{"AccountURL", "https://acct.blob.core.windows.net/", langsync.StoreAccountURL, "https://acct.blob.core.windows.net/"},
		{"AccountURLWithSAS", "https://acct.blob.core.windows.net/?" + sas, langsync.StoreAccountURL, "https://acct.blob.core.windows.net/?" + sas},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := langsync.ParseStoreLocator(tt.in)
			if err != nil {
				t.Fatalf("ParseStoreLocator: %v", err)
			}
			if loc.Kind != tt.kind {
				t.Fatalf("kind %s, want %s", loc.Kind, tt.kind)
			}
			got := map[langsync.StoreKind]string{langsync.StoreDirectory: loc.Path, langsync.StoreConnectionString: loc.ConnectionString, langsync.StoreAccountURL: loc.AccountURL}[loc.Kind]
			if tt.want != "" && got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	loc, _ := langsync.ParseStoreLocator("UseDevelopmentStorage=true")
	if !strings.Contains(loc.ConnectionString, "AccountName=devstoreaccount1") || !strings.Contains(loc.ConnectionString, "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1") {
		t.Errorf("UseDevelopmentStorage=true expands to %q", loc.ConnectionString)
	}
	loc, _ = langsync.ParseStoreLocator("https://acct.blob.core.windows.net/?" + sas)
	if !loc.SAS {
		t.Error("an account URL with ?sig= is not marked SAS")
	}
}

// TestParseStoreLocatorRefusesTypos: each typo is refused with a message
// that names the problem (want) and never holds the key or SAS.
func TestParseStoreLocatorRefusesTypos(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"MisspelledKey", "DefaultEndpointProtocol=https;AccountName=acct;AccountKey=" + key, `unknown key "DefaultEndpointProtocol" (did you mean DefaultEndpointsProtocol?)`},
		{"MisspelledAccountName", "AcountName=acct;AccountKey=" + key + ";BlobEndpont=http://127.0.0.1:10000/x", `did you mean AccountName?`},
		{"KeyWithoutEquals", "AccountName=acct;AccountKey" + key, "the segment starting with AccountKey has no '=' right after the key name"},
		{"KeyWithoutEqualsNoPadding", "AccountName=acct;AccountKeyc2VjcmV0", "the segment starting with AccountKey has no '='"},
		{"SASWithoutEquals", "BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature" + sas, "the segment starting with SharedAccessSignature"},
		{"KeyAsSegment", "AccountName=acct;" + key, "not shown: it may hold a secret"},
		{"BareWord", "mystore", "not a directory path, a connection string or a URL"},
		{"RelativeWithoutDot", "langsync-data/store", "a relative directory must start with ./"},
		{"BareKey", key, "not shown"},
		{"Empty", "  ", "empty"},
		{"NoKeyNoSAS", "AccountName=acct", "needs AccountKey"},
		{"NoAccount", "AccountKey=" + key, "it needs AccountName"},
		{"NotBase64", "AccountName=acct;AccountKey=not*base64" + key, "AccountKey is not base64"},
		{"Duplicate", "AccountName=acct;AccountName=acct2;AccountKey=" + key, "AccountName is given twice"},
		{"EmptyValue", "AccountName=;AccountKey=" + key, "AccountName has no value"},
		{"BadProtocol", "DefaultEndpointsProtocol=ftp;AccountName=acct;AccountKey=" + key, "must be https"},
		{"BadBlobEndpoint", "BlobEndpoint=127.0.0.1:10000;AccountName=acct;AccountKey=" + key, "BlobEndpoint is not an http(s) URL"},
		{"UpperAccount", "AccountName=Acct;AccountKey=" + key, "AccountName must be 3 to 24 lowercase"},
		{"MissingSemicolon", "AccountName=acctAccountKey=" + key, "AccountName must be"},
		{"DevStorageFalse", "UseDevelopmentStorage=false", "must be true"},
		{"DevStorageMixed", "UseDevelopmentStorage=true;AccountKey=" + key, "stands alone"},
		{"S3", "s3://bucket/x", `scheme "s3" is not supported`},
		{"URLWithUser", "https://user:" + key + "@acct.blob.core.windows.net", "carries credentials"},
		{"URLQueryNotSAS", "https://acct.blob.core.windows.net/?" + key, "not a shared access signature"},
		{"FileEmpty", "file://", "names no directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := langsync.ParseStoreLocator(tt.in)
			if err == nil {
				t.Fatalf("ParseStoreLocator(%s) accepted", tt.name)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
			for _, secret := range []string{key, sas, "c2VjcmV0", "U2VjcmV0U2lnbmF0dXJl"} {
				if strings.Contains(msg, secret) {
					t.Fatalf("error repeats secret material: %q", msg)
				}
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://acct.blob.core.windows.net/?" + sas, "https://acct.blob.core.windows.net/?<redacted>"},
		{"https://u:p@acct.blob.core.windows.net/x", "https://<redacted>@acct.blob.core.windows.net/x"},
		{"https://acct.blob.core.windows.net", "https://acct.blob.core.windows.net"},
	}
	for _, tt := range tests {
		if got := langsync.RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
