// Package lint holds checks that run as plain tests over the module's own
// source, so house rules from STYLE.md fail CI the day they are broken
// instead of piling up for a later clean-up.
//
// doc_test.go requires a package comment on every package outside
// internal/ and a doc comment, starting with the name, on every exported
// top-level name there.
package lint
