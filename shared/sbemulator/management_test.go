package sbemulator_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus/admin"
	"github.com/langsync/langsync/shared/sbemulator"
)

// staticToken is a TokenCredential handing out a fixed token, as a managed
// identity would.
type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "sbemulator-unit-test-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// tlsEnv is a stand-in on a TLS listener, with the real admin client and
// the real AMQP client both built from the endpoint and a token credential,
// as the SDK's live tests build theirs.
type tlsEnv struct {
	srv    *sbemulator.Server
	admin  *admin.Client
	client *azservicebus.Client
	pool   *x509.CertPool
}

func startTLS(t *testing.T, opts sbemulator.Options) *tlsEnv {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := tcp.Addr().String()
	certPEM, cert := selfSignedCert(t, endpoint)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	opts.Listener = tls.NewListener(tcp, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	srv, err := sbemulator.New(opts)
	if err != nil {
		tcp.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	transport := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(transport.CloseIdleConnections)
	ac, err := admin.NewClient(endpoint, staticToken{}, &admin.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: transport,
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := azservicebus.NewClient(endpoint, staticToken{}, &azservicebus.ClientOptions{
		TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(context.Background()) })
	return &tlsEnv{srv: srv, admin: ac, client: client, pool: pool}
}

// The admin client creates, reads, updates and deletes a queue over HTTPS on
// the AMQP listener, and the AMQP client uses the queue in between.
func TestManagementQueueLifecycle(t *testing.T) {
	e := startTLS(t, sbemulator.Options{})
	ctx := ctxT(t)

	got, err := e.admin.GetQueue(ctx, "orders", nil)
	if err != nil || got != nil {
		t.Fatalf("GetQueue before create = %+v, %v; want nil, nil (the service's empty feed)", got, err)
	}

	created, err := e.admin.CreateQueue(ctx, "orders", &admin.CreateQueueOptions{Properties: &admin.QueueProperties{
		LockDuration:                        to("PT30S"),
		MaxDeliveryCount:                    to(int32(3)),
		RequiresDuplicateDetection:          to(true),
		DuplicateDetectionHistoryTimeWindow: to("PT2M"),
		DefaultMessageTimeToLive:            to("PT1H"),
		DeadLetteringOnMessageExpiration:    to(true),
		AutoDeleteOnIdle:                    to("PT5M"),
		UserMetadata:                        to("made by a test"),
	}})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	p := created.QueueProperties
	for _, c := range []struct{ field, got, want string }{
		{"LockDuration", *p.LockDuration, "PT30S"},
		{"DuplicateDetectionHistoryTimeWindow", *p.DuplicateDetectionHistoryTimeWindow, "PT2M"},
		{"DefaultMessageTimeToLive", *p.DefaultMessageTimeToLive, "PT1H"},
		{"AutoDeleteOnIdle", *p.AutoDeleteOnIdle, "PT5M"},
		{"UserMetadata", *p.UserMetadata, "made by a test"},
	} {
		if c.got != c.want {
			t.Errorf("created %s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if *p.MaxDeliveryCount != 3 || !*p.RequiresDuplicateDetection || !*p.DeadLetteringOnMessageExpiration || *p.RequiresSession {
		t.Errorf("created properties = %+v", p)
	}
	if names := e.srv.Queues(); len(names) != 1 || names[0] != "orders" {
		t.Fatalf("Queues() = %v, want [orders]", names)
	}

	if _, err := e.admin.CreateQueue(ctx, "orders", nil); !hasStatus(err, http.StatusConflict) {
		t.Errorf("CreateQueue twice: %v, want 409", err)
	}

	// The AMQP client uses it; duplicate detection is on.
	sender, err := e.client.NewSender("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close(ctx)
	for range 2 {
		if err := sender.SendMessage(ctx, &azservicebus.Message{Body: []byte("one"), MessageID: to("m1")}, nil); err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
	}
	rt, err := e.admin.GetQueueRuntimeProperties(ctx, "orders", nil)
	if err != nil || rt == nil {
		t.Fatalf("GetQueueRuntimeProperties: %+v, %v", rt, err)
	}
	if rt.ActiveMessageCount != 1 || rt.TotalMessageCount != 1 {
		t.Errorf("runtime properties = %+v, want one active message (the duplicate dropped)", rt.QueueRuntimeProperties)
	}
	receiver, err := e.client.NewReceiverForQueue("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer receiver.Close(ctx)
	msgs, err := receiver.ReceiveMessages(ctx, 1, nil)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("ReceiveMessages: %d, %v", len(msgs), err)
	}
	if until := msgs[0].LockedUntil.Sub(*msgs[0].EnqueuedTime); until < 25*time.Second || until > 35*time.Second {
		t.Errorf("lock lasts %s after enqueue, want the queue's 30s", until)
	}

	// An update replaces the description and detaches the links; the
	// receiver recovers and settles the message it holds through the
	// management link.
	updated, err := e.admin.UpdateQueue(ctx, "orders", admin.QueueProperties{
		RequiresDuplicateDetection: to(true),
		MaxDeliveryCount:           to(int32(7)),
	}, nil)
	if err != nil {
		t.Fatalf("UpdateQueue: %v", err)
	}
	if *updated.MaxDeliveryCount != 7 || *updated.LockDuration != "PT1M" {
		t.Errorf("updated = max delivery %d, lock %s; want 7 and the default PT1M", *updated.MaxDeliveryCount, *updated.LockDuration)
	}
	if err := receiver.CompleteMessage(ctx, msgs[0], nil); err != nil {
		t.Fatalf("CompleteMessage after the update: %v", err)
	}
	if _, err := e.admin.UpdateQueue(ctx, "missing", admin.QueueProperties{}, nil); !hasStatus(err, http.StatusNotFound) {
		t.Errorf("UpdateQueue(missing): %v, want 404", err)
	}

	// Deleting it drops its messages and detaches its links: the next
	// receive fails with not found.
	if _, err := e.admin.DeleteQueue(ctx, "orders", nil); err != nil {
		t.Fatalf("DeleteQueue: %v", err)
	}
	if got, err := e.admin.GetQueue(ctx, "orders", nil); err != nil || got != nil {
		t.Errorf("GetQueue after delete = %+v, %v; want nil, nil", got, err)
	}
	if len(e.srv.Queues()) != 0 {
		t.Errorf("Queues() after delete = %v", e.srv.Queues())
	}
	// (The SDK passes the link's amqp:not-found detach error through as is.)
	if _, err = receiver.ReceiveMessages(ctx, 1, nil); err == nil || !strings.Contains(err.Error(), "amqp:not-found") {
		t.Errorf("ReceiveMessages on a deleted queue: %v, want amqp:not-found", err)
	}
	if _, err := e.admin.DeleteQueue(ctx, "orders", nil); !hasStatus(err, http.StatusNotFound) {
		t.Errorf("DeleteQueue twice: %v, want 404", err)
	}
}

// What the stand-in cannot honour is refused with 400 and says why.
func TestManagementRefusesUnsupported(t *testing.T) {
	e := startTLS(t, sbemulator.Options{})
	ctx := ctxT(t)
	for _, c := range []struct {
		name  string
		props admin.QueueProperties
		want  string
	}{
		{"sessions", admin.QueueProperties{RequiresSession: to(true)}, "sessions are not supported"},
		{"partitioned", admin.QueueProperties{EnablePartitioning: to(true)}, "partitioning is not supported"},
		{"forwarding", admin.QueueProperties{ForwardTo: to("other")}, "forwarding is not supported"},
		{"long-lock", admin.QueueProperties{LockDuration: to("PT10M")}, "LockDuration PT10M is above the maximum"},
		{"bad-duration", admin.QueueProperties{DefaultMessageTimeToLive: to("one hour")}, "not an ISO 8601 duration"},
		{"disabled", admin.QueueProperties{Status: to(admin.EntityStatusDisabled)}, "Status Disabled"},
	} {
		_, err := e.admin.CreateQueue(ctx, c.name, &admin.CreateQueueOptions{Properties: &c.props})
		if !hasStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CreateQueue(%s): %v; want 400 mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := e.admin.CreateTopic(ctx, "topic", nil); !hasStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "TopicDescription is not supported") {
		t.Errorf("CreateTopic: %v; want 400", err)
	}
	if len(e.srv.Queues()) != 0 {
		t.Errorf("refused creates left queues: %v", e.srv.Queues())
	}
}

// With a key, the management endpoint wants a SAS token signed with it, as
// $cbs put-token does.
func TestManagementAuthorization(t *testing.T) {
	srv, err := sbemulator.New(sbemulator.Options{Key: "right-key"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx := ctxT(t)
	do := func(key string) error {
		// admin.Client always speaks https; a plain-TCP server is reached
		// through a transport that rewrites the scheme.
		cs := "Endpoint=sb://" + srv.Addr() + ";SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + key
		ac, err := admin.NewClientFromConnectionString(cs, &admin.ClientOptions{ClientOptions: azcore.ClientOptions{
			Transport: plainHTTP{}, Retry: policy.RetryOptions{MaxRetries: -1},
		}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ac.CreateQueue(ctx, "q-"+key, nil)
		return err
	}
	if err := do("wrong-key"); !hasStatus(err, http.StatusUnauthorized) {
		t.Errorf("CreateQueue with the wrong key: %v, want 401", err)
	}
	if err := do("right-key"); err != nil {
		t.Errorf("CreateQueue with the right key: %v", err)
	}
	if q := srv.Queues(); len(q) != 1 || q[0] != "q-right-key" {
		t.Errorf("Queues() = %v", q)
	}
}

// plainHTTP sends the admin client's https requests over plain HTTP.
type plainHTTP struct{}

func (plainHTTP) Do(r *http.Request) (*http.Response, error) {
	r.URL.Scheme = "http"
	return http.DefaultTransport.RoundTrip(r)
}

func hasStatus(err error, status int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == status
}

// The listener tells the protocols apart by the first bytes: an AMQP header
// gets the AMQP server, anything else the HTTP management endpoint, and a
// connection that says nothing is dropped on Close.
func TestListenerDemux(t *testing.T) {
	srv, err := sbemulator.New(sbemulator.Options{Queues: []sbemulator.QueueConfig{{Name: "q", LockDuration: 45 * time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		t.Cleanup(func() { c.Close() })
		return c
	}

	// AMQP: the SASL header is answered with the SASL header.
	c := dial()
	c.Write([]byte("AMQP\x03\x01\x00\x00"))
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(c, hdr); err != nil || string(hdr) != "AMQP\x03\x01\x00\x00" {
		t.Fatalf("AMQP header answered with %q, %v", hdr, err)
	}

	// HTTP, written by hand: GET the queue's entry.
	c = dial()
	io.WriteString(c, "GET /q?api-version=2024-05 HTTP/1.1\r\nHost: "+srv.Addr()+"\r\nAuthorization: anything\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<title type=\"text\">q</title>") || !strings.Contains(string(body), "<LockDuration>PT45S</LockDuration>") {
		t.Fatalf("GET /q = %d\n%s", resp.StatusCode, body)
	}

	// No Authorization header: 401, in the service's <Error> shape.
	c = dial()
	io.WriteString(c, "DELETE /q HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(body), "<Code>401</Code>") {
		t.Fatalf("DELETE without a token = %d %s", resp.StatusCode, body)
	}
	if len(srv.Queues()) != 1 {
		t.Fatal("an unauthorized DELETE removed the queue")
	}

	// Neither: the HTTP server answers 400 and hangs up.
	c = dial()
	io.WriteString(c, "\x00\x01\x02\x03 not a protocol\r\n\r\n")
	reply, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(reply), "HTTP/1.1 400") {
		t.Fatalf("garbage answered with %q", reply)
	}

	// Silent, then Close: the connection is closed, Close does not hang.
	c = dial()
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung on a connection that never spoke")
	}
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a connection of a closed server", n)
	}
}
