package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// argonParams are argon2id's cost parameters (RFC 9106). The hub's are OWASP's recommended minimum:
// 19 MiB of memory, two passes, one lane; tests lower them.
type argonParams struct {
	memoryKiB uint32
	passes    uint32
	lanes     uint8
}

var defaultArgon = argonParams{memoryKiB: 19 * 1024, passes: 2, lanes: 1}

// Password limits. The upper bound keeps a login from making the hub hash megabytes.
const (
	minPassword = 10
	maxPassword = 200
)

// checkNewPassword says what is wrong with a password someone chose.
func checkNewPassword(p string) error {
	switch n := utf8.RuneCountInString(p); {
	case !utf8.ValidString(p):
		return errors.New("the password is not valid UTF-8")
	case n < minPassword:
		return fmt.Errorf("the password must be at least %d characters", minPassword)
	case len(p) > maxPassword:
		return fmt.Errorf("the password must be at most %d bytes", maxPassword)
	}
	return nil
}

// hashPassword returns the PHC string of an argon2id hash of p with a fresh salt:
// $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func hashPassword(p string, a argonParams) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	sum := argon2.IDKey([]byte(p), salt, a.passes, a.memoryKiB, a.lanes, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, a.memoryKiB, a.passes, a.lanes, b64.EncodeToString(salt), b64.EncodeToString(sum))
}

// errBadHash means a stored hash is not one hashPassword wrote.
var errBadHash = errors.New("web: stored password hash is malformed")

// checkPassword reports whether p matches the PHC string hash, in time independent of where they differ.
// Parameters come from the hash, so raising them later keeps old passwords working.
func checkPassword(hash, p string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errBadHash
	}
	var a argonParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &a.memoryKiB, &a.passes, &a.lanes); err != nil {
		return false, errBadHash
	}
	// Bounds, so a tampered row cannot make a login allocate gigabytes or spin for minutes.
	if a.memoryKiB < 8 || a.memoryKiB > 1<<20 || a.passes < 1 || a.passes > 16 || a.lanes < 1 || a.lanes > 16 {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(want) < 16 || len(want) > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(p), salt, a.passes, a.memoryKiB, a.lanes, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// HashPassword checks a new password and hashes it as the dashboard does, for `hub admin create`.
func HashPassword(p string) (string, error) {
	if err := checkNewPassword(p); err != nil {
		return "", err
	}
	return hashPassword(p, defaultArgon), nil
}
