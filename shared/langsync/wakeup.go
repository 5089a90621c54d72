package langsync

import (
	"encoding/json"
	"sort"
	"strconv"
)

// The queues that carry wake-ups and requests, one per function
// (docs/functions.md). Deployed apps, their infrastructure and the
// emulators use these names.
const (
	QueueExport = "langsync-export"
	QueueImport = "langsync-import"
	QueueTrain  = "langsync-train"
	QueueDeploy = "langsync-deploy"
)

// Queues lists langsync's queues.
func Queues() []string { return []string{QueueExport, QueueImport, QueueTrain, QueueDeploy} }

// stepQueues routes each step to the queue whose function performs it:
// inspect, export and backup run in the export function, documents and
// import in the import function, deploy and verify in the deploy function
// (the functions/ layout).
var stepQueues = map[StepName]string{
	StepInspect:   QueueExport,
	StepExport:    QueueExport,
	StepBackup:    QueueExport,
	StepDocuments: QueueImport,
	StepImport:    QueueImport,
	StepTrain:     QueueTrain,
	StepDeploy:    QueueDeploy,
	StepVerify:    QueueDeploy,
}

// QueueFor returns the queue that carries wake-ups for step, and whether a
// queue serves it. A step none serves (empty, or written by a newer
// langsync) yields the export queue: hosts that route it anyway reach the
// first step's function, whose Advance reports the step.
func QueueFor(step StepName) (queue string, known bool) {
	if q, ok := stepQueues[step]; ok {
		return q, true
	}
	return QueueExport, false
}

// QueuedSteps lists the steps the queues serve, sorted.
func QueuedSteps() []StepName {
	s := make([]StepName, 0, len(stepQueues))
	for k := range stepQueues {
		s = append(s, k)
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

// WakeupVersion is the schema version of the wake-up messages this
// langsync writes and reads.
const WakeupVersion = 1

// Wakeup tells a host to look at run Run now, at step Step. Run state is
// the truth: Seq is the run's sequence number the wake-up was made for, and
// one older than the run's is stale. Its Body is the internal message
// {"v":1,"run":"<id>","step":"train","seq":7} (docs/functions.md).
type Wakeup struct {
	// V is the schema version of a received message. Body writes
	// WakeupVersion; a wake-up not sent yet leaves it zero (and out of the
	// JSON of the types that carry one).
	V    int      `json:"v,omitempty"`
	Run  string   `json:"run"`
	Step StepName `json:"step"`
	Seq  int      `json:"seq"`
}

// MessageID is "<run>/<step>/<seq>": the same wake-up always gets the same
// MessageId, so that duplicate detection drops a second send.
func (w Wakeup) MessageID() string {
	return w.Run + "/" + string(w.Step) + "/" + strconv.Itoa(w.Seq)
}

// Body is the message that carries w, with the version this langsync
// writes.
func (w Wakeup) Body() []byte {
	w.V = WakeupVersion
	b, _ := json.Marshal(w) // strings and ints always encode
	return b
}
