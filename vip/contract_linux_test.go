package vip_test

import "testing"

func TestContractManager(t *testing.T) {
	_, _, _, m := oneHost(t)
	reconcilerContract(t, m)
}

func TestLeftoversManager(t *testing.T) {
	_, _, _, m := oneHost(t)
	leftoversContract(t, m)
}

func TestVMACContractManager(t *testing.T) {
	_, h, _, m := oneHost(t)
	h.Exec(t, "ip", "link", "add", "other0", "type", "veth", "peer", "name", "other1")
	vmacContract(t, m)
}
