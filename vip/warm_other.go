//go:build !linux

package vip

// TakeoverCode returns nothing off Linux.
func TakeoverCode() []uintptr { return nil }
