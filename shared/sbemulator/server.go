package sbemulator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/langsync/langsync/shared/sbemulator/internal/amqp"
)

// Service defaults
// (docs/reference/servicebus-amqp.md#service-behaviours-and-defaults).
const (
	DefaultLockDuration     = time.Minute
	DefaultMaxDeliveryCount = 10
	DefaultDuplicateWindow  = 10 * time.Minute
	DefaultMaxMessageSize   = 256 * 1024
)

// QueueConfig is one queue, shaped like the official emulator's Config.json.
// Zero fields take the service defaults.
type QueueConfig struct {
	Name               string
	LockDuration       time.Duration
	MaxDeliveryCount   int
	DuplicateDetection bool
	DuplicateWindow    time.Duration
	// DefaultMessageTimeToLive applies to messages sent without a TTL
	// (0: they never expire, like the service's TimeSpan.MaxValue).
	DefaultMessageTimeToLive time.Duration
	// DeadLetterOnExpiration moves expired messages to the dead-letter queue
	// (reason TTLExpiredException) instead of dropping them.
	DeadLetterOnExpiration bool
}

// Options configure a Server. The zero value listens on 127.0.0.1:0 with no
// queues.
type Options struct {
	// Addr is the TCP address to listen on (default 127.0.0.1:0).
	Addr string
	// Listener, when set, is served instead of listening on Addr: a
	// tls.NewListener, say, for clients that only speak amqps (those built
	// with azservicebus.NewClient and a token credential). The server closes
	// it on Close.
	Listener net.Listener
	// Queues to create; their dead-letter subqueues come with them.
	Queues []QueueConfig
	// MaxMessageSize is advertised to senders and enforced (default 256 KiB).
	MaxMessageSize uint64
	// Clock defaults to the real clock; a *FakeClock drives time in tests.
	Clock  Clock
	Logger *slog.Logger
	// KeyName and Key, when Key is set, make $cbs put-token check SAS token
	// signatures (HMAC-SHA256), so a client with a wrong key gets 401
	// (CodeUnauthorizedAccess). Default: any token is accepted.
	KeyName string
	Key     string
	// Heartbeat is how often an idle connection gets an empty frame (default
	// 15 s; go-amqp drops a connection silent for 60 s).
	Heartbeat time.Duration
}

// Server is a Service Bus stand-in speaking AMQP 1.0 on a TCP listener.
type Server struct {
	opts  Options
	clock Clock
	log   *slog.Logger
	ln    net.Listener

	mu       sync.Mutex
	entities map[string]*entity
	seqs     map[string]int64
	dirty    map[*entity]bool
	conns    map[*conn]bool
	pending  map[net.Conn]bool // accepted, protocol not known yet
	faults   []Fault
	next     time.Time // earliest lock expiry or scheduled time the sweeper knows
	closed   bool

	mgmt   *http.Server // the management endpoint (management.go)
	mgmtLn *handoffListener

	wake chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

// New validates opts and starts listening; Serve runs in the background.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.Key != "" && opts.KeyName == "" {
		opts.KeyName = "RootManageSharedAccessKey"
	}
	if opts.MaxMessageSize == 0 {
		opts.MaxMessageSize = DefaultMaxMessageSize
	}
	s := &Server{
		opts:     opts,
		clock:    opts.Clock,
		log:      opts.Logger,
		entities: map[string]*entity{},
		seqs:     map[string]int64{},
		dirty:    map[*entity]bool{},
		conns:    map[*conn]bool{},
		pending:  map[net.Conn]bool{},
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, q := range opts.Queues {
		if err := s.addQueue(q); err != nil {
			return nil, err
		}
	}
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", opts.Addr); err != nil {
			return nil, fmt.Errorf("sbemulator: listening on %s: %w", opts.Addr, err)
		}
	}
	s.ln = ln
	if fc, ok := s.clock.(*FakeClock); ok {
		fc.subscribe(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.next = s.sweep()
			s.pumpAll()
		})
	}
	s.startManagement()
	s.wg.Add(2)
	go s.acceptLoop()
	go s.sweepLoop()
	return s, nil
}

