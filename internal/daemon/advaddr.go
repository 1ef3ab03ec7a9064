package daemon

import (
	"net/netip"

	"github.com/vigil-ha/vigil/vrrp"
)

// skipAddrCheck applies skip_check_adv_addr as keepalived does: the
// address list of an advert from the same source as the last advert
// accepted is not checked, so a mismatch neither drops it (strict mode)
// nor warns. The first advert from a new source is always checked.
func (inst *instance) skipAddrCheck(r vrrp.DropReason, src netip.Addr) vrrp.DropReason {
	if (r == vrrp.DropAddrList || r == vrrp.WarnAddrList) && inst.cfg.SkipCheckAdvAddr &&
		inst.advSrc.IsValid() && inst.advSrc == src.Unmap().WithZone("") {
		return vrrp.DropNone
	}
	return r
}

// advertAccepted remembers the source of an accepted advert for
// skipAddrCheck.
func (inst *instance) advertAccepted(src netip.Addr) { inst.advSrc = src.Unmap().WithZone("") }
