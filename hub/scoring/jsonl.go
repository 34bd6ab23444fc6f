package scoring

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// maxLine bounds one JSON line: a long call's transcript is tens of
// kilobytes, so 16 MiB leaves room without letting one line eat the heap.
const maxLine = 16 << 20

// ReadCalls reads JSON lines of Calls. Blank lines are skipped; fields it
// does not know are ignored. A line it cannot read is passed to fn with its
// 1-based number and the error (and a nil Call) so the caller can report it;
// fn returning an error stops the read.
func ReadCalls(r io.Reader, fn func(line int, c *Call, err error) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		b := sc.Bytes()
		if strings.TrimSpace(string(b)) == "" {
			continue
		}
		var c Call
		err := json.Unmarshal(b, &c)
		if err == nil {
			err = c.validate()
		}
		if err != nil {
			if ferr := fn(n, nil, err); ferr != nil {
				return ferr
			}
			continue
		}
		if ferr := fn(n, &c, nil); ferr != nil {
			return ferr
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read calls after line %d: %w", n, err)
	}
	return nil
}

// validate rejects what would silently score wrong.
func (c *Call) validate() error {
	if c.Label != nil && *c.Label != 0 && *c.Label != 1 {
		return fmt.Errorf("label %d: want 0 or 1", *c.Label)
	}
	if c.TalkMs < 0 {
		return fmt.Errorf("talkMs %d is negative", c.TalkMs)
	}
	if c.Transcript != nil {
		for i, s := range c.Transcript.Segments {
			if channelOf(s.Channel) == 0 {
				return fmt.Errorf("segment %d: channel %q: want CALLER or AGENT", i, s.Channel)
			}
		}
	}
	return nil
}
