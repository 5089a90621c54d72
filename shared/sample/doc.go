// Package sample embeds small hand-made Language projects for demos and
// end-to-end tests: "Tickets" (custom single-label classification, 200
// support tickets in four classes), "Reviews" (multi-label classification,
// 40 product reviews) and "Orders" (custom NER, 30 order messages whose
// labels use UTF-16 offsets over text with non-ASCII characters).
//
// Each project carries its exported project JSON in the exact shape of the
// authoring API (docs/reference/language-rest.md#exported-project-json), the
// labelled .txt documents that JSON references, and a few probe texts with the
// labels a model trained on it should give. WriteDocs lays the documents out as
// DIR/<container>/<location>, the layout of the emulator's --docs-dir and of a
// directory given as a resource's storage; Project.Open serves them directly as
// an emulator DocumentSource.
//
// The data under data/ is produced by internal/gen (go generate); a test
// checks that the committed files match the generator.
package sample
