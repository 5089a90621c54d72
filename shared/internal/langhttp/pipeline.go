// Package langhttp is the one HTTP stack of langsync's Azure AI Language
// clients: shared/authoring and shared/predict both build their azcore
// pipeline with NewPipeline, so host pinning, credentials, retries, per-try
// timeouts and logging are the same code for both.
//
// It sits below both clients and imports neither (only azcore, the standard
// library and shared/langsync's Secret), so dependencies point inward: what
// differs between the clients (authoring's shared rate budget, predict's
// per-request Retry-After budget on its own clock, their retry decisions)
// is passed in as policies and azcore retry options, not imported.
package langhttp

import (
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/langsync/langsync/shared/langsync"
)

// KeyHeader is the header that carries a subscription key.
const KeyHeader = "Ocp-Apim-Subscription-Key"

// EntraScope is the Microsoft Entra ID token scope of Cognitive Services.
const EntraScope = "https://cognitiveservices.azure.com/.default"

// Options describe the pipeline of one Language resource.
type Options struct {
	// Name names the client in the User-Agent and in log lines
	// ("authoring request").
	Name string
	// Origin is OriginOf the resource's endpoint. A request to any other
	// origin is refused, wrapping ForeignHost, before the retry and
	// credential policies see it.
	Origin      string
	ForeignHost error
	// Key or Cred authenticates: a subscription key (azcore's key
	// credential policy) or Microsoft Entra ID tokens for EntraScope
	// (azcore's bearer token policy, which caches the token and refreshes
	// it without holding a lock across the network call).
	Key  langsync.Secret
	Cred azcore.TokenCredential
	// AllowHTTP lets the credential go over plain http (emulators on
	// loopback); the caller decides when that is acceptable.
	AllowHTTP bool
	// Transport sends the requests; redirects are never followed (see
	// NoRedirects).
	Transport policy.Transporter
	// Retry configures azcore's retry policy; a request may override it
	// with policy.WithRetryOptions. Leave Retry.TryTimeout zero: the send
	// policy applies TryTimeout (or the request's TryOptions.Timeout).
	Retry      policy.RetryOptions
	TryTimeout time.Duration
	// Logger receives one line per try (nil discards them); FailureLevel
	// is the level of a failed try, a 429 or a 5xx.
	Logger       *slog.Logger
	FailureLevel slog.Level
	// PerTry run on every try after the retry policy's backoff and outside
	// the log line, so time they spend waiting does not count as the
	// try's (authoring's rate budget, Retry-After handling).
	PerTry []policy.Policy
}

// NewPipeline returns the pipeline, outermost first:
//
//	host pin (per call)  refuses any URL off Origin before a credential
//	                     policy can see the request
//	azcore retry         capped exponential backoff with jitter, what is
//	                     retried decided by Retry (or the request's override)
//	PerTry               the client's own policies
//	log (per try)        one slog line per try; never headers or bodies
//	key or bearer        azcore's credential policy
//	send (per try)       per-try timeout and the "was the request written"
//	                     trace (SentError, NoAnswerError)
func NewPipeline(o Options) runtime.Pipeline {
	var auth policy.Policy
	if o.Cred != nil {
		auth = runtime.NewBearerTokenPolicy(o.Cred, []string{EntraScope},
			&policy.BearerTokenOptions{InsecureAllowCredentialWithHTTP: o.AllowHTTP})
	} else {
		auth = runtime.NewKeyCredentialPolicy(azcore.NewKeyCredential(o.Key.Reveal()), KeyHeader,
			&runtime.KeyCredentialPolicyOptions{InsecureAllowCredentialWithHTTP: o.AllowHTTP})
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	perTry := append(slices.Clip(o.PerTry),
		logPolicy{name: o.Name, logger: logger, failure: o.FailureLevel},
		auth,
		sendPolicy{tryTimeout: o.TryTimeout},
	)
	return runtime.NewPipeline(o.Name, "v1", runtime.PipelineOptions{
		PerCall:  []policy.Policy{hostPinPolicy{origin: o.Origin, err: o.ForeignHost}},
		PerRetry: perTry,
	}, &policy.ClientOptions{
		Transport: NoRedirects(o.Transport),
		Retry:     o.Retry,
		Telemetry: policy.TelemetryOptions{ApplicationID: "langsync"},
	})
}

// NoRedirects makes the transport return 3xx responses instead of
// following them: net/http forwards custom headers such as the key header
// to the redirect target, even on another host, so a redirect must never be
// followed below the host pin. Another Transporter than an *http.Client
// must not follow redirects itself.
func NoRedirects(t policy.Transporter) policy.Transporter {
	refuse := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	switch c := t.(type) {
	case nil:
		return &http.Client{Transport: http.DefaultTransport, CheckRedirect: refuse}
	case *http.Client:
		cp := *c
		cp.CheckRedirect = refuse
		return &cp
	}
	return t
}
