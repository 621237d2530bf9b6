package web

import (
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how much of X-Forwarded-For is read.
const maxForwardedHops = 32

// clientIP returns the address of the client behind a request that came from peer (host:port) with
// headers h. Only a peer in s.cfg.TrustedProxies is believed about X-Forwarded-For (FACTS.md): then the
// client is the right-most address there that is not a trusted proxy itself. Anyone can write the
// left-most entries, so they are never used past an untrusted hop.
func (s *Server) clientIP(peer string, h http.Header) string {
	return clientIP(hostOf(peer), h.Values("X-Forwarded-For"), s.cfg.TrustedProxies)
}

func clientIP(peer string, forwarded []string, trusted []netip.Prefix) string {
	addr, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(addr, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(forwarded, ","), ",")
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: the last trusted hop is all that is known
		}
		addr = hop.Unmap()
		if !isTrusted(addr, trusted) {
			break
		}
	}
	return addr.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies parses a comma-separated list of addresses and CIDR prefixes (10.0.0.0/8,
// 127.0.0.1, ::1) for Config.TrustedProxies.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
