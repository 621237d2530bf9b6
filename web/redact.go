package web

import "regexp"

// userinfo matches credentials in a URL (scheme://user:password@, scheme://token@) or a
// go-sql-driver DSN (user:password@tcp(…)); greedy up to the last @ of the word, so a password that
// holds an @ is hidden whole.
var userinfo = regexp.MustCompile(`(?:([A-Za-z][A-Za-z0-9+.-]*://)|[^\s:@/]*:)\S*@`)

// passwordParam matches key=value passwords (password=…, pwd=…).
var passwordParam = regexp.MustCompile(`(?i)\b(password|passwd|pwd|pass)=[^\s&;,]*`)

// redactSecrets hides credentials in a dependency's error text, which may carry the address it dialled.
// Drivers should not put passwords in their errors; this is the defence for those that do.
func redactSecrets(s string) string {
	s = userinfo.ReplaceAllString(s, "${1}[redacted]@")
	return passwordParam.ReplaceAllString(s, "${1}=[redacted]")
}
