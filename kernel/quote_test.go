package kernel_test

import (
	"testing"

	"github.com/fltemu/fltemu/kernel"
	"github.com/stretchr/testify/require"
)

// Names print as the driver wrote them: NT backslashes stay single; only what would hide the
// name's end (a quote, a NUL, a control character, invalid UTF-8) is escaped.
func TestQuoteKeepsBackslashesSingle(t *testing.T) {
	for in, want := range map[string]string{
		`\ScannerPort`:      `"\ScannerPort"`,
		`\Dir\Sub\Port`:     `"\Dir\Sub\Port"`,
		``:                  `""`,
		`say "hi"`:          `"say \"hi\""`,
		"\\Port\x00tail":    `"\Port\x00tail"`,
		"\\Port\n":          `"\Port\n"`,
		"\\Bad\xffByte":     `"\Bad\xffByte"`,
		`\ſuzzport`:         `"\ſuzzport"`,
		"\\Zero\u200bWidth": `"\Zero\u200bWidth"`,
	} {
		require.Equal(t, want, kernel.Quote(in), "%q", in)
	}
}
