// Package ctltest helps tests of what reads a status document: it builds
// a Status whose every counter holds a value of its own, so that a test can
// tell which counters a rendering (the metrics, vigilctl's table) shows;
// it answers the ct commands for fake Handlers (Conntrack), and stands in
// for vigild on a socket (Server). For tests only.
package ctltest

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/vigil-ha/vigil/internal/ctl"
)

// Counter is one counter of a filled Status: its place in the JSON
// document (keys joined by dots, "[0]" for an element) and its value.
type Counter struct {
	Path  string
	Value uint64
}

// FilledStatus returns a Status with one instance, socket, script and
// group, conntrack replication and the arbiter on, and every counter (uint64 field, array
// element or map value) set to a value no other counter has, all above
// first; the maps get one key, key. Gauges and texts keep their zero
// value, apart from the names the labels need.
func FilledStatus(first uint64, key string) (ctl.Status, []Counter) {
	s := ctl.Status{
		RouterID:  "r1",
		Instances: []ctl.InstanceStatus{{Name: "VI_1", Interface: "eth0", VRID: 51, Family: "inet", State: "MASTER"}},
		Sockets:   []ctl.SocketStatus{{Interface: "eth0", Family: "inet", Source: "192.0.2.1"}},
		Groups:    []ctl.GroupStatus{{Name: "G", State: "MASTER", Members: []string{"VI_1"}}},
		Conntrack: &ctl.CTStatus{TrackGroup: "G"},
		Arbiter:   &ctl.ArbiterStatus{Mode: "agreed", Witnesses: []ctl.WitnessStatus{{Instance: "VI_1", Address: "192.0.2.7"}}},
	}
	s.Tracking.Scripts = []ctl.ScriptStatus{{Name: "chk", State: "up"}}
	f := filler{next: first, key: key}
	f.fill("", reflect.ValueOf(&s).Elem())
	return s, f.counters
}

type filler struct {
	next     uint64
	key      string
	counters []Counter
}

func (f *filler) count(path string, v reflect.Value) {
	f.next++
	v.SetUint(f.next)
	f.counters = append(f.counters, Counter{path, f.next})
}

func (f *filler) fill(path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Uint64:
		f.count(path, v)
	case reflect.Pointer:
		if !v.IsNil() {
			f.fill(path, v.Elem())
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			f.fill(fmt.Sprintf("%s[%d]", path, i), v.Index(i))
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.Uint64 {
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		n := reflect.New(v.Type().Elem()).Elem()
		f.count(path+"."+f.key, n)
		v.SetMapIndex(reflect.ValueOf(f.key).Convert(v.Type().Key()), n)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			p := path
			switch {
			case name == "-":
				continue
			case name == "" && sf.Anonymous: // promoted fields
			case name == "":
				p = join(path, sf.Name)
			default:
				p = join(path, name)
			}
			f.fill(p, v.Field(i))
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
