package message

import (
	"fmt"
	"regexp"

	"github.com/emiago/sipgo/sip"
)

// Correlator extracts a correlation key from a configured header, such as
// the X-CID a PBX dialplan stamps on every leg of one customer call.
type Correlator struct {
	name string
	re   *regexp.Regexp
}

// NewCorrelator returns a Correlator for header name. When pattern is set,
// the key is its first capture group (or the whole match without groups);
// a value that does not match yields no key.
func NewCorrelator(name, pattern string) (*Correlator, error) {
	c := &Correlator{name: name}
	if pattern != "" {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("correlation header regex %q: %w", pattern, err)
		}
		c.re = re
	}
	return c, nil
}

// Name returns the header name.
func (c *Correlator) Name() string { return c.name }

// Key returns the correlation key carried by m, or "".
func (c *Correlator) Key(m sip.Message) string {
	if c == nil || c.name == "" {
		return ""
	}
	v := Header(m, c.name)
	if v == "" || c.re == nil {
		return v
	}
	sub := c.re.FindStringSubmatch(v)
	switch {
	case sub == nil:
		return ""
	case len(sub) > 1:
		return sub[1]
	}
	return sub[0]
}
