package healthcheck

import (
	"bytes"
	"strconv"
)

// AppendHTTPRequest appends keepalived's HTTP_GET request, sent in one
// write: http_protocol "1.0" (default) sends HTTP/1.0 without a Connection
// header, "1.0C" HTTP/1.0 with "Connection: close", "1.1" HTTP/1.1 with it.
func AppendHTTPRequest(b []byte, path, host, proto string) []byte {
	ver, closeHdr := "1.0", false
	switch proto {
	case "1.0C", "1.0c":
		closeHdr = true
	case "1.1":
		ver, closeHdr = "1.1", true
	}
	b = append(b, "GET "...)
	b = append(b, path...)
	b = append(b, " HTTP/"...)
	b = append(b, ver...)
	b = append(b, "\r\nUser-Agent: KeepAliveClient\r\n"...)
	if closeHdr {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "Host: "...)
	b = append(b, host...)
	return append(b, "\r\n\r\n"...)
}

// HTTPStatus reads the status code from a response's first line the way
// keepalived does: the text after the first space must be exactly three
// digits followed by a space; anything else (a status line without a
// reason phrase included) is 0.
func HTTPStatus(head []byte) int {
	line, _, _ := bytes.Cut(head, []byte("\r\n"))
	_, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(rest) < 4 || rest[3] != ' ' {
		return 0
	}
	return threeDigits(rest)
}

// threeDigits is the number in b's first three bytes, 0 unless all three
// are decimal digits.
func threeDigits(b []byte) int {
	if len(b) < 3 {
		return 0
	}
	n := 0
	for _, c := range b[:3] {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// HTTPContentLength finds "Content-Length:" (matched with its case, as
// keepalived does) in the headers; ok is false without one.
func HTTPContentLength(head []byte) (n int64, ok bool) {
	i := bytes.Index(head, []byte("\r\nContent-Length:"))
	if i < 0 {
		return 0, false
	}
	v := head[i+len("\r\nContent-Length:"):]
	v, _, _ = bytes.Cut(v, []byte("\r\n"))
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// statusIn reports whether code lies in one of the inclusive ranges.
func statusIn(code int, ranges [][2]int) bool {
	for _, r := range ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}
