package authoring

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/langsync/langsync/shared/langsync"
)

// fakeCredential hands out a fixed token and records the scopes asked for.
type fakeCredential struct {
	calls  atomic.Int32
	scopes []string
}

func (f *fakeCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.calls.Add(1)
	f.scopes = o.Scopes
	return azcore.AccessToken{Token: "entra-t0ken-secret", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestEntraBearerToken(t *testing.T) {
	foreign := &recorder{}
	evil := newServer(t, func(w http.ResponseWriter, r *http.Request) { foreign.add(r) })
	rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			writeJSON(w, 200, projectJSON)
			return
		}
		w.Header().Set("operation-location", evil.URL+"/x")
		w.WriteHeader(202)
	})
	cred := &fakeCredential{}
	c, err := NewClient(url, cred, &ClientOptions{Budget: NewRateBudget(BudgetOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetProject(context.Background(), "Tickets"); err != nil {
		t.Fatal(err)
	}
	r := rec.all()[0]
	if r.Header.Get("Authorization") != "Bearer entra-t0ken-secret" || r.Header.Get(KeyHeader) != "" {
		t.Fatalf("auth headers %q / %q", r.Header.Get("Authorization"), r.Header.Get(KeyHeader))
	}
	if len(cred.scopes) != 1 || cred.scopes[0] != EntraScope {
		t.Fatalf("scopes %v", cred.scopes)
	}
	job, err := c.BeginDeleteProject(context.Background(), "Tickets")
	if !errors.Is(err, ErrForeignHost) {
		t.Fatalf("err %v, want ErrForeignHost", err)
	}
	if _, err := c.Poll(context.Background(), job); !errors.Is(err, ErrForeignHost) || strings.Contains(err.Error(), "t0ken") {
		t.Fatalf("poll err %v", err)
	}
	if foreign.count() != 0 {
		t.Fatalf("the foreign host got %d requests", foreign.count())
	}
	if _, err := NewClient(url, nil, nil); err == nil {
		t.Fatal("nil credential accepted")
	}
}

func TestNoCredentialOverPlainHTTP(t *testing.T) {
	// A non-loopback http endpoint is refused unless explicitly allowed.
	if _, err := NewKeyClient("http://contoso.example", langsync.Secret("k"), nil); err == nil {
		t.Fatal("key over plain http accepted")
	} else if msg := err.Error(); strings.Contains(msg, "InsecureAllowHTTP") || !strings.Contains(msg, "use https") {
		// The user cannot set the internal option: the message says what they can do.
		t.Errorf("message %q names an internal option or lacks the fix", msg)
	}
	if _, err := NewKeyClient("http://contoso.example", langsync.Secret("k"), &ClientOptions{InsecureAllowHTTP: true}); err != nil {
		t.Fatalf("InsecureAllowHTTP: %v", err)
	}
}

func TestNewForResource(t *testing.T) {
	rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, projectJSON) })
	opts := &ClientOptions{Budget: NewRateBudget(BudgetOptions{})}
	keyed, err := NewForResource(langsync.Resource{Name: "primary", Endpoint: url, Key: testKey}, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	entra, err := NewForResource(langsync.Resource{Name: "secondary", Endpoint: url, Entra: true}, &fakeCredential{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Client{keyed, entra} {
		if _, err := c.GetProject(context.Background(), "Tickets"); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rec.all()
	if reqs[0].Header.Get(KeyHeader) != testKey || !strings.HasPrefix(reqs[1].Header.Get("Authorization"), "Bearer ") {
		t.Fatalf("auth: %v / %v", reqs[0].Header, reqs[1].Header)
	}
	if _, err := NewForResource(langsync.Resource{Name: "x", Endpoint: url, Entra: true}, nil, opts); err == nil {
		t.Fatal("entra without a credential accepted")
	}
	if _, err := NewForResource(langsync.Resource{Name: "x", Endpoint: url}, nil, opts); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Fatalf("keyless resource: %v", err)
	}
}
