// Package config turns langsync.yaml (or Azure Functions app settings) into a
// validated Config. ${ENV} references are expanded inside string values after
// the YAML is parsed (so a secret can never change the document's structure),
// defaults are applied, and Validate lists every problem at once as an
// errors.Join of *FieldError values that name the field and never echo a
// secret.
package config
