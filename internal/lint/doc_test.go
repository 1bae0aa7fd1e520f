package lint

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/internal/e2etest"
)

// TestDocComments fails listing every exported name outside internal/ that
// lacks a doc comment starting with the name, and every package there
// without a package comment.
func TestDocComments(t *testing.T) {
	c := &docChecker{root: e2etest.ModuleRoot(t), fset: token.NewFileSet()}
	pkgDoc := map[string]bool{} // package dir -> some file has a package comment

	err := filepath.WalkDir(c.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != c.root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(c.fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		pkgDoc[dir] = pkgDoc[dir] || f.Doc != nil
		c.checkFile(f)
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, pkgDoc, "no packages found under %s", c.root)

	for dir, ok := range pkgDoc {
		if !ok {
			rel, _ := filepath.Rel(c.root, dir)
			c.problems = append(c.problems, problem{file: rel, msg: "package has no package doc comment"})
		}
	}
	t.Logf("checked %d exported names in %d packages", c.checked, len(pkgDoc))
	if len(c.problems) > 0 {
		t.Fatalf("%d doc comment problems:\n%s", len(c.problems), c.list())
	}
}

func TestStartsWithName(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"Open opens the ledger.\n", true},
		{"Open\n", true},
		{"Open's result is cached.\n", true},
		{"Opener builds things.\n", false},
		{"The Open function opens.\n", false},
		{"", false},
	} {
		require.Equal(t, tc.want, startsWithName(tc.text, "Open"), "%q", tc.text)
	}
}

// skipDir reports whether a directory is outside the documented API:
// internal packages, test data, vendored code and hidden directories.
func skipDir(name string) bool {
	return name == "internal" || name == "testdata" || name == "vendor" ||
		strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// docChecker collects doc comment problems, with positions relative to the
// module root.
type docChecker struct {
	root     string
	fset     *token.FileSet
	checked  int
	problems []problem
}

type problem struct {
	file string
	line int
	msg  string
}

func (c *docChecker) report(pos token.Pos, format string, args ...any) {
	p := c.fset.Position(pos)
	rel, _ := filepath.Rel(c.root, p.Filename)
	msg := fmt.Sprintf(format, args...)
	c.problems = append(c.problems, problem{file: rel, line: p.Line, msg: msg})
}

// list renders the problems one per line, in file and line order.
func (c *docChecker) list() string {
	sort.Slice(c.problems, func(i, j int) bool {
		a, b := c.problems[i], c.problems[j]
		if a.file != b.file {
			return a.file < b.file
		}
		return a.line < b.line
	})
	var sb strings.Builder
	for _, p := range c.problems {
		if p.line > 0 {
			fmt.Fprintf(&sb, "%s:%d: %s\n", p.file, p.line, p.msg)
		} else {
			fmt.Fprintf(&sb, "%s: %s\n", p.file, p.msg)
		}
	}
	return sb.String()
}

// check requires doc to exist and to open with name.
func (c *docChecker) check(pos token.Pos, name string, doc *ast.CommentGroup) {
	c.checked++
	switch {
	case doc == nil:
		c.report(pos, "%s has no doc comment", name)
	case !startsWithName(doc.Text(), name):
		c.report(pos, "doc comment of %s does not start with its name", name)
	}
}

func (c *docChecker) checkFile(f *ast.File) {
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if isAPIFunc(d) {
				c.check(d.Pos(), d.Name.Name, d.Doc)
			}
		case *ast.GenDecl:
			c.checkGenDecl(d)
		}
	}
}

// checkGenDecl checks the exported types, constants and variables of one
// declaration. A parenthesised const or var block with its own doc comment
// documents all its specs; otherwise each spec in a block needs a comment
// of its own (above it or at the end of its line), which may start any way.
func (c *docChecker) checkGenDecl(d *ast.GenDecl) {
	grouped := d.Lparen.IsValid()
	for _, spec := range d.Specs {
		switch s := spec.(type) {
		case *ast.TypeSpec:
			if !s.Name.IsExported() {
				continue
			}
			doc := s.Doc
			if doc == nil && !grouped {
				doc = d.Doc
			}
			c.check(s.Pos(), s.Name.Name, doc)
		case *ast.ValueSpec:
			names := exportedNames(s.Names)
			switch {
			case len(names) == 0:
			case grouped && d.Doc != nil:
				// The block's comment documents every spec in it.
				c.checked++
			case grouped:
				c.checked++
				if s.Doc == nil && s.Comment == nil {
					c.report(s.Pos(), "%s has no doc comment", strings.Join(names, ", "))
				}
			case s.Doc != nil:
				c.check(s.Pos(), names[0], s.Doc)
			default:
				c.check(s.Pos(), names[0], d.Doc)
			}
		}
	}
}

// isAPIFunc reports whether d is an exported function or an exported
// method on an exported type.
func isAPIFunc(d *ast.FuncDecl) bool {
	if !d.Name.IsExported() {
		return false
	}
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return true
	}
	return ast.IsExported(receiverType(d.Recv.List[0].Type))
}

// receiverType strips pointers and type parameters from a receiver type.
func receiverType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

func exportedNames(ids []*ast.Ident) []string {
	var names []string
	for _, id := range ids {
		if id.IsExported() {
			names = append(names, id.Name)
		}
	}
	return names
}

// startsWithName reports whether text opens with name as a whole word.
func startsWithName(text, name string) bool {
	rest, ok := strings.CutPrefix(text, name)
	if !ok {
		return false
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return rest == "" || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
}
