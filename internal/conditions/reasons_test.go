package conditions

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// reasonDirs are the packages that write conditions or decide their
// reasons, relative to this one.
var reasonDirs = []string{"../../controllers", "../delivery", "../tenancy", "../federation", "."}

// reasonArg is where each function that takes a condition reason takes it:
// this package's helpers, called as conditions.X from elsewhere.
var reasonArg = map[string]int{
	"Set": 4, "MarkReady": 2, "MarkReconciling": 2, "MarkStalled": 2,
	"Stall": 0, "Wait": 0, "Retry": 0,
}

// A condition reason is API (api/v1alpha1/reasons.go): written as a string
// literal somewhere, it drifts from the documented value unnoticed, and a
// user's `kubectl wait` or alert stops matching. Every reason is a
// v1alpha1.Reason* constant.
func TestNoStringLiteralReasons(t *testing.T) {
	var found []string
	for _, dir := range reasonDirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s (%v): the scan would prove nothing", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			found = append(found, literalReasons(fset, file, file.Name.Name == "conditions")...)
		}
	}
	if len(found) > 0 {
		t.Errorf("condition reasons written as string literals; use (or add) a constant in api/v1alpha1/reasons.go:\n  %s",
			strings.Join(found, "\n  "))
	}
}

// The scan finds each way a literal reason has been written before, so it
// cannot pass by seeing nothing.
func TestLiteralReasonScanFindsEachForm(t *testing.T) {
	src := `package controllers
const ReasonLocal = "Local"
func f() {
	conditions.MarkStalled(&c, 1, "Inline", msg)
	conditions.Set(&c, 1, t, s, map[bool]string{true: "Ready"}[ok], msg)
	_ = conditions.Stall("Stalling", msg)
	_ = metav1.Condition{Reason: "Keyed"}
	_ = &tenancy.Refusal{"Positional", msg}
	status, reason := x, "Assigned"
	_ = c.Reason == "Compared"
	conditions.MarkReady(&c, 1, v1alpha1.ReasonReconciled, "a message is no reason")
	_ = Event{Reason: reason}
}`
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "example.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range literalReasons(fset, file, false) {
		got = append(got, f[strings.LastIndex(f, " ")+1:])
	}
	want := `"Local" "Inline" "Ready" "Stalling" "Keyed" "Positional" "Assigned" "Compared"`
	if strings.Join(got, " ") != want {
		t.Errorf("found %s\nwant  %s", strings.Join(got, " "), want)
	}
}

// Every reason is valid for metav1.Condition (the API server refuses
// others) and says one thing: no two constants share a value.
func TestReasonConstantsAreValidAndDistinct(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "../../api/v1alpha1/reasons.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	valid := regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`) // metav1.Condition's pattern
	byValue := map[string]string{}
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || !strings.HasPrefix(name.Name, "Reason") {
					t.Errorf("%s: only Reason* string constants belong in reasons.go", name.Name)
					continue
				}
				v, _ := strconv.Unquote(lit.Value)
				if !valid.MatchString(v) || len(v) > 1024 {
					t.Errorf("%s = %q is not a valid condition reason", name.Name, v)
				}
				if other, dup := byValue[v]; dup {
					t.Errorf("%s and %s both say %q", other, name.Name, v)
				}
				byValue[v] = name.Name
			}
		}
	}
	if len(byValue) < 40 {
		t.Errorf("only %d reasons parsed from reasons.go: the check would prove nothing", len(byValue))
	}
}

// literalReasons lists the string literals file uses as condition reasons:
// the reason argument of this package's helpers, a Reason field in a
// composite literal, a tenancy.Refusal's first field, a variable named
// reason, a comparison with a .Reason, and a Reason* constant declared
// outside api/v1alpha1. local says file is this package (helpers called
// without the package name).
func literalReasons(fset *token.FileSet, file *ast.File, local bool) []string {
	var out []string
	report := func(e ast.Expr) {
		ast.Inspect(e, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				out = append(out, fmt.Sprintf("%s: %s", fset.Position(lit.Pos()), lit.Value))
			}
			return true
		})
	}
	ast.Inspect(file, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallExpr:
			name := ""
			switch fn := x.Fun.(type) {
			case *ast.SelectorExpr:
				if pkg, ok := fn.X.(*ast.Ident); ok && pkg.Name == "conditions" {
					name = fn.Sel.Name
				}
			case *ast.Ident:
				if local {
					name = fn.Name
				}
			}
			if i, ok := reasonArg[name]; ok && i < len(x.Args) {
				report(x.Args[i])
			}
		case *ast.KeyValueExpr:
			if key, ok := x.Key.(*ast.Ident); ok && key.Name == "Reason" {
				report(x.Value)
			}
		case *ast.CompositeLit:
			if typeName(x.Type) == "Refusal" && len(x.Elts) > 0 {
				if _, keyed := x.Elts[0].(*ast.KeyValueExpr); !keyed {
					report(x.Elts[0])
				}
			}
		case *ast.AssignStmt:
			for i, lhs := range x.Lhs {
				if id, ok := lhs.(*ast.Ident); ok && strings.Contains(strings.ToLower(id.Name), "reason") && i < len(x.Rhs) {
					report(x.Rhs[i])
				}
			}
		case *ast.BinaryExpr:
			if x.Op == token.EQL || x.Op == token.NEQ {
				if isReason(x.X) {
					report(x.Y)
				} else if isReason(x.Y) {
					report(x.X)
				}
			}
		case *ast.ValueSpec:
			for i, id := range x.Names {
				if strings.HasPrefix(id.Name, "Reason") && i < len(x.Values) {
					report(x.Values[i])
				}
			}
		}
		return true
	})
	return out
}

func typeName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.SelectorExpr:
		return t.Sel.Name
	}
	return ""
}

func isReason(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.SelectorExpr:
		return x.Sel.Name == "Reason" || strings.HasSuffix(x.Sel.Name, "Reason")
	case *ast.Ident:
		return strings.Contains(strings.ToLower(x.Name), "reason")
	}
	return false
}
