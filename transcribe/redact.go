package transcribe

import (
	"strings"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// Redaction marks what replaces sensitive numbers in a transcript.
const (
	CardMark = "[card number]"
	SSNMark  = "[ssn]"
)

// digitWords are the spoken forms ASR writes for digits.
var digitWords = map[string]string{
	"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
	"five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}

// gapWords may sit between the digits of one number ("four one uh one one").
var gapWords = map[string]bool{"uh": true, "um": true, "er": true, "ah": true, "hmm": true, "and": true, "dash": true}

// token is one word of a channel's transcript, located in its segment.
type token struct {
	seg        int
	start, end int    // byte offsets in the segment text
	digits     string // the digits it stands for; "" if none
	repeat     int    // "double" (2) or "triple" (3) multiplies the next digit token
	gap        bool
	word       string
}

// Redact replaces Luhn-valid payment card numbers (13 to 19 digits) and US
// social security numbers in the segments, in place, and reports whether it
// changed anything. Numbers are found in digits ("4111 1111 1111 1111"),
// spoken words ("four one one one ..."), or a mix, and may run across
// segment boundaries of the same channel, as callers read them slowly.
func Redact(segs []*reboundv1.TranscriptSegment) bool {
	changed := false
	for _, ch := range []reboundv1.Channel{reboundv1.Channel_CHANNEL_CALLER, reboundv1.Channel_CHANNEL_AGENT, reboundv1.Channel_CHANNEL_UNSPECIFIED} {
		var idx []int
		for i, s := range segs {
			if s.GetChannel() == ch {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		texts := make([]string, len(idx))
		for j, i := range idx {
			texts[j] = segs[i].GetText()
		}
		out, ok := redactTexts(texts)
		if ok {
			changed = true
			for j, i := range idx {
				segs[i].Text = out[j]
			}
		}
	}
	return changed
}

// RedactText redacts one piece of text (CSR notes, a single segment).
func RedactText(s string) (string, bool) {
	out, ok := redactTexts([]string{s})
	return out[0], ok
}

func redactTexts(texts []string) ([]string, bool) {
	var toks []token
	for si, t := range texts {
		toks = append(toks, tokenizeDigits(si, t)...)
	}
	type cut struct {
		seg, start, end int
		mark            string
	}
	var cuts []cut
	// Walk runs of digit tokens (gap words allowed inside, not at the ends).
	for i := 0; i < len(toks); {
		if toks[i].digits == "" && toks[i].repeat == 0 {
			i++
			continue
		}
		j := i
		var run []int // token indexes that carry digits
		for j < len(toks) && (toks[j].digits != "" || toks[j].repeat > 0 || toks[j].gap) {
			if !toks[j].gap {
				run = append(run, j)
			}
			j++
		}
		// Expand to (digit, token) pairs so a match maps back to tokens.
		var digits []byte
		var owner []int
		rep := 1
		for _, k := range run {
			if toks[k].repeat > 0 {
				rep = toks[k].repeat
				continue
			}
			for range rep {
				for d := 0; d < len(toks[k].digits); d++ {
					digits = append(digits, toks[k].digits[d])
					owner = append(owner, k)
				}
			}
			rep = 1
		}
		mark := func(a, b int, m string) { // digits[a:b] -> tokens owner[a]..owner[b-1]
			first, last := owner[a], owner[b-1]
			// "double" before the first digit goes too.
			for first > i && (toks[first-1].repeat > 0) {
				first--
			}
			for k := first; k <= last; k++ {
				cuts = append(cuts, cut{toks[k].seg, toks[k].start, toks[k].end, m})
			}
		}
		// Card numbers: longest Luhn-valid window of 13-19 digits, aligned to token boundaries.
		used := make([]bool, len(digits))
		for a := 0; a < len(digits); a++ {
			if a > 0 && owner[a] == owner[a-1] {
				continue
			}
			for l := min(19, len(digits)-a); l >= 13; l-- {
				b := a + l
				if b < len(digits) && owner[b] == owner[b-1] {
					continue
				}
				if luhn(digits[a:b]) {
					mark(a, b, CardMark)
					for k := a; k < b; k++ {
						used[k] = true
					}
					a = b - 1
					break
				}
			}
		}
		// SSNs: exactly nine digits in a run, or 3-2-4 groups inside a longer one.
		if len(digits) == 9 && !used[0] && ssnPlausible(digits) {
			mark(0, 9, SSNMark)
		}
		i = j
	}
	if len(cuts) == 0 {
		return texts, false
	}
	out := append([]string(nil), texts...)
	// Apply per segment from the end so offsets stay valid; adjacent cuts merge.
	for si := range out {
		var cs []cut
		for _, c := range cuts {
			if c.seg == si {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			continue
		}
		var b strings.Builder
		t := out[si]
		pos := 0
		for k := 0; k < len(cs); k++ {
			c := cs[k]
			end := c.end
			for k+1 < len(cs) && cs[k+1].mark == c.mark && onlySeparators(t[end:cs[k+1].start]) {
				k++
				end = cs[k].end
			}
			b.WriteString(t[pos:c.start])
			b.WriteString(c.mark)
			pos = end
		}
		b.WriteString(t[pos:])
		out[si] = b.String()
	}
	return out, true
}

func onlySeparators(s string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !isWordRune(r) }) {
		if !gapWords[w] {
			return false
		}
	}
	return true
}

func isWordRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '\''
}

// tokenizeDigits splits text into words with their byte offsets.
func tokenizeDigits(seg int, text string) []token {
	var toks []token
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := strings.ReplaceAll(strings.ToLower(text[start:end]), "'", "")
		t := token{seg: seg, start: start, end: end, word: w}
		switch {
		case allDigits(w):
			t.digits = w
		case digitWords[w] != "":
			t.digits = digitWords[w]
		case w == "double":
			t.repeat = 2
		case w == "triple":
			t.repeat = 3
		case gapWords[w]:
			t.gap = true
		}
		toks = append(toks, t)
		start = -1
	}
	prevDigit := false
	for i, r := range text {
		if r == '\'' && (start < 0 || prevDigit) {
			flush(i) // an apostrophe belongs to words ("don't"), not numbers
			continue
		}
		if isWordRune(r) {
			// Letters and digits glued together ("a4111...") split, so a
			// number cannot hide inside a word.
			d := r >= '0' && r <= '9'
			if r == '\'' {
				d = prevDigit
			}
			if start >= 0 && d != prevDigit {
				flush(i)
			}
			if start < 0 {
				start = i
			}
			prevDigit = d
			continue
		}
		flush(i)
	}
	flush(len(text))
	return toks
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// luhn reports whether digits pass the Luhn check (ISO/IEC 7812).
func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// ssnPlausible rejects nine-digit runs the SSA never issues (area 000, 666
// or 9xx, group 00, serial 0000), which keeps most phone-number fragments
// and order numbers out.
func ssnPlausible(d []byte) bool {
	area, group, serial := string(d[0:3]), string(d[3:5]), string(d[5:9])
	return area != "000" && area != "666" && d[0] != '9' && group != "00" && serial != "0000"
}
