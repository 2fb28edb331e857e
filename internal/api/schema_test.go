package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// A validator for the subset of JSON Schema (OpenAPI 3.0 flavour) that
// docs/openapi.yaml uses, so that tests can check every response against
// the spec. It refuses keywords it does not implement rather than ignoring
// them, so the spec cannot promise something nobody checks.

// spec is docs/openapi.yaml, parsed.
type spec struct {
	doc   map[string]any
	paths []specPath
}

type specPath struct {
	template string         // "/apps/{app}/rooms"
	re       *regexp.Regexp // matches concrete paths
	item     map[string]any
}

var (
	specOnce   sync.Once
	loadedSpec *spec
	specErr    error
)

// loadSpec reads the spec once per test binary.
func loadSpec(t testing.TB) *spec {
	t.Helper()
	specOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
		if err != nil {
			specErr = err
			return
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			specErr = fmt.Errorf("docs/openapi.yaml: %w", err)
			return
		}
		s := &spec{doc: doc}
		paths, _ := doc["paths"].(map[string]any)
		for tmpl, item := range paths {
			segs := strings.Split(tmpl, "/")
			for i, seg := range segs {
				if strings.HasPrefix(seg, "{") {
					segs[i] = `[^/]+`
				} else {
					segs[i] = regexp.QuoteMeta(seg)
				}
			}
			re := regexp.MustCompile("^" + strings.Join(segs, "/") + "$")
			s.paths = append(s.paths, specPath{template: tmpl, re: re, item: item.(map[string]any)})
		}
		sort.Slice(s.paths, func(i, j int) bool { return s.paths[i].template < s.paths[j].template })
		loadedSpec = s
	})
	if specErr != nil {
		t.Fatal(specErr)
	}
	return loadedSpec
}

// operations lists "METHOD /template" for every operation of the spec.
func (s *spec) operations() []string {
	var out []string
	for _, p := range s.paths {
		for m := range p.item {
			if m == "parameters" {
				continue
			}
			out = append(out, strings.ToUpper(m)+" "+p.template)
		}
	}
	slices.Sort(out)
	return out
}

// match finds the path template a concrete path (below /api/v1) belongs to.
func (s *spec) match(path string) (specPath, bool) {
	for _, p := range s.paths {
		if p.re.MatchString(path) {
			return p, true
		}
	}
	return specPath{}, false
}

// resolve follows a "#/components/..." reference.
func (s *spec) resolve(node map[string]any) (map[string]any, error) {
	for i := 0; i < 16; i++ {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node, nil
		}
		if len(node) != 1 {
			return nil, fmt.Errorf("$ref %s has siblings, which OpenAPI 3.0 ignores", ref)
		}
		var cur any = s.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("bad $ref %s", ref)
			}
			if cur, ok = m[part]; !ok {
				return nil, fmt.Errorf("$ref %s: no %q", ref, part)
			}
		}
		if node, ok = cur.(map[string]any); !ok {
			return nil, fmt.Errorf("$ref %s is not an object", ref)
		}
	}
	return nil, fmt.Errorf("$ref chain too long")
}

// responseSchema returns the schema of an operation's response with the
// given status; noBody is true for a documented response without content.
func (s *spec) responseSchema(method, path string, status int) (schema map[string]any, noBody bool, err error) {
	p, ok := s.match(path)
	if !ok {
		return nil, false, fmt.Errorf("no path of the spec matches %s", path)
	}
	op, ok := p.item[strings.ToLower(method)].(map[string]any)
	if !ok {
		return nil, false, fmt.Errorf("the spec has no %s %s", method, p.template)
	}
	responses, _ := op["responses"].(map[string]any)
	r, ok := responses[strconv.Itoa(status)].(map[string]any)
	if !ok {
		return nil, false, fmt.Errorf("%s %s: status %d is not documented", method, p.template, status)
	}
	if r, err = s.resolve(r); err != nil {
		return nil, false, err
	}
	content, ok := r["content"].(map[string]any)
	if !ok {
		return nil, true, nil
	}
	mt, ok := content["application/json"].(map[string]any)
	if !ok {
		return nil, false, fmt.Errorf("%s %s %d: no application/json content", method, p.template, status)
	}
	schema, ok = mt["schema"].(map[string]any)
	if !ok {
		return nil, false, fmt.Errorf("%s %s %d: no schema", method, p.template, status)
	}
	return schema, false, nil
}

// schemaByName returns components.schemas[name].
func (s *spec) schemaByName(name string) map[string]any {
	return s.doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
}

