//go:build !unix

package main

import "errors"

// raiseFileLimit is not supported here.
func raiseFileLimit() (soft, hard uint64, err error) {
	return 0, 0, errors.New("raising the open-file limit is not supported on this system")
}
