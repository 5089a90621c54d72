package sbemulator_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/sbemulator"
)

// sdkModule is the package whose own tests run against the stand-in: the
// azservicebus version go.mod pins, compiled from the module cache (nothing
// is copied into this repository).
const sdkModule = "github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

// sdkTests are the azservicebus live tests run against the stand-in, each
// with why it was chosen. Their setup creates a queue with a random name
// through admin.Client (ATOM over HTTPS on the AMQP listener: the stand-in's
// management endpoint, management.go) and deletes it afterwards.
//
// Tried and left out, with what the stand-in lacks (docs/servicebus.md):
//   - TestReceiverUnauthorizedCreds, TestClientUnauthorizedCreds: per-rule
//     Send/Listen claims and SAS expiry checks (Options.Key is one
//     namespace-wide key and the stand-in does not check expiry).
//   - TestReceiveWithDifferentWaitTime: assumes the service trickles 1000
//     messages in slower than TimeAfterFirstMessage=0; on loopback the
//     stand-in delivers all 1000 at once, so "bigger > base2" cannot hold.
//   - Test_Sender_MessageID, Test_Sender_UsingPartitionedQueue,
//     Test_Sender_Send_MessageTooBig: partitioned queues (refused with 400).
//   - TestAdminClient_Queue_Forwarding: auto-forwarding (refused with 400).
//   - TestNewClientWithWebsockets: AMQP over WebSockets ($servicebus/websocket).
//   - TestReceiverSendFiveReceiveFive_Subscription, TestReceiverMultiTopic,
//     TestAdminClient_TopicAndSubscriptionRuntimeProperties: topics.
//   - session_receiver_test.go, client_list_sessions_live_test.go,
//     TestClientNewSessionReceiverCancel,
//     TestClientPropagatesRetryOptionsForSessions: sessions.
//   - TestReceiveWithDelay: its subtests skip without AMQP_FAULT_INJECTOR_PATH
//     (an external fault-injecting proxy), so it would PASS without running.
//   - TestClientUsingCustomEndpoint: only checks the client dials
//     127.0.0.1:5671 and fails; it depends on that port, not the stand-in.
//   - TestMessageBatchConstants and other unit tests: no service involved.
var sdkTests = []struct{ name, why string }{
	// Not found.
	{"TestNewClientNewSenderNotFound",
		"a sender on a missing queue must fail with CodeNotFound: $cbs put-token refused with 404"},
	{"TestNewClientNewReceiverNotFound",
		"a receiver on a missing queue and a peek on a missing subscription must fail with CodeNotFound"},
	{"TestClientNewSessionReceiverNotFound",
		"AcceptSessionForQueue and AcceptNextSessionForQueue on a missing queue fail with CodeNotFound before any session support is needed"},
	// Clients and the management endpoint.
	{"TestNewClientWithAzureIdentity", "token credential: $cbs put-token with a JWT, then a send"},
	{"TestNewClientUsingSharedAccessSignature", "a connection string with a ready-made SharedAccessSignature, for admin.Client and the AMQP client"},
	{"TestClientCloseVsClosePermanently", "a closed client refuses new senders and receivers"},
	{"TestAdminClient_GetQueueRuntimeProperties", "the management endpoint's CountDetails and timestamps after sends"},
	// Sending.
	{"Test_Sender_SendBatchOfTwo", "message batches (one transfer carrying a batch of messages)"},
	{"Test_Sender_SendMessages_resend", "the same Message value sent twice yields two messages"},
	{"Test_Sender_ScheduleMessages", "schedule-message and cancel-scheduled-message, peeked as Scheduled"},
	{"Test_Sender_ScheduleAMQPMessages", "the same with AMQPAnnotatedMessage"},
	{"TestSender_SendMessagesDetach", "a sender recovers when its link is detached (queue update)"},
	{"TestSender_SendMessageBatchDetach", "a batch sender recovers likewise"},
	{"TestSender_SendAMQPMessage", "AMQP sections round-trip: header, properties, annotations, footer"},
	{"TestSender_SendAMQPMessageWithMultipleByteSlicesInData", "several data sections, and the sender's delivery annotations passed through"},
	{"TestSender_SendAMQPMessageWithValue", "an amqp-value body of each AMQP type"},
	{"TestSender_SendAMQPMessageWithSequence", "amqp-sequence bodies"},
	// Receiving and peeking.
	{"TestReceiverSendFiveReceiveFive", "five sent, five received in order"},
	{"TestReceiverForceTimeoutWithTooFewMessages", "ReceiveMessages returns what there is when fewer than asked arrive"},
	{"TestReceiveWithEarlyFirstMessageTimeout", "a context that ends before any message ends ReceiveMessages cleanly"},
	{"TestReceiverSendAndReceiveManyTimes", "repeated receive calls on one link (credit bookkeeping)"},
	{"TestReceiverCancel", "a cancelled receive returns context.Canceled"},
	{"TestReceiveCancelReleaser", "messages credited to a cancelled receive are released back, none lost"},
	{"TestReceiveAndSendAndReceive", "receive, send more, receive again on the same links"},
	{"TestReceiverMultiReceiver", "two receivers on one queue"},
	{"TestReceiverPeek", "peek-message paging by sequence number, not locking"},
	{"TestReceiverAMQPDataTypes", "application properties of every AMQP type round-trip"},
	{"TestNilPartitionKey", "a nil PartitionKey sends and receives"},
	{"TestReceiverReceiveAndDeleteDoesNotLoseMessages", "receive-and-delete: every message sent is received, across a receiver close, none lost"},
	{"TestReceiverReceiveAndDeleteNoCachedMessages", "receive-and-delete: asking for more than was sent, closing, then draining what the receiver had cached"},
	{"TestReceiverDetachWithPeekLock", "UpdateQueue detaches the links; the peek-lock receiver recovers"},
	{"TestReceiverDetachWithReceiveAndDelete", "the same for a receive-and-delete receiver"},
	// Settlement, locks, deferral, dead-lettering.
	{"TestReceiverAbandon", "abandon makes the message available again with its delivery count raised"},
	{"TestReceiverBackupSettlement", "settling through $management when the receive link is gone"},
	{"TestMessageSettlementUsingReceiver", "complete, abandon, defer and dead-letter on the receive link"},
	{"TestMessageSettlementUsingReceiverWithReceiveAndDelete", "settling a receive-and-delete message is refused (fatal), as on the service"},
	{"TestMessageSettlementUsingOnlyBackupSettlement", "every settlement through $management with the receiver or connection gone"},
	{"TestReceiver_SettleWithOnlyLockToken", "settling a message rebuilt from its lock token alone"},
	{"TestReceiver_RenewMessageLock", "renew-lock extends LockedUntil; renewing a settled message fails"},
	{"TestReceiverMessageLockExpires", "a PT5S lock (set through CreateQueue) expires and the message is redelivered"},
	{"TestRenewLocks", "RenewMessageLock keeps a message locked past its lock duration"},
	{"TestRenewLocksEarlyCancel", "renewal stops when its context is cancelled"},
	{"TestReceiverDeferAndReceiveDeferredMessages", "defer, then receive-by-sequence-number"},
	{"TestReceiverDeferWithReceiveAndDelete", "deferred messages received by sequence number in receive-and-delete mode"},
	{"TestDeferredMessages", "complete, abandon and defer on a deferred message"},
	{"TestDeferredMessage_DeadLettering", "dead-lettering a deferred message, then reading the dead-letter queue"},
}

