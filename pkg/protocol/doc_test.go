package protocol_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/minirtc/minirtc/pkg/protocol"
)

// The protocol is documented for people in docs/protocol.md. These tests
// keep that document and this package from drifting apart: every operation
// and event has a section of its own, every result code a row in the codes
// table, and the Ops and Events lists hold every declared constant.

func readProtocolDoc(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "protocol.md"))
	if err != nil {
		t.Fatalf("reading the protocol document: %v", err)
	}
	return strings.Split(string(b), "\n")
}

// hasLine reports whether some line, with surrounding spaces removed,
// satisfies ok.
func hasLine(lines []string, ok func(string) bool) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return ok(strings.TrimSpace(l)) })
}

func TestDocDescribesEveryOperation(t *testing.T) {
	lines := readProtocolDoc(t)
	for _, op := range protocol.Ops {
		heading := "### " + op
		if !hasLine(lines, func(l string) bool { return l == heading }) {
			t.Errorf("docs/protocol.md has no section %q for operation %q: document its fields, response, grant, events and codes", heading, op)
		}
	}
}

func TestDocDescribesEveryEvent(t *testing.T) {
	lines := readProtocolDoc(t)
	for _, ev := range protocol.Events {
		heading := "### " + ev
		if !hasLine(lines, func(l string) bool { return l == heading }) {
			t.Errorf("docs/protocol.md has no section %q for event %q: document its fields and who receives it", heading, ev)
		}
	}
}

func TestDocListsEveryResultCode(t *testing.T) {
	lines := readProtocolDoc(t)
	for _, c := range protocol.Codes() {
		row := fmt.Sprintf("| %d |", int(c))
		if !hasLine(lines, func(l string) bool { return strings.HasPrefix(l, row) }) {
			t.Errorf("docs/protocol.md has no table row starting %q for result code %d (%s)", row, int(c), c)
			continue
		}
		// The row's second cell is the code's text, which starts every
		// error message the server sends with that code.
		withText := fmt.Sprintf("| %d | %s |", int(c), c)
		if !hasLine(lines, func(l string) bool { return strings.HasPrefix(l, withText) }) {
			t.Errorf("docs/protocol.md's row for result code %d does not give its text %q (want a row starting %q)", int(c), c.String(), withText)
		}
	}
}

// declaredConsts parses the package's non-test Go files and returns, in
// declaration order (files sorted by name), the string values of the
// constants whose names start with prefix followed by an upper-case letter.
func declaredConsts(t *testing.T, prefix string) (names, values []string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					rest, ok := strings.CutPrefix(id.Name, prefix)
					if !ok || rest == "" || !unicode.IsUpper(rune(rest[0])) {
						continue
					}
					if i >= len(vs.Values) {
						t.Fatalf("%s: constant %s has no value of its own", fset.Position(id.Pos()), id.Name)
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: constant %s is not a string literal", fset.Position(id.Pos()), id.Name)
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					names = append(names, id.Name)
					values = append(values, v)
				}
			}
		}
	}
	return names, values
}

func TestListsHoldEveryDeclaredConstant(t *testing.T) {
	for _, tc := range []struct {
		prefix, list string
		got          []string
	}{
		{"Op", "Ops", protocol.Ops},
		{"Ev", "Events", protocol.Events},
	} {
		names, want := declaredConsts(t, tc.prefix)
		if len(want) == 0 {
			t.Fatalf("found no %s* constants; is the test running in pkg/protocol?", tc.prefix)
		}
		for i, v := range want {
			if !slices.Contains(tc.got, v) {
				t.Errorf("%s (%q) is declared but missing from protocol.%s in lists.go", names[i], v, tc.list)
			}
		}
		for _, v := range tc.got {
			if !slices.Contains(want, v) {
				t.Errorf("protocol.%s holds %q, which is not an %s* constant", tc.list, v, tc.prefix)
			}
		}
		if !t.Failed() && !slices.Equal(tc.got, want) {
			t.Errorf("protocol.%s is not in declaration order (or has duplicates):\n got  %q\n want %q", tc.list, tc.got, want)
		}
	}
}
