package lighting

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Bounds of the block list.
const (
	maxBlocks        = 10000 // names, and as many addresses
	maxBlockedName   = 128   // bytes
	blockedViewerMsg = "you cannot change the lights on this stream"
)

// blockList is the viewers the streamer blocked: by display name (case-insensitive) or address.
type blockList struct {
	names map[string]struct{} // lower-cased
	addrs map[netip.Addr]struct{}
}

// has reports whether v is blocked. It allocates nothing while the list is empty.
func (b blockList) has(v Viewer) bool {
	if len(b.names) > 0 && v.Name != "" && b.hasName(strings.TrimSpace(v.Name)) {
		return true
	}
	if len(b.addrs) > 0 && v.IP != "" {
		if a, err := netip.ParseAddr(v.IP); err == nil {
			if _, ok := b.addrs[a.WithZone("").Unmap()]; ok {
				return true
			}
		}
	}
	return false
}

// hasName reports whether the lower-cased name is blocked, lower-casing an ASCII name on the stack.
func (b blockList) hasName(name string) bool {
	var buf [maxBlockedName]byte
	if len(name) > len(buf) {
		return false // longer than any blocked name
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf {
			_, ok := b.names[strings.ToLower(name)]
			return ok
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	_, ok := b.names[string(buf[:len(name)])] // a map index does not copy the bytes
	return ok
}

// SetBlocks replaces the block list: viewers whose display name matches one of names (case-insensitive,
// surrounding spaces ignored) or whose address is one of ips are refused with CodeBlocked. A name that is
// empty or longer than 128 bytes, an address that is not an IP address, or more than 10,000 of either is
// refused with CodeBadRequest, and nothing changes.
func (s *Service) SetBlocks(names, ips []string) error {
	if len(names) > maxBlocks || len(ips) > maxBlocks {
		return badRequest(fmt.Sprintf("at most %d blocked names and %d blocked addresses", maxBlocks, maxBlocks))
	}
	b := blockList{names: make(map[string]struct{}, len(names)), addrs: make(map[netip.Addr]struct{}, len(ips))}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || len(n) > maxBlockedName {
			return badRequest(fmt.Sprintf("blocked names must be 1–%d bytes", maxBlockedName))
		}
		b.names[strings.ToLower(n)] = struct{}{}
	}
	for _, ip := range ips {
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		if err != nil {
			return badRequest(fmt.Sprintf("blocked address %s is not an IP address", quoteShort(ip)))
		}
		b.addrs[a.WithZone("").Unmap()] = struct{}{}
	}
	s.mu.Lock()
	s.blocks = b
	s.mu.Unlock()
	return nil
}
