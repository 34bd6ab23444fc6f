package scoring

import (
	"math"
	"strings"
)

// Feature names. Transcript n-grams are prefixed by channel ("caller:", "agent:")
// so the same words weigh differently in the customer's and the CSR's mouth;
// CSR notes are prefixed "note:"; structured features use "key=value".
const (
	prefixCaller = "caller:"
	prefixAgent  = "agent:"
	prefixNote   = "note:"
)

// Origins of a feature occurrence, used to quote the call in signals.
const (
	originStructured = -1
	originNotes      = -2
)

// ngramScale keeps the n-gram block's weight comparable between short and
// long calls: each occurrence counts ngramScale/sqrt(n) where n is the number
// of n-grams on that channel (a sublinear tf normalisation).
const ngramScale = 3.0

// span is one token: start and end in the lowered text.
type span struct{ s, e int }

// extractor turns a Call into sparse features. It reuses its buffers, so one
// extractor serves one goroutine; scoring allocates nothing per n-gram.
type extractor struct {
	low  []byte
	toks []span
	key  []byte
}

// emitFunc receives each feature occurrence. key is only valid during the call.
type emitFunc func(key []byte, v float64, origin int)

// tokenize lowers text into e.low and splits it into e.toks. Tokens are
// runs of letters and digits; apostrophes vanish ("don't" -> "dont"); any
// token with a digit becomes "<num>" so prices and addresses share a feature.
func (e *extractor) tokenize(text string) {
	e.low = e.low[:0]
	e.toks = e.toks[:0]
	start := -1
	digit := false
	flush := func() {
		if start < 0 {
			return
		}
		if digit {
			e.low = append(e.low[:start], "<num>"...)
		}
		e.toks = append(e.toks, span{start, len(e.low)})
		e.low = append(e.low, ' ')
		start = -1
		digit = false
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
			fallthrough
		case c >= 'a' && c <= 'z':
			if start < 0 {
				start = len(e.low)
			}
			e.low = append(e.low, c)
		case c >= '0' && c <= '9':
			if start < 0 {
				start = len(e.low)
			}
			digit = true
			e.low = append(e.low, c)
		case c == '\'':
			// keep the word whole
		case c >= 0x80:
			// UTF-8 continuation or letter outside ASCII: keep it in the token.
			if start < 0 {
				start = len(e.low)
			}
			e.low = append(e.low, c)
		default:
			flush()
		}
	}
	flush()
}

// ngrams emits unigrams and bigrams of the current tokens with prefix.
func (e *extractor) ngrams(prefix string, v float64, origin int, emit emitFunc) {
	for i, t := range e.toks {
		e.key = append(e.key[:0], prefix...)
		e.key = append(e.key, e.low[t.s:t.e]...)
		emit(e.key, v, origin)
		if i+1 < len(e.toks) {
			n := e.toks[i+1]
			e.key = append(e.key, ' ')
			e.key = append(e.key, e.low[n.s:n.e]...)
			emit(e.key, v, origin)
		}
	}
}

// countTokens counts the tokens tokenize would make of text, without
// writing them anywhere (the first of extract's two passes).
func (e *extractor) countTokens(text string) int {
	n := 0
	in := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		word := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
		switch {
		case word && !in:
			n++
			in = true
		case !word && c != '\'':
			in = false
		}
	}
	return n
}

// extract emits every feature of c.
func (e *extractor) extract(c *Call, emit emitFunc) {
	str := func(k, v string) {
		e.key = append(e.key[:0], k...)
		e.key = append(e.key, '=')
		e.key = appendNorm(e.key, v)
		emit(e.key, 1, originStructured)
	}
	// Transcript n-grams, per channel.
	if c.HasTranscript() {
		str("transcript", "yes")
		var n [2]int
		for _, s := range c.Transcript.Segments {
			switch channelOf(s.Channel) {
			case 'c':
				n[0] += 2*e.countTokens(s.Text) - 1
			case 'a':
				n[1] += 2*e.countTokens(s.Text) - 1
			}
		}
		for i, s := range c.Transcript.Segments {
			var prefix string
			var cnt int
			switch channelOf(s.Channel) {
			case 'c':
				prefix, cnt = prefixCaller, n[0]
			case 'a':
				prefix, cnt = prefixAgent, n[1]
			default:
				continue
			}
			e.tokenize(s.Text)
			e.ngrams(prefix, ngramScale/math.Sqrt(float64(max(cnt, 1))), i, emit)
		}
	} else {
		str("transcript", "none")
	}

	// CSR notes.
	if strings.TrimSpace(c.Classification.Notes) != "" {
		n := 2*e.countTokens(c.Classification.Notes) - 1
		e.tokenize(c.Classification.Notes)
		e.ngrams(prefixNote, ngramScale/math.Sqrt(float64(max(n, 1))), originNotes, emit)
	} else {
		str("notes", "none")
	}

	// Structured features.
	str("type", orUnknown(c.Classification.CallType))
	str("reason", orUnknown(c.Classification.Reason))
	switch {
	case c.Classification.ReasonIsLead == nil:
		str("reason_is_lead", "unknown")
	case *c.Classification.ReasonIsLead:
		str("reason_is_lead", "yes")
	default:
		str("reason_is_lead", "no")
	}
	str("talk", talkBucket(c.TalkMs))
	switch {
	case c.KnownCustomer == nil:
		str("customer", "unknown")
	case *c.KnownCustomer:
		str("customer", "known")
	default:
		str("customer", "new")
	}
	switch {
	case c.RepeatCalls <= 0:
		str("repeat", "0")
	case c.RepeatCalls == 1:
		str("repeat", "1")
	default:
		str("repeat", "2+")
	}
	if c.Campaign != "" {
		str("campaign", c.Campaign)
	}
	for _, f := range c.HealthFlags {
		str("health", f)
	}
}

// talkBucket puts talk time into coarse buckets: a linear term would let a
// 40-minute call dominate everything else.
func talkBucket(ms int64) string {
	switch s := ms / 1000; {
	case s < 30:
		return "<30s"
	case s < 60:
		return "30-60s"
	case s < 120:
		return "1-2m"
	case s < 300:
		return "2-5m"
	case s < 600:
		return "5-10m"
	default:
		return "10m+"
	}
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "unknown"
	}
	return s
}

// appendNorm appends v lowered with runs of non-alphanumerics as one '_'.
func appendNorm(dst []byte, v string) []byte {
	sep := false
	start := len(dst)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
			fallthrough
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c >= 0x80, c == '+', c == '<':
			if sep && len(dst) > start {
				dst = append(dst, '_')
			}
			sep = false
			dst = append(dst, c)
		default:
			sep = true
		}
	}
	return dst
}
