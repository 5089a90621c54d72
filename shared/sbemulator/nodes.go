package sbemulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/langsync/langsync/shared/sbemulator/internal/amqp"
)

// Fault makes the server fail an operation on purpose, for tests of retry
// and recovery code.
type Fault struct {
	// Op is "send" (a message on an entity link), "put-token", or a
	// management operation such as "com.microsoft:renew-lock".
	Op string
	// Count is how many times the fault fires (0 means once).
	Count int
	// Status is the RPC status code for put-token and management operations
	// (default 500, which the SDK retries; 404 and 410 are fatal to it).
	Status int32
	// Condition is the AMQP error condition a "send" is rejected with
	// (default com.microsoft:server-busy).
	Condition string
	// Description is the error text.
	Description string
}

func (f *Fault) condition() string {
	if f.Condition == "" {
		return "com.microsoft:server-busy"
	}
	return f.Condition
}

// InjectFault arms a fault; faults fire in the order they were armed.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Count <= 0 {
		f.Count = 1
	}
	if f.Status == 0 {
		f.Status = 500
	}
	if f.Description == "" {
		f.Description = "fault injected by the test"
	}
	s.faults = append(s.faults, f)
}

// DetachLinks force-detaches every link attached to queue (senders and
// receivers, including its $DeadLetterQueue's if queue names it) with
// amqp:link:detach-forced, as the service does when it moves an entity; the
// SDK recovers the link. It returns how many links were detached.
func (s *Server) DetachLinks(queue string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forceDetach(func(l *link) bool { return l.entity != nil && l.entity.name == queue },
		"amqp:link:detach-forced", "The link was detached by the test (fault injection).")
}

// forceDetach detaches every live link match selects with an error of the
// given condition, and returns how many there were; Server.mu is held.
func (s *Server) forceDetach(match func(*link) bool, condition, desc string) int {
	n := 0
	for c := range s.conns {
		for _, ss := range c.sessions {
			for _, l := range ss.links {
				if l.detached || !match(l) {
					continue
				}
				l.detach()
				l.refused = true // the client's answering detach needs no reply
				ss.links[l.handle] = l
				c.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Detach, amqp.List{l.handle, true,
					amqp.NewError(condition, desc)}, nil)
				n++
			}
		}
	}
	return n
}

// takeFault consumes one armed fault for op.
func (s *Server) takeFault(op string) *Fault {
	for i := range s.faults {
		if s.faults[i].Op == op {
			f := s.faults[i]
			s.faults[i].Count--
			if s.faults[i].Count == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return &f
		}
	}
	return nil
}

// checkToken verifies a put-token request's SAS signature when the server
// has a key; it returns the reason for refusing, or "".
func (s *Server) checkToken(req *amqp.Message) string {
	if s.opts.Key == "" {
		return ""
	}
	typ, _ := req.AppProps.Get("type")
	if t, _ := amqp.Text(typ); t != "servicebus.windows.net:sastoken" {
		return "only SAS tokens are accepted by this stand-in"
	}
	tok, _ := req.Value().(string)
	return s.checkSAS(tok)
}