// envSDKTests names the variable holding the azservicebus test binary
// (`go test -c` of sdkModule): `make deps` builds it once into .ci/bin under
// a name holding the module version (rebuilt only when go.mod moves it) and
// `make test` sets it, as LANGSYNC_RIE is set for the Lambda emulator.
const envSDKTests = "LANGSYNC_SBTESTS"

// sdkTestBinary returns the azservicebus test binary for the version go.mod
// pins, and the package's source directory to run it in (its tests read
// files relative to it, as under `go test`): $LANGSYNC_SBTESTS, or, for a
// plain `go test`, a binary built once per user and version under the user
// cache directory. Compiling and linking it took most of this test's time
// when it ran `go test` on the module; it is never skipped.
func sdkTestBinary(ctx context.Context, t *testing.T) (bin, dir string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to locate the azservicebus module: %v", err)
	}
	// One go list gives both the pinned version (the cache key) and where
	// the module cache holds the package.
	list := exec.CommandContext(ctx, goBin, "list", "-f", "{{.Module.Version}} {{.Dir}}", sdkModule)
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", sdkModule, err)
	}
	version, dir, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if !ok || version == "" || dir == "" {
		t.Fatalf("go list %s answered %q, want its version and directory", sdkModule, out)
	}
	if p := os.Getenv(envSDKTests); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v (run `make deps`, which builds it into .ci/bin, or unset %s to build it into the user cache)", envSDKTests, err, envSDKTests)
		}
		return p, dir
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory for the azservicebus test binary (set %s to a built one, e.g. via `make test`): %v", envSDKTests, err)
	}
	root := filepath.Join(cache, "langsync")
	p := filepath.Join(root, "azservicebus-"+version+".test")
	if _, err := os.Stat(p); err == nil {
		return p, dir
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// Build into a private directory and rename into place, so a
	// concurrent run never sees a half-written binary.
	tmp, err := os.MkdirTemp(root, "azservicebus-build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	built := filepath.Join(tmp, "azservicebus.test")
	build := exec.CommandContext(ctx, goBin, "test", "-c", "-o", built, sdkModule)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the azservicebus test binary (`make deps` builds it too): %v\n%s", err, out)
	}
	if err := os.Rename(built, p); err != nil {
		t.Fatal(err)
	}
	t.Logf("built the azservicebus test binary into %s (reused by later runs)", p)
	return p, dir
}

