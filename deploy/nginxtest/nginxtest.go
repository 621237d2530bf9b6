// Package nginxtest runs the production nginx config, deploy/nginx/stagelink.conf, in a real nginx on
// loopback, for tests: the file is used as it is, with only its addresses (the hubs, the listen ports)
// and paths (certificate, cache) replaced, so a test through it tests what is deployed.
package nginxtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Options says which hubs the rendered config sends to.
type Options struct {
	Hubs   []string // host:port of every hub: upstream stagelink_hubs
	Origin string   // host:port of the video origin, upstream stagelink_origin; empty: Hubs[0]
	// Plain serves the site over plain HTTP: for the load tool, which measures the hubs, not TLS.
	Plain bool
	// MaxConnsPerAddr replaces the config's connections per client address, when above 0: the load
	// tool's thousands of viewers all come from 127.0.0.1.
	MaxConnsPerAddr int
}

// Nginx is a running nginx with the stagelink config.
type Nginx struct {
	URL     string       // https://127.0.0.1:PORT, the site
	HTTPURL string       // http://127.0.0.1:PORT, the server that redirects to https
	CAFile  string       // PEM of the site's self-signed certificate: SSL_CERT_FILE, NODE_EXTRA_CA_CERTS
	Client  *http.Client // trusts CAFile
	Dir     string       // the prefix: nginx.conf, stagelink.conf, error.log, access.log

	cmd  *exec.Cmd
	out  bytes.Buffer // what nginx wrote before its error log opened
	done chan struct{}
}

// ConfigPath is the path of deploy/nginx/stagelink.conf.
func ConfigPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "nginx", "stagelink.conf")
}

// Binary returns the nginx binary, or skips the test when there is none; in CI (CI set), where .ci/run
// installs Debian's nginx, it fails instead.
func Binary(t testing.TB) string {
	t.Helper()
	if path, err := lookNginx(); err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatal("nginx is missing (CI installs Debian's nginx: see .ci/run)")
	}
	t.Skip("nginx is missing: apt-get install nginx to run the tests through nginx")
	return ""
}

// lookNginx finds nginx on PATH or where Debian puts it (root's PATH may lack /usr/sbin).
func lookNginx() (string, error) {
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", errors.New("nginx is missing: apt-get install nginx")
}

// Render rewrites the config for loopback: the upstream servers become o's hubs, the listen directives
// siteAddr and httpAddr, the certificate and cache paths lie under dir. It fails when a line it
// rewrites is not in conf, so a changed config cannot silently escape the tests.
func Render(conf []byte, o Options, siteAddr, httpAddr, dir string) ([]byte, error) {
	if len(o.Hubs) == 0 {
		return nil, fmt.Errorf("nginxtest: no hubs")
	}
	if o.Origin == "" {
		o.Origin = o.Hubs[0]
	}
	s := string(conf)
	tlsParams := " ssl http2"
	if o.Plain {
		tlsParams = ""
	}
	var err error
	upstream := func(name string, servers []string) {
		if err != nil {
			return
		}
		s, err = replaceServers(s, name, servers)
	}
	upstream("stagelink_hubs", o.Hubs)
	upstream("stagelink_origin", []string{o.Origin})
	if err != nil {
		return nil, err
	}
	rewrites := []struct{ re, with string }{
		{`(?m)^(\s*)listen 443 ssl http2;.*$`, "${1}listen " + siteAddr + tlsParams + ";"},
		{`(?m)^\s*listen \[::\]:443 ssl http2;\n`, ""},
		{`(?m)^(\s*)listen 80;$`, "${1}listen " + httpAddr + ";"},
		{`(?m)^\s*listen \[::\]:80;\n`, ""},
		{`/etc/nginx/tls/`, filepath.Join(dir, "tls") + "/"},
		{`/var/cache/nginx/stagelink`, filepath.Join(dir, "cache")},
	}
	if o.MaxConnsPerAddr > 0 {
		rewrites = append(rewrites, struct{ re, with string }{`limit_conn stagelink_conn \d+;`, fmt.Sprintf("limit_conn stagelink_conn %d;", o.MaxConnsPerAddr)})
	}
	for _, r := range rewrites {
		re := regexp.MustCompile(r.re)
		if !re.MatchString(s) {
			return nil, fmt.Errorf("nginxtest: %s is not in %s any more: update nginxtest.Render", r.re, ConfigPath())
		}
		s = re.ReplaceAllString(s, r.with)
	}
	return []byte(s), nil
}

