package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
)

// Options configure a ServiceBus sender. Nil means defaults.
type Options struct {
	// Credential for a namespace setting; default DefaultAzureCredential
	// (managed identity in Azure, az login on a workstation).
	Credential azcore.TokenCredential
	// Retry is the SDK's retry policy for the errors it sees; nil means
	// DefaultRetry, and zero fields take DefaultRetry's. Its backoff also
	// spaces attempts that timed out.
	Retry *azservicebus.RetryOptions
	// TryTimeout bounds one attempt of a send or schedule (connecting,
	// authorizing and sending, with the SDK's retries); default
	// DefaultTryTimeout. The SDK has none of its own (see retry.go).
	TryTimeout time.Duration
	// Tries is how many attempts a send gets when they time out; default
	// DefaultTries.
	Tries int
	// OnRetry, if set, is told of every attempt that timed out and is made
	// again, before the backoff (the CLI prints a line per retry).
	OnRetry func(RetryEvent)
	// Now is the clock used to decide whether a schedule time has passed.
	Now    func() time.Time
	Logger *slog.Logger
}

// ServiceBus sends to Azure Service Bus queues with azservicebus. It keeps
// one AMQP sender per queue and is safe for concurrent use.
type ServiceBus struct {
	client *azservicebus.Client
	now    func() time.Time
	log    *slog.Logger
	// endpoint is the namespace's host:port, for messages.
	endpoint   string
	retry      azservicebus.RetryOptions
	tryTimeout time.Duration
	tries      int
	onRetry    func(RetryEvent)

	mu      sync.Mutex
	senders map[string]*azservicebus.Sender
	closed  bool
}

// SettingKind is how a LANGSYNC_SERVICEBUS value is read.
type SettingKind int

// Setting kinds.
const (
	SettingConnectionString SettingKind = iota + 1
	SettingNamespace
)

// ParseSetting tells a connection string ("Endpoint=sb://...;...") from a
// fully qualified namespace ("x.servicebus.windows.net"), and refuses
// anything else with a message saying what to put there. The error never
// repeats the value, which may hold a key.
func ParseSetting(setting string) (SettingKind, error) {
	s := strings.TrimSpace(setting)
	switch {
	case s == "":
		return 0, fmt.Errorf("%w: LANGSYNC_SERVICEBUS is empty: set it to a Service Bus connection string (Endpoint=sb://...) or a namespace host name (NAME.servicebus.windows.net)", ErrInvalid)
	case strings.Contains(strings.ToLower(s), "endpoint="):
		return SettingConnectionString, nil
	case strings.Contains(s, "://") || strings.ContainsAny(s, "/;= "):
		return 0, fmt.Errorf("%w: LANGSYNC_SERVICEBUS is neither a connection string (Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...) nor a bare namespace host name (NAME.servicebus.windows.net, no scheme or path)", ErrInvalid)
	case !strings.Contains(s, "."):
		return 0, fmt.Errorf("%w: LANGSYNC_SERVICEBUS namespace %q is not fully qualified: use NAME.servicebus.windows.net", ErrInvalid, s)
	}
	return SettingNamespace, nil
}