func (s *Server) addQueue(q QueueConfig) error {
	if q.Name == "" || strings.ContainsAny(q.Name, "$ ") {
		return fmt.Errorf("sbemulator: invalid queue name %q: use letters, digits, '-', '.', '_' or '/'", q.Name)
	}
	if _, ok := s.entities[q.Name]; ok {
		return fmt.Errorf("sbemulator: queue %q configured twice", q.Name)
	}
	if q.LockDuration <= 0 {
		q.LockDuration = DefaultLockDuration
	}
	if q.MaxDeliveryCount <= 0 {
		q.MaxDeliveryCount = DefaultMaxDeliveryCount
	}
	if q.DuplicateWindow <= 0 {
		q.DuplicateWindow = DefaultDuplicateWindow
	}
	e := newEntity(q.Name, q, nil)
	e.dlq = newEntity(q.Name+"/$DeadLetterQueue", q, e)
	s.entities[e.name] = e
	s.entities[e.dlq.name] = e.dlq
	return nil
}

// Addr is the address the server listens on (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// ConnectionString is what azservicebus.NewClientFromConnectionString takes
// to reach this server (plain TCP through UseDevelopmentEmulator).
func (s *Server) ConnectionString() string {
	name, key := "RootManageSharedAccessKey", "SAS_KEY_VALUE"
	if s.opts.Key != "" {
		name, key = s.opts.KeyName, s.opts.Key
	}
	return "Endpoint=sb://" + s.Addr() + ";SharedAccessKeyName=" + name + ";SharedAccessKey=" + key + ";UseDevelopmentEmulator=true"
}

// Close stops listening and drops every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	err := s.ln.Close()
	for c := range s.conns {
		c.nc.Close()
	}
	for nc := range s.pending {
		nc.Close()
	}
	s.mu.Unlock()
	s.mgmt.Close() // its listener and connections
	s.wg.Wait()
	return err
}

// DropConnections closes every client connection abruptly (as a network
// failure would) and returns how many there were. Locks survive until they
// expire, as on the service.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		c.closed = true // deliver nothing more to its links
		c.nc.Close()
		n++
	}
	return n
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.pending[nc] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.route(nc)
	}
}

// route reads the first bytes a client sends (after the TLS handshake, on a
// TLS listener) and hands the connection to the AMQP server when they are an
// AMQP protocol header, to the management endpoint (HTTP) otherwise.
func (s *Server) route(nc net.Conn) {
	defer s.wg.Done()
	pc := &peekedConn{Conn: nc, r: bufio.NewReader(nc)}
	nc.SetReadDeadline(time.Now().Add(peekTimeout))
	head, err := pc.r.Peek(4)
	nc.SetReadDeadline(time.Time{})
	s.mu.Lock()
	delete(s.pending, nc)
	if err != nil || s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if string(head) != "AMQP" {
		s.mu.Unlock()
		s.mgmtLn.hand(pc)
		return
	}
	c := &conn{s: s, nc: pc, sessions: map[uint16]*session{}, replies: map[string]*link{}, signal: make(chan struct{}, 1), quit: make(chan struct{}), maxFrame: 512}
	s.conns[c] = true
	s.wg.Add(1)
	s.mu.Unlock()
	go c.readLoop()
}

// peekTimeout bounds how long a new connection may stay silent before it
// says which protocol it speaks.
const peekTimeout = 30 * time.Second

