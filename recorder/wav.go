package recorder

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// wavHeaderSize is the size of the canonical 44-byte PCM WAV header.
const wavHeaderSize = 44

// wavFile is a 16-bit PCM WAV written incrementally into name+".part". The
// header's sizes are patched on every patch call, so a crash leaves a file
// that plays up to the last patch; finish renames it into place.
type wavFile struct {
	dir, name string
	f         *os.File
	rate      int
	channels  int
	data      int64 // bytes of sample data written
}

func wavHeader(rate, channels int, data int64) []byte {
	h := make([]byte, wavHeaderSize)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+data))
	copy(h[8:], "WAVE")
	copy(h[12:], "fmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], uint16(channels))
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*channels*2)) // byte rate
	binary.LittleEndian.PutUint16(h[32:], uint16(channels*2))      // block align
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(data))
	return h
}

func createWAV(dir, name string, rate, channels int) (*wavFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, name+".part"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create recording: %w", err)
	}
	if _, err := f.Write(wavHeader(rate, channels, 0)); err != nil {
		f.Close()
		return nil, fmt.Errorf("write recording header: %w", err)
	}
	return &wavFile{dir: dir, name: name, f: f, rate: rate, channels: channels}, nil
}

// maxWAVData is the most sample data a RIFF header can describe.
const maxWAVData = 1<<32 - 1 - 36

// errWAVFull stops a recording that reached the RIFF size limit (about 37 h
// of 16 kHz stereo); what was written stays valid.
var errWAVFull = errors.New("recording reached the 4 GiB WAV size limit")

func (w *wavFile) write(p []byte) error {
	if w.data+int64(len(p)) > maxWAVData {
		return errWAVFull
	}
	n, err := w.f.Write(p)
	w.data += int64(n)
	if err != nil {
		return fmt.Errorf("write recording %s: %w", w.name, err)
	}
	return nil
}

// patch rewrites the RIFF and data sizes to cover what has been written.
func (w *wavFile) patch() error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(36+w.data))
	if _, err := w.f.WriteAt(b[:], 4); err != nil {
		return fmt.Errorf("patch recording header: %w", err)
	}
	binary.LittleEndian.PutUint32(b[:], uint32(w.data))
	if _, err := w.f.WriteAt(b[:], 40); err != nil {
		return fmt.Errorf("patch recording header: %w", err)
	}
	return nil
}

// finish patches, fsyncs, renames .part to the final name, fsyncs the
// directory and returns the size and SHA-256 of the final file.
func (w *wavFile) finish() (size int64, sum string, err error) {
	if err := w.patch(); err != nil {
		w.f.Close()
		return 0, "", err
	}
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return 0, "", fmt.Errorf("sync recording: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return 0, "", fmt.Errorf("close recording: %w", err)
	}
	final := filepath.Join(w.dir, w.name)
	if err := os.Rename(final+".part", final); err != nil {
		return 0, "", fmt.Errorf("finalise recording: %w", err)
	}
	if d, err := os.Open(w.dir); err == nil {
		_ = d.Sync() // best effort: makes the rename durable where supported
		d.Close()
	}
	f, err := os.Open(final)
	if err != nil {
		return 0, "", fmt.Errorf("hash recording: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("hash recording: %w", err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
