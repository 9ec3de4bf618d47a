package harness

import (
	"fmt"
	"strings"

	"github.com/fltemu/fltemu/kernel"
)

// Mermaid renders trace events as a Mermaid sequence diagram: one participant per process,
// the filter manager, and one per driver. Paste it into a Markdown file (```mermaid) to see
// the message flow as a picture.
func Mermaid(events []kernel.Event) string {
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	ids := map[string]string{}
	var order []string
	participant := func(name, prefix string) string {
		if id, ok := ids[name]; ok {
			return id
		}
		id := fmt.Sprintf("%s%d", prefix, len(ids))
		ids[name] = id
		order = append(order, fmt.Sprintf("    participant %s as %s\n", id, mermaidText(name)))
		return id
	}
	fm := participant("Filter Manager", "F")
	var lines []string
	for _, e := range events {
		var from, to string
		switch {
		case e.Process != "" && e.Driver != "":
			p, d := participant(e.Process, "P"), participant(e.Driver, "D")
			from, to = p, d
			switch e.Kind {
			case kernel.EvMessageSent, kernel.EvMessageDelivered, kernel.EvMessageTimedOut:
				from, to = d, p
			}
		case e.Process != "":
			from, to = participant(e.Process, "P"), fm
		case e.Driver != "":
			from, to = participant(e.Driver, "D"), fm
		default:
			continue
		}
		text := string(e.Kind)
		if e.MsgID != 0 {
			text += fmt.Sprintf(" #%d", e.MsgID)
		}
		if e.Status != "" {
			text += " " + e.Status
		}
		if e.Detail != "" {
			text += ": " + e.Detail
		}
		arrow := "->>"
		if e.Kind == kernel.EvViolation || strings.Contains(e.Status, "0xC") {
			arrow = "-x"
		}
		lines = append(lines, fmt.Sprintf("    %s%s%s: %s\n", from, arrow, to, mermaidText(text)))
	}
	for _, o := range order {
		b.WriteString(o)
	}
	for _, l := range lines {
		b.WriteString(l)
	}
	return b.String()
}

// mermaidText escapes what Mermaid would read as syntax.
func mermaidText(s string) string {
	r := strings.NewReplacer(";", ",", "#", "no. ", "\n", " ", ":", " -", "\\", "\\\\")
	return r.Replace(s)
}
