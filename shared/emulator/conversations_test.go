package emulator_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

const convProjects = "/language/authoring/analyze-conversations/projects"

// convExample reads an official conversations example: authoring ones
// from shared/authoring/testdata/conversations, runtime ones from
// shared/predict/testdata/conversations (the same files the clients test).
func convExample(t *testing.T, name, status string) (params map[string]any, body any, headers map[string]any) {
	t.Helper()
	dir := "../authoring/testdata/conversations"
	if strings.Contains(name, "AnalyzeConversations") {
		dir = "../predict/testdata/conversations"
	}
	return exampleIn(t, dir, name, status)
}

// convImport imports body as project name and waits for the job.
func convImport(t *testing.T, r *emulatortest.Resource, name string, body any) {
	t.Helper()
	loc := r.Start202("POST", convProjects+"/"+name+"/:import"+v23, body)
	if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
		t.Fatalf("import %s: %v", name, st)
	}
}

// convTrainDeploy trains model m1 and deploys it as dep.
func convTrainDeploy(t *testing.T, r *emulatortest.Resource, name, dep string) {
	t.Helper()
	loc := r.Start202("POST", convProjects+"/"+name+"/:train"+v23, map[string]any{"modelLabel": "m1", "trainingMode": "standard"})
	if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
		t.Fatalf("train %s: %v", name, st)
	}
	loc = r.Start202("PUT", convProjects+"/"+name+"/deployments/"+dep+v23, map[string]any{"trainedModelLabel": "m1"})
	if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
		t.Fatalf("deploy %s: %v", name, st)
	}
}

