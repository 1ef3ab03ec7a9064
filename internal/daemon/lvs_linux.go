package daemon

import "github.com/vigil-ha/vigil/ipvs"

// dialIPVS opens the kernel's IPVS (Host.IPVS's default).
func dialIPVS() (IPVS, error) {
	k, err := ipvs.Dial()
	if err != nil {
		return nil, err
	}
	return k, nil
}
