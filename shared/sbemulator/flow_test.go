package sbemulator

import (
	"testing"

	"github.com/langsync/langsync/shared/sbemulator/internal/amqp"
)

// Link credit from a client flow: credit = flow.delivery-count +
// flow.link-credit - our delivery-count, in serial-number arithmetic, never
// negative.
func TestFlowCredit(t *testing.T) {
	tests := []struct {
		name             string
		ours, dc, credit uint32
		want             uint32
	}{
		{"Fresh", 0, 0, 10, 10},
		{"InStep", 5, 5, 10, 10},
		{"StaleFlowLeavesSome", 5, 3, 4, 2},
		{"StaleFlowLeavesNone", 5, 3, 1, 0},
		{"Wrapped", 2, 0xFFFFFFFE, 10, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{dirty: map[*entity]bool{}}
			c := &conn{s: s, sessions: map[uint16]*session{}, signal: make(chan struct{}, 1)}
			ss := &session{conn: c, links: map[uint32]*link{}}
			l := &link{sess: ss, handle: 1, clientReceives: true, deliveryCount: tt.ours}
			ss.links[1] = l
			err := ss.flow(amqp.List{uint32(0), uint32(5000), uint32(0), uint32(5000), uint32(1), tt.dc, tt.credit})
			if err != nil {
				t.Fatal(err)
			}
			if l.credit != tt.want {
				t.Fatalf("credit = %d, want %d", l.credit, tt.want)
			}
		})
	}
}