// TestConversationsMatchSpecExamples drives the EmailApp story of the
// conversations authoring examples and compares every answer's shape and
// operation-location with them.
func TestConversationsMatchSpecExamples(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{JobDurations: map[string]time.Duration{emulator.KindTrain: 10 * time.Second}})
	base := convProjects + "/EmailApp"

	params, _, h := convExample(t, "2023-04-01_SuccessfulImportProject", "202")
	importBody := params["body"]
	code, hdr, body := r.Do("POST", base+"/:import"+v23, importBody)
	if code != 202 || len(body) != 0 {
		t.Fatalf("import: %d %s", code, body)
	}
	sameLocation(t, "import", hdr.Get("operation-location"), h, r.URL)
	if st := r.Wait(hdr.Get("operation-location"), time.Second); st["status"] != "succeeded" {
		t.Fatalf("import: %v", st)
	}

	params, _, h = convExample(t, "2023-04-01_SuccessfulTrainProject", "202")
	code, hdr, body = r.Do("POST", base+"/:train"+v23, params["body"])
	if code != 202 {
		t.Fatalf("train: %d %s", code, body)
	}
	trainLoc := hdr.Get("operation-location")
	sameLocation(t, "train", trainLoc, h, r.URL)
	r.Advance(3 * time.Second)
	_, _, b := r.Do("GET", trainLoc, nil)
	_, want, _ := convExample(t, "2023-04-01_SuccessfulGetTrainStatus", "200")
	sameShape(t, "train status (running)", b, want)
	if !strings.Contains(string(b), `"trainingMode":"standard"`) {
		t.Errorf("train status lacks the training mode: %s", b)
	}
	r.Advance(10 * time.Second)
	_, _, b = r.Do("GET", base+"/models"+v23, nil)
	_, want, _ = convExample(t, "2023-04-01_SuccessfulListModels", "200")
	sameShape(t, "list models", b, want)

	params, _, h = convExample(t, "2023-04-01_SuccessfulDeployProject", "202")
	for _, d := range []string{"production", "staging"} {
		code, hdr, body = r.Do("PUT", base+"/deployments/"+d+v23, map[string]any{"trainedModelLabel": "model1"})
		if code != 202 {
			t.Fatalf("deploy: %d %s", code, body)
		}
		if d == "production" {
			sameLocation(t, "deploy", hdr.Get("operation-location"), h, r.URL)
		}
		_, _, b = r.Do("GET", hdr.Get("operation-location"), nil)
	}
	if _, ok := params["body"].(map[string]any)["trainedModelLabel"]; !ok {
		t.Fatal("deploy example has no trainedModelLabel")
	}
	_, want, _ = convExample(t, "2023-04-01_SuccessfulGetDeploymentStatus", "200")
	sameShape(t, "deployment status", b, want)
	_, _, b = r.Do("GET", base+"/deployments"+v23, nil)
	_, want, _ = convExample(t, "2023-04-01_SuccessfulListDeployments", "200")
	sameShape(t, "list deployments", b, want)

	_, _, h = convExample(t, "2023-04-01_SuccessfulExportProject", "202")
	code, hdr, _ = r.Do("POST", base+"/:export"+v23+"&stringIndexType=Utf16CodeUnit", nil)
	if code != 202 {
		t.Fatalf("export: %d", code)
	}
	sameLocation(t, "export", hdr.Get("operation-location"), h, r.URL)
	_, _, b = r.Do("GET", hdr.Get("operation-location"), nil)
	_, want, _ = convExample(t, "2023-04-01_SuccessfulGetExportStatus", "200")
	sameShape(t, "export status", b, want)
	var ex map[string]any
	_ = json.Unmarshal(b, &ex)
	_, _, exported := r.Do("GET", ex["resultUrl"].(string), nil)
	sameShape(t, "export result vs the import example body", exported, importBody)
	// What was imported comes back (plus the None intent the service adds).
	for _, s := range []string{`"text":"Open Blake's email"`, `"regexKey":"UK Phone numbers"`, `"language":"en-gb"`, `{"category":"None"}`, `"multilingual":true`} {
		if !strings.Contains(string(exported), s) {
			t.Errorf("export lacks %s: %s", s, exported)
		}
	}

	// A project without settings, trained and deployed, for the
	// create/get/list examples (theirs have no settings).
	params, _, _ = convExample(t, "2023-04-01_SuccessfulCreateProject", "201")
	code, _, b = r.Do("PATCH", convProjects+"/myproject"+v23, params["body"])
	_, want, _ = convExample(t, "2023-04-01_SuccessfulCreateProject", "201")
	if code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	sameShape(t, "create project (201)", b, want)
	code, _, _ = r.Do("PATCH", base+v23, map[string]any{"settings": map[string]any{}})
	if code != 200 {
		t.Fatalf("clear settings: %d", code)
	}
	_, _, b = r.Do("GET", base+v23, nil)
	_, want, _ = convExample(t, "2023-04-01_SuccessfulCreateProject", "200")
	sameShape(t, "get trained and deployed project (200)", b, want)
	// The list example's projects were never trained: list a resource
	// holding only the new one.
	r2 := emulatortest.Start(t, nil)
	if code, _, b = r2.Do("PATCH", convProjects+"/myproject"+v23, params["body"]); code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	_, _, b = r2.Do("GET", convProjects+v23, nil)
	_, want, _ = convExample(t, "2023-04-01_SuccessfulListProjects", "200")
	sameShape(t, "list projects", b, want)
	if _, _, b = r.Do("GET", convProjects+v23, nil); !strings.Contains(string(b), `"projectName":"EmailApp"`) || !strings.Contains(string(b), `"projectName":"myproject"`) {
		t.Errorf("list projects: %s", b)
	}
	// Text projects are another namespace.
	if _, _, b = r.Do("GET", projects+v23, nil); strings.Contains(string(b), "EmailApp") {
		t.Errorf("a conversation project is listed as a text project: %s", b)
	}

	_, _, h = convExample(t, "2023-04-01_SuccessfulDeleteProject", "202")
	code, hdr, _ = r.Do("DELETE", convProjects+"/myproject"+v23, nil)
	if code != 202 {
		t.Fatalf("delete: %d", code)
	}
	sameLocation(t, "delete project", hdr.Get("operation-location"), h, r.URL)
	r.Wait(hdr.Get("operation-location"), time.Second)
	if code, _, b = r.Do("GET", convProjects+"/myproject"+v23, nil); code != 404 {
		t.Fatalf("GET a deleted project: %d %s", code, b)
	}
}

