package emulator_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// TestHeaderSpelling reads a raw 202 off the socket: the service's headers
// are lowercase (operation-location, apim-request-id).
func TestHeaderSpelling(t *testing.T) {
	r := emulatortest.Start(t, nil)
	r.Load(emulatortest.SingleLabelProject("P", "docs", 3))
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s/P/:export%s&stringIndexType=Utf16CodeUnit HTTP/1.1\r\nHost: langsync.example:8443\r\nOcp-Apim-Subscription-Key: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", projects, v23, r.Key)
	var head []string
	sc := bufio.NewScanner(conn)
	for sc.Scan() && sc.Text() != "" {
		head = append(head, sc.Text())
	}
	got := strings.Join(head, "\n")
	for _, want := range []string{"HTTP/1.1 202 Accepted", "\noperation-location: http://langsync.example:8443/language/authoring/analyze-text/projects/P/export/jobs/", "\napim-request-id: "} {
		if !strings.Contains(got, want) {
			t.Fatalf("response head lacks %q:\n%s", want, got)
		}
	}
}
