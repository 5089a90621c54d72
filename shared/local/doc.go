// Package local is the long-running local host (`langsync local`): one
// process that fires the sync schedule, carries wake-ups on an in-process
// queue (queue.Memory) to a few workers that advance runs, re-wakes overdue
// runs, and watches the state container's restore/ prefix for dropped
// backups.
//
// Run state in the store (a directory by default, or Blob) is the truth;
// the in-process queue is only the set of wake-ups, lost when the process
// ends. At start-up Host.Run therefore reads every unfinished run from the
// state and schedules its next wake-up, so a restart (or a crash) resumes
// every run where its state says it is, and the pipeline's evidence checks
// keep it from starting a second job for a step.
//
// A cancelled context (SIGINT, SIGTERM) stops the host between actions: no
// new wake-up is taken, the ones in progress get StopGrace to finish their
// current action, and only then are they cancelled.
package local