// musicProject is a small CLU project for the runtime example: three
// intents and a learned Media.Artist entity.
func musicProject(name string) map[string]any {
	utt := func(text, intent string, ents ...map[string]any) map[string]any {
		if ents == nil {
			ents = []map[string]any{}
		}
		return map[string]any{"text": text, "intent": intent, "dataset": "Train", "entities": ents}
	}
	// artist labels name in text (ASCII: byte offsets are UTF-16 offsets).
	artist := func(text, name string) map[string]any {
		return map[string]any{"category": "Media.Artist", "offset": strings.Index(text, name), "length": len(name)}
	}
	return map[string]any{
		"projectFileVersion": "2023-04-01", "stringIndexType": "Utf16CodeUnit",
		"metadata": map[string]any{"projectKind": "Conversation", "projectName": name, "language": "en-us", "multilingual": false},
		"assets": map[string]any{"projectKind": "Conversation",
			"intents":  []map[string]any{{"category": "PlayMusic"}, {"category": "SearchCreativeWork"}, {"category": "AddToPlaylist"}},
			"entities": []map[string]any{{"category": "Media.Artist"}},
			"utterances": []map[string]any{
				utt("play Sussudio by Phil Collins", "PlayMusic", artist("play Sussudio by Phil Collins", "Phil Collins")),
				utt("play something from Adele tonight", "PlayMusic", artist("play something from Adele tonight", "Adele")),
				utt("find the movie The Air Up There", "SearchCreativeWork"),
				utt("search for the book about the night sky", "SearchCreativeWork"),
				utt("add this song to my workout playlist", "AddToPlaylist"),
				utt("put Adele on my road trip playlist", "AddToPlaylist", artist("put Adele on my road trip playlist", "Adele")),
			}},
	}
}

