package ctltest

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// The status document has one key style: snake_case, as the names
// vigilctl and the metrics use.
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// IsSnakeCase reports whether s is a snake_case name.
func IsSnakeCase(s string) bool { return snakeCase.MatchString(s) }

// dataKeyed are the objects of the status document whose keys are data
// (names chosen by the operator or the kernel), not names of ours.
var dataKeyed = map[string]bool{
	"tracking.interfaces":          true, // interface names
	"conntrack.last_commit.errors": true, // errno texts
}

// BadJSONKeys returns the path of every key of the JSON document doc that
// is not snake_case (keys that are data left aside), and how many keys it
// checked.
func BadJSONKeys(doc []byte) (bad []string, checked int, err error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, 0, err
	}
	checked = walkJSON("", v, &bad)
	return bad, checked, nil
}

func walkJSON(path string, v any, bad *[]string) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if !dataKeyed[path] {
				n++
				if !IsSnakeCase(k) {
					*bad = append(*bad, p)
				}
			}
			n += walkJSON(p, e, bad)
		}
	case []any:
		for _, e := range x {
			n += walkJSON(path, e, bad)
		}
	}
	return n
}

// BadFieldNames walks typ as encoding/json does and returns every field
// whose JSON name is not snake_case (as "Type.Field (path) name"), and how
// many fields it checked: it covers the parts a running daemon leaves out.
func BadFieldNames(typ reflect.Type) (bad []string, checked int) {
	checked = walkType("", typ, map[reflect.Type]bool{}, &bad)
	return bad, checked
}

func walkType(path string, typ reflect.Type, seen map[reflect.Type]bool, bad *[]string) int {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || seen[typ] || typ == reflect.TypeFor[time.Time]() {
		return 0
	}
	seen[typ] = true
	n := 0
	for f := range typ.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && f.Anonymous {
			n += walkType(path, f.Type, seen, bad) // promoted fields
			continue
		}
		if name == "" {
			name = f.Name
		}
		n++
		if !IsSnakeCase(name) {
			*bad = append(*bad, typ.String()+"."+f.Name+" ("+path+") "+name)
		}
		n += walkType(path+"."+name, f.Type, seen, bad)
	}
	return n
}
