package check

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseFileValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"", 0, false}, {"\n", 0, false}, {"0", 0, false}, {"42\n", 42, false}, {"  -17 trailing", -17, false},
		{"+5", 5, false}, {"0x1f", 31, false}, {"0X1F\n", 31, false}, {"010", 8, false}, {"09", 0, false},
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
