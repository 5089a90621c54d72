package customhandlertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// connectionString returns the Service Bus connection string for a binding.
func (h *Host) connectionString(b *Binding) (string, error) {
	if h.opts.ServiceBus != "" {
		return h.opts.ServiceBus, nil
	}
	if h.opts.Settings != nil {
		if s := h.opts.Settings(b.Connection); s != "" {
			return s, nil
		}
	}
	return "", fmt.Errorf("customhandlertest: no Service Bus connection string: set Options.ServiceBus or the %s setting", b.Connection)
}

func (h *Host) receiver(function string) (*azservicebus.Receiver, *Binding, error) {
	_, b, err := h.trigger(function, "serviceBusTrigger")
	if err != nil {
		return nil, nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r, ok := h.receivers[function]; ok {
		return r, b, nil
	}
	cs, err := h.connectionString(b)
	if err != nil {
		return nil, nil, err
	}
	client, ok := h.sb[cs]
	if !ok {
		client, err = azservicebus.NewClientFromConnectionString(cs, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("customhandlertest: service bus client: %w", err)
		}
		h.sb[cs] = client
	}
	// prefetchCount 0 (host.json): receive exactly what is processed.
	r, err := client.NewReceiverForQueue(b.QueueName, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModePeekLock})
	if err != nil {
		return nil, nil, fmt.Errorf("customhandlertest: receiver for %s: %w", b.QueueName, err)
	}
	h.receivers[function] = r
	return r, b, nil
}

// ReceiveOnce receives at most one message for a Service Bus function in
// peek-lock mode, waiting up to wait, invokes the handler with it and completes
// it on success or abandons it on failure, as the host does with
// autoCompleteMessages
// (docs/reference/functions-protocol.md#what-a-non-2xx-means). It returns the
// settlement, or nil when no message arrived in time.
func (h *Host) ReceiveOnce(ctx context.Context, function string, wait time.Duration) (*Settlement, error) {
	r, b, err := h.receiver(function)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, wait)
	msgs, err := r.ReceiveMessages(rctx, 1, nil)
	cancel()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("customhandlertest: receiving for %s: %w", function, err)
	}
	if len(msgs) == 0 {
		return nil, ctx.Err()
	}
	m := msgs[0]
	stop := h.renewLock(ctx, r, m)
	res := h.Invoke(ctx, function, ServiceBusInvocation(*b, function, h.fromReceived(b, m), h.opts.Now()))
	stop()
	s := Settlement{Function: function, MessageID: m.MessageID, DeliveryCount: m.DeliveryCount, Result: res}
	// Settle with a context that survives the caller's cancellation, so a
	// stopping simulator does not leave a lock to expire.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer scancel()
	if res.OK() {
		err = r.CompleteMessage(sctx, m, nil)
		s.Completed = true
	} else {
		err = r.AbandonMessage(sctx, m, nil)
	}
	h.mu.Lock()
	h.settlements = append(h.settlements, s)
	h.mu.Unlock()
	if err != nil {
		return &s, fmt.Errorf("customhandlertest: settling %s: %w", m.MessageID, err)
	}
	if res.StatusCode == 0 {
		// The handler process is gone: the host fails the in-flight
		// invocation (abandon, above), restarts the process and sends
		// nothing more until the new one answers the readiness probe.
		if err := h.WaitReady(ctx); err != nil {
			return &s, err
		}
	}
	return &s, nil
}

// renewLock keeps the peek-lock alive while the invocation runs, up to
// maxAutoLockRenewalDuration (5 minutes), renewing at half the remaining
// lock time.
func (h *Host) renewLock(ctx context.Context, r *azservicebus.Receiver, m *azservicebus.ReceivedMessage) (stop func()) {
	if m.LockedUntil == nil {
		return func() {}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			d := time.Until(*m.LockedUntil) / 2
			if d < 100*time.Millisecond {
				d = 100 * time.Millisecond
			}
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if err := r.RenewMessageLock(ctx, m, nil); err != nil {
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (h *Host) fromReceived(b *Binding, m *azservicebus.ReceivedMessage) Message {
	out := Message{
		Body:                  m.Body,
		MessageID:             m.MessageID,
		DeliveryCount:         m.DeliveryCount,
		LockToken:             m.LockToken,
		ApplicationProperties: m.ApplicationProperties,
	}
	if m.SequenceNumber != nil {
		out.SequenceNumber = *m.SequenceNumber
	}
	if m.EnqueuedTime != nil {
		out.EnqueuedTime = *m.EnqueuedTime
	}
	if m.ExpiresAt != nil {
		out.ExpiresAt = *m.ExpiresAt
	}
	if m.ContentType != nil {
		out.ContentType = *m.ContentType
	}
	if m.CorrelationID != nil {
		out.CorrelationID = *m.CorrelationID
	}
	if m.Subject != nil {
		out.Subject = *m.Subject
	}
	if cs, err := h.connectionString(b); err == nil {
		out.Namespace = namespaceOf(cs)
	}
	return out
}

// namespaceOf returns the host of a connection string's Endpoint.
func namespaceOf(cs string) string {
	for _, part := range strings.Split(cs, ";") {
		if v, ok := strings.CutPrefix(part, "Endpoint="); ok {
			if u, err := url.Parse(v); err == nil {
				return u.Host
			}
		}
	}
	return ""
}

// Run receives for every Service Bus function (one loop each, one message
// at a time) until ctx ends, then closes the receivers. Errors other than
// the end of ctx are returned once every loop has stopped.
func (h *Host) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(h.names))
	for _, name := range h.names {
		if h.fns[name].Trigger().Type != "serviceBusTrigger" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := h.ReceiveOnce(ctx, name, time.Minute); err != nil && ctx.Err() == nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close closes the Service Bus receivers and clients.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for name, r := range h.receivers {
		errs = append(errs, r.Close(ctx))
		delete(h.receivers, name)
	}
	for cs, c := range h.sb {
		errs = append(errs, c.Close(ctx))
		delete(h.sb, cs)
	}
	return errors.Join(errs...)
}
