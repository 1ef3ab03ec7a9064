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
