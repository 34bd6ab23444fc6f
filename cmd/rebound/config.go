package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"

	"gopkg.in/yaml.v3"
)

// loadConfig decodes the YAML file at path into dst, rejecting unknown keys.
// The error names the file, the line and the key, so an admin can fix a typo
// without reading code.
func loadConfig(path string, dst any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file means all defaults
		}
		return fmt.Errorf("config %s: %s", path, describeYAMLError(err))
	}
	return nil
}

var unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

// describeYAMLError rewrites yaml.v3's Go-typed messages into ones about keys.
func describeYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var buf bytes.Buffer
		for i, e := range te.Errors {
			if i > 0 {
				buf.WriteString("; ")
			}
			if m := unknownField.FindStringSubmatch(e); m != nil {
				fmt.Fprintf(&buf, "line %s: unknown key %q", m[1], m[2])
				continue
			}
			buf.WriteString(e)
		}
		return buf.String()
	}
	return err.Error()
}
