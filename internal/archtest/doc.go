// Package archtest holds the module's architecture rules: which package
// may depend on which, read from `go list -deps -json` and checked by this
// package's test. A rule is one row of a table, so a new boundary is one
// more row. It has no code of its own; nothing imports it.
package archtest
