package config

import (
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// memFS is an in-memory set of configuration files for fast tests.
type memFS map[string]string

func (m memFS) opts(id string) Options {
	return Options{
		ConfigID: id,
		ReadFile: func(n string) ([]byte, error) {
			if s, ok := m[n]; ok {
				return []byte(s), nil
			}
			return nil, &fs.PathError{Op: "open", Path: n, Err: fs.ErrNotExist}
		},
		Glob: func(p string) ([]string, error) {
			var out []string
			for k := range m {
				if ok, err := filepath.Match(p, k); err != nil {
					return nil, err
				} else if ok {
					out = append(out, k)
				}
			}
			slices.Sort(out)
			return out, nil
		},
		Random: func(lo, hi int) int { return hi },
	}
}

// readLines runs only the reader and renders each logical line as
// "file:line:col word|word|...".
func readLines(t *testing.T, files memFS, id string) ([]string, []*Error) {
	t.Helper()
	o := withDefaults(files.opts(id))
	r := newReader(&o, id)
	if err := r.readFile("/etc/k/main.conf", Pos{}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range r.out {
		out = append(out, l.pos().String()+" "+strings.Join(words(l.toks), "|"))
	}
	return out, r.errs
}

func TestReader(t *testing.T) {
	m := "/etc/k/main.conf"
	cases := []struct {
		name  string
		files memFS
		id    string
		want  []string
		errs  []string // substrings of complaints, in order
	}{
		{
			name:  "comments hash and bang, not inside quotes",
			files: memFS{m: "router_id a # comment\n! whole line\n  x \"b # c\" ! tail\nk \\#lit\n"},
			want:  []string{m + ":1:1 router_id|a", m + ":3:3 x|b # c", m + ":4:1 k|#lit"},
		},
		{
			name:  "braces glued to words split onto their own lines",
			files: memFS{m: "vrrp_instance X{state MASTER}}\ntrack_script {s1}\n"},
			want: []string{m + ":1:1 vrrp_instance|X", m + ":1:16 {", m + ":1:17 state|MASTER", m + ":1:29 }", m + ":1:30 }",
				m + ":2:1 track_script", m + ":2:14 {", m + ":2:15 s1", m + ":2:17 }"},
		},
		{
			name:  "double quotes group words; braces inside quotes stay",
			files: memFS{m: "notify \"/bin/x {a} b\" root\n"},
			want:  []string{m + ":1:1 notify|/bin/x {a} b|root"},
		},
		{
			name:  "unmatched quote complains with a position",
			files: memFS{m: "a \"b c\n"},
			want:  []string{m + ":1:1 a|b c"},
			errs:  []string{m + ":1:3: unterminated quote", m + ":1:3: unmatched quote"},
		},
		{
			name:  "@ID keeps the line for this node, @^ID for the others",
			files: memFS{m: "@n1 priority 150\n@n2 priority 100\n@^n1 weight 1\n@^n2 weight 2\n@n1\n"},
			id:    "n1",
			want:  []string{m + ":1:5 priority|150", m + ":4:6 weight|2"},
		},
		{
			name:  "parameters: $NAME, ${NAME}, undefined left alone, positions at the reference",
			files: memFS{m: "$P=150\n$IP=192.0.2\npriority $P\naddr ${IP}.1/24 $UNDEF x${IP}y\n"},
			want:  []string{m + ":3:1 priority|150", m + ":4:1 addr|192.0.2.1/24|$UNDEF|x192.0.2y"},
		},
		{
			name:  "parameter value positions point at the reference",
			files: memFS{m: "$P=a b\nk $P\n"},
			want:  []string{m + ":2:1 k|a|b"},
		},
		{
			name:  "redefinition: later lines see the new value; recursion",
			files: memFS{m: "$A=1\nk $A\n$A=2\n$B=$A$A\nk $A ${B}\n"},
			want:  []string{m + ":2:1 k|1", m + ":5:1 k|2|$A2"},
		},
		{
			name:  "multi-line definition expands to several lines",
			files: memFS{m: "$BLK= \\\n  a 1 \\\n  b 2\nblk {\n$BLK\n}\n"},
			want:  []string{m + ":4:1 blk", m + ":4:5 {", m + ":5:1 a|1", m + ":5:1 b|2", m + ":6:1 }"},
		},
		{
			name:  "predefined _INSTANCE, _RANDOM, _BANG in quotes, _PWD",
			files: memFS{m: "k ${_INSTANCE} ${_RANDOM 1 9} \"${_BANG}x\" ${_PWD}\n"},
			id:    "node7",
			want:  []string{m + ":1:1 k|node7|9|!x|/etc/k"},
		},
		{
			name:  "~SEQ repeats the rest of the line",
			files: memFS{m: "~SEQ(N,1,3) a${N}\n~SEQx(H, 9, 11) h$H\n~SEQ(D,2) d$D\n"},
			want:  []string{m + ":1:13 a1", m + ":1:13 a2", m + ":1:13 a3", m + ":2:17 h9", m + ":2:17 ha", m + ":2:17 hb", m + ":3:11 d1", m + ":3:11 d2"},
		},
		{
			name:  "~LST with tuples",
			files: memFS{m: "~LST({A,B},{1,x},{2,y}) k $A $B\n~LST(V,p,q) v $V\n"},
			want:  []string{m + ":1:25 k|1|x", m + ":1:25 k|2|y", m + ":2:13 v|p", m + ":2:13 v|q"},
		},
		{
			name:  "bad ~SEQ complains",
			files: memFS{m: "~SEQ(N,1,-1,3) x\n"},
			errs:  []string{m + ":1:1: ~SEQ: invalid ~SEQ values"},
		},
		{
			name: "include relative to the including file, glob and csh braces, positions in the included file",
			files: memFS{
				m:                      "include conf.d/*.conf\ninclude sub/{a,b}.inc\nend\n",
				"/etc/k/conf.d/1.conf": "one\n",
				"/etc/k/conf.d/2.conf": "two\n",
				"/etc/k/sub/a.inc":     "alpha\ninclude ../conf.d/1.conf\n",
				"/etc/k/sub/b.inc":     "beta\n",
			},
			want: []string{"/etc/k/conf.d/1.conf:1:1 one", "/etc/k/conf.d/2.conf:1:1 two", "/etc/k/sub/a.inc:1:1 alpha",
				"/etc/k/conf.d/1.conf:1:1 one", "/etc/k/sub/b.inc:1:1 beta", m + ":3:1 end"},
		},
		{
			name:  "include without match is a notice; includem without match is fatal",
			files: memFS{m: "include none/*.conf\nincludem none/*.conf\nincludeb {x,y}.conf\n"},
			errs:  []string{m + ":1:1: include: no file matches", m + ":2:1: includem: no file matches", m + ":3:1: includeb: no file matches"},
		},
		{
			name:  "include loop is cut",
			files: memFS{m: "include main.conf\nx\n"},
			want:  []string{m + ":2:1 x"},
			errs:  []string{m + ":1:1: include: include loop"},
		},
		{
			name:  "conditional include and parameter in include name",
			files: memFS{m: "$D=conf.d\n@n1 include ${D}/n1.conf\n@n2 include ${D}/n2.conf\n", "/etc/k/conf.d/n1.conf": "n1\n", "/etc/k/conf.d/n2.conf": "n2\n"},
			id:    "n2",
			want:  []string{"/etc/k/conf.d/n2.conf:1:1 n2"},
		},
		{
			name:  "recursive definition stops",
			files: memFS{m: "$A=$A x\nk $A\n"},
			errs:  []string{"too many parameter substitutions"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, errs := readLines(t, c.files, c.id)
			if c.want != nil && !slices.Equal(got, c.want) {
				t.Errorf("lines:\n got %q\nwant %q", got, c.want)
			}
			var es []string
			for _, e := range errs {
				es = append(es, e.Error())
			}
			for i, w := range c.errs {
				if i >= len(es) || !strings.Contains(es[i], w) {
					t.Errorf("complaint %d: want %q in %q", i, w, es)
				}
			}
			if c.errs == nil && len(es) > 0 {
				t.Errorf("unexpected complaints %q", es)
			}
			for _, e := range errs {
				if !e.Pos.IsValid() {
					t.Errorf("complaint without position: %v", e)
				}
			}
		})
	}
}

func TestSplitQuotedEscaped(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{`/bin/x a b`, []string{"/bin/x", "a", "b"}},
		{`/bin/x 'two words' "and more"`, []string{"/bin/x", "two words", "and more"}},
		{`ab"c d"e`, []string{"abc de"}},
		{`a\tb \x41\101 \cA`, []string{"a\tb", "AA", "\x01"}},
		{`'it\'s'`, []string{"it's"}},
		{`""`, []string{""}},
	}
	for _, c := range cases {
		got, err := splitQuotedEscaped(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("splitQuotedEscaped(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := splitQuotedEscaped(`"open`); err == nil {
		t.Error("unterminated quote not reported")
	}
}

func TestExpandBraces(t *testing.T) {
	got := expandBraces("/a/{b,c{1,2}}/x{y}")
	want := []string{"/a/b/x{y}", "/a/c1/x{y}", "/a/c2/x{y}"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q want %q", got, want)
	}
}
