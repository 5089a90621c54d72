package sbemulator_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/langsync/langsync/shared/sbemulator"
)

// BenchmarkThroughput measures messages per second through the stand-in
// with the real azservicebus client: send, receive in peek-lock, complete.
// "single" sends one message per SendMessage (what langsync does);
// "batch" sends 100 per SendMessageBatch. The receiver runs concurrently.
func BenchmarkThroughput(b *testing.B) {
	for _, mode := range []string{"single", "batch"} {
		b.Run(mode, func(b *testing.B) {
			e := start(b, sbemulator.QueueConfig{LockDuration: time.Hour})
			s := e.sender(b, "q")
			r := e.receiver(b, "q", nil)
			ctx := context.Background()
			body := []byte(`{"v":1,"run":"r-20261120-abc","step":"train","seq":7}`)
			done := make(chan error, 1)
			b.ResetTimer()
			start := time.Now()
			go func() {
				got := 0
				for got < b.N {
					ms, err := r.ReceiveMessages(ctx, min(b.N-got, 100), nil)
					if err != nil {
						done <- err
						return
					}
					for _, m := range ms {
						if err := r.CompleteMessage(ctx, m, nil); err != nil {
							done <- err
							return
						}
					}
					got += len(ms)
				}
				done <- nil
			}()
			for i := 0; i < b.N; {
				if mode == "single" {
					if err := s.SendMessage(ctx, &azservicebus.Message{Body: body}, nil); err != nil {
						b.Fatal(err)
					}
					i++
					continue
				}
				batch, err := s.NewMessageBatch(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				for ; i < b.N && batch.NumMessages() < 100; i++ {
					if err := batch.AddMessage(&azservicebus.Message{Body: body}, nil); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			if c := counts(b, e.Server, "q"); c.Total() != 0 {
				b.Fatalf("queue not drained: %+v", c)
			}
		})
	}
}
