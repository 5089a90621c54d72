package authoring

import (
	"fmt"
	"strings"
)

// MaxNameLength is the documented limit for project, model and deployment
// names (the 2022-05-01 swagger allows 100 for projects; the docs say 50).
const MaxNameLength = 50

// ValidateProjectName checks a project name against the documented rules:
// letters, digits, '_', '.', '-'; 1 to 50 characters; not "." or ".."; and
// not "global", which the service uses as a path segment
// (projects/global/deletion-jobs).
func ValidateProjectName(name string) error {
	if err := validateName("project", name); err != nil {
		return err
	}
	if strings.EqualFold(name, "global") {
		return fmt.Errorf("%w: project name %q is reserved by the service (projects/global/...): choose another name", ErrInvalidName, name)
	}
	return nil
}

// ValidateModelLabel checks a trained model label (same rules as projects,
// without the reserved word).
func ValidateModelLabel(label string) error { return validateName("model label", label) }

// ValidateDeploymentName checks a deployment name (same rules as model
// labels).
func ValidateDeploymentName(name string) error { return validateName("deployment name", name) }

func validateName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalidName, what)
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("%w: %s %.20q... is %d characters long: the limit is %d", ErrInvalidName, what, name, len(name), MaxNameLength)
	}
	if strings.Trim(name, ".") == "" {
		return fmt.Errorf("%w: %s %q is only dots: use letters or digits", ErrInvalidName, what, name)
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
		default:
			return fmt.Errorf("%w: %s %q has %q at offset %d: use only letters, digits, '_', '.' and '-'", ErrInvalidName, what, name, r, i)
		}
	}
	return nil
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
