package backup_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/backup"
)

// cluExport is a small CLU export; its utterances are in the file.
const cluExport = `{"projectFileVersion":"2023-04-01","stringIndexType":"Utf16CodeUnit",
"metadata":{"projectKind":"Conversation","settings":{},"projectName":"Travel","multilingual":false,"language":"en-us"},
"assets":{"projectKind":"Conversation","intents":[{"category":"None"},{"category":"Book"},{"category":"Cancel"}],
"entities":[{"category":"City","list":{"sublists":[{"listKey":"Paris","synonyms":[{"language":"en-us","values":["PAR"]}]}]}}],
"utterances":[
 {"text":"book a flight to Paris","language":"en-us","dataset":"Train","intent":"Book","entities":[{"category":"City","offset":17,"length":5}]},
 {"text":"cancel my booking","language":"en-us","dataset":"Train","intent":"Cancel","entities":[]}]}}`

// TestConversationBackupIsSelfContained: a CLU export is archived alone
// (no documents, no storage container needed), verifies, and opens to the
// same bytes; its manifest counts its intents and utterances.
func TestConversationBackupIsSelfContained(t *testing.T) {
	for _, kind := range []string{"Conversation", "Orchestration"} {
		export := []byte(strings.ReplaceAll(cluExport, `"Conversation"`, `"`+kind+`"`))
		if kind == "Orchestration" {
			export = []byte(strings.Replace(string(export), `"entities":[{"category":"City"`, `"entitiesX":[{"category":"City"`, 1))
		}
		// A document source is given, as the pipeline does: nothing is read.
		archive, m := mustWrite(t, export, mapDocs{})
		if m.ProjectKind != kind || m.StorageContainer != "" || m.Counts.Intents != 3 || m.Counts.Utterances != 2 || m.Counts.Documents != 0 || m.Counts.Files != 2 {
			t.Fatalf("%s manifest: %+v", kind, m)
		}
		var names []string
		for _, e := range readEntries(t, archive) {
			names = append(names, e.name)
		}
		if strings.Join(names, " ") != "project.json manifest.json" {
			t.Fatalf("%s entries = %v", kind, names)
		}
		if _, err := backup.Verify(bytes.NewReader(archive), nil); err != nil {
			t.Fatalf("%s: Verify: %v", kind, err)
		}
		a, err := backup.Open(bytes.NewReader(archive), nil)
		if err != nil || !bytes.Equal(a.Export(), export) || len(a.Documents()) != 0 {
			t.Fatalf("%s: Open: %v", kind, err)
		}
		a.Close()
	}
}

// TestConversationFingerprint: utterances are compared as a set, so an
// export in another order has the same fingerprint; a changed utterance,
// label or list synonym changes it.
func TestConversationFingerprint(t *testing.T) {
	fp := func(s string) string {
		t.Helper()
		f, err := backup.Fingerprint(strings.NewReader(s), nil)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	base := fp(cluExport)
	reordered := strings.Replace(cluExport, `{"category":"Book"},{"category":"Cancel"}`, `{"category":"Cancel"},{"category":"Book"}`, 1)
	if fp(reordered) != base {
		t.Error("reordering intents changed the fingerprint")
	}
	for name, changed := range map[string]string{
		"utterance text": strings.Replace(cluExport, "cancel my booking", "cancel my flight", 1),
		"entity offset":  strings.Replace(cluExport, `"offset":17`, `"offset":16`, 1),
		"list synonym":   strings.Replace(cluExport, `["PAR"]`, `["PAR","CDG"]`, 1),
		"intent label":   strings.Replace(cluExport, `"intent":"Cancel"`, `"intent":"None"`, 1),
	} {
		if fp(changed) == base {
			t.Errorf("%s: fingerprint unchanged", name)
		}
	}
}
