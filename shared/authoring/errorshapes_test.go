package authoring

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// TestErrorBodyShapes decodes every error shape of
// docs/reference/language-rest.md#error-body, and the variants the service
// or a gateway may send, without losing error.code and error.message. (The
// official examples in testdata hold no error payload: they are all
// success answers.)
func TestErrorBodyShapes(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		code, msg   string
		target      string
		details     []string // code=message of each detail
		inner       []string // code=message down the innererror chain
		innerDetail map[string]string
		requestID   string
	}{
		{name: "CodeAndMessage", body: `{"error":{"code":"ProjectNotFound","message":"The specified project was not found."}}`,
			code: "ProjectNotFound", msg: "The specified project was not found."},
		{name: "GatewayNumericString", body: `{"error":{"code":"401","message":"Access denied due to missing subscription key."}}`,
			code: "401", msg: "Access denied due to missing subscription key."},
		{name: "BareNumberCode", body: `{"error":{"code":429,"message":"Rate limit is exceeded."}}`, code: "429", msg: "Rate limit is exceeded."},
		{name: "Target", body: `{"error":{"code":"InvalidArgument","message":"Bad name.","target":"projectName"}}`,
			code: "InvalidArgument", msg: "Bad name.", target: "projectName"},
		{name: "DetailsArray", body: `{"error":{"code":"ProjectNotFound","message":"Not found.","details":[{"code":"ProjectNotFound","message":"Tickets"},{"code":"Other","message":"x","target":"t"}]}}`,
			code: "ProjectNotFound", msg: "Not found.", details: []string{"ProjectNotFound=Tickets", "Other=x"}},
		{name: "InnerErrorWithStringDetails", body: `{"error":{"code":"InvalidRequest","message":"Invalid Request.","innererror":{"code":"InvalidParameterValue","message":"Bad value.","details":{"field":"modelLabel"},"target":"modelLabel"}}}`,
			code: "InvalidRequest", msg: "Invalid Request.", inner: []string{"InvalidParameterValue=Bad value."}, innerDetail: map[string]string{"field": "modelLabel"}},
		{name: "InnerErrorNested", body: `{"error":{"code":"InvalidRequest","message":"Invalid Request.","innererror":{"code":"InvalidDocument","message":"outer","innererror":{"code":"EmptyRequest","message":"inner","innererror":{"code":"Deepest","message":"deepest"}}}}}`,
			code: "InvalidRequest", msg: "Invalid Request.", inner: []string{"InvalidDocument=outer", "EmptyRequest=inner", "Deepest=deepest"}},
		// The case: a non-string value in innererror.details used
		// to fail the whole decode (status=400 code="" msg="").
		{name: "InnerDetailsNonStringValues", body: `{"error":{"code":"InvalidRequest","message":"Invalid Request.","innererror":{"code":"InvalidParameterValue","message":"Bad split.","details":{"trainingSplitPercentage":90,"limits":{"min":1,"max":99},"allowed":["a","b"],"ok":false,"none":null,"name":"x"}}}}`,
			code: "InvalidRequest", msg: "Invalid Request.", inner: []string{"InvalidParameterValue=Bad split."},
			innerDetail: map[string]string{"trainingSplitPercentage": "90", "limits": `{"min":1,"max":99}`, "allowed": `["a","b"]`, "ok": "false", "none": "", "name": "x"}},
		{name: "InnerDetailsArray", body: `{"error":{"code":"InvalidRequest","message":"Invalid Request.","innererror":{"code":"InvalidDocument","message":"m","details":[{"id":"1"},"two",3]}}}`,
			code: "InvalidRequest", msg: "Invalid Request.", inner: []string{"InvalidDocument=m"}},
		{name: "InnerDetailsNumber", body: `{"error":{"code":"InvalidRequest","message":"Invalid Request.","innererror":{"code":"X","message":"m","details":7}}}`,
			code: "InvalidRequest", msg: "Invalid Request.", inner: []string{"X=m"}},
		{name: "DetailsObjectInsteadOfArray", body: `{"error":{"code":"Conflict","message":"Busy.","details":{"code":"TrainingRunning","message":"A job runs."}}}`,
			code: "Conflict", msg: "Busy.", details: []string{"TrainingRunning=A job runs."}},
		{name: "DetailsOfStringsAndNumbers", body: `{"error":{"code":"InvalidArgument","message":"Bad.","details":["first problem",42,{"code":"C","message":"M"},{"code":"D","message":{"en":"not a string"}}]}}`,
			code: "InvalidArgument", msg: "Bad.", details: []string{"=first problem", "=42", "C=M", `={"code":"D","message":{"en":"not a string"}}`}},
		{name: "DetailsWithNonStringInnerDetails", body: `{"error":{"code":"InvalidArgument","message":"Bad.","details":[{"code":"C","message":"M","innererror":{"code":"I","message":"IM","details":{"n":1}}}]}}`,
			code: "InvalidArgument", msg: "Bad.", details: []string{"C=M"}},
		{name: "CodeObject", body: `{"error":{"code":{"value":"Weird"},"message":"Still a message."}}`, code: `{"value":"Weird"}`, msg: "Still a message."},
		{name: "NullMembers", body: `{"error":{"code":"NotFound","message":"Gone.","target":null,"details":null,"innererror":null}}`, code: "NotFound", msg: "Gone."},
		{name: "UnknownMembers", body: `{"error":{"code":"Warning","message":"w","x-extra":{"a":[1,2]},"innererror":{"code":"I","message":"m","more":true}}}`,
			code: "Warning", msg: "w", inner: []string{"I=m"}},
		// Beyond what ErrorDetail models: a message that is not a string.
		// Code and message are still read on their own.
		{name: "MessageNotAString", body: `{"error":{"code":"InternalServerError","message":{"text":"boom"},"target":"t"}}`,
			code: "InternalServerError", msg: `{"text":"boom"}`, target: "t"},
		{name: "AzureCoreWithoutInnerCode", body: `{"error":{"code":"InvalidRequest","message":"Bad.","innererror":{"message":"only a message"}}}`,
			code: "InvalidRequest", msg: "Bad.", inner: []string{"=only a message"}},
		{name: "NotJSON", body: `<html>Bad Gateway</html>`, msg: "<html>Bad Gateway</html>"},
		{name: "HeaderCodeOnly", body: `{}`, code: "FromHeader", requestID: "hdr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if tt.requestID != "" {
					w.Header().Set("x-ms-error-code", "FromHeader")
				}
				w.Header().Set("apim-request-id", "req-1")
				writeJSON(w, 400, tt.body)
			})
			env := newTestClient(t, url, nil)
			_, err := env.client.GetProject(context.Background(), "Tickets")
			var re *ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("err %v, want a *ResponseError", err)
			}
			if re.StatusCode != 400 || re.Code != tt.code || re.Message != tt.msg || re.Target != tt.target || re.RequestID != "req-1" {
				t.Fatalf("status=%d code=%q msg=%q target=%q request=%q; want 400 %q %q %q", re.StatusCode, re.Code, re.Message, re.Target, re.RequestID, tt.code, tt.msg, tt.target)
			}
			var details []string
			for _, d := range re.Details {
				details = append(details, string(d.Code)+"="+d.Message)
			}
			if !reflect.DeepEqual(details, tt.details) {
				t.Fatalf("details %q, want %q", details, tt.details)
			}
			var inner []string
			for ie := re.InnerError; ie != nil; ie = ie.InnerError {
				inner = append(inner, string(ie.Code)+"="+ie.Message)
			}
			if !reflect.DeepEqual(inner, tt.inner) {
				t.Fatalf("inner chain %q, want %q", inner, tt.inner)
			}
			if tt.innerDetail != nil && !reflect.DeepEqual(re.InnerError.DetailStrings(), tt.innerDetail) {
				t.Fatalf("inner details %q, want %q", re.InnerError.DetailStrings(), tt.innerDetail)
			}
			if tt.code != "" && !strings.Contains(err.Error(), tt.code) || tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Error() %q lacks the code or message", err)
			}
		})
	}
}