// TestConversationRuntimeMatchesExample trains a small CLU project and
// answers the official Conversation runtime example: same shape, the
// example's top intent and its entity at the example's offset.
func TestConversationRuntimeMatchesExample(t *testing.T) {
	r := emulatortest.Start(t, nil)
	convImport(t, r, "Music", musicProject("Music"))
	convTrainDeploy(t, r, "Music", "production")

	params, want, _ := convExample(t, "2022-05-01_SuccessfulAnalyzeConversations", "200")
	req := params["body"].(map[string]any)
	p := req["parameters"].(map[string]any)
	p["projectName"], p["deploymentName"] = "Music", "production"
	code, _, b := r.Do("POST", "/language/:analyze-conversations"+v23, req)
	if code != 200 {
		t.Fatalf("analyze: %d %s", code, b)
	}
	sameShape(t, "conversation result", b, want)
	var got struct {
		Result struct {
			Prediction struct {
				TopIntent string `json:"topIntent"`
				Intents   []struct {
					Category string  `json:"category"`
					Score    float64 `json:"confidenceScore"`
				} `json:"intents"`
				Entities []struct {
					Category, Text string
					Offset, Length int
				} `json:"entities"`
			} `json:"prediction"`
		} `json:"result"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	pr := got.Result.Prediction
	if pr.TopIntent != "PlayMusic" || pr.Intents[0].Category != "PlayMusic" || len(pr.Intents) != 4 {
		t.Errorf("prediction = %+v", pr)
	}
	if len(pr.Entities) != 1 || pr.Entities[0].Category != "Media.Artist" || pr.Entities[0].Text != "Phil Collins" || pr.Entities[0].Offset != 29 || pr.Entities[0].Length != 12 {
		t.Errorf("entities = %+v, want Media.Artist \"Phil Collins\" at 29+12 as in the example", pr.Entities)
	}
	// Deterministic: the same question gives the same bytes.
	if _, _, b2 := r.Do("POST", "/language/:analyze-conversations"+v23, req); string(b2) != string(b) {
		t.Errorf("two answers differ:\n%s\n%s", b, b2)
	}
}

// TestEntityComponents: list, regex and prebuilt components, offsets in
// each string index type, and the longest overlap winning.
func TestEntityComponents(t *testing.T) {
	r := emulatortest.Start(t, nil)
	proj := map[string]any{
		"projectFileVersion": "2023-04-01", "stringIndexType": "Utf16CodeUnit",
		"metadata": map[string]any{"projectKind": "Conversation", "projectName": "Travel", "language": "en-us", "multilingual": true},
		"assets": map[string]any{"projectKind": "Conversation",
			"intents": []map[string]any{{"category": "BookFlight"}, {"category": "Cancel"}},
			"entities": []map[string]any{
				{"category": "City", "list": map[string]any{"sublists": []map[string]any{
					{"listKey": "New York", "synonyms": []map[string]any{{"language": "en-us", "values": []string{"NYC", "big apple"}}}},
					{"listKey": "Zürich", "synonyms": []map[string]any{{"language": "de-de", "values": []string{"Zuerich"}}}}}}},
				{"category": "Booking", "regex": map[string]any{"expressions": []map[string]any{{"regexKey": "ref", "language": "en-us", "regexPattern": "/[A-Z]{3}[0-9]{3}/"}}}},
				{"category": "Count", "prebuilts": []map[string]any{{"category": "Quantity.Number"}}},
			},
			"utterances": []map[string]any{
				{"text": "book a flight to NYC", "intent": "BookFlight", "entities": []any{}},
				{"text": "ich möchte nach Zürich fliegen", "language": "de-de", "intent": "BookFlight", "entities": []any{}},
				{"text": "cancel booking ABC123", "intent": "Cancel", "entities": []any{}},
			}},
	}
	convImport(t, r, "Travel", proj)
	convTrainDeploy(t, r, "Travel", "prod")
	ask := func(text, sit string) map[string]any {
		code, _, b := r.Do("POST", "/language/:analyze-conversations"+v23, map[string]any{"kind": "Conversation",
			"analysisInput": map[string]any{"conversationItem": map[string]any{"id": "1", "participantId": "u", "text": text}},
			"parameters":    map[string]any{"projectName": "Travel", "deploymentName": "prod", "stringIndexType": sit}})
		if code != 200 {
			t.Fatalf("%q: %d %s", text, code, b)
		}
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out["result"].(map[string]any)["prediction"].(map[string]any)
	}
	p := ask("please cancel booking XYZ789 for 2 people", "Utf16CodeUnit")
	if p["topIntent"] != "Cancel" {
		t.Errorf("top intent %v", p["topIntent"])
	}
	got := string(mustJSON(t, p["entities"]))
	for _, want := range []string{`"category":"Booking","confidenceScore":1,"extraInformation":[{"extraInformationKind":"RegexKey","key":"ref",`,
		`"length":6,"offset":22,"text":"XYZ789"`, `{"category":"Count","confidenceScore":1,"length":1,"offset":33,"text":"2"}`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("entities %s lack %s", got, want)
		}
	}
	// "😀" is two UTF-16 units and one code point: offsets differ by unit.
	for sit, off := range map[string]float64{"Utf16CodeUnit": 17, "TextElement_V8": 16, "UnicodeCodePoint": 16} {
		p = ask("😀 fly me to the big apple", sit)
		ents := p["entities"].([]any)
		if len(ents) != 1 || ents[0].(map[string]any)["offset"] != off || ents[0].(map[string]any)["text"] != "big apple" {
			t.Errorf("%s: entities %v, want big apple at %v", sit, ents, off)
		}
		if !strings.Contains(string(mustJSON(t, ents)), `"key":"New York"`) {
			t.Errorf("list match without its list key: %v", ents)
		}
	}
	if p["topIntent"] != "BookFlight" {
		t.Errorf("multilingual: top intent %v", p["topIntent"])
	}
}

// TestOrchestrationRoutesLikeTheExample builds the example's world: a rail
// CLU project and an orchestration project routing Rail to it, Tree to
// question answering (not emulated) and None nowhere.
func TestOrchestrationRoutesLikeTheExample(t *testing.T) {
	r := emulatortest.Start(t, nil)
	utt := func(text, intent string) map[string]any {
		return map[string]any{"text": text, "intent": intent, "entities": []any{}}
	}
	convImport(t, r, "RailCLU", map[string]any{
		"projectFileVersion": "2023-04-01", "stringIndexType": "Utf16CodeUnit",
		"metadata": map[string]any{"projectKind": "Conversation", "projectName": "RailCLU", "language": "en-gb"},
		"assets": map[string]any{"projectKind": "Conversation",
			"intents": []map[string]any{{"category": "Timetable"}, {"category": "Locomotive"}},
			"utterances": []map[string]any{utt("trains from Leeds to York", "Timetable"), utt("when is the next train from Bath", "Timetable"),
				utt("what engine pulls the Flying Scotsman", "Locomotive")}},
	})
	orch := map[string]any{
		"projectFileVersion": "2023-04-01", "stringIndexType": "Utf16CodeUnit",
		"metadata": map[string]any{"projectKind": "Orchestration", "projectName": "Router", "language": "en-gb"},
		"assets": map[string]any{"projectKind": "Orchestration",
			"intents": []map[string]any{
				{"category": "Rail", "orchestration": map[string]any{"targetProjectKind": "Conversation", "conversationOptions": map[string]any{"projectName": "RailCLU", "deploymentName": "production"}}},
				{"category": "Tree", "orchestration": map[string]any{"targetProjectKind": "QuestionAnswering", "questionAnsweringOptions": map[string]any{"projectName": "TreesKB"}}},
				{"category": "None"}},
			"utterances": []map[string]any{utt("trains to London", "Rail"), utt("rail timetable", "Rail"), utt("how tall is an oak tree", "Tree")}},
	}
	convImport(t, r, "Router", orch)
	convTrainDeploy(t, r, "Router", "production")

	params, want, _ := convExample(t, "2023-04-01_SuccessfulAnalyzeConversationsArbitration", "200")
	req := params["body"].(map[string]any)
	p := req["parameters"].(map[string]any)
	p["projectName"], p["deploymentName"] = "Router", "production"
	// The target CLU project is not deployed yet: a clear refusal.
	code, _, b := r.Do("POST", "/language/:analyze-conversations"+v23, req)
	if code != 404 && code != 400 || !strings.Contains(string(b), "RailCLU") {
		t.Fatalf("route to an undeployed project: %d %s", code, b)
	}
	convTrainDeploy(t, r, "RailCLU", "production")
	code, _, b = r.Do("POST", "/language/:analyze-conversations"+v23, req)
	if code != 200 {
		t.Fatalf("analyze: %d %s", code, b)
	}
	sameShape(t, "orchestration result", b, want)
	for _, s := range []string{`"topIntent":"Rail"`, `"projectKind":"Orchestration"`, `"topIntent":"Timetable"`, `"targetProjectKind":"NonLinked"`, `"targetProjectKind":"QuestionAnswering"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("result lacks %s: %s", s, b)
		}
	}
	// A question-answering route gets no result (not emulated).
	req["analysisInput"].(map[string]any)["conversationItem"].(map[string]any)["text"] = "how tall is a tree"
	_, _, b = r.Do("POST", "/language/:analyze-conversations"+v23, req)
	if !regexp.MustCompile(`"topIntent":"Tree".*"Tree":\{"confidenceScore":[0-9.]+,"targetProjectKind":"QuestionAnswering"\}`).Match(b) {
		t.Errorf("question answering route: %s", b)
	}
}

// TestConversationImportRefusesBadInput: each bad project names its
// problem.
func TestConversationImportRefusesBadInput(t *testing.T) {
	r := emulatortest.Start(t, nil)
	for _, tt := range []struct {
		name string
		mod  func(p map[string]any)
		want string
	}{
		{"offset", func(p map[string]any) {
			p["assets"].(map[string]any)["utterances"].([]map[string]any)[0]["entities"] = []map[string]any{{"category": "Media.Artist", "offset": 20, "length": 50}}
		}, "outside the text"},
		{"intent", func(p map[string]any) {
			p["assets"].(map[string]any)["utterances"].([]map[string]any)[0]["intent"] = "Nope"
		}, "undeclared intent"},
		{"kind", func(p map[string]any) { p["metadata"].(map[string]any)["projectKind"] = "CustomEntityRecognition" }, "not Conversation or Orchestration"},
		{"language", func(p map[string]any) {
			p["assets"].(map[string]any)["utterances"].([]map[string]any)[0]["language"] = "fr"
		}, "not multilingual"},
	} {
		p := musicProject("Music")
		tt.mod(p)
		code, _, b := r.Do("POST", convProjects+"/Music/:import"+v23, p)
		if code != 400 || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s: %d %s, want 400 with %q", tt.name, code, b, tt.want)
		}
	}
	code, _, b := r.Do("POST", convProjects+"/Music/:train"+v23, map[string]any{"modelLabel": "m"})
	if code != 404 {
		t.Errorf("train a missing project: %d %s", code, b)
	}
	convImport(t, r, "Music", musicProject("Music"))
	if code, _, b = r.Do("POST", convProjects+"/Music/:train"+v23, map[string]any{"modelLabel": "m"}); code != 400 || !strings.Contains(string(b), "trainingMode") {
		t.Errorf("train without a mode: %d %s", code, b)
	}
}

