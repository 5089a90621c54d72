package langsync_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/langsync"
)

func TestValidateNames(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name     string
		in       string
		project  bool // ValidateProjectName accepts it
		resource bool // ValidateResourceName accepts it
		want     string
	}{
		{"Simple", "Tickets", true, true, ""},
		{"Dots", "v1.2", true, false, ""},
		{"DotDot", "..", false, false, "only dots"},
		{"Traversal", "a/../../b", false, false, `has '/' at offset 1`},
		{"TooLong", long, false, false, "is 300 characters long: the limit is 50"},
		{"Empty", "", false, false, "is empty"},
		{"Global", "global", false, true, "reserved"},
		{"Space", "my project", false, false, "has ' '"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := langsync.ValidateProjectName(tt.in)
			if (err == nil) != tt.project {
				t.Fatalf("ValidateProjectName = %v, want ok=%v", err, tt.project)
			}
			if err != nil {
				if !errors.Is(err, langsync.ErrInvalidName) {
					t.Errorf("%v is not ErrInvalidName", err)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %q does not say %q", err, tt.want)
				}
				if len(err.Error()) > 150 {
					t.Errorf("error repeats the whole name: %q", err)
				}
			}
			if err := langsync.ValidateResourceName(tt.in); (err == nil) != tt.resource {
				t.Errorf("ValidateResourceName = %v, want ok=%v", err, tt.resource)
			}
		})
	}
}