// checkSAS verifies a "SharedAccessSignature sr=...&sig=...&se=...&skn=..."
// token against the server's key (the caller checks that one is set); it
// returns the reason for refusing, or "".
func (s *Server) checkSAS(tok string) string {
	tok, ok := strings.CutPrefix(tok, "SharedAccessSignature ")
	if !ok {
		return "malformed SAS token"
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(tok, "&") {
		k, v, _ := strings.Cut(kv, "=")
		fields[k] = v
	}
	if fields["skn"] != s.opts.KeyName {
		return "InvalidSignature: unknown key name"
	}
	mac := hmac.New(sha256.New, []byte(s.opts.Key))
	mac.Write([]byte(fields["sr"] + "\n" + fields["se"]))
	want := url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	if !hmac.Equal([]byte(want), []byte(fields["sig"])) {
		return "InvalidSignature: the token has an invalid signature"
	}
	return ""
}

// missingAudience returns the service's "could not be found" description
// when a put-token names an entity the namespace lacks, or "". The service
// refuses the token for a missing entity with status 404, which the SDK turns
// into azservicebus.CodeNotFound; authorization is checked first, so a bad
// signature still gets 401 (docs/reference/servicebus-amqp.md#cbs-put-token).
func (s *Server) missingAudience(req *amqp.Message) string {
	v, _ := req.AppProps.Get("name")
	audience, _ := amqp.Text(v)
	// amqp://host:port/<entity>[/$management]; a namespace-wide audience has
	// no path.
	rest := audience
	if _, after, ok := strings.Cut(audience, "://"); ok {
		rest = after
	}
	host, path, _ := strings.Cut(rest, "/")
	path = strings.TrimSuffix(strings.TrimSuffix(path, "/"), "/$management")
	if path == "" || s.entities[path] != nil {
		return ""
	}
	return fmt.Sprintf("The messaging entity 'sb://%s/%s' could not be found. To know more visit https://aka.ms/sbResourceMgrExceptions.", host, path)
}

// rpcError is a non-2xx RPC answer.
type rpcError struct {
	status int32
	desc   string
}

// rpc answers a request on $cbs or <entity>/$management on the reply link
// whose target address is the request's reply-to.
func (s *Server) rpc(l *link, req *amqp.Message) {
	c := l.sess.conn
	op, _ := req.AppProps.Get("operation")
	opName, _ := amqp.Text(op)
	status, desc := int32(200), "OK"
	var body any
	if f := s.takeFault(opName); f != nil {
		status, desc = f.Status, f.Description
	} else if l.node == "$cbs" {
		if opName != "put-token" {
			status, desc = 404, "unknown $cbs operation "+opName
		} else if err := s.checkToken(req); err != "" {
			status, desc = 401, err
		} else if missing := s.missingAudience(req); missing != "" {
			status, desc = 404, missing
		} else {
			status, desc = 202, "Accepted"
		}
	} else {
		e := s.entities[strings.TrimSuffix(l.node, "/$management")]
		var rerr *rpcError
		if e == nil { // deleted through the management endpoint since the attach
			rerr = notFound(fmt.Sprintf("The messaging entity '%s' could not be found.", strings.TrimSuffix(l.node, "/$management")))
		} else {
			body, rerr = s.manage(e, opName, req.Value())
		}
		if rerr != nil {
			status, desc = rerr.status, rerr.desc
			body = nil
		} else if body == nil {
			status, desc = 204, "No Content"
		}
	}
	replyTo, _ := amqp.Text(req.Properties.Field(4))
	rl := c.replies[replyTo]
	if rl == nil {
		s.log.Debug("sbemulator: rpc reply link missing", "replyTo", replyTo, "op", opName)
		return
	}
	var b []byte
	b = amqp.Section(b, amqp.Properties, amqp.List{nil, nil, nil, nil, nil, req.Properties.Field(0)})
	b = amqp.Section(b, amqp.ApplicationProperties, amqp.Map{
		{Key: "status-code", Value: status},
		{Key: "status-description", Value: desc},
	})
	b = amqp.Section(b, amqp.AMQPValue, body)
	rl.credit--
	rl.deliveryCount++
	rl.sess.sendMessage(rl, newTokenBytes(), true, b)
}

func getMap(v any) amqp.Map { m, _ := v.(amqp.Map); return m }

func elems(v any) []any {
	switch v := v.(type) {
	case amqp.Array:
		return v.Elems
	case amqp.List:
		return v
	}
	return nil
}

func toInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		return int64(v), true
	}
	return 0, false
}

func notFound(desc string) *rpcError { return &rpcError{404, desc} }

func lockLostRPC() *rpcError {
	return &rpcError{410, "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue."}
}

