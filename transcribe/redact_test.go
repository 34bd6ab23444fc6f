package transcribe

import (
	"testing"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

func TestRedactText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"my card is 4111 1111 1111 1111 exp 12 29", "my card is [card number] exp 12 29"},
		{"card 4111-1111-1111-1111.", "card [card number]."},
		{"its 4111111111111111", "its [card number]"},
		{"four one one one one one one one one one one one one one one one", "[card number]"},
		{"ok its four one one one, one one one one, uh one one one one, one one one one thanks", "ok its [card number] thanks"},
		{"double five double five five five five five five five five five four four double four", "[card number]"},
		// Luhn-invalid: an order number stays.
		{"order 4111 1111 1111 1112", "order 4111 1111 1111 1112"},
		{"call me at 916 555 0142", "call me at 916 555 0142"},
		{"social is 123-45-6789", "social is [ssn]"},
		{"my social is one two three four five six seven eight nine", "my social is [ssn]"},
		{"ssn 666-12-3456 is not issued", "ssn 666-12-3456 is not issued"},
		{"it costs eighteen hundred, one two visits", "it costs eighteen hundred, one two visits"},
		{"", ""},
	} {
		got, changed := RedactText(tc.in)
		if got != tc.want || changed != (tc.in != tc.want) {
			t.Errorf("RedactText(%q) = %q, %v; want %q", tc.in, got, changed, tc.want)
		}
	}
}

func TestRedactAcrossSegments(t *testing.T) {
	c, a := reboundv1.Channel_CHANNEL_CALLER, reboundv1.Channel_CHANNEL_AGENT
	segs := []*reboundv1.TranscriptSegment{
		{Channel: c, Text: "sure the card is four one one one"},
		{Channel: a, Text: "go ahead"},
		{Channel: c, Text: "one one one one one one one one"},
		{Channel: c, Text: "one one one one and the zip is 95814"},
	}
	if !Redact(segs) {
		t.Fatal("nothing redacted")
	}
	want := []string{"sure the card is [card number]", "go ahead", "[card number]", "[card number] and the zip is 95814"}
	for i, s := range segs {
		if s.Text != want[i] {
			t.Errorf("segment %d = %q, want %q", i, s.Text, want[i])
		}
	}
}

func FuzzRedactText(f *testing.F) {
	for _, s := range []string{"4111 1111 1111 1111", "four one one one double one", "123-45-6789", "Ünïcode 4 1 1 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, _ := RedactText(s)
		// Whatever the input, no written card number survives.
		run := 0
		for i := 0; i <= len(out); i++ {
			if i < len(out) && out[i] >= '0' && out[i] <= '9' {
				run++
				continue
			}
			if run >= 13 && run <= 19 && luhn([]byte(out[i-run:i])) {
				t.Fatalf("RedactText(%q) = %q keeps a card number", s, out)
			}
			run = 0
		}
	})
}
