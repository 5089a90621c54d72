package sbemulator_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/sbemulator"
)

func TestLoadConfig(t *testing.T) {
	f, err := os.Open("testdata/Config.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := sbemulator.LoadConfig(f)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := []sbemulator.QueueConfig{
		{Name: "queue.1", LockDuration: time.Minute, MaxDeliveryCount: 3, DuplicateWindow: 20 * time.Second, DefaultMessageTimeToLive: time.Hour},
		{Name: "langsync-train", LockDuration: 5 * time.Minute, MaxDeliveryCount: 10, DuplicateDetection: true, DuplicateWindow: 10 * time.Minute, DeadLetterOnExpiration: true},
		{Name: "minimal"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadConfig =\n%+v\nwant\n%+v", got, want)
	}
	srv, err := sbemulator.New(sbemulator.Options{Queues: got})
	if err != nil {
		t.Fatalf("New with the loaded queues: %v", err)
	}
	defer srv.Close()
	if q := srv.Queues(); !reflect.DeepEqual(q, []string{"langsync-train", "minimal", "queue.1"}) {
		t.Fatalf("Queues() = %v", q)
	}
}

func TestLoadConfigRefusals(t *testing.T) {
	tests := []struct {
		name, json string
		want       []string
	}{
		{"NotJSON", `{`, []string{"not valid JSON"}},
		{"NoQueues", `{"UserConfig":{"Namespaces":[]}}`, []string{"no queues"}},
		{"Everything", `{"UserConfig":{"Namespaces":[{"Name":"ns","Topics":[{"Name":"t"}],"Queues":[
			{"Name":"a","Properties":{"RequiresSession":true,"LockDuration":"1 minute"}},
			{"Name":"b","Properties":{"ForwardTo":"a"}}]}]}}`,
			[]string{"topics are not supported", "queue 0 (a): RequiresSession", `LockDuration: "1 minute" is not an ISO 8601 duration`, "queue 1 (b): ForwardTo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sbemulator.LoadConfig(strings.NewReader(tt.json))
			if err == nil {
				t.Fatal("LoadConfig succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseISODuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", 0, false},
		{"PT1M", time.Minute, false},
		{"PT20S", 20 * time.Second, false},
		{"PT1.5S", 1500 * time.Millisecond, false},
		{"P1DT2H3M4S", 26*time.Hour + 3*time.Minute + 4*time.Second, false},
		{"P10675199DT2H48M5.4775807S", 0, false},
		{"P", 0, true},
		{"PT", 0, true},
		{"1m", 0, true},
		{"PT1H30", 0, true},
	}
	for _, tt := range tests {
		got, err := sbemulator.ParseISODuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseISODuration(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}
