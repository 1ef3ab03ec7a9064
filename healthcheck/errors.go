package healthcheck

import (
	"errors"
	"strconv"
)

var errLineTooLong = errors.New("line too long")

// quoteLine quotes at most 64 bytes of a peer's line for an error text.
func quoteLine(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strconv.Quote(string(b))
}
