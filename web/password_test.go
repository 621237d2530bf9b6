package web

import (
	"strings"
	"testing"
)

// testArgon is cheap, so tests can log in often.
var testArgon = argonParams{memoryKiB: 64, passes: 1, lanes: 1}

func TestPasswordHashRoundTrip(t *testing.T) {
	h := hashPassword("correct horse battery", testArgon)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash = %q, want a PHC argon2id string", h)
	}
	if h2 := hashPassword("correct horse battery", testArgon); h2 == h {
		t.Errorf("two hashes of one password are equal: salts are not random")
	}
	for _, tc := range []struct {
		try  string
		want bool
	}{
		{"correct horse battery", true},
		{"correct horse batterY", false},
		{"", false},
		{"correct horse battery ", false},
	} {
		got, err := checkPassword(h, tc.try)
		if err != nil || got != tc.want {
			t.Errorf("checkPassword(%q) = %v, %v; want %v", tc.try, got, err, tc.want)
		}
	}
}

func TestPasswordRefusesTamperedHashes(t *testing.T) {
	good := hashPassword("correct horse battery", testArgon)
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":       "",
		"bcrypt":      "$2a$10$abcdefghijklmnopqrstuu",
		"argon2i":     strings.Replace(good, "argon2id", "argon2i", 1),
		"old version": strings.Replace(good, "v=19", "v=16", 1),
		"huge memory": strings.Replace(good, "m=64", "m=99999999", 1),
		"zero passes": strings.Replace(good, "t=1", "t=0", 1),
		"bad salt":    strings.Join(append(append([]string{}, parts[:4]...), "!!", parts[5]), "$"),
		"short hash":  strings.Join(append(append([]string{}, parts[:5]...), "AAAA"), "$"),
	} {
		if ok, err := checkPassword(h, "correct horse battery"); ok || err == nil {
			t.Errorf("%s: checkPassword = %v, %v; want false and an error", name, ok, err)
		}
	}
}

func TestCheckNewPassword(t *testing.T) {
	for _, tc := range []struct {
		p  string
		ok bool
	}{
		{"short", false},
		{"ten chars!", true},
		{strings.Repeat("x", maxPassword), true},
		{strings.Repeat("x", maxPassword+1), false},
		{"bad utf8 \xff\xfe\xfd", false},
	} {
		if err := checkNewPassword(tc.p); (err == nil) != tc.ok {
			t.Errorf("checkNewPassword(%.20q) = %v; want ok=%v", tc.p, err, tc.ok)
		}
	}
}
