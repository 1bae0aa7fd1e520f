package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	idA = "0a1b2c3d-0000-4000-8000-00000000000a"
	idB = "0a1b2c3d-0000-4000-8000-00000000000b"
	idM = "0a1b2c3d-0000-4000-8000-0000000000ff"
)

// readAll parses a plan held in content and returns its rows.
func readAll(t *testing.T, name, content string) ([]Row, PlanInfo, error) {
	t.Helper()
	var rows []Row
	info, err := ReadPlan(writeFile(t, name, content), func(r Row) error {
		rows = append(rows, r)
		return nil
	})
	return rows, info, err
}

func TestReadPlan_Good(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, content string
		want                []Row
	}{
		{"csv by id", "p.csv", "id,title\n" + idA + ",Agent\n",
			[]Row{{Line: 2, KeyKind: KeyID, Key: idA, Fields: map[string]string{"title": "Agent"}}}},
		{"csv export quirks", "p.csv",
			"\uFEFF ID , PreferredName,Title\r\n\r\n" + strings.ToUpper(idA) + `,"Zoë ""Z"", Jr",` +
				"Lead\r\n",
			[]Row{{Line: 3, KeyKind: KeyID, Key: idA,
				Fields: map[string]string{"preferredName": `Zoë "Z", Jr`, "title": "Lead"}}}},
		{"csv by email, empty cells ignored", "p.csv", "id,email,name,department\n,Ana@X.org,,Sales\n",
			[]Row{{Line: 2, KeyKind: KeyEmail, Key: "Ana@X.org",
				Fields: map[string]string{"department": "Sales"}}}},
		{"csv id wins over email", "p.csv", "id,email\n" + idA + ",ana@x.org\n",
			[]Row{{Line: 2, KeyKind: KeyID, Key: idA, Fields: map[string]string{"email": "ana@x.org"}}}},
		{"csv values normalised", "p.csv",
			"id,state,acdAutoAnswer,manager,division\n" + idA + ",Active,TRUE, boss@x.org ," + idM + "\n",
			[]Row{{Line: 2, KeyKind: KeyID, Key: idA, Fields: map[string]string{
				"state": "active", "acdAutoAnswer": "true", "manager": "boss@x.org", "division": idM}}}},
		{"csv all-empty row skipped", "p.csv", "id,title\n,\n" + idA + ",X\n",
			[]Row{{Line: 3, KeyKind: KeyID, Key: idA, Fields: map[string]string{"title": "X"}}}},
		{"jsonl", "p.jsonl", "{\"id\":\"" + idA + "\",\"acdAutoAnswer\":false,\"title\":null}\r\n\n" +
			"{\"Email\":\"b@x.org\",\"name\":\"Bé\"}",
			[]Row{
				{Line: 1, KeyKind: KeyID, Key: idA, Fields: map[string]string{"acdAutoAnswer": "false"}},
				{Line: 3, KeyKind: KeyEmail, Key: "b@x.org", Fields: map[string]string{"name": "Bé"}},
			}},
		{"ndjson", "p.ndjson", "{\"id\":\"" + idB + "\"}\n",
			[]Row{{Line: 1, KeyKind: KeyID, Key: idB, Fields: map[string]string{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, info, err := readAll(t, tt.file, tt.content)
			require.NoError(t, err)
			require.Equal(t, tt.want, rows)
			require.Equal(t, len(tt.want), info.Rows)
			require.Len(t, info.Fingerprint, 64)
		})
	}
}

func TestReadPlan_Bad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, content string
		want                []string // each error line, in order
	}{
		{"unknown column", "p.csv", "id,Titel\n",
			[]string{`p.csv:1:2: unknown column "Titel" (columns: id, name, department, title, ` +
				`preferredName, email, manager, state, acdAutoAnswer, division)`}},
		{"no key column", "p.csv", "name,title\n",
			[]string{"p.csv:1:1: header names no id or email column"}},
		{"duplicate column", "p.csv", "id,title, Title\n",
			[]string{"p.csv:1:3: column title appears twice"}},
		{"bad id", "p.csv", "id,title\nnot-a-uuid,X\n",
			[]string{`p.csv:2:1: id "not-a-uuid": expected a Genesys id`}},
		{"bad email", "p.csv", "id,email\n,ana.x.org\n",
			[]string{`p.csv:2:2: email "ana.x.org": expected an e-mail address`}},
		{"no user", "p.csv", "id,email,title\n,,X\n", []string{"p.csv:2:1: row names no user"}},
		{"bad bool", "p.csv", "id,acdAutoAnswer\n" + idA + ",yes\n",
			[]string{`p.csv:2:2: acdAutoAnswer "yes": expected true or false`}},
		{"bad state", "p.csv", "id,state\n" + idA + ",gone\n",
			[]string{`p.csv:2:2: state "gone": expected active or inactive`}},
		{"bad manager", "p.csv", "id,manager\n" + idA + ",bob\n",
			[]string{`p.csv:2:2: manager "bob": expected a user id (UUID) or an e-mail address`}},
		{"ragged row", "p.csv", "id,title\n" + idA + ",X,extra\n",
			[]string{"p.csv:2:3: row has 3 cells, expected 2"}},
		{"invalid utf-8", "p.csv", "id,name\n" + idA + ",Jos\xe9\n",
			[]string{`p.csv:2:2: name "Jos\xe9": invalid UTF-8`}},
		{"line break in a name", "p.csv", "id,name\n" + idA + ",\"Ana\nPerez\"\n",
			[]string{`p.csv:2:2: name "Ana\nPerez": expected text without control characters`}},
		{"bad quoting", "p.csv", "id,title\n" + idA + ",a\"b\n",
			[]string{"p.csv:2:39: malformed CSV at byte 39 of the line: bare \""}},
		{"several at once", "p.csv", "id,title\nx,\n" + idA + ",ok\n,\n,Y\n" + idB + ",Z,\n",
			[]string{"p.csv:2:1: id", "p.csv:5:1: row names no user", "p.csv:6:3: row has 3 cells"}},
		{"unknown column and bad rows", "p.csv",
			"id,Titel,title\nbad,x,X\n" + idA + ",y,Y\nnope,z,Z\n",
			[]string{`p.csv:1:2: unknown column "Titel"`, `p.csv:2:1: id "bad"`, `p.csv:4:1: id "nope"`}},
		{"unknown column, no key", "p.csv", "userid,title\nx,X\n",
			[]string{`p.csv:1:1: unknown column "userid"`, "p.csv:1:1: header names no id"}},
		{"json not an object", "p.jsonl", "[1]\n", []string{"p.jsonl:1:1: expected a JSON object"}},
		{"json wrong type", "p.jsonl", `{"id":"` + idA + `", "title": 3}`,
			[]string{"p.jsonl:1:56: title: expected a string, got 3"}},
		{"json unknown field", "p.jsonl", `{"id":"` + idA + `","titel":"X"}`,
			[]string{`p.jsonl:1:46: unknown field "titel"`}},
		{"json unknown field and bad rows", "p.jsonl",
			`{"id":"bad","titel":{"a":1}}` + "\n" + `{"id":"` + idA + `"}` + "\n" + `{"id":"nope"}`,
			[]string{`p.jsonl:1:13: unknown field "titel"`, `p.jsonl:1:7: id "bad"`,
				`p.jsonl:3:7: id "nope"`}},
		{"json bad id offset", "p.jsonl", `{"name":"A", "id":"nope"}`,
			[]string{`p.jsonl:1:19: id "nope": expected a Genesys id`}},
		{"json syntax", "p.jsonl", `{"id":"` + idA + `",}`, []string{"p.jsonl:1:46: malformed JSON"}},
		{"json trailing text", "p.jsonl", `{"id":"` + idA + `"} x`,
			[]string{"p.jsonl:1:47: unexpected text after the JSON object"}},
		{"json invalid utf-8", "p.jsonl", "{\"name\":\"Jos\xe9\"}",
			[]string{"p.jsonl:1:13: invalid UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, info, err := readAll(t, tt.file, tt.content)
			var pe PlanErrors
			require.True(t, errors.As(err, &pe), "got %v", err)
			require.Empty(t, info.Fingerprint)
			require.Len(t, pe, len(tt.want), err.Error())
			for i, w := range tt.want {
				require.True(t, strings.HasPrefix(pe[i].Error(), w), "got %q\nwant %q", pe[i].Error(), w)
			}
		})
	}
}