// TestConversationsMatchMoreSpecExamples drives the models, jobs,
// deployments and global operations of the conversations authoring API on
// the Music project and compares each answer (and operation-location)
// with its official example.
func TestConversationsMatchMoreSpecExamples(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{JobDurations: map[string]time.Duration{emulator.KindTrain: 10 * time.Second, emulator.KindLoadSnapshot: time.Second}})
	// The examples' project is EmailApp: the Music project under that name.
	base := convProjects + "/EmailApp"
	proj := musicProject("EmailApp")
	proj["metadata"].(map[string]any)["description"] = "music requests"
	// Two Test utterances, the first without entities (as the evaluation
	// example's first result), the second with one.
	utts := proj["assets"].(map[string]any)["utterances"].([]map[string]any)
	utts[2]["dataset"], utts[5]["dataset"] = "Test", "Test"
	convImport(t, r, "EmailApp", proj)
	train := func(label, mode string) string {
		return r.Start202("POST", base+"/:train"+v23, map[string]any{"modelLabel": label, "trainingMode": mode, "evaluationOptions": map[string]any{"kind": "manual"}})
	}
	done := func(what, loc string) {
		t.Helper()
		if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
			t.Fatalf("%s: %v", what, st)
		}
	}
	get := func(path string) []byte {
		t.Helper()
		code, _, b := r.Do("GET", path, nil)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, b)
		}
		return b
	}
	done("train model1", train("model1", "advanced"))

	// Cancel a training job, then train model2 to the end.
	_, _, h := convExample(t, "2023-04-01_SuccessfulCancelTrainingJob", "202")
	trainLoc := train("model2", "standard")
	jobID := trainLoc[strings.LastIndex(trainLoc, "/")+1 : strings.Index(trainLoc, "?")]
	code, hdr, b := r.Do("POST", base+"/train/jobs/"+jobID+"/:cancel"+v23, nil)
	if code != 202 {
		t.Fatalf("cancel: %d %s", code, b)
	}
	sameLocation(t, "cancel training", hdr.Get("operation-location"), h, r.URL)
	done("cancel", hdr.Get("operation-location"))
	if st := r.Wait(trainLoc, time.Second); st["status"] != "cancelled" {
		t.Fatalf("cancelled training job: %v", st)
	}
	done("train model2", train("model2", "standard"))
	b = get(base + "/train/jobs" + v23)
	_, want, _ := convExample(t, "2023-04-01_SuccessfulListTrainingJobs", "200")
	sameShape(t, "list training jobs", b, want)
	if !strings.Contains(string(b), `"modelLabel":"model1","trainingConfigVersion":"2022-05-01","trainingMode":"advanced"`) {
		t.Errorf("training jobs lack model1's advanced mode: %s", b)
	}

	// Evaluation of the Test utterances by what the Train ones teach.
	b = get(base + "/models/model1/evaluation/summary-result" + v23)
	_, want, _ = convExample(t, "2023-04-01_SuccessfulGetModelEvaluationSummary", "200")
	// The example's split is a percentage one; a manual split has no
	// percentages.
	want.(map[string]any)["evaluationOptions"] = map[string]any{"kind": "manual"}
	sameShape(t, "evaluation summary", b, want)
	for _, s := range []string{`"SearchCreativeWork":{"SearchCreativeWork":{"normalizedValue":100,"rawValue":1}}`, `"evaluationOptions":{"kind":"manual"}`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("summary lacks %s: %s", s, b)
		}
	}
	b = get(base + "/models/model1/evaluation/result" + v23 + "&stringIndexType=Utf16CodeUnit&maxpagesize=1")
	_, want, _ = convExample(t, "2023-04-01_SuccessfulGetModelEvaluation", "200")
	sameShape(t, "evaluation results", b, want)
	if !strings.Contains(string(b), `"text":"find the movie The Air Up There"`) || !strings.Contains(string(b), `"expectedIntent":"SearchCreativeWork","predictedIntent":"SearchCreativeWork"`) {
		t.Errorf("first evaluation result: %s", b)
	}
	b = get(base + "/models/model1/evaluation/result" + v23 + "&stringIndexType=Utf16CodeUnit&skip=1")
	if !strings.Contains(string(b), `"predictedEntities":[{"category":"Media.Artist","offset":4,"length":5}]`) {
		t.Errorf("second evaluation result lacks Adele at 4+5: %s", b)
	}

	// Load snapshot: running, then the project's assets are the model's.
	_, _, h = convExample(t, "2023-04-01_SuccessfulLoadSnapshot", "202")
	code, hdr, b = r.Do("POST", base+"/models/model1/:load-snapshot"+v23, nil)
	if code != 202 {
		t.Fatalf("load snapshot: %d %s", code, b)
	}
	sameLocation(t, "load snapshot", hdr.Get("operation-location"), h, r.URL)
	_, want, _ = convExample(t, "2023-04-01_SuccessfulGetLoadSnapshotStatus", "200")
	sameShape(t, "load snapshot status", get(hdr.Get("operation-location")), want)
	done("load snapshot", hdr.Get("operation-location"))

	// Deployments: get, swap, delete.
	done("deploy production", r.Start202("PUT", base+"/deployments/production"+v23, map[string]any{"trainedModelLabel": "model1"}))
	done("deploy staging", r.Start202("PUT", base+"/deployments/staging"+v23, map[string]any{"trainedModelLabel": "model2"}))
	_, want, _ = convExample(t, "2023-04-01_SuccessfulGetDeployment", "200")
	sameShape(t, "get deployment", get(base+"/deployments/staging"+v23), want)
	swap := r.Start202("POST", base+"/deployments/:swap"+v23, map[string]any{"firstDeploymentName": "production", "secondDeploymentName": "staging"})
	done("swap", swap)
	_, want, _ = convExample(t, "2023-04-01_SuccessfulGetSwapDeploymentsStatus", "200")
	sameShape(t, "swap status", get(swap), want)
	if b = get(base + "/deployments/production" + v23); !strings.Contains(string(b), `"modelId":"model2-`) {
		t.Errorf("production after the swap: %s", b)
	}
	_, _, h = convExample(t, "2023-04-01_SuccessfulDeleteDeployment", "202")
	code, hdr, _ = r.Do("DELETE", base+"/deployments/staging"+v23, nil)
	if code != 202 {
		t.Fatalf("delete deployment: %d", code)
	}
	sameLocation(t, "delete deployment", hdr.Get("operation-location"), h, r.URL)
	done("delete deployment", hdr.Get("operation-location"))
	if code, _, _ = r.Do("GET", base+"/deployments/staging"+v23, nil); code != 404 {
		t.Errorf("GET a deleted deployment: %d", code)
	}
	if code, _, b = r.Do("DELETE", base+"/models/model2"+v23, nil); code != 204 || len(b) != 0 {
		t.Errorf("delete model: %d %s", code, b)
	}
	if code, _, _ = r.Do("GET", base+"/models/model2"+v23, nil); code != 404 {
		t.Errorf("GET a deleted model: %d", code)
	}
	_, want, _ = convExample(t, "2023-04-01_SuccessfulGetProject", "200")
	sameShape(t, "get project", get(base+v23), want)

	// Global lists, with the conversation kinds.
	for _, tt := range []struct{ path, example string }{
		{"/global/languages" + v23 + "&projectKind=Conversation", "2023-04-01_SuccessfulGetSupportedLanguages"},
		{"/global/prebuilt-entities" + v23 + "&language=en", "2023-04-01_SuccessfulGetSupportedPrebuiltEntities"},
		{"/global/training-config-versions" + v23 + "&projectKind=Conversation", "2023-04-01_SuccessfulGetSupportedTrainingConfigVersions"},
	} {
		_, want, _ = convExample(t, tt.example, "200")
		sameShape(t, tt.example, get(convProjects+tt.path), want)
	}
	if code, _, b = r.Do("GET", convProjects+"/global/languages"+v23+"&projectKind=CustomEntityRecognition", nil); code != 400 || !strings.Contains(string(b), "Conversation, Orchestration") {
		t.Errorf("a text kind on the conversations API: %d %s", code, b)
	}
}

