package emulator_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// TestUnauthorizedMessages: the gateway answers a request without a key
// and one with a wrong key (or token) differently; both are 401 with the
// numeric-string code "401"
// (docs/reference/language-rest.md#http-status-mapping).
func TestUnauthorizedMessages(t *testing.T) {
	const (
		missing = "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
		invalid = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."
	)
	r := emulatortest.Start(t, &emulator.Options{Tokens: []string{"good-token"}})
	tests := []struct {
		name    string
		headers map[string]string
		status  int
		msg     string
	}{
		{"NoHeaders", nil, 401, missing},
		{"EmptyKeyHeader", map[string]string{"Ocp-Apim-Subscription-Key": ""}, 401, missing},
		{"EmptyBearer", map[string]string{"Authorization": "Bearer "}, 401, missing},
		{"OtherScheme", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, 401, missing},
		{"WrongKey", map[string]string{"Ocp-Apim-Subscription-Key": "not-the-key"}, 401, invalid},
		{"WrongToken", map[string]string{"Authorization": "Bearer bad-token"}, 401, invalid},
		{"RightKey", map[string]string{"Ocp-Apim-Subscription-Key": r.Key}, 200, ""},
		{"RightToken", map[string]string{"Authorization": "Bearer good-token"}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", r.URL+projects+v23, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			code, _, body := send(t, req)
			if code != tt.status {
				t.Fatalf("status %d, want %d; body %s", code, tt.status, body)
			}
			if tt.status != 401 {
				return
			}
			if c, inner, msg := errorOf(t, body); c != "401" || inner != "" || msg != tt.msg {
				t.Fatalf("error %q/%q %q, want \"401\" %q", c, inner, msg, tt.msg)
			}
		})
	}
}

// TestReservedProjectName: creating a project named global (PATCH or
// import, in any case) is a 400 whose body names the problem; reading one
// is a route miss, as only the global operations live there.
func TestReservedProjectName(t *testing.T) {
	r := emulatortest.Start(t, nil)
	body := map[string]any{"projectKind": "CustomSingleLabelClassification", "storageInputContainerName": "docs", "language": "en", "projectName": "global"}
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"Patch", "PATCH", projects + "/global" + v23, body, 400, "InvalidRequest"},
		{"PatchOtherCase", "PATCH", projects + "/Global" + v23, body, 400, "InvalidRequest"},
		{"Patch2022", "PATCH", projects + "/global?api-version=2022-05-01", body, 400, "InvalidRequest"},
		{"Import", "POST", projects + "/global/:import" + v23, map[string]any{}, 400, "InvalidRequest"},
		{"Get", "GET", projects + "/global" + v23, nil, 404, "404"},
		{"Delete", "DELETE", projects + "/global" + v23, nil, 404, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, b := r.Do(tt.method, tt.path, tt.body)
			if code != tt.status {
				t.Fatalf("status %d, want %d; body %s", code, tt.status, b)
			}
			c, inner, _ := errorOf(t, b)
			if c != tt.code {
				t.Fatalf("code %q, want %q; body %s", c, tt.code, b)
			}
			if tt.status == 400 && (inner != "InvalidParameterValue" || !strings.Contains(string(b), "reserved") || !strings.Contains(strings.ToLower(string(b)), `\"global\"`)) {
				t.Fatalf("body %s does not say that the name global is reserved", b)
			}
		})
	}
	if code, _, b := r.Do("GET", projects+v23, nil); code != 200 || strings.Contains(string(b), "projectName") {
		t.Fatalf("a project was created: %d %s", code, b)
	}
}
