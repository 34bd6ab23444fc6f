package capture

import (
	"bytes"
)

// maxStartLine bounds how far we look for the end of a SIP start line.
const maxStartLine = 2048

// startLine results.
const (
	notSIP   = 0
	isSIP    = 1
	needMore = -1
)

const sipVersion = "SIP/2.0"

// startLine reports whether b begins with a SIP start line: a status line
// "SIP/2.0 NNN ..." or a request line "METHOD SP Request-URI SP SIP/2.0".
// It returns needMore when b holds a plausible but incomplete first line.
// It never allocates: it runs on every UDP datagram, RTP included.
func startLine(b []byte) int {
	if len(b) == 0 {
		return needMore
	}
	// RTP starts with 0x80.., STUN with 0x00/0x01, so the first byte
	// rejects almost every non-SIP datagram at once.
	if c := b[0]; c < 'A' || c > 'Z' {
		return notSIP
	}
	n := min(len(b), maxStartLine)
	eol := bytes.IndexByte(b[:n], '\n')
	if eol < 0 {
		if len(b) >= maxStartLine {
			return notSIP
		}
		// Plausible so far when it is a prefix of "SIP/2.0 " or the
		// method token is still made of token characters.
		if v := b[:min(len(b), len(sipVersion))]; bytes.Equal(v, []byte(sipVersion)[:len(v)]) {
			return needMore
		}
		for _, c := range b[:min(len(b), 16)] {
			if c == ' ' {
				break
			}
			if !isTokenChar(c) {
				return notSIP
			}
		}
		return needMore
	}
	line := b[:eol]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if bytes.HasPrefix(line, []byte(sipVersion)) {
		// Status-Line: SIP/2.0 SP 3DIGIT SP Reason-Phrase
		if len(line) < 11 || line[7] != ' ' || !isDigit(line[8]) || !isDigit(line[9]) || !isDigit(line[10]) {
			return notSIP
		}
		if len(line) > 11 && line[11] != ' ' {
			return notSIP
		}
		return isSIP
	}
	// Request-Line: Method SP Request-URI SP SIP-Version
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return notSIP
	}
	for _, c := range line[:sp] {
		if !isTokenChar(c) {
			return notSIP
		}
	}
	if !bytes.HasSuffix(line, []byte(sipVersion)) || len(line) < sp+1+1+1+len(sipVersion) {
		return notSIP
	}
	if line[len(line)-len(sipVersion)-1] != ' ' {
		return notSIP
	}
	return isSIP
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isTokenChar follows the RFC 3261 "token" rule.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}

// findStartLine returns the offset of the first line in b that begins a SIP
// message (possibly incomplete: needMore counts as found, so the caller keeps
// it), or -1. It only looks at line starts.
func findStartLine(b []byte) int {
	for i := 0; i < len(b); {
		if startLine(b[i:]) != notSIP {
			return i
		}
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			return -1
		}
		i += nl + 1
	}
	return -1
}

// frameResult describes the first SIP message in a byte stream.
type frameResult int

const (
	frameOK        frameResult = iota // a complete message of length n
	frameNeedMore                     // wait for more bytes
	frameMalformed                    // not a usable message: resync
)

// frameMessage finds the end of the SIP message at the start of b using the
// header block and Content-Length (RFC 3261 18.3: mandatory on streams; a
// missing one means an empty body). max bounds the whole message. The
// header end is searched from offset from on (where an earlier call with
// fewer bytes stopped), so a message arriving in many small segments is not
// rescanned each time. total is the message length once the headers are
// complete, even when the body is not.
func frameMessage(b []byte, max, from int) (total int, res frameResult) {
	hdrEnd, sepLen := headerEnd(b[min(from, len(b)):])
	if hdrEnd < 0 {
		if len(b) > max {
			return 0, frameMalformed
		}
		return 0, frameNeedMore
	}
	hdrEnd += min(from, len(b))
	cl, ok := contentLength(b[:hdrEnd])
	if !ok {
		return 0, frameMalformed
	}
	total = hdrEnd + sepLen + cl
	if total > max {
		return 0, frameMalformed
	}
	if len(b) < total {
		return total, frameNeedMore
	}
	return total, frameOK
}

// headerEnd returns the offset of the empty line ending the header block
// and the length of that separator (CRLFCRLF, or bare LFLF from sloppy
// senders).
func headerEnd(b []byte) (int, int) {
	i := bytes.Index(b, []byte(crlfcrlf))
	j := bytes.Index(b, []byte(lflf))
	if j >= 0 && (i < 0 || j < i) {
		return j, 2
	}
	if i >= 0 {
		return i, 4
	}
	return -1, 0
}

const (
	crlfcrlf = "\r\n\r\n"
	lflf     = "\n\n"
)

// contentLength reads Content-Length (or its compact form "l") from a
// header block. Missing means 0; a present but invalid value is not ok.
func contentLength(hdr []byte) (int, bool) {
	for len(hdr) > 0 {
		nl := bytes.IndexByte(hdr, '\n')
		var line []byte
		if nl < 0 {
			line, hdr = hdr, nil
		} else {
			line, hdr = hdr[:nl], hdr[nl+1:]
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := bytes.TrimRight(line[:colon], " \t")
		if !bytes.EqualFold(name, []byte("Content-Length")) && !(len(name) == 1 && (name[0] == 'l' || name[0] == 'L')) {
			continue
		}
		v := bytes.TrimSpace(line[colon+1:])
		if len(v) == 0 || len(v) > 9 {
			return 0, false
		}
		n := 0
		for _, c := range v {
			if !isDigit(c) {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	return 0, true
}

// skipCRLF returns the number of leading CR/LF bytes: RFC 5626 keep-alives
// ("\r\n\r\n" ping, "\r\n" pong) between messages on a stream.
func skipCRLF(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}