// sdkSlowTests are the selected SDK tests that wait on lock durations and
// renewals (seconds each, measured alone); every other one takes a fraction
// of a second. sdkShards balances on them.
var sdkSlowTests = map[string]time.Duration{
	"TestRenewLocks":                        10 * time.Second,
	"TestRenewLocksEarlyCancel":             10 * time.Second,
	"TestReceiverMessageLockExpires":        6 * time.Second,
	"TestReceiverDeferWithReceiveAndDelete": 5 * time.Second,
}

// sdkShardCount is how many SDK test processes run at once. They mostly
// wait on those durations, so three share two cores well.
const sdkShardCount = 3

// sdkShards deals the chosen tests into n shards, slow ones first, each to
// the shard with the least expected time (a quarter second for a test not
// in sdkSlowTests), so the shards end at about the same time.
func sdkShards(chosen []string, n int) [][]string {
	cost := func(name string) time.Duration {
		if d, ok := sdkSlowTests[name]; ok {
			return d
		}
		return 250 * time.Millisecond
	}
	order := slices.Clone(chosen)
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(cost(b), cost(a)) })
	shards := make([][]string, n)
	load := make([]time.Duration, n)
	for _, name := range order {
		i := slices.Index(load, slices.Min(load))
		shards[i] = append(shards[i], name)
		load[i] += cost(name)
	}
	return slices.DeleteFunc(shards, func(s []string) bool { return len(s) == 0 })
}

// TestAzServiceBusModuleTests runs the selection above from the azservicebus
// module's own test suite against the stand-in, over amqps with a token
// credential as those tests connect, and requires each to PASS (not skip).
// The selection runs in sdkShardCount processes at once, each against its
// own stand-in: the tests' "random" queue names repeat between processes
// started together, and one stand-in would answer the second 409 Conflict.
func TestAzServiceBusModuleTests(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs the azservicebus test package: not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	testBin, pkgDir := sdkTestBinary(ctx, t)

	var chosen []string
	for _, st := range sdkTests {
		chosen = append(chosen, st.name)
	}
	if only := os.Getenv("SBEMULATOR_SDK_TESTS"); only != "" {
		// Trying other tests: SBEMULATOR_SDK_TESTS=TestA,TestB replaces the
		// list (and each must still PASS).
		chosen = nil
		for _, name := range strings.Split(only, ",") {
			chosen = append(chosen, strings.TrimSpace(name))
		}
	}
	shards := sdkShards(chosen, sdkShardCount)
	outs := make([]bytes.Buffer, len(shards))
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	start := time.Now()
	for i, names := range shards {
		env := sdkStandIn(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runSDKTests(ctx, testBin, pkgDir, env, names, &outs[i])
		}()
	}
	wg.Wait()
	t.Logf("%s.test (%d tests in %d processes) took %s", sdkModule, len(chosen), len(shards), time.Since(start).Round(time.Millisecond))
	for i, names := range shards {
		for _, name := range names {
			pass := regexp.MustCompile(`(?m)^--- PASS: ` + regexp.QuoteMeta(name) + ` \(`)
			if !pass.Match(outs[i].Bytes()) {
				t.Errorf("%s did not PASS against the stand-in (%s)", name, sdkWhy(name))
			}
		}
		if testing.Verbose() {
			t.Logf("test output of shard %d (%s):\n%s", i+1, strings.Join(names, " "), outs[i].String())
		}
		if errs[i] != nil || t.Failed() {
			t.Errorf("%s.test, shard %d: %v\n%s", sdkModule, i+1, errs[i], outs[i].String())
		}
	}
}

