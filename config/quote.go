package config

import (
	"errors"
	"fmt"
)

// splitQuotedEscaped splits s as keepalived splits script strings: words
// separated by whitespace, '...' and "..." group (and concatenate with
// adjacent text), backslash escapes (\n \t \xNN \NNN \cX ...) everywhere
// except that inside single quotes only \' and \\ matter as escapes too.
func splitQuotedEscaped(s string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		var w []byte
		var q byte
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i >= len(s) {
					return out, errors.New("missing escape character at end")
				}
				e := s[i]
				switch {
				case e == 'x' && i+1 < len(s) && isHex(s[i+1]):
					i++
					var v byte
					for i < len(s) && isHex(s[i]) {
						v = v<<4 | hexVal(s[i])
						i++
					}
					w = append(w, v)
					continue
				case e == 'c' && i+1 < len(s):
					w = append(w, s[i+1]&0x1f)
					i += 2
					continue
				case e >= '0' && e <= '7':
					v := e - '0'
					i++
					for n := 0; n < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; n++ {
						v = v<<3 + (s[i] - '0')
						i++
					}
					w = append(w, v)
					continue
				}
				m := map[byte]byte{'a': '\a', 'b': '\b', 'E': 0x1b, 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}
				if v, ok := m[e]; ok {
					w = append(w, v)
				} else {
					w = append(w, e)
				}
				i++
			case q != 0 && c == q:
				q = 0
				i++
			case q != 0:
				w = append(w, c)
				i++
			case c == '"' || c == '\'':
				q = c
				i++
			case c == ' ' || c == '\t':
				break word
			default:
				w = append(w, c)
				i++
			}
		}
		if q != 0 {
			return out, fmt.Errorf("missing terminating %c", q)
		}
		out = append(out, string(w))
	}
}

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
