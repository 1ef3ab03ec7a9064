package nftfilter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Applier commits an nft script as one transaction. Exec is the real one;
// tests of the callers record the scripts instead.
type Applier interface {
	Apply(ctx context.Context, script string) error
}

// ErrNoNft is wrapped when the nft binary cannot be found.
var ErrNoNft = errors.New("nftfilter: nft not found")

// maxStderr bounds how much of nft's complaint an error carries.
const maxStderr = 1024

// Exec applies scripts with `nft -f -`. Path is the nft binary ("" looks
// "nft" up in PATH). Cancelling ctx kills nft; a transaction nft did not
// commit leaves the kernel as it was.
type Exec struct {
	Path string
}

// Apply runs nft with script on its standard input.
func (e Exec) Apply(ctx context.Context, script string) error {
	path := e.Path
	if path == "" {
		p, err := exec.LookPath("nft")
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNoNft, err)
		}
		path = p
	}
	cmd := exec.CommandContext(ctx, path, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &limited{b: &stderr, n: maxStderr}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return fmt.Errorf("nftfilter: nft -f -: %w", err)
		}
		return fmt.Errorf("nftfilter: nft -f -: %w: %s", err, msg)
	}
	return nil
}

// limited keeps the first n bytes written to it and drops the rest.
type limited struct {
	b *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