// TestConversationsAPIVersion20251101: the conversations API answers the
// newer GA version in its examples' shape (less assignedResources: the
// emulator assigns no other resources); the text API does not have it.
func TestConversationsAPIVersion20251101(t *testing.T) {
	r := emulatortest.Start(t, nil)
	const v25 = "?api-version=2025-11-01"
	base := convProjects + "/EmailApp"
	code, _, b := r.Do("POST", base+"/:import"+v25, musicProject("EmailApp"))
	if code != 202 {
		t.Fatalf("import: %d %s", code, b)
	}
	params, _, h := convExample(t, "2025-11-01_SuccessfulTrainProject", "202")
	code, hdr, b := r.Do("POST", base+"/:train"+v25, params["body"])
	if code != 202 {
		t.Fatalf("train: %d %s", code, b)
	}
	sameLocation(t, "train", hdr.Get("operation-location"), h, r.URL)
	if st := r.Wait(hdr.Get("operation-location"), time.Second); st["status"] != "succeeded" {
		t.Fatalf("train: %v", st)
	}
	for _, d := range []string{"production", "staging"} {
		if st := r.Wait(r.Start202("PUT", base+"/deployments/"+d+v25, map[string]any{"trainedModelLabel": "model1"}), time.Second); st["status"] != "succeeded" {
			t.Fatalf("deploy %s: %v", d, st)
		}
	}
	// The emulator assigns no other resources: no assignedResources.
	strip := func(ds ...any) {
		for _, d := range ds {
			delete(d.(map[string]any), "assignedResources")
		}
	}
	_, want, _ := convExample(t, "2025-11-01_SuccessfulGetDeployment", "200")
	strip(want)
	_, _, b = r.Do("GET", base+"/deployments/staging"+v25, nil)
	sameShape(t, "get deployment 2025-11-01", b, want)
	_, want, _ = convExample(t, "2025-11-01_SuccessfulListDeployments", "200")
	strip(want.(map[string]any)["value"].([]any)...)
	_, _, b = r.Do("GET", base+"/deployments"+v25, nil)
	sameShape(t, "list deployments 2025-11-01", b, want)
	if code, _, b = r.Do("GET", projects+v25, nil); code != 400 || !strings.Contains(string(b), "Unsupported api-version '2025-11-01'") {
		t.Errorf("text API at 2025-11-01: %d %s", code, b)
	}
}

