package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/queue"
	"github.com/langsync/langsync/shared/sbemulator/sbemulatortest"
)

// BenchmarkSendWakeup sends b.N wake-ups through ServiceBus (real client,
// Service Bus stand-in over TCP) and, as the baseline in the same run,
// through Memory; it reports both rates and their ratio.
func BenchmarkSendWakeup(b *testing.B) {
	ctx := context.Background()
	emu := sbemulatortest.Start(b, nil)
	sb, err := queue.NewServiceBus(emu.ConnectionString, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close(ctx)
	mem := queue.NewMemory(&queue.MemoryOptions{DuplicateWindow: time.Nanosecond})
	// Open the AMQP sender before timing.
	if err := queue.SendWakeup(ctx, sb, langsync.QueueTrain, langsync.Wakeup{Run: "warm", Step: "train", Seq: 0}, time.Time{}); err != nil {
		b.Fatal(err)
	}
	rate := func(s queue.Sender) float64 {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if err := queue.SendWakeup(ctx, s, langsync.QueueTrain, langsync.Wakeup{Run: "bench", Step: "train", Seq: i + 1}, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
		return float64(b.N) / time.Since(start).Seconds()
	}
	b.ResetTimer()
	memRate := rate(mem)
	sbRate := rate(sb)
	b.ReportMetric(sbRate, "servicebus-msgs/s")
	b.ReportMetric(memRate, "memory-msgs/s")
	b.ReportMetric(memRate/sbRate, "memory/servicebus")
	c, _ := emu.Server.Counts(langsync.QueueTrain)
	if c.Active != b.N+1 {
		b.Fatalf("stand-in holds %d messages, want %d", c.Active, b.N+1)
	}
}
