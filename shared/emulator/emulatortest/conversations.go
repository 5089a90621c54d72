package emulatortest

import (
	"net/http"
	"time"
)

const convProjects = "/language/authoring/analyze-conversations/projects/"

// LoadConversation imports an exported conversation project (CLU or
// orchestration; body is its JSON, bytes or a value) as project name and
// waits for the import job.
func (r *Resource) LoadConversation(name string, body any) {
	r.tb.Helper()
	loc := r.Start202(http.MethodPost, convProjects+name+"/:import?api-version="+APIVersion, body)
	if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
		r.tb.Fatalf("emulatortest: importing %s: %v", name, st)
	}
}

// TrainAndDeployConversation trains model label (standard mode) on a
// conversation project and deploys it as deployment, waiting for both.
func (r *Resource) TrainAndDeployConversation(project, label, deployment string) {
	r.tb.Helper()
	loc := r.Start202(http.MethodPost, convProjects+project+"/:train?api-version="+APIVersion, map[string]any{"modelLabel": label, "trainingMode": "standard"})
	if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
		r.tb.Fatalf("emulatortest: training %s: %v", project, st)
	}
	loc = r.Start202(http.MethodPut, convProjects+project+"/deployments/"+deployment+"?api-version="+APIVersion, map[string]any{"trainedModelLabel": label})
	if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
		r.tb.Fatalf("emulatortest: deploying %s: %v", project, st)
	}
}

// AnalyzeConversation asks deployment of a CLU or orchestration project
// to analyze text (POST :analyze-conversations, kind Conversation) and
// returns the response body; a status other than 200 fails the test.
func (r *Resource) AnalyzeConversation(project, deployment, text string) string {
	r.tb.Helper()
	code, _, b := r.Do(http.MethodPost, "/language/:analyze-conversations?api-version="+APIVersion, map[string]any{"kind": "Conversation",
		"analysisInput": map[string]any{"conversationItem": map[string]any{"id": "1", "participantId": "u", "text": text}},
		"parameters":    map[string]any{"projectName": project, "deploymentName": deployment}})
	if code != http.StatusOK {
		r.tb.Fatalf("emulatortest: analyzing with %s/%s on %s: %d %s", project, deployment, r.URL, code, b)
	}
	return string(b)
}
