// Package doccheck keeps the repository self-contained: its test walks every
// .go and .md file and fails on citations of sources that are not in the
// repository (section-sign references into an external spec folder, numbered
// gotchas that are not links, paths that leave the repository, machine
// paths), and on links into docs/ whose file or heading anchor does not
// exist. Each rule is one row of a table. It has no code of its own; nothing
// imports it.
package doccheck