// decodeForSchema parses JSON keeping numbers exact (json.Number).
func decodeForSchema(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// knownKeywords are the keywords validate understands; annotations carry
// no constraint.
var (
	constraintKeywords = []string{"$ref", "type", "properties", "required", "additionalProperties", "items", "enum",
		"minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "minProperties", "pattern"}
	annotationKeywords = []string{"description", "format", "example", "title"}
)

// validate checks v against schema and returns every violation, each
// prefixed with its JSON path.
func (s *spec) validate(schema map[string]any, v any, at string) []string {
	schema, err := s.resolve(schema)
	if err != nil {
		return []string{at + ": " + err.Error()}
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for k := range schema {
		if !slices.Contains(constraintKeywords, k) && !slices.Contains(annotationKeywords, k) {
			bad("schema keyword %q is not supported by the test validator", k)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if typ, ok := schema["type"].(string); ok && !typeMatches(typ, v) {
		bad("want %s, got %s", typ, describe(v))
		return errs
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return sameValue(e, v) }) {
		bad("%s is not one of %v", describe(v), enum)
	}
	switch x := v.(type) {
	case string:
		n := len([]rune(x))
		if min, ok := intKeyword(schema, "minLength"); ok && n < min {
			bad("string of %d characters, minLength %d", n, min)
		}
		if max, ok := intKeyword(schema, "maxLength"); ok && n > max {
			bad("string of %d characters, maxLength %d", n, max)
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			bad("%q does not match %s", x, p)
		}
	case json.Number:
		f, _ := new(big.Float).SetString(x.String())
		if min, ok := numKeyword(schema, "minimum"); ok && f.Cmp(min) < 0 {
			bad("%s is below the minimum %v", x, min)
		}
		if max, ok := numKeyword(schema, "maximum"); ok && f.Cmp(max) > 0 {
			bad("%s is above the maximum %v", x, max)
		}
	case []any:
		if min, ok := intKeyword(schema, "minItems"); ok && len(x) < min {
			bad("%d items, minItems %d", len(x), min)
		}
		if max, ok := intKeyword(schema, "maxItems"); ok && len(x) > max {
			bad("%d items, maxItems %d", len(x), max)
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range x {
				errs = append(errs, s.validate(items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case map[string]any:
		if min, ok := intKeyword(schema, "minProperties"); ok && len(x) < min {
			bad("%d properties, minProperties %d", len(x), min)
		}
		props, _ := schema["properties"].(map[string]any)
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if _, present := x[r.(string)]; !present {
					bad("required property %q is missing", r)
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if p, ok := props[k].(map[string]any); ok {
				errs = append(errs, s.validate(p, x[k], at+"."+k)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					bad("property %q is not in the schema", k)
				}
			case map[string]any:
				errs = append(errs, s.validate(ap, x[k], at+"."+k)...)
			}
		}
	}
	return errs
}

func typeMatches(typ string, v any) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := strconv.ParseInt(n.String(), 10, 64)
		return err == nil
	}
	return false
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return fmt.Sprintf("string %q", x)
	case json.Number:
		return "number " + x.String()
	case bool:
		return fmt.Sprintf("boolean %v", x)
	}
	return fmt.Sprintf("%T", v)
}

// sameValue compares a YAML enum value with a decoded JSON value.
func sameValue(e, v any) bool {
	if n, ok := v.(json.Number); ok {
		return fmt.Sprint(e) == n.String()
	}
	return e == v
}

func intKeyword(schema map[string]any, k string) (int, bool) {
	n, ok := schema[k].(int)
	return n, ok
}

func numKeyword(schema map[string]any, k string) (*big.Float, bool) {
	switch n := schema[k].(type) {
	case int:
		return big.NewFloat(float64(n)), true
	case float64:
		return big.NewFloat(n), true
	}
	return nil, false
}

// walkSchemas calls fn for every schema object in the spec: components,
// parameters, request and response bodies, and everything nested.
func (s *spec) walkSchemas(fn func(where string, schema map[string]any)) {
	var walk func(where string, schema map[string]any)
	walk = func(where string, schema map[string]any) {
		fn(where, schema)
		if props, ok := schema["properties"].(map[string]any); ok {
			for k, p := range props {
				walk(where+".properties."+k, p.(map[string]any))
			}
		}
		for _, k := range []string{"items", "additionalProperties"} {
			if sub, ok := schema[k].(map[string]any); ok {
				walk(where+"."+k, sub)
			}
		}
	}
	for name, sc := range s.doc["components"].(map[string]any)["schemas"].(map[string]any) {
		walk("components.schemas."+name, sc.(map[string]any))
	}
	for _, p := range s.paths {
		for m, op := range p.item {
			var params []any
			opm, _ := op.(map[string]any)
			if m == "parameters" {
				params, _ = op.([]any)
			} else {
				params, _ = opm["parameters"].([]any)
				if rb, ok := opm["requestBody"].(map[string]any); ok {
					sc := rb["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
					walk(m+" "+p.template+" request", sc)
				}
			}
			for i, prm := range params {
				if pm, ok := prm.(map[string]any); ok {
					if sc, ok := pm["schema"].(map[string]any); ok {
						walk(fmt.Sprintf("%s %s parameter %d", m, p.template, i), sc)
					}
				}
			}
		}
	}
}
