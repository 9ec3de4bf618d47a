package kernel

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Quote puts a name in double quotes for a message a user reads, keeping the backslashes of
// NT names single: `"\ScannerPort"`, where %q would print `"\\ScannerPort"`, which is not the
// name the driver wrote. A double quote and a character that does not print (a NUL, a control
// character, invalid UTF-8) are escaped as %q escapes them, so the name's end stays visible.
func Quote(name string) string {
	clean := true
	for _, r := range name {
		if r == '"' || r == utf8.RuneError || !strconv.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return `"` + name + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(name[i])|0x100, 16)[1:])
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\' || strconv.IsPrint(r):
			b.WriteString(name[i : i+size])
		default:
			q := strconv.QuoteRune(r) // '\x00', '\n', '\u200b'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}
