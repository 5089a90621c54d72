// Package sqswaketest is a tiny SQS-compatible HTTP stand-in for tests: it
// answers SendMessage in the AWS JSON protocol (POST /, X-Amz-Target:
// AmazonSQS.SendMessage, application/x-amz-json-1.0) and records what was
// sent. Nothing else of SQS is implemented; no network is used.
package sqswaketest

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
)

// Message is one SendMessage call.
type Message struct {
	QueueURL      string
	Body          string
	DelaySeconds  int
	Authorization string // the SigV4 header, when the client signed
}

// Server is the stand-in.
type Server struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []Message
	n    int
	// Fail, when set, answers every request with this SQS error code.
	Fail string
}

// New starts a stand-in; Close it when done.
func New() *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Messages returns what was sent so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Take returns the messages sent so far and forgets them.
func (s *Server) Take() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs
	s.msgs = nil
	return m
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, typ, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("x-amzn-query-error", typ+";Sender")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + typ, "message": msg})
	}
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessage" {
		fail(http.StatusBadRequest, "UnsupportedOperation", "the stand-in answers POST with X-Amz-Target: AmazonSQS.SendMessage only")
		return
	}
	var in struct {
		QueueUrl     string
		MessageBody  string
		DelaySeconds int
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.QueueUrl == "" || in.MessageBody == "" {
		fail(http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("QueueUrl and MessageBody are required (%v)", err))
		return
	}
	if in.DelaySeconds < 0 || in.DelaySeconds > 900 {
		fail(http.StatusBadRequest, "InvalidParameterValue", "DelaySeconds must be between 0 and 900")
		return
	}
	s.mu.Lock()
	if s.Fail != "" {
		s.mu.Unlock()
		fail(http.StatusBadRequest, s.Fail, "failing as told")
		return
	}
	s.n++
	id := fmt.Sprintf("msg-%d", s.n)
	s.msgs = append(s.msgs, Message{QueueURL: in.QueueUrl, Body: in.MessageBody, DelaySeconds: in.DelaySeconds, Authorization: r.Header.Get("Authorization")})
	s.mu.Unlock()
	sum := md5.Sum([]byte(in.MessageBody))
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(map[string]string{"MessageId": id, "MD5OfMessageBody": hex.EncodeToString(sum[:])})
}