// manage runs one management operation; a nil body with no error is 204.
func (s *Server) manage(e *entity, op string, reqBody any) (any, *rpcError) {
	req := getMap(reqBody)
	get := func(k string) any { v, _ := req.Get(k); return v }
	switch op {
	case "com.microsoft:renew-lock":
		var exp []any
		for _, t := range elems(get("lock-tokens")) {
			tok, _ := t.(amqp.UUID)
			msg := s.locked(e, tok)
			if msg == nil {
				return nil, lockLostRPC()
			}
			msg.lockedUntil = s.clock.Now().Add(e.cfg.LockDuration)
			exp = append(exp, msg.lockedUntil)
		}
		return amqp.Map{{Key: "expirations", Value: amqp.Array{Code: amqp.CodeTimestamp, Elems: exp}}}, nil

	case "com.microsoft:peek-message":
		from, _ := toInt64(get("from-sequence-number"))
		n, _ := toInt64(get("message-count"))
		var seqs []int64
		for seq := range e.msgs {
			if seq >= from {
				seqs = append(seqs, seq)
			}
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		if n > 0 && int64(len(seqs)) > n {
			seqs = seqs[:n]
		}
		if len(seqs) == 0 {
			return nil, nil
		}
		var out amqp.List
		for _, seq := range seqs {
			out = append(out, amqp.Map{{Key: "message", Value: s.encodeMessage(e, e.msgs[seq], false)}})
		}
		return amqp.Map{{Key: "messages", Value: out}}, nil

	case "com.microsoft:update-disposition":
		status, _ := amqp.Text(get("disposition-status"))
		props := getMap(get("properties-to-modify"))
		for _, t := range elems(get("lock-tokens")) {
			tok, _ := t.(amqp.UUID)
			msg := s.locked(e, tok)
			if msg == nil {
				return nil, lockLostRPC()
			}
			switch status {
			case "completed":
				s.complete(e, msg)
			case "abandoned":
				s.abandon(e, msg, props)
			case "defered", "deferred":
				s.deferMsg(e, msg, props)
			case "suspended":
				reason, _ := amqp.Text(get("deadletter-reason"))
				desc, _ := amqp.Text(get("deadletter-description"))
				s.deadLetter(e, msg, reason, desc, props)
			default:
				return nil, &rpcError{500, "unknown disposition-status " + status}
			}
		}
		return amqp.Map{}, nil

	case "com.microsoft:receive-by-sequence-number":
		var out amqp.List
		for _, v := range elems(get("sequence-numbers")) {
			seq, _ := toInt64(v)
			msg := e.msgs[seq]
			if msg == nil || msg.state != StateDeferred {
				return nil, notFound("Failed to lock one or more specified messages. The message does not exist.")
			}
			s.lock(e, msg)
			out = append(out, amqp.Map{
				{Key: "lock-token", Value: msg.lockToken},
				{Key: "message", Value: s.encodeMessage(e, msg, true)},
			})
		}
		if len(out) == 0 {
			return nil, nil
		}
		return amqp.Map{{Key: "messages", Value: out}}, nil

	case "com.microsoft:schedule-message":
		var seqs []any
		for _, v := range elems(get("messages")) {
			raw, _ := getMap(v).Get("message")
			b, _ := raw.([]byte)
			m, err := amqp.ParseMessage(b)
			if err != nil {
				return nil, &rpcError{500, "bad scheduled message: " + err.Error()}
			}
			at := s.clock.Now()
			if v, ok := m.Annotations.Get(amqp.Symbol("x-opt-scheduled-enqueue-time")); ok {
				at, _ = amqp.Time(v)
			}
			seq := s.enqueue(e, m, at)
			if seq == 0 {
				// A duplicate is dropped, but the caller still gets a number.
				seq = s.nextSeq(e)
			}
			seqs = append(seqs, seq)
		}
		return amqp.Map{{Key: "sequence-numbers", Value: amqp.Array{Code: amqp.CodeLong, Elems: seqs}}}, nil

	case "com.microsoft:cancel-scheduled-message":
		for _, v := range elems(get("sequence-numbers")) {
			seq, _ := toInt64(v)
			if msg := e.msgs[seq]; msg != nil && msg.state == StateScheduled {
				delete(e.msgs, seq)
			}
		}
		return amqp.Map{}, nil
	}
	return nil, notFound("operation " + op + " is not supported by the stand-in")
}
