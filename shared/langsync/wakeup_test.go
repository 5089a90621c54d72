package langsync_test

import (
	"testing"

	"github.com/langsync/langsync/shared/langsync"
)

func TestQueueForAndMessageID(t *testing.T) {
	for step, q := range map[langsync.StepName]string{"inspect": "langsync-export", "documents": "langsync-import", "export": "langsync-export", "backup": "langsync-export", "import": "langsync-import", "train": "langsync-train", "deploy": "langsync-deploy", "verify": "langsync-deploy"} {
		if got, known := langsync.QueueFor(step); !known || got != q {
			t.Errorf("QueueFor(%s)=%s,%v want %s", step, got, known, q)
		}
	}
	// Routed to the first step's function, which reports it.
	if got, known := langsync.QueueFor("nope"); known || got != "langsync-export" {
		t.Errorf("QueueFor(nope)=%s,%v want langsync-export,false", got, known)
	}
	w := langsync.Wakeup{Run: "r", Step: "train", Seq: 7}
	if id := w.MessageID(); id != "r/train/7" {
		t.Errorf("MessageID=%s", id)
	}
	if b := string(w.Body()); b != `{"v":1,"run":"r","step":"train","seq":7}` {
		t.Errorf("Body=%s", b)
	}
}
