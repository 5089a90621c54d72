package sqswake_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sqswake"
	"github.com/langsync/langsync/shared/sqswake/sqswaketest"
)

const queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/langsync-wakeups"

func TestSendWake(t *testing.T) {
	srv := sqswaketest.New()
	defer srv.Close()
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"}
	s, err := sqswake.New(sqswake.Options{QueueURL: queue, Endpoint: srv.URL, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	w := langsync.Wake{Wakeup: langsync.Wakeup{Run: "r-1", Step: "train", Seq: 7}, Project: "Tickets"}
	for _, d := range []time.Duration{0, 1500 * time.Millisecond, sqswake.MaxDelay} {
		if err := s.SendWake(context.Background(), w, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SendWake(context.Background(), w, sqswake.MaxDelay+time.Second); err == nil {
		t.Fatal("a delay over 15 minutes was sent")
	}
	msgs := srv.Messages()
	if len(msgs) != 3 {
		t.Fatalf("messages %+v", msgs)
	}
	for i, want := range []int{0, 2, 900} {
		m := msgs[i]
		if m.DelaySeconds != want || m.QueueURL != queue || m.Body != `{"v":1,"run":"r-1","step":"train","seq":7}` {
			t.Fatalf("message %d: %+v, want delay %d", i, m, want)
		}
		// Signed with the role's credentials, for the queue's region.
		if !strings.Contains(m.Authorization, "Credential=AKIDEXAMPLE/") || !strings.Contains(m.Authorization, "/eu-west-1/sqs/aws4_request") {
			t.Fatalf("authorization %q", m.Authorization)
		}
	}
	// The body parses back as the wake-up it carries.
	msg, err := langsync.ParseMessage(langsync.QueueTrain, []byte(msgs[0].Body))
	if err != nil || msg.Wakeup == nil || *msg.Wakeup != (langsync.Wakeup{V: 1, Run: "r-1", Step: "train", Seq: 7}) {
		t.Fatalf("parsed %+v, %v", msg, err)
	}
}

func TestSendWakeErrors(t *testing.T) {
	srv := sqswaketest.New()
	defer srv.Close()
	srv.Fail = "QueueDoesNotExist"
	s, err := sqswake.New(sqswake.Options{QueueURL: queue, Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	err = s.SendWake(context.Background(), langsync.Wake{Wakeup: langsync.Wakeup{Run: "r", Step: "train", Seq: 1}}, 0)
	if err == nil || !strings.Contains(err.Error(), "QueueDoesNotExist") || !strings.Contains(err.Error(), "r/train/1") {
		t.Fatalf("err=%v", err)
	}
	noCreds, _ := sqswake.New(sqswake.Options{QueueURL: queue, Endpoint: srv.URL, Getenv: func(string) string { return "" }})
	srv.Fail = ""
	if err := noCreds.SendWake(context.Background(), langsync.Wake{}, 0); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("err=%v, want the missing credentials named", err)
	}
	for _, bad := range []sqswake.Options{
		{QueueURL: "not a url"},
		{QueueURL: "https://sqs.eu-west-1.amazonaws.com/1/q.fifo"},
		{QueueURL: "http://127.0.0.1:9324/1/q"},
	} {
		if _, err := sqswake.New(bad); err == nil {
			t.Fatalf("New(%+v) accepted", bad)
		}
	}
	if _, err := sqswake.New(sqswake.Options{QueueURL: "http://127.0.0.1:9324/1/q", Region: "us-east-1"}); err != nil {
		t.Fatal(err)
	}
}
