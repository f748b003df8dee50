package logs

import (
	"bytes"
	"time"
)

const (
	// Stdout and Stderr are the stream names the CRI format knows, for File.Stream.
	Stdout = "stdout"
	Stderr = "stderr"
)

const (
	tagFull    = 'F'
	tagPartial = 'P'

	// maxLineSize is the most content one chunk carries: containerd's CRI plugin splits
	// longer lines at its max_container_log_line_size, 16 KiB by default, so that neither
	// writer nor reader holds an unbounded line in memory.
	maxLineSize = 16 * 1024

	// maxHeaderSize bounds the bytes before a chunk's content: a timestamp with a zone
	// offset (35 bytes), the stream, the tag and three spaces, with room for extra tags.
	maxHeaderSize = 128
)

// chunk is one parsed line of a log file.
type chunk struct {
	time    time.Time
	partial bool
	// content is the container's bytes: without the file's newline for a P chunk, with it
	// (when the file has one) for an F chunk.
	content []byte
}

// appendChunk appends one line of the file: header, content (which holds no newline) and
// the newline. The timestamp is UTC with nanoseconds, so files from nodes in different time
// zones read the same.
func appendChunk(dst []byte, t time.Time, stream string, tag byte, content []byte) []byte {
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, ' ')
	dst = append(dst, stream...)
	dst = append(dst, ' ', tag, ' ')
	dst = append(dst, content...)
	return append(dst, '\n')
}

// parseChunk parses one line of a file, with or without its newline. It reports false for a
// line that is not in the CRI format.
func parseChunk(line []byte) (chunk, bool) {
	var c chunk
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return c, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return c, false
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != Stdout && string(stream) != Stderr) {
		return c, false
	}
	tags, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return c, false
	}
	// The tag field may carry more tags after a colon (CRI reserves it); the first decides.
	tag, _, _ := bytes.Cut(tags, []byte{':'})
	switch {
	case len(tag) == 1 && tag[0] == tagFull:
	case len(tag) == 1 && tag[0] == tagPartial:
		c.partial = true
		content = bytes.TrimSuffix(content, []byte{'\n'})
	default:
		return c, false
	}
	c.time, c.content = t, content
	return c, true
}

// isPartial reports whether a line of the file is a P chunk, judging from its first bytes
// (the first maxHeaderSize of them are enough).
func isPartial(head []byte) bool {
	c, ok := parseChunk(head)
	return ok && c.partial
}
