package store

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gcbulk/gcbulk/genesys"
)

// cell is one non-empty value of a plan row before checking.
type cell struct {
	name  string // canonical column name
	value string
	col   int // column for error messages
}

// columnNames lists the accepted plan columns, for error messages.
var columnNames = strings.Join(append([]string{columnID}, genesys.Fields...), ", ")

// canonicalColumn maps a header or JSON key, in any case and with stray
// spaces, to its plan column name.
func canonicalColumn(raw string) (string, bool) {
	name := strings.TrimSpace(raw)
	if strings.EqualFold(name, columnID) {
		return columnID, true
	}
	for _, f := range genesys.Fields {
		if strings.EqualFold(name, f) {
			return f, true
		}
	}
	return "", false
}

// buildRow checks a row's cells and returns the row; false when a problem
// was recorded in c.
func buildRow(c *collector, line int, cells []cell) (Row, bool) {
	row := Row{Line: line, Fields: make(map[string]string, len(cells))}
	var id, email *cell
	ok := true
	for i := range cells {
		cl := &cells[i]
		v, msg := checkValue(cl.name, cl.value)
		if msg != "" {
			c.add(line, cl.col, cl.name, "%s %q: %s", cl.name, cl.value, msg)
			ok = false
			continue
		}
		switch cl.name {
		case columnID:
			id = cl
		case genesys.FieldEmail:
			email = cl
		}
		cl.value = v
		row.Fields[cl.name] = v
	}
	if !ok {
		return row, false
	}
	return keyRow(c, row, id, email)
}

// keyRow picks the row's key: the id when given (an e-mail is then a field
// to set), otherwise the e-mail.
func keyRow(c *collector, row Row, id, email *cell) (Row, bool) {
	switch {
	case id != nil:
		row.KeyKind, row.Key = KeyID, id.value
		delete(row.Fields, columnID)
	case email != nil:
		row.KeyKind, row.Key = KeyEmail, email.value
		delete(row.Fields, genesys.FieldEmail)
	default:
		c.add(row.Line, 1, "", "row names no user: expected an id or an email")
		return row, false
	}
	return row, true
}

// checkValue normalises one value; a non-empty msg says what was expected.
func checkValue(name, v string) (string, string) {
	if !utf8.ValidString(v) {
		return "", "invalid UTF-8"
	}
	if !isText(name) {
		v = strings.TrimSpace(v)
	}
	switch name {
	case columnID, genesys.FieldDivision:
		if !isUUID(v) {
			return "", "expected a Genesys id (a UUID like 1b2c3d4e-0000-4000-8000-00000000abcd)"
		}
		return strings.ToLower(v), ""
	case genesys.FieldEmail:
		if !isEmail(v) {
			return "", "expected an e-mail address like name@example.com"
		}
		return v, ""
	case genesys.FieldManager:
		if isUUID(v) {
			return strings.ToLower(v), ""
		}
		if isEmail(v) {
			return v, ""
		}
		return "", "expected a user id (UUID) or an e-mail address"
	case genesys.FieldState:
		return oneOf(v, "active", "inactive")
	case genesys.FieldAcdAutoAnswer:
		return oneOf(v, "true", "false")
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return "", "expected text without control characters or line breaks"
	}
	return v, ""
}

// oneOf matches v against allowed values in any case.
func oneOf(v string, allowed ...string) (string, string) {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, ""
		}
	}
	return "", "expected " + strings.Join(allowed, " or ")
}

// isUUID reports whether s is a UUID in 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if ch != '-' {
				return false
			}
			continue
		}
		if !isHex(ch) {
			return false
		}
	}
	return true
}

func isHex(ch byte) bool {
	return '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F'
}

// isEmail is a plain check of an address as directories hold them:
// local@domain, no spaces or brackets, a dotted domain.
func isEmail(s string) bool {
	if len(s) > 254 || strings.ContainsFunc(s, badEmailRune) {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || len(local) > 64 || strings.Contains(domain, "@") {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
	}
	return true
}

func badEmailRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`<>()[]\,;:"`, r)
}

// isText reports whether a field holds free text, kept exactly as written.
func isText(name string) bool {
	switch name {
	case genesys.FieldName, genesys.FieldDepartment, genesys.FieldTitle, genesys.FieldPreferredName:
		return true
	}
	return false
}
