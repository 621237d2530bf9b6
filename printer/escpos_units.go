package printer

import "fmt"

// escposUnitLen returns the length of the command, or the single text byte, at the start of b: the
// shortest prefix after which bytes may be cut without splitting a command. Link.Print ends its chunks,
// and so places its `GS r 1` markers, only there: a marker inside a command would be taken as the
// command's parameters or image data, and never answered. It knows the commands the encoder and the link
// emit (escpos.go, escpos_image.go, serial.go); anything else is an error, so that nothing is sent that
// cannot be paced safely.
func escposUnitLen(b []byte) (int, error) {
	c := b[0]
	if c >= 0x20 || c == escposLF {
		return 1, nil
	}
	fixed := func(n int) (int, error) {
		if len(b) < n {
			return 0, fmt.Errorf("printer: command % x cut short at the end of the data", b)
		}
		return n, nil
	}
	if len(b) < 2 {
		return fixed(2)
	}
	switch {
	case c == escposESC && b[1] == '@':
		return 2, nil
	case c == escposESC && (b[1] == 't' || b[1] == 'E' || b[1] == 'a' || b[1] == 'd'):
		return fixed(3)
	case c == escposDLE && b[1] == 0x04:
		return fixed(3)
	case c == escposGS && (b[1] == '!' || b[1] == 'a' || b[1] == 'r'):
		return fixed(3)
	case c == escposGS && b[1] == 'V':
		if len(b) < 3 {
			return fixed(3)
		}
		if m := b[2]; m == 65 || m == 66 || m == 97 || m == 98 {
			return fixed(4) // GS V m n: feed n, then cut
		}
		return fixed(3) // GS V m
	case c == escposGS && b[1] == 'v':
		// GS v 0 m xL xH yL yH d1…dk, k = (xL + 256·xH) × (yL + 256·yH)
		if len(b) < 8 {
			return fixed(8)
		}
		return fixed(8 + (int(b[4])+int(b[5])<<8)*(int(b[6])+int(b[7])<<8))
	case c == escposGS && b[1] == '(':
		// GS ( fn pL pH p1…pk, k = pL + 256·pH
		if len(b) < 5 {
			return fixed(5)
		}
		return fixed(5 + int(b[3]) + int(b[4])<<8)
	}
	return 0, fmt.Errorf("printer: byte %#02x %#02x is not a command the link can pace", c, b[1])
}

// escposChunkLen returns how many bytes of b the next chunk takes: whole units only, as many as fit in
// limit, or the first unit alone when it is longer than limit.
func escposChunkLen(b []byte, limit int) (int, error) {
	n := 0
	for n < len(b) {
		u, err := escposUnitLen(b[n:])
		if err != nil {
			return 0, err
		}
		if n > 0 && n+u > limit {
			break
		}
		n += u
	}
	return n, nil
}
