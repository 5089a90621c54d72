package authoring

import (
	"fmt"
	"strings"

	"github.com/langsync/langsync/shared/langsync"
)

// MaxNameLength is the documented limit for project, model and deployment
// names (the 2022-05-01 swagger allows 100 for projects; the docs say 50).
const MaxNameLength = langsync.MaxNameLength

// ValidateProjectName checks a project name against the documented rules
// (langsync.ValidateProjectName: letters, digits, '_', '.', '-'; 1 to 50
// characters; not only dots; not "global"). The error matches both
// ErrInvalidName and langsync.ErrInvalidName.
func ValidateProjectName(name string) error { return invalidName(langsync.ValidateProjectName(name)) }

// ValidateModelLabel checks a trained model label (same rules as projects,
// without the reserved word).
func ValidateModelLabel(label string) error { return invalidName(langsync.ValidateModelLabel(label)) }

// ValidateDeploymentName checks a deployment name (same rules as model
// labels).
func ValidateDeploymentName(name string) error {
	return invalidName(langsync.ValidateDeploymentName(name))
}

func invalidName(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidName, err)
}

// validateJobID checks a job id taken from the caller (cancel training):
// ids are opaque, but must stay one path segment.
func validateJobID(id string) error {
	if id == "" || strings.Trim(id, ".") == "" || strings.ContainsAny(id, "/\\?#%") || len(id) > 200 {
		return fmt.Errorf("%w: job id %q is not a single path segment", ErrInvalidName, id)
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%w: job id %q has a control or space character", ErrInvalidName, id)
		}
	}
	return nil
}
