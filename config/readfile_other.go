//go:build !unix

package config

import "os"

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }
