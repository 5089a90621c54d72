package sbemulator

import (
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The management endpoint: the subset of Service Bus's ATOM (XML over HTTP)
// entity API that azservicebus's admin.Client needs to create, read, update
// and delete queues. It shares the AMQP listener: route sends every
// connection whose first bytes are not an AMQP header here
// (docs/servicebus.md#management-endpoint).

const (
	atomNS       = "http://www.w3.org/2005/Atom"
	sbConnectNS  = "http://schemas.microsoft.com/netservices/2010/10/servicebus/connect"
	xsiNS        = "http://www.w3.org/2001/XMLSchema-instance"
	timeSpanMax  = "P10675199DT2H48M5.4775807S" // .NET TimeSpan.MaxValue: "never"
	emptyFeedFor = "Publicly Listed Services"   // the title of the service's "no such entity" feed
)

// queueMeta is what the management endpoint keeps about a queue beyond its
// QueueConfig: values it records and echoes without acting on them.
type queueMeta struct {
	created, updated   time.Time
	autoDeleteOnIdle   string // ISO 8601, echoed; the stand-in never deletes idle queues
	maxSizeInMegabytes int64  // echoed; the stand-in has no size quota
	userMetadata       string
	batchedOperations  bool
}

// handoffListener is the net.Listener the management http.Server serves:
// route hands it the connections that are not AMQP.
type handoffListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// hand gives c to the http.Server, or closes it once the server is closed.
func (l *handoffListener) hand(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (s *Server) startManagement() {
	s.mgmtLn = &handoffListener{addr: s.ln.Addr(), ch: make(chan net.Conn), done: make(chan struct{})}
	s.mgmt = &http.Server{
		Handler:           http.HandlerFunc(s.serveManagement),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.mgmt.Serve(s.mgmtLn)
	}()
}

// mgmtError is an answer other than 2xx, in the service's <Error> shape.
type mgmtError struct {
	status int
	detail string
}

func (e *mgmtError) Error() string { return e.detail }

func badRequest(format string, args ...any) *mgmtError {
	return &mgmtError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func writeMgmtError(w http.ResponseWriter, e *mgmtError) {
	var b strings.Builder
	b.WriteString("<Error><Code>")
	fmt.Fprint(&b, e.status)
	b.WriteString("</Code><Detail>")
	xml.EscapeText(&b, []byte(e.detail))
	b.WriteString("</Detail></Error>")
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(e.status)
	io.WriteString(w, b.String())
}

// serveManagement answers one ATOM request: PUT (create, or update with
// If-Match), GET and DELETE on /<queue>.
func (s *Server) serveManagement(w http.ResponseWriter, r *http.Request) {
	s.log.Debug("sbemulator: management request", "method", r.Method, "path", r.URL.Path)
	if reason := s.authorizeHTTP(r); reason != "" {
		writeMgmtError(w, &mgmtError{http.StatusUnauthorized, reason})
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if err := checkEntityPath(name); err != nil {
		writeMgmtError(w, err)
		return
	}
	var body []byte
	var err *mgmtError
	status := http.StatusOK
	switch r.Method {
	case http.MethodGet:
		body = s.getQueue(r.Host, name)
	case http.MethodPut:
		raw, rerr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if rerr != nil {
			writeMgmtError(w, badRequest("reading the request body: %v", rerr))
			return
		}
		update := r.Header.Get("If-Match") != ""
		body, err = s.putQueue(r.Host, name, raw, update)
		if !update {
			status = http.StatusCreated
		}
	case http.MethodDelete:
		err = s.deleteQueue(r.Host, name)
	default:
		err = &mgmtError{http.StatusMethodNotAllowed, r.Method + " is not supported by the stand-in's management endpoint (GET, PUT and DELETE on a queue are)"}
	}
	if err != nil {
		s.log.Debug("sbemulator: management request refused", "method", r.Method, "path", r.URL.Path, "status", err.status, "detail", err.detail)
		writeMgmtError(w, err)
		return
	}
	if body != nil {
		w.Header().Set("Content-Type", "application/atom+xml;type=entry;charset=utf-8")
	}
	w.WriteHeader(status)
	w.Write(body)
}

// authorizeHTTP checks the Authorization header the way $cbs put-token
// checks a token: without a key any token is accepted (but one must be
// there, as the service requires); with a key, only a SAS token signed with
// it. It returns the reason for refusing, or "".
func (s *Server) authorizeHTTP(r *http.Request) string {
	tok := r.Header.Get("Authorization")
	if tok == "" {
		return "MissingToken: The request has no Authorization header."
	}
	if s.opts.Key == "" {
		return ""
	}
	if !strings.HasPrefix(tok, "SharedAccessSignature ") {
		return "only SAS tokens are accepted by this stand-in when it has a key"
	}
	return s.checkSAS(tok)
}

// checkEntityPath refuses paths that are not a queue: namespace info, entity
// listings, topics and subscriptions, dead-letter subqueues.
func checkEntityPath(name string) *mgmtError {
	switch {
	case name == "":
		return badRequest("the namespace root is not supported by the stand-in's management endpoint: name a queue")
	case strings.HasPrefix(name, "$"):
		return badRequest("%s is not supported by the stand-in's management endpoint (only queues are)", name)
	case strings.Contains(strings.ToLower(name), "/subscriptions/"):
		return badRequest("topics and subscriptions are not supported by the stand-in")
	case strings.ContainsAny(name, "$ "):
		return badRequest("invalid queue name %q: use letters, digits, '-', '.', '_' or '/'", name)
	}
	return nil
}

// putQueue creates (or, with update, replaces the description of) a queue
// and returns its entry.
func (s *Server) putQueue(host, name string, raw []byte, update bool) ([]byte, *mgmtError) {
	cfg, meta, err := s.parseQueueEntry(name, raw)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &mgmtError{http.StatusServiceUnavailable, "the server is closing"}
	}
	now := s.clock.Now()
	e := s.entities[name]
	switch {
	case e != nil && e.dlq == nil:
		return nil, badRequest("%s is a dead-letter queue", name)
	case update && e == nil:
		return nil, &mgmtError{http.StatusNotFound, fmt.Sprintf("The messaging entity '%s' could not be found.", name)}
	case !update && e != nil:
		return nil, &mgmtError{http.StatusConflict, fmt.Sprintf("The messaging entity '%s' already exists.", name)}
	case update:
		if cfg.DuplicateDetection != e.cfg.DuplicateDetection {
			return nil, badRequest("RequiresDuplicateDetection cannot be changed on an existing queue")
		}
		meta.created = e.meta.created
		meta.updated = now
		e.cfg, e.dlq.cfg, e.meta = cfg, cfg, meta
		// The service reloads an entity it updates: its links are detached
		// and the clients re-attach.
		s.forceDetach(func(l *link) bool {
			return l.entity == e || l.entity == e.dlq || l.node == name+"/$management" || l.node == e.dlq.name+"/$management"
		}, "amqp:link:detach-forced", fmt.Sprintf("The messaging entity '%s' was updated.", name))
	default:
		if aerr := s.addQueue(cfg); aerr != nil {
			return nil, badRequest("%v", aerr)
		}
		e = s.entities[name]
		meta.created, meta.updated = now, now
		e.meta = meta
	}
	return s.queueEntry(host, e), nil
}

// deleteQueue removes a queue and its dead-letter queue with their messages;
// the links on them are detached with amqp:not-found.
func (s *Server) deleteQueue(host, name string) *mgmtError {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entities[name]
	if e == nil || e.dlq == nil {
		return &mgmtError{http.StatusNotFound, fmt.Sprintf("The messaging entity '%s' could not be found.", name)}
	}
	s.forceDetach(func(l *link) bool {
		return l.entity == e || l.entity == e.dlq || l.node == name+"/$management" || l.node == e.dlq.name+"/$management"
	}, "amqp:not-found", fmt.Sprintf("The messaging entity 'sb://%s/%s' could not be found.", host, name))
	for _, x := range []*entity{e, e.dlq} {
		delete(s.entities, x.name)
		delete(s.dirty, x)
	}
	delete(s.seqs, name)
	return nil
}

// getQueue returns a queue's entry, or the service's empty feed when there
// is no such queue (GET answers 200 either way).
func (s *Server) getQueue(host, name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entities[name]; e != nil && e.dlq != nil {
		return s.queueEntry(host, e)
	}
	return marshalXML(atomFeed{
		ID:      "https://" + host + "/" + name + "?api-version=" + apiVersion,
		Title:   atomText{Type: "text", Text: emptyFeedFor},
		Updated: s.clock.Now().UTC().Format(time.RFC3339Nano),
		Link:    atomLink{Rel: "self", Href: "https://" + host + "/" + name + "?api-version=" + apiVersion},
	})
}

// apiVersion is the management API version the entries name in their links.
const apiVersion = "2024-05"

// The request: an Atom entry whose content is a QueueDescription. Elements
// the stand-in does not know are collected so they can be refused.
type (
	xmlElem struct {
		XMLName xml.Name
	}
	entryIn struct {
		XMLName xml.Name `xml:"entry"`
		Content *struct {
			Queue *queueDescIn `xml:"QueueDescription"`
			Other []xmlElem    `xml:",any"`
		} `xml:"content"`
	}
	queueDescIn struct {
		LockDuration                        *string
		MaxSizeInMegabytes                  *int64
		RequiresDuplicateDetection          *bool
		RequiresSession                     *bool
		DefaultMessageTimeToLive            *string
		DeadLetteringOnMessageExpiration    *bool
		DuplicateDetectionHistoryTimeWindow *string
		MaxDeliveryCount                    *int32
		EnableBatchedOperations             *bool
		Status                              *string
		AutoDeleteOnIdle                    *string
		EnablePartitioning                  *bool
		EnableExpress                       *bool
		ForwardTo                           *string
		ForwardDeadLetteredMessagesTo       *string
		UserMetadata                        *string
		MaxMessageSizeInKilobytes           *int64
		AuthorizationRules                  *struct {
			Rules []xmlElem `xml:",any"`
		}
		Other []xmlElem `xml:",any"`
	}
)

// readOnlyQueueFields are runtime values a client may send back from a GET;
// the service ignores them on PUT, and so does the stand-in.
var readOnlyQueueFields = map[string]bool{
	"SizeInBytes": true, "MessageCount": true, "CountDetails": true,
	"CreatedAt": true, "UpdatedAt": true, "AccessedAt": true,
}

// parseQueueEntry turns a PUT body into a QueueConfig, refusing what the
// stand-in cannot honour.
func (s *Server) parseQueueEntry(name string, raw []byte) (QueueConfig, queueMeta, *mgmtError) {
	cfg := QueueConfig{Name: name}
	meta := queueMeta{autoDeleteOnIdle: timeSpanMax, maxSizeInMegabytes: 1024, batchedOperations: true}
	var in entryIn
	if err := xml.Unmarshal(raw, &in); err != nil {
		return cfg, meta, badRequest("the body is not an Atom entry: %v", err)
	}
	if in.Content == nil || in.Content.Queue == nil {
		var kinds []string
		if in.Content != nil {
			for _, o := range in.Content.Other {
				kinds = append(kinds, o.XMLName.Local)
			}
		}
		if len(kinds) > 0 {
			return cfg, meta, badRequest("%s is not supported by the stand-in: only queues (QueueDescription) are", strings.Join(kinds, ", "))
		}
		return cfg, meta, badRequest("the entry has no content/QueueDescription")
	}
	q := in.Content.Queue
	var problems []string
	refuse := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, o := range q.Other {
		if !readOnlyQueueFields[o.XMLName.Local] {
			refuse("%s is not supported by the stand-in", o.XMLName.Local)
		}
	}
	duration := func(field string, v *string, lo, hi time.Duration) time.Duration {
		if v == nil {
			return 0
		}
		d, err := ParseISODuration(*v)
		if err != nil {
			refuse("%s: %v", field, err)
			return 0
		}
		if d != 0 && d < lo {
			refuse("%s %s is below the minimum, %s", field, *v, formatISODuration(lo))
		}
		if d != 0 && hi > 0 && d > hi {
			refuse("%s %s is above the maximum, %s", field, *v, formatISODuration(hi))
		}
		return d
	}
	cfg.LockDuration = duration("LockDuration", q.LockDuration, 5*time.Second, 5*time.Minute)
	if q.LockDuration != nil && cfg.LockDuration == 0 && len(problems) == 0 {
		refuse("LockDuration %s is above the maximum, PT5M", *q.LockDuration)
	}
	cfg.DuplicateWindow = duration("DuplicateDetectionHistoryTimeWindow", q.DuplicateDetectionHistoryTimeWindow, 20*time.Second, 7*24*time.Hour)
	cfg.DefaultMessageTimeToLive = duration("DefaultMessageTimeToLive", q.DefaultMessageTimeToLive, time.Second, 0)
	if q.AutoDeleteOnIdle != nil {
		duration("AutoDeleteOnIdle", q.AutoDeleteOnIdle, 5*time.Minute, 0)
		meta.autoDeleteOnIdle = *q.AutoDeleteOnIdle
	}
	if q.MaxDeliveryCount != nil {
		if *q.MaxDeliveryCount < 1 {
			refuse("MaxDeliveryCount must be at least 1")
		}
		cfg.MaxDeliveryCount = int(*q.MaxDeliveryCount)
	}
	cfg.DuplicateDetection = q.RequiresDuplicateDetection != nil && *q.RequiresDuplicateDetection
	cfg.DeadLetterOnExpiration = q.DeadLetteringOnMessageExpiration != nil && *q.DeadLetteringOnMessageExpiration
	if q.MaxSizeInMegabytes != nil {
		if *q.MaxSizeInMegabytes < 1 {
			refuse("MaxSizeInMegabytes must be positive")
		}
		meta.maxSizeInMegabytes = *q.MaxSizeInMegabytes
	}
	if q.EnableBatchedOperations != nil {
		meta.batchedOperations = *q.EnableBatchedOperations
	}
	if q.UserMetadata != nil {
		meta.userMetadata = *q.UserMetadata
	}
	for _, f := range []struct {
		field string
		v     *bool
		what  string
	}{
		{"RequiresSession", q.RequiresSession, "sessions are"},
		{"EnablePartitioning", q.EnablePartitioning, "partitioning is"},
		{"EnableExpress", q.EnableExpress, "express entities are"},
	} {
		if f.v != nil && *f.v {
			refuse("%s: %s not supported by the stand-in", f.field, f.what)
		}
	}
	if q.ForwardTo != nil || q.ForwardDeadLetteredMessagesTo != nil {
		refuse("ForwardTo and ForwardDeadLetteredMessagesTo: forwarding is not supported by the stand-in")
	}
	if q.AuthorizationRules != nil && len(q.AuthorizationRules.Rules) > 0 {
		refuse("AuthorizationRules: entity-level SAS rules are not supported by the stand-in (Options.Key is namespace-wide)")
	}
	if q.Status != nil && *q.Status != "Active" {
		refuse("Status %s is not supported by the stand-in (only Active)", *q.Status)
	}
	if q.MaxMessageSizeInKilobytes != nil && uint64(*q.MaxMessageSizeInKilobytes)*1024 != s.opts.MaxMessageSize {
		refuse("MaxMessageSizeInKilobytes %d: the stand-in's limit is namespace-wide, %d KiB (Options.MaxMessageSize)", *q.MaxMessageSizeInKilobytes, s.opts.MaxMessageSize/1024)
	}
	if len(problems) > 0 {
		return cfg, meta, badRequest("queue %s: %s", name, strings.Join(problems, "; "))
	}
	if cfg.LockDuration == 0 {
		cfg.LockDuration = DefaultLockDuration
	}
	if cfg.MaxDeliveryCount == 0 {
		cfg.MaxDeliveryCount = DefaultMaxDeliveryCount
	}
	if cfg.DuplicateWindow == 0 {
		cfg.DuplicateWindow = DefaultDuplicateWindow
	}
	return cfg, meta, nil
}

// The response: an Atom entry (or the empty feed) as the service writes it,
// down to the fields the admin client reads.
type (
	atomText struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	}
	atomLink struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	}
	atomFeed struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		ID      string   `xml:"id"`
		Title   atomText `xml:"title"`
		Updated string   `xml:"updated"`
		Link    atomLink `xml:"link"`
	}
	atomEntry struct {
		XMLName   xml.Name `xml:"http://www.w3.org/2005/Atom entry"`
		ID        string   `xml:"id"`
		Title     atomText `xml:"title"`
		Published string   `xml:"published"`
		Updated   string   `xml:"updated"`
		Author    struct {
			Name string `xml:"name"`
		} `xml:"author"`
		Link    atomLink `xml:"link"`
		Content struct {
			Type  string       `xml:"type,attr"`
			Queue queueDescOut `xml:"QueueDescription"`
		} `xml:"content"`
	}
	queueDescOut struct {
		XMLName                             xml.Name `xml:"http://schemas.microsoft.com/netservices/2010/10/servicebus/connect QueueDescription"`
		XSI                                 string   `xml:"xmlns:i,attr"`
		LockDuration                        string
		MaxSizeInMegabytes                  int64
		RequiresDuplicateDetection          bool
		RequiresSession                     bool
		DefaultMessageTimeToLive            string
		DeadLetteringOnMessageExpiration    bool
		DuplicateDetectionHistoryTimeWindow string
		MaxDeliveryCount                    int
		EnableBatchedOperations             bool
		SizeInBytes                         int64
		MessageCount                        int64
		IsAnonymousAccessible               bool
		AuthorizationRules                  string
		Status                              string
		CreatedAt                           string
		UpdatedAt                           string
		AccessedAt                          string
		SupportOrdering                     bool
		CountDetails                        countDetails
		AutoDeleteOnIdle                    string
		EnablePartitioning                  bool
		UserMetadata                        string `xml:",omitempty"`
		EnableExpress                       bool
		MaxMessageSizeInKilobytes           uint64
	}
	countDetails struct {
		ActiveMessageCount             int
		DeadLetterMessageCount         int
		ScheduledMessageCount          int
		TransferMessageCount           int
		TransferDeadLetterMessageCount int
	}
)

