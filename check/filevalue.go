package check

import (
	"errors"
	"fmt"
	"math"
)

// ErrFileValue is wrapped by ParseFileValue's range error.
var ErrFileValue = errors.New("check: track file value out of range")

// ParseFileValue reads a track_file's contents the way keepalived does with
// strtol(buf, NULL, 0): leading white space, an optional sign, then decimal,
// 0x hexadecimal or 0 octal digits; anything after the number is ignored,
// and no number at all (an empty file) is 0. Values outside
// [-2147483648, 2147483648] are an error wrapping ErrFileValue, and
// keepalived ignores such a read (keeps the previous value).
func ParseFileValue(b []byte) (int64, error) {
	i := 0
	for i < len(b) && (b[i] == ' ' || (b[i] >= '\t' && b[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	base := uint64(10)
	if i+1 < len(b) && b[i] == '0' && (b[i+1] == 'x' || b[i+1] == 'X') && i+2 < len(b) && hexDigit(b[i+2]) >= 0 {
		base = 16
		i += 2
	} else if i < len(b) && b[i] == '0' {
		base = 8
	}
	var v uint64
	overflow := false
	for ; i < len(b); i++ {
		d := hexDigit(b[i])
		if d < 0 || uint64(d) >= base {
			break
		}
		if v > (math.MaxUint64-uint64(d))/base {
			overflow = true
		}
		v = v*base + uint64(d)
	}
	const lo, hi = -(1 << 31), 1 << 31
	if overflow || (!neg && v > hi) || (neg && v > -lo) {
		s := "-"
		if !neg {
			s = ""
		}
		return 0, fmt.Errorf("%w: %s%d", ErrFileValue, s, v)
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
