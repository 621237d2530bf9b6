//go:build unix

package main

import "syscall"

// raiseFileLimit lifts the soft limit on open files to the hard limit, for this process and the hub it
// starts (children inherit it: setting it explicitly also stops Go restoring the old one for them).
func raiseFileLimit() (soft, hard uint64, err error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, 0, err
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, 0, err
	}
	return uint64(l.Cur), uint64(l.Max), nil
}