// TestConversationsAPIVersionsOption: a resource limited to some
// conversations api-versions refuses the others with the 400 of an
// unsupported api-version (naming those it serves), leaves the text API
// alone, and records the version each request carried.
func TestConversationsAPIVersionsOption(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{ConversationsAPIVersions: []string{"2023-04-01"}})
	for _, tt := range []struct {
		path string
		want int
		body string
	}{
		{convProjects + "?api-version=2025-11-01", 400, "Unsupported api-version '2025-11-01'. Supported versions: 2023-04-01."},
		{convProjects + "?api-version=2023-04-01", 200, ""},
		{convProjects + "?api-version=2022-05-01", 400, "Unsupported api-version '2022-05-01'"},
		{projects + "?api-version=2022-05-01", 200, ""},
	} {
		code, _, b := r.Do("GET", tt.path, nil)
		if code != tt.want || !strings.Contains(string(b), tt.body) {
			t.Errorf("GET %s: %d %s, want %d with %q", tt.path, code, b, tt.want, tt.body)
		}
	}
	var got []string
	for _, q := range r.Server.Requests() {
		got = append(got, fmt.Sprintf("%s %d", q.APIVersion, q.Status))
	}
	if want := []string{"2025-11-01 400", "2023-04-01 200", "2022-05-01 400", "2022-05-01 200"}; !slices.Equal(got, want) {
		t.Errorf("recorded versions %q, want %q", got, want)
	}
	for _, bad := range [][]string{{}, {"2024-11-15-preview"}} {
		if _, err := emulator.New(emulator.Options{Keys: []string{"k"}, ConversationsAPIVersions: bad}); err == nil {
			t.Errorf("ConversationsAPIVersions %q accepted", bad)
		}
	}
}