// NewServiceBus opens a sender from the LANGSYNC_SERVICEBUS setting: a
// connection string (a real namespace, or an emulator with
// UseDevelopmentEmulator=true), or a fully qualified namespace used with
// opts.Credential or DefaultAzureCredential. No connection is made until the
// first send.
func NewServiceBus(setting string, opts *Options) (*ServiceBus, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	kind, err := ParseSetting(setting)
	if err != nil {
		return nil, err
	}
	retry := DefaultRetry
	if r := o.Retry; r != nil {
		retry = *r
		if retry.MaxRetries == 0 {
			retry.MaxRetries = DefaultRetry.MaxRetries
		}
		if retry.RetryDelay == 0 {
			retry.RetryDelay = DefaultRetry.RetryDelay
		}
		if retry.MaxRetryDelay == 0 {
			retry.MaxRetryDelay = DefaultRetry.MaxRetryDelay
		}
	}
	if o.TryTimeout <= 0 {
		o.TryTimeout = DefaultTryTimeout
	}
	if o.Tries <= 0 {
		o.Tries = DefaultTries
	}
	copts := &azservicebus.ClientOptions{RetryOptions: retry}
	var client *azservicebus.Client
	switch kind {
	case SettingConnectionString:
		client, err = azservicebus.NewClientFromConnectionString(strings.TrimSpace(setting), copts)
		if err != nil {
			// The SDK's message may quote the string; keep the key out.
			return nil, fmt.Errorf("%w: LANGSYNC_SERVICEBUS connection string is malformed: it needs Endpoint=sb://HOST and SharedAccessKeyName/SharedAccessKey (or SharedAccessSignature)", ErrInvalid)
		}
	case SettingNamespace:
		cred := o.Credential
		if cred == nil {
			cred, err = azidentity.NewDefaultAzureCredential(nil)
			if err != nil {
				return nil, fmt.Errorf("queue: creating DefaultAzureCredential for namespace %s: %w", setting, err)
			}
		}
		client, err = azservicebus.NewClient(strings.TrimSpace(setting), cred, copts)
		if err != nil {
			return nil, fmt.Errorf("queue: creating Service Bus client for namespace %s: %w", setting, err)
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &ServiceBus{
		client: client, now: o.Now, log: o.Logger, senders: map[string]*azservicebus.Sender{},
		endpoint: endpointOf(setting, kind), retry: retry, tryTimeout: o.TryTimeout, tries: o.Tries, onRetry: o.OnRetry,
	}, nil
}

func (b *ServiceBus) sender(queue string) (*azservicebus.Sender, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if s := b.senders[queue]; s != nil {
		return s, nil
	}
	s, err := b.client.NewSender(queue, nil)
	if err != nil {
		return nil, fmt.Errorf("queue: opening sender for %s: %w", queue, err)
	}
	b.senders[queue] = s
	return s, nil
}

// dropSender forgets a sender whose link failed for good (unknown queue).
func (b *ServiceBus) dropSender(ctx context.Context, queue string, s *azservicebus.Sender) {
	b.mu.Lock()
	if b.senders[queue] == s {
		delete(b.senders, queue)
	}
	b.mu.Unlock()
	_ = s.Close(ctx)
}

func newMessage(body []byte, messageID string) *azservicebus.Message {
	ct := "application/json"
	return &azservicebus.Message{Body: body, MessageID: &messageID, ContentType: &ct}
}

// Send sends body to queue now.
func (b *ServiceBus) Send(ctx context.Context, queue string, body []byte, messageID string) error {
	if err := checkArgs(queue, messageID); err != nil {
		return err
	}
	s, err := b.sender(queue)
	if err != nil {
		return err
	}
	err = b.attempt(ctx, func(ctx context.Context) error {
		return s.SendMessage(ctx, newMessage(body, messageID), nil)
	})
	if err != nil {
		return b.sendError(ctx, "sending", queue, messageID, s, err)
	}
	b.log.DebugContext(ctx, "queue: sent", "queue", queue, "messageId", messageID)
	return nil
}

// Schedule sends body to queue to become visible at `at`; a time that has
// passed sends at once.
func (b *ServiceBus) Schedule(ctx context.Context, queue string, body []byte, messageID string, at time.Time) error {
	if err := checkArgs(queue, messageID); err != nil {
		return err
	}
	if !at.After(b.now()) {
		return b.Send(ctx, queue, body, messageID)
	}
	s, err := b.sender(queue)
	if err != nil {
		return err
	}
	err = b.attempt(ctx, func(ctx context.Context) error {
		_, err := s.ScheduleMessages(ctx, []*azservicebus.Message{newMessage(body, messageID)}, at.UTC(), nil)
		return err
	})
	if err != nil {
		return b.sendError(ctx, "scheduling", queue, messageID, s, err)
	}
	b.log.DebugContext(ctx, "queue: scheduled", "queue", queue, "messageId", messageID, "at", at.UTC())
	return nil
}

func (b *ServiceBus) sendError(ctx context.Context, doing, queue, messageID string, s *azservicebus.Sender, err error) error {
	var ae *amqp.Error
	var se *azservicebus.Error
	if (errors.As(err, &ae) && ae.Condition == amqp.ErrCondNotFound) || (errors.As(err, &se) && se.Code == azservicebus.CodeNotFound) {
		b.dropSender(ctx, queue, s)
		return fmt.Errorf("queue: %s %s to %s on %s: %w (create the queue, or check LANGSYNC_SERVICEBUS points at the right namespace): %v", doing, messageID, queue, b.endpoint, ErrUnknownQueue, err)
	}
	var na *NoAnswerError
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &na) || ctx.Err() != nil:
		// The timeout names the namespace itself; a cancel needs no advice.
		return fmt.Errorf("queue: %s %s to %s: %w", doing, messageID, queue, err)
	case errors.As(err, &op) || errors.As(err, &dns) || (errors.As(err, &se) && se.Code == azservicebus.CodeConnectionLost):
		// azservicebus.Error does not unwrap: its code says the connection
		// failed after the SDK's retries.
		return fmt.Errorf("queue: %s %s to %s: cannot reach Service Bus %s: %w: %s", doing, messageID, queue, b.endpoint, err, checkHint)
	}
	return fmt.Errorf("queue: %s %s to %s on %s: %w", doing, messageID, queue, b.endpoint, err)
}

// Close closes every sender and the client.
func (b *ServiceBus) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	senders := b.senders
	b.senders = nil
	b.mu.Unlock()
	var errs []error
	for _, s := range senders {
		errs = append(errs, s.Close(ctx))
	}
	errs = append(errs, b.client.Close(ctx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("queue: closing: %w", err)
	}
	return nil
}
