package check

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseFileValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"", 0, false}, {"\n", 0, false}, {"0", 0, false}, {"42\n", 42, false}, {"  -17 trailing", -17, false},
		{"+5", 5, false}, {"0x1f", 31, false}, {"-010", -8, false}, {"-0x10", -16, false}, {"0X1F\n", 31, false}, {"010", 8, false}, {"09", 0, false},
		{"abc", 0, false}, {"-", 0, false}, {"0x", 0, false}, {"12abc", 12, false},
		{"2147483648", 2147483648, false}, {"-2147483648", -2147483648, false},
		{"2147483649", 0, true}, {"-2147483649", 0, true}, {"99999999999999999999999", 0, true},
	} {
		got, err := ParseFileValue([]byte(tc.in))
		if (err != nil) != tc.err || (err == nil && got != tc.want) {
			t.Errorf("ParseFileValue(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrFileValue) {
			t.Errorf("%q: error %v does not wrap ErrFileValue", tc.in, err)
		}
	}
}

func TestTrackFileReadAndInit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tf")
	if v, err := ReadTrackFile(p); v != 0 || err != nil {
		t.Fatalf("missing file: %d %v, want 0", v, err)
	}
	if err := InitTrackFile(p, 5, false); err != nil {
		t.Fatal(err)
	}
	if v, _ := ReadTrackFile(p); v != 5 {
		t.Fatalf("after init: %d", v)
	}
	if b, _ := os.ReadFile(p); string(b) != "5\n" {
		t.Fatalf("init wrote %q", b)
	}
	if err := InitTrackFile(p, 7, false); err != nil {
		t.Fatal(err)
	}
	if v, _ := ReadTrackFile(p); v != 5 {
		t.Fatalf("init without overwrite changed the value to %d", v)
	}
	if err := InitTrackFile(p, -7, true); err != nil {
		t.Fatal(err)
	}
	if v, _ := ReadTrackFile(p); v != -7 {
		t.Fatalf("init with overwrite: %d", v)
	}
	os.WriteFile(p, []byte("99999999999\n"), 0o644)
	if _, err := ReadTrackFile(p); !errors.Is(err, ErrFileValue) {
		t.Fatalf("out of range: %v", err)
	}
	if err := InitTrackFile(dir, 1, true); err == nil {
		t.Fatal("init over a directory succeeded")
	}
}

// FuzzParseFileValue: never panics, stays in keepalived's accepted range,
// and agrees with strconv for plain decimal numbers.
func FuzzParseFileValue(f *testing.F) {
	// "-010" is octal after a sign, as strtol reads it (found by this fuzzer).
	for _, s := range []string{"0", "42\n", " -7x", "0x10", "017", "2147483648", "-2147483649", "", "-010"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseFileValue([]byte(s))
		if err != nil {
			return
		}
		if v < -(1<<31) || v > 1<<31 {
			t.Fatalf("%q parsed to %d, outside the accepted range", s, v)
		}
		digits := strings.TrimPrefix(s, "-")
		if len(digits) > 0 && len(s) < 12 && digits[0] != '0' && digits[0] != '+' && !strings.ContainsAny(s, " \t\n\r\v\fxX") {
			if want, perr := strconv.ParseInt(s, 10, 64); perr == nil && want != v {
				t.Fatalf("%q: %d, strconv says %d", s, v, want)
			}
		}
	})
}
