package backup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/backup"
)

func TestWriteVerifyOpenRoundTrip(t *testing.T) {
	check := emptyTempDir(t)
	export := readFixture(t, "studio-export.json")
	archive, m := mustWrite(t, export, studioDocs())

	if m.Project != "Tickets" || m.ProjectKind != "CustomSingleLabelClassification" || m.StorageContainer != "tickets-docs" {
		t.Fatalf("manifest project fields: %+v", m)
	}
	if m.Source.Name != "primary" || m.Source.EndpointHost != "contoso-eastus.cognitiveservices.azure.com" || m.APIVersion != "2023-04-01" {
		t.Fatalf("manifest source: %+v api %s", m.Source, m.APIVersion)
	}
	if !m.ExportedAt.Equal(exportedAt) || len(m.Fingerprint) != 64 {
		t.Fatalf("manifest time %v fingerprint %q", m.ExportedAt, m.Fingerprint)
	}
	want := backup.Counts{Documents: 4, DocumentsStored: 4, Classes: 3, Files: 6}
	if m.Counts != want {
		t.Fatalf("counts = %+v, want %+v", m.Counts, want)
	}

	// Layout: project.json first, documents sorted, manifest last.
	var names []string
	for _, e := range readEntries(t, archive) {
		names = append(names, e.name)
	}
	if got := strings.Join(names, " "); got != "project.json documents/nested/t04.txt documents/t01.txt documents/t02.txt documents/t03.txt manifest.json" {
		t.Fatalf("entries = %s", got)
	}

	vm, err := backup.Verify(bytes.NewReader(archive), nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if vm.Fingerprint != m.Fingerprint || len(vm.Files) != 5 {
		t.Fatalf("Verify manifest = %+v", vm)
	}

	a, err := backup.Open(bytes.NewReader(archive), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if a.Kind != backup.KindArchive || !bytes.Equal(a.Export(), export) {
		t.Fatalf("Open: kind %s, export byte-equal %v", a.Kind, bytes.Equal(a.Export(), export))
	}
	if len(a.Documents()) != 4 {
		t.Fatalf("Documents = %v", a.Documents())
	}
	got := map[string]string{}
	if err := a.EachDocument(context.Background(), func(f backup.File, body []byte) error {
		got[f.Document()] = string(body)
		return nil
	}); err != nil {
		t.Fatalf("EachDocument: %v", err)
	}
	if !reflect.DeepEqual(got, studioDocs()["tickets-docs"]) {
		t.Errorf("documents = %v, want %v", got, studioDocs()["tickets-docs"])
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	check()
}

func TestWriteWithoutDocuments(t *testing.T) {
	archive, m := mustWrite(t, readFixture(t, "studio-export.json"), nil)
	if m.Counts.DocumentsStored != 0 || len(m.Files) != 1 {
		t.Fatalf("manifest without a document source: %+v", m)
	}
	if _, err := backup.Verify(bytes.NewReader(archive), nil); err != nil {
		t.Fatal(err)
	}
}

func TestWriteMissingDocument(t *testing.T) {
	docs := studioDocs()
	delete(docs["tickets-docs"], "t02.txt")
	var buf bytes.Buffer
	_, err := backup.Write(context.Background(), &buf, bytes.NewReader(readFixture(t, "studio-export.json")), docs, backup.ManifestInfo{Source: "primary"})
	if err == nil || !strings.Contains(err.Error(), `"t02.txt"`) || !strings.Contains(err.Error(), "tickets-docs") {
		t.Fatalf("Write with a missing document: %v, want an error naming it and the container", err)
	}
	buf.Reset()
	m, err := backup.Write(context.Background(), &buf, bytes.NewReader(readFixture(t, "studio-export.json")), docs, backup.ManifestInfo{Source: "primary", AllowMissingDocuments: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.MissingDocuments) != 1 || m.MissingDocuments[0] != "t02.txt" || m.Counts.DocumentsStored != 3 {
		t.Fatalf("missing documents recorded as %v, stored %d", m.MissingDocuments, m.Counts.DocumentsStored)
	}
	if _, err := backup.Verify(&buf, nil); err != nil {
		t.Fatalf("Verify of a backup with a recorded missing document: %v", err)
	}
}

func TestWriteRejectsBadExports(t *testing.T) {
	for name, export := range map[string]string{
		"not json":        "hello",
		"truncated":       `{"projectFileVersion":"2022-05-01","metadata":{"projectName":"P"`,
		"no project name": `{"projectFileVersion":"2022-05-01","metadata":{"projectKind":"CustomEntityRecognition"}}`,
		"unknown kind":    `{"projectFileVersion":"2022-05-01","metadata":{"projectName":"P","projectKind":"Sorting"}}`,
		"kind mismatch":   `{"projectFileVersion":"2022-05-01","metadata":{"projectName":"P","projectKind":"CustomEntityRecognition"},"assets":{"projectKind":"CustomMultiLabelClassification"}}`,
		"trailing data":   `{"projectFileVersion":"2022-05-01","metadata":{"projectName":"P","projectKind":"CustomEntityRecognition"}} {}`,
		"escaping doc":    `{"projectFileVersion":"2022-05-01","metadata":{"projectName":"P","projectKind":"CustomEntityRecognition","storageInputContainerName":"c"},"assets":{"documents":[{"location":"../etc/passwd"}]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := backup.Write(context.Background(), io.Discard, strings.NewReader(export), mapDocs{}, backup.ManifestInfo{Source: "s"})
			if err == nil {
				t.Fatal("Write accepted it")
			}
		})
	}
}

func TestWriteNeedsADocumentContainer(t *testing.T) {
	export := `{"projectFileVersion":"2022-05-01","metadata":{"projectName":"P","projectKind":"CustomEntityRecognition"},"assets":{"documents":[{"location":"a.txt"}]}}`
	_, err := backup.Write(context.Background(), io.Discard, strings.NewReader(export), mapDocs{"c": {"a.txt": "x"}}, backup.ManifestInfo{Source: "s"})
	if err == nil || !strings.Contains(err.Error(), "DocumentContainer") {
		t.Fatalf("Write without a container: %v, want a hint to set DocumentContainer", err)
	}
	m, err := backup.Write(context.Background(), io.Discard, strings.NewReader(export), mapDocs{"c": {"a.txt": "x"}}, backup.ManifestInfo{Source: "s", DocumentContainer: "c"})
	if err != nil || m.Counts.DocumentsStored != 1 {
		t.Fatalf("Write with DocumentContainer: %+v, %v", m, err)
	}
}

func TestManifestNeverHoldsSecrets(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	var buf bytes.Buffer
	m, err := backup.Write(context.Background(), &buf, bytes.NewReader(readFixture(t, "studio-export.json")), nil, backup.ManifestInfo{
		Source: "primary", Endpoint: "https://user:" + secret + "@contoso.cognitiveservices.azure.com/?subscription-key=" + secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Source.EndpointHost != "contoso.cognitiveservices.azure.com" {
		t.Fatalf("endpoint host = %q", m.Source.EndpointHost)
	}
	for _, e := range readEntries(t, buf.Bytes()) {
		if strings.Contains(e.body, secret) {
			t.Fatalf("%s contains the key", e.name)
		}
	}
}

func TestFingerprint(t *testing.T) {
	base := readFixture(t, "studio-export.json")
	fp := func(t *testing.T, export []byte, docs map[string]string) string {
		t.Helper()
		s, err := backup.Fingerprint(bytes.NewReader(export), docs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mutate := func(t *testing.T, f func(m map[string]any)) []byte {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(base, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.MarshalIndent(m, "", "\t")
		return b
	}
	assets := func(m map[string]any) map[string]any { return m["assets"].(map[string]any) }
	reverse := func(a []any) {
		for i, j := 0, len(a)-1; i < j; i, j = i+1, j-1 {
			a[i], a[j] = a[j], a[i]
		}
	}
	docs := map[string]string{"t01.txt": strings.Repeat("ab", 32)}
	want := fp(t, base, docs)

	same := map[string][]byte{
		"reordered arrays and keys, reindented": mutate(t, func(m map[string]any) {
			reverse(assets(m)["classes"].([]any))
			reverse(assets(m)["documents"].([]any))
		}),
		"server timestamps and file version": mutate(t, func(m map[string]any) {
			m["projectFileVersion"] = "2023-04-01"
			md := m["metadata"].(map[string]any)
			md["lastModifiedDateTime"] = "2026-11-21T00:00:00Z"
			md["createdDateTime"] = "2026-01-01T00:00:00Z"
		}),
	}
	for name, b := range same {
		if got := fp(t, b, docs); got != want {
			t.Errorf("%s: fingerprint changed", name)
		}
	}
	different := map[string][]byte{
		"label changed": mutate(t, func(m map[string]any) {
			d := assets(m)["documents"].([]any)[0].(map[string]any)
			d["class"] = map[string]any{"category": "Outage"}
		}),
		"class added": mutate(t, func(m map[string]any) {
			assets(m)["classes"] = append(assets(m)["classes"].([]any), map[string]any{"category": "New"})
		}),
		"description": mutate(t, func(m map[string]any) { m["metadata"].(map[string]any)["description"] = "x" }),
	}
	for name, b := range different {
		if got := fp(t, b, docs); got == want {
			t.Errorf("%s: fingerprint unchanged", name)
		}
	}
	if fp(t, base, map[string]string{"t01.txt": strings.Repeat("cd", 32)}) == want {
		t.Error("document content changed but fingerprint did not")
	}
	if fp(t, base, nil) == want {
		t.Error("fingerprint without documents equals the one with documents")
	}
	if _, err := backup.Fingerprint(bytes.NewReader(base), map[string]string{"x": "nothex"}); err == nil {
		t.Error("malformed document hash accepted")
	}
}

func TestOpenStudioExport(t *testing.T) {
	export := readFixture(t, "studio-export.json")
	a, err := backup.Open(bytes.NewReader(export), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Kind != backup.KindProjectJSON || !bytes.Equal(a.Export(), export) {
		t.Fatalf("kind %s, export unchanged %v", a.Kind, bytes.Equal(a.Export(), export))
	}
	if a.Manifest.Project != "Tickets" || a.Manifest.Counts.Documents != 4 || len(a.Documents()) != 0 {
		t.Fatalf("manifest %+v", a.Manifest)
	}
	// The fingerprint of a plain export equals that of a backup of the same
	// export written without documents.
	_, m := mustWrite(t, export, nil)
	if a.Manifest.Fingerprint != m.Fingerprint {
		t.Fatalf("fingerprints differ: %s vs %s", a.Manifest.Fingerprint, m.Fingerprint)
	}
}

func TestOpenLegacyExports(t *testing.T) {
	type doc struct {
		Location string                      `json:"location"`
		Language string                      `json:"language"`
		Class    *struct{ Category string }  `json:"class"`
		Classes  []struct{ Category string } `json:"classes"`
		Entities []struct {
			RegionOffset, RegionLength int
			Labels                     []struct {
				Category       string
				Offset, Length int
			}
		} `json:"entities"`
	}
	type current struct {
		ProjectFileVersion string `json:"projectFileVersion"`
		StringIndexType    string `json:"stringIndexType"`
		Metadata           struct {
			ProjectKind, ProjectName, StorageInputContainerName, Language string
			Multilingual                                                  bool
		} `json:"metadata"`
		Assets struct {
			ProjectKind string
			Classes     []struct{ Category string }
			Entities    []struct{ Category string }
			Documents   []doc
		} `json:"assets"`
	}
	tests := []struct {
		file  string
		check func(t *testing.T, c current)
	}{
		{"legacy-2021-11-01-preview-multi.json", func(t *testing.T, c current) {
			if c.Metadata.ProjectKind != "CustomMultiLabelClassification" || c.Assets.ProjectKind != c.Metadata.ProjectKind {
				t.Errorf("kind %q / %q", c.Metadata.ProjectKind, c.Assets.ProjectKind)
			}
			if c.Metadata.ProjectName != "Movies" || !c.Metadata.Multilingual || c.Metadata.StorageInputContainerName != "movies" {
				t.Errorf("metadata %+v", c.Metadata)
			}
			if len(c.Assets.Classes) != 3 || c.Assets.Classes[1].Category != "Comedy" {
				t.Errorf("classes %+v", c.Assets.Classes)
			}
			d := c.Assets.Documents[0]
			if d.Location != "m1.txt" || len(d.Classes) != 2 || d.Classes[0].Category != "Drama" || d.Class != nil {
				t.Errorf("document %+v", d)
			}
		}},
		{"legacy-2021-11-01-preview-single.json", func(t *testing.T, c current) {
			if c.Metadata.ProjectKind != "CustomSingleLabelClassification" {
				t.Errorf("kind %q", c.Metadata.ProjectKind)
			}
			if d := c.Assets.Documents[1]; d.Class == nil || d.Class.Category != "Outage" || d.Classes != nil {
				t.Errorf("document %+v", d)
			}
		}},
		{"legacy-2021-11-01-preview-ner.json", func(t *testing.T, c current) {
			if c.Metadata.ProjectKind != "CustomEntityRecognition" || len(c.Assets.Entities) != 2 {
				t.Errorf("kind %q entities %+v", c.Metadata.ProjectKind, c.Assets.Entities)
			}
			e := c.Assets.Documents[0].Entities
			if len(e) != 1 || e[0].RegionLength != 120 || len(e[0].Labels) != 2 || e[0].Labels[1].Category != "LenderName" || e[0].Labels[1].Offset != 40 {
				t.Errorf("entities %+v", e)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			a, err := backup.Open(bytes.NewReader(readFixture(t, tt.file)), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if a.Kind != backup.KindLegacy {
				t.Fatalf("kind = %s", a.Kind)
			}
			var c current
			if err := json.Unmarshal(a.Export(), &c); err != nil {
				t.Fatal(err)
			}
			if c.ProjectFileVersion != "2022-05-01" || c.StringIndexType != "Utf16CodeUnit" {
				t.Errorf("envelope %q %q", c.ProjectFileVersion, c.StringIndexType)
			}
			tt.check(t, c)
			// The converted export is itself a valid current export.
			if _, err := backup.Write(context.Background(), io.Discard, bytes.NewReader(a.Export()), nil, backup.ManifestInfo{Source: "s"}); err != nil {
				t.Fatalf("converted export rejected by Write: %v", err)
			}
		})
	}
	if _, err := backup.ConvertLegacy([]byte(`{"metadata":{"name":"x","modelType":"sorting"}}`)); !errors.Is(err, backup.ErrFormat) {
		t.Fatalf("unknown modelType: %v", err)
	}
}

func TestOpenStudioExportWithBOM(t *testing.T) {
	export := readFixture(t, "studio-export.json")
	a, err := backup.Open(bytes.NewReader(append([]byte("\xef\xbb\xbf\n"), export...)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Kind != backup.KindProjectJSON || !bytes.Equal(bytes.TrimSpace(a.Export()), bytes.TrimSpace(export)) {
		t.Fatalf("kind %s; export with the BOM removed equal: %v", a.Kind, bytes.Equal(bytes.TrimSpace(a.Export()), bytes.TrimSpace(export)))
	}
}

func TestOpenRejectsUnknownInput(t *testing.T) {
	for name, in := range map[string]string{
		"empty":         "",
		"text":          "hello world",
		"json array":    "[1,2,3]",
		"other object":  `{"name":"not a project"}`,
		"broken gzip":   "\x1f\x8b\x08garbage",
		"json too long": `{"projectFileVersion": "` + strings.Repeat("x", 2048) + `"}`,
		"json too deep": `{"projectFileVersion":"x","a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			check := emptyTempDir(t)
			_, err := backup.Open(strings.NewReader(in), &backup.Limits{MaxJSONBytes: 1024})
			if err == nil {
				t.Fatal("Open accepted it")
			}
			if !errors.Is(err, backup.ErrFormat) && !errors.Is(err, backup.ErrCorrupt) && !errors.Is(err, backup.ErrLimit) {
				t.Fatalf("error %v matches no sentinel", err)
			}
			check()
		})
	}
}
