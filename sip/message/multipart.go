package message

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Part is one part of a multipart body.
type Part struct {
	// ContentType is the media type without parameters, lower case.
	ContentType string
	// Headers holds the part headers with canonical lower-case names.
	Headers map[string]string
	Body    []byte
}

// ErrNotMultipart is returned when a body is not multipart.
var ErrNotMultipart = errors.New("message: body is not multipart")

// SplitMultipart splits a multipart body (RFC 2046). contentType is the
// message's Content-Type; when it carries no boundary (as in bodies stored
// on their own), the boundary is taken from the first delimiter line. The
// parts share no memory with body.
func SplitMultipart(contentType string, body []byte) ([]Part, error) {
	boundary := ""
	if contentType != "" {
		mt, params, err := mime.ParseMediaType(contentType)
		if err == nil {
			if !strings.HasPrefix(mt, "multipart/") {
				return nil, ErrNotMultipart
			}
			boundary = params["boundary"]
		}
	}
	if boundary == "" {
		trimmed := bytes.TrimLeft(body, "\r\n \t")
		if !bytes.HasPrefix(trimmed, []byte("--")) {
			return nil, ErrNotMultipart
		}
		line := trimmed[2:]
		if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
			line = line[:i]
		}
		boundary = strings.TrimSpace(string(line))
		if boundary == "" {
			return nil, fmt.Errorf("message: multipart body without boundary")
		}
	}
	delim := []byte("--" + boundary)
	var parts []Part
	rest := body
	i := bytes.Index(rest, delim)
	if i < 0 {
		return nil, fmt.Errorf("message: multipart boundary %q not found", boundary)
	}
	rest = rest[i+len(delim):]
	for {
		if bytes.HasPrefix(rest, []byte("--")) {
			break // close delimiter
		}
		// Skip the rest of the delimiter line.
		if j := bytes.IndexByte(rest, '\n'); j >= 0 {
			rest = rest[j+1:]
		} else {
			break
		}
		end := bytes.Index(rest, delim)
		chunk := rest
		last := end < 0
		if !last {
			chunk = rest[:end]
		}
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		chunk = bytes.TrimSuffix(chunk, []byte("\r"))
		parts = append(parts, parsePart(chunk))
		if last {
			break
		}
		rest = rest[end+len(delim):]
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("message: multipart body with no parts")
	}
	return parts, nil
}

func parsePart(chunk []byte) Part {
	p := Part{Headers: map[string]string{}}
	for len(chunk) > 0 {
		j := bytes.IndexByte(chunk, '\n')
		var line []byte
		if j < 0 {
			line, chunk = chunk, nil
		} else {
			line, chunk = chunk[:j], chunk[j+1:]
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		k, v, ok := strings.Cut(string(line), ":")
		if !ok {
			// No header block: the whole chunk is body.
			chunk = append(append(append([]byte{}, line...), '\n'), chunk...)
			break
		}
		p.Headers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	p.Body = append([]byte(nil), chunk...)
	ct := p.Headers["content-type"]
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		p.ContentType = mt
	} else {
		p.ContentType = strings.ToLower(strings.TrimSpace(ct))
	}
	return p
}

// Body returns the part of m's body with media type mediaType (such as
// "application/sdp"), looking inside multipart bodies. It returns nil when
// there is none.
func Body(m sip.Message, mediaType string) []byte {
	if m == nil {
		return nil
	}
	body := m.Body()
	if len(body) == 0 {
		return nil
	}
	ct := ""
	if h := m.GetHeaders("Content-Type"); len(h) > 0 {
		ct = h[0].Value()
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(ct))
	}
	if mt == mediaType {
		return body
	}
	if strings.HasPrefix(mt, "multipart/") {
		parts, err := SplitMultipart(ct, body)
		if err != nil {
			return nil
		}
		for _, p := range parts {
			if p.ContentType == mediaType {
				return p.Body
			}
		}
	}
	return nil
}
