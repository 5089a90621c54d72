// Package emulator is a wire-faithful stand-in for one Azure AI Language
// resource (one region): the text authoring API (custom single-label and
// multi-label classification, custom NER) at api-versions 2022-05-01 and
// 2023-04-01, the analyze-text runtime API for deployed models, and the
// conversations authoring and :analyze-conversations runtime API for
// CLU and orchestration workflow projects (conversations.go).
//
// It reads the REST contract independently of shared/authoring (it never
// imports it) so that a misreading of the contract cannot pass both sides'
// tests. Facts come from the service's REST reference (docs/authoring.md)
// and the official example payloads in shared/authoring/testdata.
//
// Jobs are evaluated lazily against a Clock: a job's state is a function of
// its creation time, its duration and the current time, and its effects
// (a trained model, an imported project, ...) are applied in completion
// order the first time any request observes a time past its end. A fake
// clock therefore drives every job without sleeping, and a restart with a
// data directory resumes jobs where the clock says they are.
//
// Training is real, small and deterministic: multinomial naive Bayes over
// lowercase word tokens for classification and a dictionary of labelled
// spans for entity recognition, fitted on the Train split of documents read
// through a DocumentSource (the resource's linked storage).
//
// Fault injection (rate limits, random 429/500/503, latency, dropped
// connections, failing jobs, region down) is set with Options.Faults,
// Server.SetFaults or POST /emulator/faults; GET /emulator/requests lists
// the requests received. See docs/emulator.md.
package emulator
