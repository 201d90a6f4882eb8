package cms

import "fmt"

// toDER rewrites BER into DER where they differ in ways signers use:
// indefinite lengths become definite, and constructed (chunked) OCTET
// STRINGs one primitive string. Element count and nesting are bounded.
func toDER(b []byte) ([]byte, error) {
	n := 0
	out, rest, err := berElement(b, 0, &n)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the message", ErrInvalid, len(rest))
	}
	return out, nil
}

// berElement reads one element from b and returns it in DER, and what
// follows it.
func berElement(b []byte, depth int, n *int) (der, rest []byte, err error) {
	if *n++; *n > maxElements || depth > maxDepth {
		return nil, nil, fmt.Errorf("%w: too many or too deeply nested elements", ErrInvalid)
	}
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("%w: truncated", ErrInvalid)
	}
	tag := b[0]
	if tag&0x1f == 0x1f {
		return nil, nil, fmt.Errorf("%w: high tag numbers are not used here", ErrInvalid)
	}
	constructed := tag&0x20 != 0
	b = b[1:]
	var length int
	indefinite := false
	switch l := b[0]; {
	case l < 0x80:
		length, b = int(l), b[1:]
	case l == 0x80:
		if !constructed {
			return nil, nil, fmt.Errorf("%w: indefinite primitive", ErrInvalid)
		}
		indefinite, b = true, b[1:]
	default:
		k := int(l & 0x7f)
		if k > 3 || len(b) < 1+k {
			return nil, nil, fmt.Errorf("%w: length", ErrInvalid)
		}
		for _, c := range b[1 : 1+k] {
			length = length<<8 | int(c)
		}
		b = b[1+k:]
	}
	if !constructed {
		if length > len(b) {
			return nil, nil, fmt.Errorf("%w: truncated", ErrInvalid)
		}
		return encode(tag, b[:length]), b[length:], nil
	}
	var body []byte
	if !indefinite {
		if length > len(b) {
			return nil, nil, fmt.Errorf("%w: truncated", ErrInvalid)
		}
		body, rest = b[:length], b[length:]
	} else {
		body = b
	}
	var children []byte
	var octets []byte // the chunks of a constructed OCTET STRING
	for {
		if indefinite {
			if len(body) >= 2 && body[0] == 0 && body[1] == 0 {
				rest = body[2:]
				break
			}
			if len(body) == 0 {
				return nil, nil, fmt.Errorf("%w: no end of contents", ErrInvalid)
			}
		} else if len(body) == 0 {
			break
		}
		child, after, err := berElement(body, depth+1, n)
		if err != nil {
			return nil, nil, err
		}
		body = after
		if tag == 0x24 {
			if child[0] != 0x04 {
				return nil, nil, fmt.Errorf("%w: a chunk of an octet string is not one", ErrInvalid)
			}
			octets = append(octets, contentOf(child)...)
			continue
		}
		children = append(children, child...)
	}
	if tag == 0x24 {
		return encode(0x04, octets), rest, nil
	}
	return encode(tag, children), rest, nil
}

func encode(tag byte, content []byte) []byte {
	out := []byte{tag}
	switch l := len(content); {
	case l < 0x80:
		out = append(out, byte(l))
	case l < 0x100:
		out = append(out, 0x81, byte(l))
	case l < 0x10000:
		out = append(out, 0x82, byte(l>>8), byte(l))
	default:
		out = append(out, 0x83, byte(l>>16), byte(l>>8), byte(l))
	}
	return append(out, content...)
}

// contentOf is the content of a DER element encode made.
func contentOf(der []byte) []byte {
	switch l := der[1]; {
	case l < 0x80:
		return der[2:]
	default:
		return der[2+int(l&0x7f):]
	}
}