// sdkWhy is why name was chosen (sdkTests), or that it was named by hand.
func sdkWhy(name string) string {
	for _, st := range sdkTests {
		if st.name == name {
			return st.why
		}
	}
	return "named in SBEMULATOR_SDK_TESTS"
}

// sdkStandIn starts a stand-in for one SDK test process and returns the
// environment that process runs with.
func sdkStandIn(t *testing.T) []string {
	t.Helper()
	// The SDK's tests build their clients with NewClient(endpoint,
	// credential), which always dials amqps://<endpoint>/ and checks the
	// certificate against the endpoint as written, port included. So: a TLS
	// listener whose self-signed certificate names "127.0.0.1:<port>", and
	// SSL_CERT_FILE pointing the test process at it.
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := tcp.Addr().String()
	certPEM, cert := selfSignedCert(t, endpoint)
	dir := t.TempDir()
	certFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := sbemulator.New(sbemulator.Options{
		Listener: tls.NewListener(tcp, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
		Queues:   []sbemulator.QueueConfig{{Name: "testQueue"}},
	})
	if err != nil {
		tcp.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	// The token credential: DefaultAzureCredential limited to managed
	// identity, answered by a local App Service style endpoint. The stand-in
	// accepts any token (no key configured).
	mi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IDENTITY-HEADER") != "sbemulator" {
			http.Error(w, "missing X-IDENTITY-HEADER", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"access_token": "sbemulator-test-token",
			"expires_on":   fmt.Sprint(time.Now().Add(time.Hour).Unix()),
			"resource":     r.URL.Query().Get("resource"),
			"token_type":   "Bearer",
		})
	}))
	t.Cleanup(mi.Close)

	cs := srv.ConnectionString()
	return append(os.Environ(),
		"AZURE_RECORD_MODE=live",
		"SERVICEBUS_ENDPOINT="+endpoint,
		"SERVICEBUS_ENDPOINT_PREMIUM="+endpoint,
		"SERVICEBUS_CONNECTION_STRING="+cs,
		"SERVICEBUS_CONNECTION_STRING_PREMIUM="+cs,
		"SERVICEBUS_CONNECTION_STRING_NO_MANAGE="+cs,
		"SERVICEBUS_CONNECTION_STRING_SEND_ONLY="+cs,
		"SERVICEBUS_CONNECTION_STRING_LISTEN_ONLY="+cs,
		"AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential",
		"IDENTITY_ENDPOINT="+mi.URL+"/msi/token",
		"IDENTITY_HEADER=sbemulator",
		"SSL_CERT_FILE="+certFile,
	)
}

// runSDKTests runs the named tests of the prebuilt binary as `go test`
// would run it: in the package's source directory, with -test.v.
func runSDKTests(ctx context.Context, testBin, pkgDir string, env, names []string, out *bytes.Buffer) error {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	runCtx, runCancel := context.WithTimeout(ctx, 3*time.Minute)
	defer runCancel()
	cmd := exec.CommandContext(runCtx, testBin, "-test.count=1", "-test.v",
		"-test.run", "^("+strings.Join(quoted, "|")+")$")
	cmd.Dir = pkgDir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	return cmd.Run()
}

// selfSignedCert makes a certificate valid for name exactly (go-amqp
// verifies the endpoint with its port) and for 127.0.0.1, and returns it
// PEM-encoded and ready to serve.
func selfSignedCert(t *testing.T, name string) ([]byte, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sbemulator test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{name, "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
