package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// inf is what cdrivergen reads from a driver's INF: the [Strings] section and every registry
// entry (an AddReg line: root, subkey, value name, flags, value), %tokens% expanded.
type inf struct {
	strings map[string]string // key lower-cased → value
	regs    [][]string
}

// instance is an INF's default instance.
type instance struct {
	name, altitude string
	flags          uint32
}

// parseINF reads an INF file: sections, comments after ';' outside quotes, lines continued
// with a trailing '\', quoted strings with "" for a quote, and %key% from [Strings].
func parseINF(b []byte) *inf {
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	var lines []string
	var cont strings.Builder
	for _, raw := range strings.Split(text, "\n") {
		line := stripComment(raw)
		if t := strings.TrimRight(line, " \t"); strings.HasSuffix(t, `\`) {
			cont.WriteString(strings.TrimSuffix(t, `\`))
			continue
		}
		cont.WriteString(line)
		lines = append(lines, strings.TrimSpace(cont.String()))
		cont.Reset()
	}
	f := &inf{strings: map[string]string{}}
	section := ""
	var entries [][]string
	for _, line := range lines {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.ToLower(strings.TrimSpace(line[1 : len(line)-1]))
			continue
		}
		if section == "strings" {
			if k, v, ok := strings.Cut(line, "="); ok {
				f.strings[strings.ToLower(strings.TrimSpace(k))] = strings.ReplaceAll(joinField(v), "%%", "%")
			}
			continue
		}
		fields := splitFields(line)
		if len(fields) >= 3 && strings.EqualFold(fields[0], "HKR") {
			entries = append(entries, fields)
		}
	}
	for _, e := range entries {
		for i := range e {
			e[i] = f.expand(e[i])
		}
		f.regs = append(f.regs, e)
	}
	return f
}

// defaultInstance returns the instance named by Instances\DefaultInstance, with the
// Altitude and Flags of Instances\<name>.
func (f *inf) defaultInstance() (*instance, error) {
	var in instance
	for _, r := range f.regs {
		if strings.EqualFold(r[1], "Instances") && strings.EqualFold(r[2], "DefaultInstance") && len(r) >= 5 {
			in.name = r[4]
		}
	}
	if in.name == "" {
		return nil, errors.New(`no HKR,"Instances","DefaultInstance",... entry: which instance to attach is not said`)
	}
	found := false
	for _, r := range f.regs {
		if !strings.EqualFold(r[1], `Instances\`+in.name) || len(r) < 5 {
			continue
		}
		switch strings.ToLower(r[2]) {
		case "altitude":
			in.altitude = r[4]
			found = true
		case "flags":
			v, err := strconv.ParseUint(r[4], 0, 32)
			if err != nil {
				return nil, fmt.Errorf("the Flags of instance %q, %q, is not a number", in.name, r[4])
			}
			in.flags = uint32(v)
		}
	}
	if !found {
		return nil, fmt.Errorf("instance %q has no Altitude entry", in.name)
	}
	return &in, nil
}

// expand replaces %key% with the [Strings] value; %% is a percent sign. An unknown key stays.
func (f *inf) expand(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			break
		}
		key := s[i+1 : i+1+j]
		b.WriteString(s[:i])
		if v, ok := f.strings[strings.ToLower(key)]; ok {
			b.WriteString(v)
		} else if key == "" {
			b.WriteByte('%')
		} else {
			b.WriteString("%" + key + "%")
		}
		s = s[i+2+j:]
	}
	b.WriteString(s)
	return b.String()
}

// stripComment cuts a line at the first ';' outside quotes.
func stripComment(line string) string {
	in := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			in = !in
		case ';':
			if !in {
				return line[:i]
			}
		}
	}
	return line
}

// splitFields splits a line at the commas outside quotes; each field is joined by joinField.
func splitFields(line string) []string {
	var out []string
	in, start := false, 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			in = !in
		case ',':
			if !in {
				out = append(out, joinField(line[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, joinField(line[start:]))
}

// joinField makes one value of a field's quoted and unquoted parts: `"Instances\"%Name%` is
// Instances\ followed by %Name%; "" inside quotes is a quote.
func joinField(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '"' {
			b.WriteByte(c)
			continue
		}
		if in && i+1 < len(s) && s[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		in = !in
	}
	return b.String()
}