// replaceServers puts servers in place of the server lines of upstream name, keeping the options
// (max_fails, …) of its first server line.
func replaceServers(s, name string, servers []string) (string, error) {
	re := regexp.MustCompile(`(?s)upstream ` + name + ` \{\n(.*?)\n\}`)
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return "", fmt.Errorf("nginxtest: no upstream %s in %s", name, ConfigPath())
	}
	body := s[m[2]:m[3]]
	server := regexp.MustCompile(`(?m)^([ \t]*)server [^\s;]+(.*)$`)
	first := server.FindStringSubmatch(body)
	if first == nil {
		return "", fmt.Errorf("nginxtest: upstream %s has no server line", name)
	}
	var lines []string
	for _, srv := range servers {
		lines = append(lines, first[1]+"server "+srv+first[2])
	}
	var out []string
	added := false
	for _, line := range strings.Split(body, "\n") {
		if server.MatchString(line) {
			if !added {
				out = append(out, lines...)
				added = true
			}
			continue
		}
		out = append(out, line)
	}
	return s[:m[2]] + strings.Join(out, "\n") + s[m[3]:], nil
}

// mainConf is the nginx.conf around stagelink.conf: Debian's and the official image's put conf.d/*.conf
// in the http block the same way.
const mainConf = `%s
worker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log notice;
events { worker_connections 4096; }
http {
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/tmp/body;
    proxy_temp_path %[2]s/tmp/proxy;
    fastcgi_temp_path %[2]s/tmp/fastcgi;
    uwsgi_temp_path %[2]s/tmp/uwsgi;
    scgi_temp_path %[2]s/tmp/scgi;
    include %[2]s/stagelink.conf;
}
`

// prepare writes nginx.conf, the rendered stagelink.conf and a certificate for 127.0.0.1 into dir.
func prepare(o Options, siteAddr, httpAddr, dir string) error {
	conf, err := os.ReadFile(ConfigPath())
	if err != nil {
		return err
	}
	rendered, err := Render(conf, o, siteAddr, httpAddr, dir)
	if err != nil {
		return err
	}
	for _, d := range []string{"tls", "cache", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	user := "" // a worker that runs as nobody could not enter the test's private temporary directory
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), fmt.Appendf(nil, mainConf, user, dir), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "stagelink.conf"), rendered, 0o644); err != nil {
		return err
	}
	return writeCert(filepath.Join(dir, "tls"))
}

// Check runs `nginx -t` on the rendered config and fails the test with nginx's words when it refuses it.
func Check(t testing.TB, o Options) {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	if err := prepare(o, "127.0.0.1:8443", "127.0.0.1:8080", dir); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", "-p", dir, "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t refuses %s: %v\n%s", ConfigPath(), err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		// nginx 1.25.1 and newer deprecate `listen … http2` for `http2 on`, which 1.22 (Debian 12) does
		// not know: the config keeps the form both take, and that one warning is expected there.
		if strings.Contains(line, "[warn]") && !strings.Contains(line, `the "listen ... http2" directive is deprecated`) {
			t.Errorf("nginx -t on %s warns: %s", ConfigPath(), line)
		}
	}
}

// Start runs nginx in front of o's hubs until the test ends.
func Start(t testing.TB, o Options) *Nginx {
	t.Helper()
	Binary(t)
	n, err := Run(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(n.Dir, "error.log"))
			t.Logf("nginx error.log:\n%s%s", n.out.String(), log)
		}
	})
	return n
}

// Run starts nginx with its files in dir, in front of o's hubs, and returns once it listens; Close
// stops it. The load tool uses it outside tests.
func Run(dir string, o Options) (*Nginx, error) {
	bin, err := lookNginx()
	if err != nil {
		return nil, err
	}
	siteAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if err := prepare(o, siteAddr, httpAddr, dir); err != nil {
		return nil, err
	}
	n := &Nginx{URL: "https://" + siteAddr, HTTPURL: "http://" + httpAddr, CAFile: filepath.Join(dir, "tls", "fullchain.pem"), Dir: dir, done: make(chan struct{})}
	if o.Plain {
		n.URL = "http://" + siteAddr
	}
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(n.CAFile)
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("nginxtest: the certificate: %v", err)
	}
	n.Client = &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	n.cmd = exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	n.cmd.Stdout, n.cmd.Stderr = &n.out, &n.out
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("nginx: %v", err)
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", siteAddr, time.Second)
		if err == nil {
			conn.Close()
			return n, nil
		}
		select {
		case <-n.done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return nil, fmt.Errorf("nginx exited at start: %v\n%s%s", n.cmd.ProcessState, n.out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			n.Close()
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return nil, fmt.Errorf("nginx does not listen on %s: %v\n%s%s", siteAddr, err, n.out.String(), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close ends nginx gracefully (SIGQUIT), or kills it after 5 s.
func (n *Nginx) Close() {
	n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// Log returns what nginx wrote to its access log so far.
func (n *Nginx) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "access.log"))
	return string(b)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost as fullchain.pem and
// privkey.pem, the names the config expects.
func writeCert(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "stagelink nginxtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "fullchain.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "privkey.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}