// TestJobErrorsTolerant: a job state whose errors hold the same odd shapes
// still decodes, and the failure keeps its codes and messages.
func TestJobErrorsTolerant(t *testing.T) {
	_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, jobBody("failed", `,"errors":[{"code":"InvalidRequest","message":"Bad document.","details":"see docs","innererror":{"code":"InvalidDocument","message":"Document 7 is empty.","details":{"length":0}}}]`))
	})
	env := newTestClient(t, url, nil)
	_, err := env.client.Wait(context.Background(), langsync.Job{Kind: langsync.JobImport, Location: url + base + "/P/import/jobs/j1", Started: time.Now()}, nil)
	var je *JobError
	if !errors.As(err, &je) || len(je.Errors) != 1 {
		t.Fatalf("err %v, want a *JobError with one error", err)
	}
	e := je.Errors[0]
	if e.Code != "InvalidRequest" || e.Message != "Bad document." || e.InnerError == nil || e.InnerError.Code != "InvalidDocument" ||
		len(e.Details) != 1 || e.Details[0].Message != "see docs" || e.InnerError.DetailStrings()["length"] != "0" {
		t.Fatalf("job error %+v", e)
	}
	if !strings.Contains(err.Error(), "Document 7 is empty.") {
		t.Fatalf("err %q", err)
	}
}

// TestErrorDetailRoundTrip: a documented error re-encodes as it came,
// innererror.details with non-string values included.
func TestErrorDetailRoundTrip(t *testing.T) {
	for _, in := range []string{
		`{"code":"InvalidRequest","message":"m","target":"t","details":[{"code":"a","message":"b"}],"innererror":{"code":"c","message":"d","details":{"k":"v"},"target":"x","innererror":{"code":"e","message":"f"}}}`,
		`{"code":"InvalidRequest","message":"m","innererror":{"code":"c","message":"d","details":{"n":1,"o":{"p":[true]}}}}`,
		`{"code":"401","message":"m","details":[]}`,
	} {
		var e ErrorDetail
		if err := json.Unmarshal([]byte(in), &e); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, out, []byte(in)) {
			t.Fatalf("round trip\n got %s\nwant %s", out, in)
		}
	}
}