// peekedConn is a connection whose first bytes were read ahead into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// sweepLoop expires locks and activates scheduled messages on the real clock.
func (s *Server) sweepLoop() {
	defer s.wg.Done()
	_, fake := s.clock.(*FakeClock)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		s.next = s.sweep()
		s.pumpAll()
		wait := time.Hour
		if !s.next.IsZero() && !fake {
			wait = max(s.next.Sub(s.clock.Now()), time.Millisecond)
		}
		s.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// noteDeadline wakes the sweeper when t is earlier than what it waits for.
func (s *Server) noteDeadline(t time.Time) {
	if s.next.IsZero() || t.Before(s.next) {
		s.next = t
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// conn is one client connection: a reader goroutine that handles frames under
// Server.mu and a writer goroutine that flushes the output buffer.
type conn struct {
	s        *Server
	nc       net.Conn
	maxFrame uint32 // the client's max-frame-size
	sessions map[uint16]*session
	replies  map[string]*link // RPC reply links by target address
	closed   bool

	outMu  sync.Mutex
	out    []byte
	signal chan struct{}
	quit   chan struct{} // closed by teardown: flush and close the socket
}

// ourMaxFrame is the largest frame the server accepts.
const ourMaxFrame = 1 << 20

func (c *conn) frame(typ byte, ch uint16, code uint64, fields amqp.List, payload []byte) {
	c.outMu.Lock()
	c.out = amqp.AppendFrame(c.out, typ, ch, code, fields, payload)
	c.outMu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	defer c.nc.Close()
	heartbeat := c.s.opts.Heartbeat
	t := time.NewTimer(heartbeat)
	defer t.Stop()
	var buf []byte
	for {
		quitting := false
		select {
		case <-c.signal:
		case <-t.C:
			c.outMu.Lock()
			if len(c.out) == 0 {
				c.out = append(c.out, amqp.EmptyFrame...)
			}
			c.outMu.Unlock()
		case <-c.quit:
			quitting = true
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		case <-c.s.done:
			return
		}
		t.Reset(heartbeat)
		c.outMu.Lock()
		buf, c.out = c.out, buf[:0]
		c.outMu.Unlock()
		if len(buf) > 0 {
			if _, err := c.nc.Write(buf); err != nil {
				return
			}
		}
		if quitting {
			return
		}
	}
}

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	defer c.teardown()
	r := bufio.NewReaderSize(c.nc, 64*1024)
	if err := c.handshake(r); err != nil {
		if !errors.Is(err, io.EOF) {
			c.s.log.Debug("sbemulator: handshake failed", "err", err)
		}
		c.nc.Close() // no writer yet to close it
		return
	}
	// The writer starts only now, so a heartbeat cannot land in the middle
	// of the SASL exchange.
	c.s.wg.Add(1)
	go c.writeLoop()
	for {
		f, err := amqp.ReadFrame(r, ourMaxFrame)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.s.log.Debug("sbemulator: read failed", "err", err)
			}
			return
		}
		if f.Fields == nil && f.Code == 0 {
			continue // heartbeat
		}
		err = c.handleLocked(f)
		if err != nil {
			c.s.log.Debug("sbemulator: closing connection", "err", err)
			c.frame(amqp.FrameTypeAMQP, 0, amqp.Close, amqp.List{amqp.NewError("amqp:internal-error", err.Error())}, nil)
			return
		}
		c.s.mu.Lock()
		closed := c.closed
		c.s.mu.Unlock()
		if closed {
			return
		}
	}
}

func (c *conn) teardown() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.closed = true
	for ch, ss := range c.sessions {
		ss.end()
		delete(c.sessions, ch)
	}
	delete(c.s.conns, c)
	close(c.quit) // the writer flushes (a close frame, say) and closes the socket
}