// queueEntry renders e's entry; Server.mu is held.
func (s *Server) queueEntry(host string, e *entity) []byte {
	c := countsOf(e)
	var size int64
	for _, x := range []*entity{e, e.dlq} {
		for _, m := range x.msgs {
			size += int64(len(m.m.Data()))
		}
	}
	ttl := timeSpanMax
	if e.cfg.DefaultMessageTimeToLive > 0 {
		ttl = formatISODuration(e.cfg.DefaultMessageTimeToLive)
	}
	meta := e.meta
	if meta.created.IsZero() { // configured through Options.Queues
		meta = queueMeta{autoDeleteOnIdle: timeSpanMax, maxSizeInMegabytes: 1024, batchedOperations: true}
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	href := "https://" + host + "/" + e.name + "?api-version=" + apiVersion
	var out atomEntry
	out.ID = href
	out.Title = atomText{Type: "text", Text: e.name}
	out.Published, out.Updated = stamp(meta.created), stamp(meta.updated)
	out.Author.Name = strings.Split(host, ":")[0]
	out.Link = atomLink{Rel: "self", Href: href}
	out.Content.Type = "application/xml"
	out.Content.Queue = queueDescOut{
		XSI:                                 xsiNS,
		LockDuration:                        formatISODuration(e.cfg.LockDuration),
		MaxSizeInMegabytes:                  meta.maxSizeInMegabytes,
		RequiresDuplicateDetection:          e.cfg.DuplicateDetection,
		DefaultMessageTimeToLive:            ttl,
		DeadLetteringOnMessageExpiration:    e.cfg.DeadLetterOnExpiration,
		DuplicateDetectionHistoryTimeWindow: formatISODuration(e.cfg.DuplicateWindow),
		MaxDeliveryCount:                    e.cfg.MaxDeliveryCount,
		EnableBatchedOperations:             meta.batchedOperations,
		SizeInBytes:                         size,
		MessageCount:                        int64(c.Total() + c.DeadLetter),
		Status:                              "Active",
		CreatedAt:                           stamp(meta.created),
		UpdatedAt:                           stamp(meta.updated),
		AccessedAt:                          stamp(meta.updated),
		SupportOrdering:                     true,
		CountDetails: countDetails{
			ActiveMessageCount:     c.Active + c.Locked,
			DeadLetterMessageCount: c.DeadLetter,
			ScheduledMessageCount:  c.Scheduled,
		},
		AutoDeleteOnIdle:          meta.autoDeleteOnIdle,
		UserMetadata:              meta.userMetadata,
		MaxMessageSizeInKilobytes: s.opts.MaxMessageSize / 1024,
	}
	return marshalXML(out)
}

func marshalXML(v any) []byte {
	b, err := xml.Marshal(v)
	if err != nil {
		panic(err) // only our own fixed types are marshalled
	}
	return append([]byte(xml.Header), b...)
}

// formatISODuration formats d the way the service writes TimeSpans (PT1M, P1DT2H,
// PT0.5S).
func formatISODuration(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteString("P")
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dD", days)
		d -= days * 24 * time.Hour
	}
	if d == 0 {
		return b.String()
	}
	b.WriteString("T")
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
		d -= m * time.Minute
	}
	if d > 0 {
		secs := fmt.Sprintf("%.7f", d.Seconds())
		secs = strings.TrimRight(strings.TrimRight(secs, "0"), ".")
		b.WriteString(secs + "S")
	}
	return b.String()
}
