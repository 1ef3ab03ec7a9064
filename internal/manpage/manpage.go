package manpage

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// helpFlag matches an option line of pflag's usage: "  -f, --use-file
// string   ..." or "      --strict   ...".
var helpFlag = regexp.MustCompile(`^\s+(?:-([A-Za-z0-9]), )?--([A-Za-z0-9][A-Za-z0-9_-]*)`)

// Flags returns the options of a --help text, each as it is typed:
// "--use-file", "-f".
func Flags(help string) []string {
	var flags []string
	for _, l := range strings.Split(help, "\n") {
		m := helpFlag.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		flags = append(flags, "--"+m[2])
		if m[1] != "" {
			flags = append(flags, "-"+m[1])
		}
	}
	return flags
}

// Missing returns the flags that roff, a man page's source, never names
// the way a page must write them: every '-' as "\-", and a short option
// not merely as the tail of a longer one.
func Missing(roff string, flags []string) []string {
	var missing []string
	for _, f := range flags {
		esc := regexp.QuoteMeta(strings.ReplaceAll(f, "-", `\-`))
		re := regexp.MustCompile(`(?:^|[^-])` + esc + `(?:[^A-Za-z0-9_\\]|\\[^-]|$)`)
		if !re.MatchString(roff) {
			missing = append(missing, f)
		}
	}
	return missing
}

// Check reads the man page at path and returns its text and the options
// of help, with -h and --help, that it does not document; at least min
// options must be found in help, or err says the help text was not read.
func Check(help, path string, min int) (roff string, missing []string, err error) {
	flags := append(Flags(help), "--help", "-h")
	if len(flags) < min {
		return "", nil, fmt.Errorf("found only %d options in the help text:\n%s", len(flags), help)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	return string(b), Missing(string(b), flags), nil
}