// handshake does the protocol headers, SASL ANONYMOUS and open.
func (c *conn) handshake(r *bufio.Reader) error {
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return err
	}
	if bytes.Equal(hdr, amqp.HeaderSASL) {
		if _, err := c.nc.Write(amqp.AppendFrame(append([]byte(nil), amqp.HeaderSASL...), amqp.FrameTypeSASL, 0, amqp.SASLMechanisms,
			amqp.List{amqp.Array{Code: amqp.CodeSym32, Elems: []any{amqp.Symbol("ANONYMOUS")}}}, nil)); err != nil {
			return err
		}
		f, err := amqp.ReadFrame(r, 64*1024)
		if err != nil {
			return err
		}
		if f.Code != amqp.SASLInit {
			return fmt.Errorf("expected sasl-init, got 0x%x", f.Code)
		}
		code := uint8(0)
		if mech := f.Fields.Str(0); mech != "ANONYMOUS" {
			code = 1 // auth failure: only ANONYMOUS is offered
		}
		if _, err := c.nc.Write(amqp.AppendFrame(nil, amqp.FrameTypeSASL, 0, amqp.SASLOutcome, amqp.List{code}, nil)); err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("sasl mechanism %q refused", f.Fields.Str(0))
		}
		if _, err := io.ReadFull(r, hdr); err != nil {
			return err
		}
	}
	if !bytes.Equal(hdr, amqp.HeaderAMQP) {
		c.nc.Write(amqp.HeaderAMQP)
		return fmt.Errorf("unsupported protocol header %q", hdr)
	}
	if _, err := c.nc.Write(amqp.HeaderAMQP); err != nil {
		return err
	}
	f, err := amqp.ReadFrame(r, ourMaxFrame)
	if err != nil {
		return err
	}
	if f.Code != amqp.Open {
		return fmt.Errorf("expected open, got 0x%x", f.Code)
	}
	c.maxFrame = 4294967295
	if v, ok := f.Fields.Uint(2); ok && v >= 512 {
		c.maxFrame = v
	}
	c.frame(amqp.FrameTypeAMQP, 0, amqp.Open, amqp.List{
		"sbemulator", nil, uint32(ourMaxFrame), uint16(65535),
	}, nil)
	return nil
}

// handleLocked handles one frame under Server.mu and delivers what became
// deliverable. A panic (a stand-in bug, or a frame it cannot cope with)
// closes this connection only, so the emulator keeps serving others.
func (c *conn) handleLocked(f amqp.Frame) (err error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			c.s.log.Error("sbemulator: internal error handling a frame", "performative", f.Code, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	if err := c.handle(f); err != nil {
		return err
	}
	c.s.pumpAll()
	return nil
}

// handle processes one frame; Server.mu is held.
func (c *conn) handle(f amqp.Frame) error {
	if c.closed {
		return nil
	}
	if f.Code == amqp.Close {
		c.frame(amqp.FrameTypeAMQP, 0, amqp.Close, nil, nil)
		c.closed = true
		return nil
	}
	if f.Code == amqp.Begin {
		if _, ok := c.sessions[f.Channel]; ok {
			return fmt.Errorf("begin on channel %d already in use", f.Channel)
		}
		ss := &session{conn: c, ch: f.Channel, links: map[uint32]*link{}, deliveries: map[uint32]*delivery{}}
		ss.nextIncomingID, _ = f.Fields.Uint(1)
		ss.remoteWindow, _ = f.Fields.Uint(2)
		c.sessions[f.Channel] = ss
		c.frame(amqp.FrameTypeAMQP, f.Channel, amqp.Begin, amqp.List{
			f.Channel, ss.nextOutgoingID, uint32(incomingWindow), uint32(incomingWindow), uint32(1<<32 - 1),
		}, nil)
		return nil
	}
	ss := c.sessions[f.Channel]
	if ss == nil {
		return fmt.Errorf("frame 0x%x on channel %d without a session", f.Code, f.Channel)
	}
	switch f.Code {
	case amqp.End:
		ss.end()
		delete(c.sessions, f.Channel)
		c.frame(amqp.FrameTypeAMQP, f.Channel, amqp.End, nil, nil)
		return nil
	case amqp.Attach:
		return ss.attach(f.Fields)
	case amqp.Detach:
		h, _ := f.Fields.Uint(0)
		l := ss.links[h]
		delete(ss.links, h)
		if l != nil && l.refused {
			return nil // the client acknowledging our refusal
		}
		if l != nil {
			l.detach()
		}
		c.frame(amqp.FrameTypeAMQP, f.Channel, amqp.Detach, amqp.List{h, true}, nil)
		return nil
	case amqp.Flow:
		return ss.flow(f.Fields)
	case amqp.Transfer:
		return ss.transfer(f.Fields, f.Payload)
	case amqp.Disposition:
		return ss.disposition(f.Fields)
	}
	return fmt.Errorf("unexpected performative 0x%x", f.Code)
}

// incomingWindow is the session window the server advertises; large enough
// that it never needs reopening.
const incomingWindow = 1<<31 - 1

// session is one AMQP session. The server uses the client's channel number
// for its own half too.
type session struct {
	conn           *conn
	ch             uint16
	links          map[uint32]*link // by the client's handle (the server uses the same number)
	nextOutgoingID uint32
	nextIncomingID uint32
	remoteWindow   uint32 // transfers the client still accepts
	pending        []pendingTransfer
	nextDelivery   uint32
	deliveries     map[uint32]*delivery // unsettled outgoing deliveries by delivery-id
	ended          bool
}

type pendingTransfer struct {
	fields  amqp.List
	payload []byte
}

// delivery is a message the server sent unsettled on a receiver link.
type delivery struct {
	link  *link
	token amqp.UUID
}

func (ss *session) end() {
	ss.ended = true
	for _, l := range ss.links {
		l.detach()
	}
}

// sendTransfer writes a transfer frame, or queues it when the client's
// session window is closed.
func (ss *session) sendTransfer(fields amqp.List, payload []byte) {
	if ss.remoteWindow == 0 || len(ss.pending) > 0 {
		ss.pending = append(ss.pending, pendingTransfer{fields, payload})
		return
	}
	ss.writeTransfer(fields, payload)
}

func (ss *session) writeTransfer(fields amqp.List, payload []byte) {
	ss.remoteWindow--
	ss.nextOutgoingID++
	ss.conn.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Transfer, fields, payload)
}

