// Package alltypes is kalamgen's output for testdata/alltypes.sql, a schema
// with every KalamDB column type; it is the golden file of the generator's
// tests and its helpers run against the emulator in alltypes_test.go.
package alltypes

//go:generate go run github.com/kalamstack/kalam-go/cmd/kalamgen -schema ../../testdata/alltypes.sql -o . -package alltypes