func TestReadPlan_Format(t *testing.T) {
	t.Parallel()
	_, _, err := readAll(t, "plan.xlsx", "id\n")
	require.ErrorIs(t, err, ErrPlanFormat)
}

func TestReadPlan_Directory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "plan.csv")
	require.NoError(t, os.Mkdir(dir, 0o700))
	_, err := ReadPlan(dir, func(Row) error { return nil })
	require.EqualError(t, err, "read plan "+dir+": is a directory, not a plan file")
}

func TestReadPlan_ErrorLimit(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("id,title\n")
	for range 60 {
		b.WriteString("bad,X\n")
	}
	p := writeFile(t, "many.csv", b.String())
	_, err := readPlan(p, 5, func(Row) error { return nil })
	var pe PlanErrors
	require.True(t, errors.As(err, &pe))
	require.Len(t, pe, 6)
	require.Equal(t, 55, pe[5].More())
	require.True(t, strings.HasPrefix(err.Error(), "plan has 60 problems:\n"))
	require.True(t, strings.HasSuffix(err.Error(), "\nmany.csv: and 55 more problems"))
}

func TestPlanFingerprint(t *testing.T) {
	t.Parallel()
	csvA := writeFile(t, "a.csv", "id,title,email\n"+idA+",X,\n,Y,B@x.org\n")
	csvB := writeFile(t, "b.csv",
		"\uFEFFEmail , Title,ID\r\n\r\n,X,"+strings.ToUpper(idA)+"\r\nb@X.org,Y,\r\n")
	jsonl := writeFile(t, "c.jsonl",
		`{"id":"`+idA+`","title":"X"}`+"\n"+`{"email":"b@x.org","title":"Y"}`)
	other := writeFile(t, "d.csv", "id,title\n"+idA+",Z\n")

	fa, err := PlanFingerprint(csvA)
	require.NoError(t, err)
	for _, p := range []string{csvB, jsonl} {
		f, err := PlanFingerprint(p)
		require.NoError(t, err)
		require.Equal(t, fa, f, p)
	}
	fo, err := PlanFingerprint(other)
	require.NoError(t, err)
	require.NotEqual(t, fa, fo)
}