func (ss *session) flushPending() {
	for len(ss.pending) > 0 && ss.remoteWindow > 0 {
		p := ss.pending[0]
		ss.pending = ss.pending[1:]
		ss.writeTransfer(p.fields, p.payload)
	}
}

// sendMessage sends one delivery, split over frames of the client's
// max-frame-size.
func (ss *session) sendMessage(l *link, tag []byte, settled bool, payload []byte) uint32 {
	id := ss.nextDelivery
	ss.nextDelivery++
	chunk := int(ss.conn.maxFrame) - 256
	first := true
	for first || len(payload) > 0 {
		n := min(len(payload), chunk)
		more := n < len(payload)
		var fields amqp.List
		if first {
			fields = amqp.List{l.handle, id, tag, uint32(0), settled, more}
		} else {
			fields = amqp.List{l.handle, nil, nil, nil, settled, more}
		}
		if !more {
			// Trailing false "more" is the default; keep frames small.
			fields = fields[:5]
		}
		ss.sendTransfer(fields, payload[:n])
		payload = payload[n:]
		first = false
	}
	return id
}

func (ss *session) flowFields(l *link) amqp.List {
	f := amqp.List{ss.nextIncomingID, uint32(incomingWindow), ss.nextOutgoingID, uint32(incomingWindow)}
	if l != nil {
		f = append(f, l.handle, l.deliveryCount, l.credit)
	}
	return f
}

func (ss *session) flow(f amqp.List) error {
	nextIn, ok := f.Uint(0)
	if !ok {
		nextIn = 0
	}
	window, _ := f.Uint(1)
	ss.remoteWindow = nextIn + window - ss.nextOutgoingID
	ss.flushPending()
	h, ok := f.Uint(4)
	if !ok {
		if f.Bool(9) {
			ss.conn.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Flow, ss.flowFields(nil), nil)
		}
		return nil
	}
	l := ss.links[h]
	if l == nil {
		return fmt.Errorf("flow for unknown handle %d", h)
	}
	if l.clientReceives {
		dc, ok := f.Uint(5)
		if !ok {
			dc = 0 // initial-delivery-count the server sent
		}
		credit, _ := f.Uint(6)
		// Delivery counts are serial numbers: a flow written before the
		// client saw our latest transfers can leave "negative" credit,
		// which must count as none rather than wrap around.
		l.credit = 0
		if avail := int32(dc + credit - l.deliveryCount); avail > 0 {
			l.credit = uint32(avail)
		}
		l.drain = f.Bool(8)
		if l.entity != nil {
			ss.conn.s.pump(l.entity)
		}
		if l.drain && l.credit > 0 {
			l.deliveryCount += l.credit
			l.credit = 0
			ss.conn.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Flow, append(ss.flowFields(l), nil, true), nil)
			return nil
		}
	}
	if f.Bool(9) {
		ss.conn.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Flow, ss.flowFields(l), nil)
	}
	return nil
}

