package daemon

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-ha/vigil/config"
)

// ErrReloadRefused is wrapped by every error of a reload that was not
// applied: the running configuration is kept as it was.
var ErrReloadRefused = errors.New("reload refused, the running configuration is kept")

// maxReasons is how many Fatal complaints a refusal quotes.
const maxReasons = 3

// checkReload decides whether a configuration just loaded may replace the
// running one, which has running instances. It returns nil to apply it,
// or an error wrapping ErrReloadRefused that gives the reason (the file,
// line and column of the Fatal complaints, when there are any):
//
//   - the file could not be loaded (loadErr), or its complaints include a
//     Fatal one: a configuration vigild would not start with, such as a
//     file that is not a keepalived.conf (binary data, mostly unknown
//     keywords) or an include loop;
//   - it has no vrrp_instance while at least one runs, unless force: a
//     truncated or emptied file must not stop every instance and hand the
//     addresses to the peer. An operator who means it forces the reload
//     (vigilctl reload --force) or restarts vigild.
//
// It is a pure function of its arguments.
func checkReload(running int, next *config.Config, complaints []*config.Error, loadErr error, force bool) error {
	var fatal []string
	for _, c := range complaints {
		if c.Severity == config.Fatal {
			e := *c
			e.Fallback = "" // "vigild does not start" speaks of a start
			fatal = append(fatal, e.Error())
		}
	}
	if len(fatal) > maxReasons {
		fatal = append(fatal[:maxReasons], fmt.Sprintf("and %d more", len(fatal)-maxReasons))
	}
	switch {
	case loadErr != nil && len(fatal) > 0:
		return fmt.Errorf("%w: %v: %s", ErrReloadRefused, loadErr, strings.Join(fatal, "; "))
	case loadErr != nil:
		return fmt.Errorf("%w: %v", ErrReloadRefused, loadErr)
	case next == nil:
		return fmt.Errorf("%w: no configuration", ErrReloadRefused)
	case len(fatal) > 0:
		return fmt.Errorf("%w: the configuration cannot run: %s", ErrReloadRefused, strings.Join(fatal, "; "))
	case len(next.Instances) == 0 && running > 0 && !force:
		return fmt.Errorf("%w: the new configuration has no vrrp_instance and would stop the %d running; "+
			"if that is meant, use vigilctl reload --force or restart vigild", ErrReloadRefused, running)
	}
	return nil
}
