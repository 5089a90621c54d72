package langsync

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameLength is the documented limit for project, model and deployment
// names (the 2022-05-01 swagger allows 100 for projects; the docs say 50).
const MaxNameLength = 50

// MaxResourceNameLength bounds a configured resource name: it becomes a
// blob key segment and a backup's recorded source.
const MaxResourceNameLength = 64

// ErrInvalidName matches every *NameError.
var ErrInvalidName = errors.New("invalid name")

// NameError is a project, model, deployment or resource name that breaks
// the rules. Its message quotes at most the first 20 characters of the name.
type NameError struct {
	// What is "project name", "model label", "deployment name" or
	// "resource name".
	What   string
	Name   string
	Reason string
}

func (e *NameError) Error() string {
	if e.Name == "" {
		return e.What + " " + e.Reason
	}
	return fmt.Sprintf("%s %s %s", e.What, quoteName(e.Name), e.Reason)
}

// Is makes a *NameError match ErrInvalidName.
func (e *NameError) Is(target error) bool { return target == ErrInvalidName }

// quoteName quotes a name for a message, cut to 20 characters so that a
// hostile name cannot flood a log line.
func quoteName(s string) string {
	if len(s) > 20 {
		return fmt.Sprintf("%.20q...", s)
	}
	return fmt.Sprintf("%q", s)
}

// ValidateProjectName checks a project name against the documented rules:
// letters, digits, '_', '.', '-'; 1 to 50 characters; not only dots (so
// never "." or ".."); and not "global", which the service uses as a path
// segment (projects/global/deletion-jobs). The authoring client, the
// backup reader and the restore requests all use this one rule.
func ValidateProjectName(name string) error {
	if err := validateName("project name", name); err != nil {
		return err
	}
	if strings.EqualFold(name, "global") {
		return &NameError{What: "project name", Name: name, Reason: "is reserved by the service (projects/global/...): choose another name"}
	}
	return nil
}

// ValidateModelLabel checks a trained model label (same rules as projects,
// without the reserved word).
func ValidateModelLabel(label string) error { return validateName("model label", label) }

// ValidateDeploymentName checks a deployment name (same rules as model
// labels).
func ValidateDeploymentName(name string) error { return validateName("deployment name", name) }

// ValidateResourceName checks a configured resource name (also a backup's
// recorded source): 1 to 64 letters, digits, '-' and '_'.
func ValidateResourceName(name string) error {
	const what = "resource name"
	if name == "" {
		return &NameError{What: what, Name: name, Reason: "is empty"}
	}
	if len(name) > MaxResourceNameLength {
		return &NameError{What: what, Name: name, Reason: fmt.Sprintf("is %d characters long: the limit is %d", len(name), MaxResourceNameLength)}
	}
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return &NameError{What: what, Name: name, Reason: fmt.Sprintf("has %q at offset %d: use only letters, digits, '-' and '_'", r, i)}
		}
	}
	return nil
}

func validateName(what, name string) error {
	if name == "" {
		return &NameError{What: what, Name: name, Reason: "is empty"}
	}
	if len(name) > MaxNameLength {
		return &NameError{What: what, Name: name, Reason: fmt.Sprintf("is %d characters long: the limit is %d", len(name), MaxNameLength)}
	}
	if strings.Trim(name, ".") == "" {
		return &NameError{What: what, Name: name, Reason: "is only dots: use letters or digits"}
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
		default:
			return &NameError{What: what, Name: name, Reason: fmt.Sprintf("has %q at offset %d: use only letters, digits, '_', '.' and '-'", r, i)}
		}
	}
	return nil
}