// link kinds.
const (
	linkEntity = iota
	linkRequest
	linkReply
)

// link is one attached link. clientReceives means the server sends on it.
type link struct {
	sess           *session
	name           string
	handle         uint32
	kind           int
	clientReceives bool
	node           string // address the link points at
	entity         *entity
	replyTo        string // for reply links: the client's target address
	sndSettle      uint8
	rcvSettle      uint8
	deliveryCount  uint32
	credit         uint32
	drain          bool
	detached       bool
	refused        bool // attach answered with a null terminus and a detach

	// a multi-frame transfer being received
	partial       []byte
	partialID     uint32
	partialFormat uint32
	partialLen    bool
}

// attach answers a client attach: echo settle modes and termini, grant credit.
func (ss *session) attach(f amqp.List) error {
	s := ss.conn.s
	h, _ := f.Uint(1)
	l := &link{sess: ss, name: f.Str(0), handle: h, clientReceives: f.Bool(2)}
	if m, ok := f.Uint(3); ok {
		l.sndSettle = uint8(m)
	} else {
		l.sndSettle = 2
	}
	if m, ok := f.Uint(4); ok {
		l.rcvSettle = uint8(m)
	}
	source, target := f.Field(5), f.Field(6)
	addrOf := func(t any) string {
		_, fields, ok := amqp.DescribedList(t)
		if !ok {
			return ""
		}
		return fields.Str(0)
	}
	if l.clientReceives {
		l.node = addrOf(source)
		l.replyTo = addrOf(target)
	} else {
		l.node = addrOf(target)
	}
	var refuse string
	condition := "amqp:not-found"
	switch {
	case l.node == "$cbs" || strings.HasSuffix(l.node, "/$management"):
		if ent := strings.TrimSuffix(l.node, "/$management"); ent != l.node && s.entities[ent] == nil {
			refuse = fmt.Sprintf("The messaging entity '%s' could not be found.", ent)
			break
		}
		if l.clientReceives {
			l.kind = linkReply
			ss.conn.replies[l.replyTo] = l
		} else {
			l.kind = linkRequest
		}
	default:
		l.entity = s.entities[l.node]
		if l.entity == nil {
			refuse = fmt.Sprintf("The messaging entity '%s' could not be found.", l.node)
		} else if l.clientReceives && hasSessionFilter(source) {
			refuse, condition = "Sessions are not supported by the langsync Service Bus stand-in.", "amqp:not-implemented"
		}
	}
	if _, dup := ss.links[h]; dup {
		return fmt.Errorf("attach on handle %d already in use", h)
	}
	reply := amqp.List{l.name, h, !l.clientReceives, l.sndSettle, l.rcvSettle}
	if f.Field(4) == nil {
		reply[4] = nil
	}
	if refuse != "" {
		reply = append(reply, nil, nil)
		ss.conn.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Attach, reply, nil)
		ss.conn.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Detach, amqp.List{h, true, amqp.NewError(condition, refuse)}, nil)
		ss.links[h] = l
		l.detached, l.refused = true, true
		return nil
	}
	reply = append(reply, source, target, nil, nil)
	if l.clientReceives {
		reply = append(reply, uint32(0), nil)
	} else {
		reply = append(reply, nil, s.opts.MaxMessageSize)
	}
	ss.links[h] = l
	ss.conn.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Attach, reply, nil)
	if !l.clientReceives {
		l.credit = linkCredit
		ss.conn.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Flow, ss.flowFields(l), nil)
	} else if l.entity != nil {
		l.entity.receivers = append(l.entity.receivers, l)
	}
	return nil
}

// hasSessionFilter reports whether a source asks for a session receiver.
func hasSessionFilter(source any) bool {
	_, fields, ok := amqp.DescribedList(source)
	if !ok {
		return false
	}
	filters, _ := fields.Field(7).(amqp.Map)
	_, ok = filters.Get(amqp.Symbol("com.microsoft:session-filter"))
	return ok
}

// linkCredit is what the server grants client senders; refilled at half.
const linkCredit = 1000

