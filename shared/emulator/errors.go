package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is the service's Error object
// (docs/reference/language-rest.md#error-body).
type apiError struct {
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	Target     string      `json:"target,omitempty"`
	Details    []apiError  `json:"details,omitempty"`
	InnerError *innerError `json:"innererror,omitempty"`
}

type innerError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

// httpError is an error answered with a status and an {"error":{...}} body.
type httpError struct {
	Status int
	Body   apiError
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Body.Code, e.Body.Message)
}

func errBadRequest(inner, format string, a ...any) *httpError {
	msg := fmt.Sprintf(format, a...)
	return &httpError{Status: http.StatusBadRequest, Body: apiError{
		Code: "InvalidRequest", Message: "Invalid Request.",
		InnerError: &innerError{Code: inner, Message: msg},
	}}
}

func errProjectNotFound(name string) *httpError {
	return &httpError{Status: http.StatusNotFound, Body: apiError{
		Code: "ProjectNotFound", Message: "The specified project was not found.",
		Details: []apiError{{Code: "ProjectNotFound", Message: name}},
	}}
}

func errNotFound(format string, a ...any) *httpError {
	return &httpError{Status: http.StatusNotFound, Body: apiError{Code: "NotFound", Message: fmt.Sprintf(format, a...)}}
}

func errOperationNotFound(id string) *httpError {
	return &httpError{Status: http.StatusNotFound, Body: apiError{
		Code: "OperationNotFound", Message: "The specified operation was not found.",
		Details: []apiError{{Code: "OperationNotFound", Message: id}},
	}}
}

func errConflict(format string, a ...any) *httpError {
	return &httpError{Status: http.StatusConflict, Body: apiError{Code: "Conflict", Message: fmt.Sprintf(format, a...)}}
}

// errNoRoute is the gateway's answer for a path no operation matches.
func errNoRoute() *httpError {
	return &httpError{Status: http.StatusNotFound, Body: apiError{Code: "404", Message: "Resource not found"}}
}

// Gateway messages (docs/reference/language-rest.md#http-status-mapping):
// numeric-string codes.
const (
	msgUnauthorized = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."
	msgThrottled    = "Requests to the Authoring Operation under Azure AI Language API have exceeded call rate limit of your current Standard S pricing tier. Please retry after %d seconds. Please contact Azure support service if you would like to further increase the default rate limit."
)

func writeError(w http.ResponseWriter, e *httpError) {
	writeJSON(w, e.Status, map[string]apiError{"error": e.Body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // nextLink and resultUrl keep their '&'
	var b []byte
	if err := enc.Encode(v); err != nil {
		b = []byte(`{"error":{"code":"InternalServerError","message":"encoding the response failed"}}`)
		status = http.StatusInternalServerError
	} else {
		b = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// setRaw sets a header with the exact (lowercase) spelling the service uses
// on the wire; Header.Set would canonicalise it. Readers match either way.
func setRaw(h http.Header, key, value string) { h[key] = []string{value} }