func (l *link) detach() {
	if l.detached {
		return
	}
	l.detached = true
	delete(l.sess.links, l.handle)
	if l.kind == linkReply && l.sess.conn.replies[l.replyTo] == l {
		delete(l.sess.conn.replies, l.replyTo)
	}
	if l.entity != nil && l.clientReceives {
		rs := l.entity.receivers
		for i, r := range rs {
			if r == l {
				l.entity.receivers = append(rs[:i], rs[i+1:]...)
				break
			}
		}
	}
	// Deliveries in flight on this link keep their locks until expiry.
	for id, d := range l.sess.deliveries {
		if d.link == l {
			delete(l.sess.deliveries, id)
		}
	}
}

// transfer receives (part of) a message from a client sender.
func (ss *session) transfer(f amqp.List, payload []byte) error {
	ss.nextIncomingID++
	h, _ := f.Uint(0)
	l := ss.links[h]
	if l == nil || l.clientReceives {
		return fmt.Errorf("transfer on unknown handle %d", h)
	}
	if !l.partialLen {
		l.partialID, _ = f.Uint(1)
		l.partialFormat, _ = f.Uint(3)
		l.partial = l.partial[:0]
		l.partialLen = true
	}
	if f.Bool(9) { // aborted
		l.partialLen = false
		return nil
	}
	l.partial = append(l.partial, payload...)
	if f.Bool(5) { // more
		return nil
	}
	l.partialLen = false
	data := append([]byte(nil), l.partial...)
	id := l.partialID
	settled := f.Bool(4)
	l.deliveryCount++
	l.credit--
	if l.credit < linkCredit/2 {
		l.credit = linkCredit
		ss.conn.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Flow, ss.flowFields(l), nil)
	}
	if l.detached {
		return nil
	}
	state := ss.conn.s.received(l, l.partialFormat, data)
	if !settled {
		ss.conn.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Disposition, amqp.List{true, id, nil, true, state}, nil)
	}
	return nil
}

// received handles a complete message from a client sender and returns the
// outcome to settle it with.
func (s *Server) received(l *link, format uint32, data []byte) any {
	switch l.kind {
	case linkRequest:
		m, err := amqp.ParseMessage(data)
		if err != nil {
			return amqp.Outcome(amqp.Rejected, amqp.NewError("amqp:decode-error", err.Error()))
		}
		s.rpc(l, m)
		return amqp.Outcome(amqp.Accepted)
	case linkEntity:
		if f := s.takeFault("send"); f != nil {
			return amqp.Outcome(amqp.Rejected, amqp.NewError(f.condition(), f.Description))
		}
		if uint64(len(data)) > s.opts.MaxMessageSize {
			return amqp.Outcome(amqp.Rejected, amqp.NewError("amqp:link:message-size-exceeded",
				fmt.Sprintf("The message of %d bytes exceeds the limit of %d bytes.", len(data), s.opts.MaxMessageSize)))
		}
		msgs, err := splitBatch(format, data)
		if err != nil {
			return amqp.Outcome(amqp.Rejected, amqp.NewError("amqp:decode-error", err.Error()))
		}
		for _, m := range msgs {
			s.enqueue(l.entity, m, time.Time{})
		}
		return amqp.Outcome(amqp.Accepted)
	}
	return amqp.Outcome(amqp.Rejected, amqp.NewError("amqp:not-allowed", "not a sending link"))
}

// batchFormat is the message-format of a Service Bus batch: an envelope whose
// data sections each hold one complete encoded message.
const batchFormat = 0x80013700

func splitBatch(format uint32, data []byte) ([]*amqp.Message, error) {
	m, err := amqp.ParseMessage(data)
	if err != nil {
		return nil, err
	}
	if format != batchFormat {
		return []*amqp.Message{m}, nil
	}
	var out []*amqp.Message
	for _, sec := range m.Body {
		d := sec.(amqp.Described)
		raw, ok := d.Value.([]byte)
		if !ok || d.Descriptor != uint64(amqp.Data) {
			return nil, errors.New("batch section is not a data section")
		}
		inner, err := amqp.ParseMessage(raw)
		if err != nil {
			return nil, fmt.Errorf("batched message: %w", err)
		}
		out = append(out, inner)
	}
	return out, nil
}

// deliver sends msg on a receiver link; called by pump with credit available.
func (s *Server) deliver(e *entity, l *link, msg *message) {
	ss := l.sess
	l.credit--
	l.deliveryCount++
	if l.sndSettle == 1 { // ReceiveAndDelete: pre-settled, gone once sent
		delete(e.msgs, msg.seq)
		ss.sendMessage(l, newTokenBytes(), true, s.encodeMessage(e, msg, false))
		return
	}
	s.lock(e, msg)
	tag := dotnetOrder(msg.lockToken)
	id := ss.sendMessage(l, tag[:], false, s.encodeMessage(e, msg, true))
	ss.deliveries[id] = &delivery{link: l, token: msg.lockToken}
}

func newTokenBytes() []byte { t := newToken(); return t[:] }

// dotnetOrder swaps a UUID into .NET GUID byte order, the way the service
// encodes lock tokens as delivery tags.
func dotnetOrder(u amqp.UUID) amqp.UUID {
	u[0], u[3] = u[3], u[0]
	u[1], u[2] = u[2], u[1]
	u[4], u[5] = u[5], u[4]
	u[6], u[7] = u[7], u[6]
	return u
}

// disposition settles deliveries the server sent (client role receiver).
func (ss *session) disposition(f amqp.List) error {
	if !f.Bool(0) {
		return nil // the client settling our settlements of its sends: nothing to do
	}
	first, _ := f.Uint(1)
	last, ok := f.Uint(2)
	if !ok {
		last = first
	}
	settled := f.Bool(3)
	state := f.Field(4)
	s := ss.conn.s
	for id := first; ; id++ {
		d := ss.deliveries[id]
		reply := any(amqp.Outcome(amqp.Accepted))
		if d != nil {
			delete(ss.deliveries, id)
			reply = s.settle(d.link.entity, d.token, state)
		}
		if !settled {
			ss.conn.frame(amqp.FrameTypeAMQP, ss.ch, amqp.Disposition, amqp.List{false, id, nil, true, reply}, nil)
		}
		if id == last {
			break
		}
	}
	return nil
}

// lockLost is the outcome for a settlement whose lock is gone.
func lockLost() amqp.Described {
	return amqp.Outcome(amqp.Rejected, amqp.NewError("com.microsoft:message-lock-lost",
		"The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue."))
}

// settle applies a client outcome to the message locked by token and returns
// the error-free state to answer with.
func (s *Server) settle(e *entity, token amqp.UUID, state any) any {
	msg := s.locked(e, token)
	if msg == nil {
		return lockLost()
	}
	code, fields, _ := amqp.DescribedList(state)
	switch code {
	case amqp.Accepted:
		s.complete(e, msg)
		return amqp.Outcome(amqp.Accepted)
	case amqp.Released:
		s.release(e, msg)
		return amqp.Outcome(amqp.Released)
	case amqp.Modified:
		props, _ := fields.Field(2).(amqp.Map)
		if fields.Bool(1) { // undeliverable-here: DeferMessage
			s.deferMsg(e, msg, props)
		} else {
			s.abandon(e, msg, props)
		}
		return amqp.Outcome(amqp.Modified)
	case amqp.Rejected:
		_, errFields, _ := amqp.DescribedList(fields.Field(0))
		info, _ := errFields.Field(2).(amqp.Map)
		reason, desc := "", ""
		var props amqp.Map
		for _, p := range info {
			k, _ := amqp.Text(p.Key)
			switch k {
			case "DeadLetterReason":
				reason, _ = amqp.Text(p.Value)
			case "DeadLetterErrorDescription":
				desc, _ = amqp.Text(p.Value)
			default:
				props = append(props, p)
			}
		}
		s.deadLetter(e, msg, reason, desc, props)
		return amqp.Outcome(amqp.Rejected)
	}
	// Anything else (received, null): treat as a release.
	s.release(e, msg)
	return amqp.Outcome(amqp.Released)
}
