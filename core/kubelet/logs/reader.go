package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// ReadOptions say which part of a log file Read writes, and how: the fields of a
// `kubectl logs` request (PodLogOptions) that concern one file.
type ReadOptions struct {
	// Follow keeps reading as the file grows, until the context ends or Finished reports
	// true.
	Follow bool
	// TailLines is how many lines to write from the end of the file: negative means all, 0
	// means none (with Follow, only what is written from now on).
	TailLines int64
	// SinceTime, when not zero, drops lines stamped before it.
	SinceTime time.Time
	// Timestamps starts each line with its timestamp (RFC 3339 with nanoseconds) and a space.
	Timestamps bool
	// LimitBytes, when positive, stops the output after that many bytes, counting
	// timestamps; the last line may be cut.
	LimitBytes int64
	// Finished, when following, reports whether the container has stopped writing: once it
	// reports true, Read writes what the file holds and returns. Nil means never.
	Finished func() bool
}

// Poll interval of a follow, and the block a tail reads backwards. Variables so tests can
// make them small.
var (
	pollInterval  = 200 * time.Millisecond
	tailBlockSize = 32 << 10
)

// errLimit stops the output once LimitBytes is reached.
var errLimit = errors.New("limit reached")

// Read writes the container output held in the log file at path to w: the content of its
// lines in file order (both streams as they were interleaved), a P chunk joined with the
// chunk after it into one line. That is the next chunk of the file whatever its stream, as
// with the kubelet; the writer only leaves a line unfinished when it passes 16 KiB or its
// stream ends, so the other stream rarely lands in between. Without Follow, a missing file is an error wrapping
// fs.ErrNotExist; with Follow, Read waits for the file to appear, unless Finished reports
// true first.
//
// A line that is not in the CRI format — a file written by containerd's plain file://
// logger, a line damaged by a crash — is written as it is rather than dropped (the
// kubelet drops it): output the user can read beats a gap. Such a line has no time, so
// SinceTime keeps it and Timestamps gives it no prefix.
//
// With TailLines, Read finds where the last lines begin by reading the file backwards in
// blocks, so a tail of a large file reads little more than the tail. A long line split
// into chunks counts as one line, and so does an unfinished last line.
//
// While following, Read looks for new lines every 200 ms; after each batch it calls
// w.Flush() if w has that method (as an http.ResponseWriter does), so a client sees lines as
// they come. It returns the context's error when the context ends first, and nil once
// Finished reports true and the file is read to its end, or once LimitBytes is reached.
func Read(ctx context.Context, path string, opts ReadOptions, w io.Writer) error {
	f, err := openLog(ctx, path, opts)
	if err != nil {
		return err
	}
	defer f.Close()

	if opts.TailLines >= 0 {
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("stat log file: %w", err)
		}
		start, err := tailStart(f, fi.Size(), opts.TailLines)
		if err != nil {
			return err
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return fmt.Errorf("seek log file: %w", err)
		}
	}

	out := &output{w: w, opts: opts}
	lines := &lineReader{r: bufio.NewReaderSize(f, 64<<10)}
	var tick *time.Ticker
	for {
		// Ask before reading: if the container had finished before the read, everything
		// it wrote is in what the read sees.
		finished := opts.Finished != nil && opts.Finished()
		err := lines.drain(ctx, out.line)
		if err == nil && (!opts.Follow || finished) {
			// The file will not grow: bytes after its last newline are its last line.
			err = lines.rest(out.line)
			if err == nil {
				return nil
			}
		}
		if errors.Is(err, errLimit) {
			return nil
		}
		if err != nil {
			return err
		}
		out.flush()
		if tick == nil {
			tick = time.NewTicker(pollInterval)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// openLog opens the file, waiting for it to be created when following.
func openLog(ctx context.Context, path string, opts ReadOptions) (*os.File, error) {
	var tick *time.Ticker
	for {
		finished := opts.Finished != nil && opts.Finished()
		f, err := os.Open(path)
		if err == nil {
			return f, nil
		}
		if !opts.Follow || finished || !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open log file: %w", err)
		}
		if tick == nil {
			tick = time.NewTicker(pollInterval)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// lineReader reads the lines of a file that may still grow.
type lineReader struct {
	r *bufio.Reader
	// pending holds the bytes read of a line whose newline has not been read: a line longer
	// than r's buffer, or one still being written.
	pending []byte
}

// drain passes each complete line up to the end of the file to fn, newline included, in a
// slice valid only during the call.
func (lr *lineReader) drain(ctx context.Context, fn func([]byte) error) error {
	for n := 0; ; n++ {
		if n%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		l, err := lr.r.ReadSlice('\n')
		switch {
		case err == nil:
			if len(lr.pending) > 0 {
				lr.pending = append(lr.pending, l...)
				l = lr.pending
				lr.pending = lr.pending[:0]
			}
			if err := fn(l); err != nil {
				return err
			}
		case errors.Is(err, bufio.ErrBufferFull):
			lr.pending = append(lr.pending, l...)
		case errors.Is(err, io.EOF):
			// bufio forgets the EOF once returned, so the next drain reads on from here.
			lr.pending = append(lr.pending, l...)
			return nil
		default:
			return fmt.Errorf("read log file: %w", err)
		}
	}
}

// rest passes the bytes after the last newline, if any, to fn as a last line.
func (lr *lineReader) rest(fn func([]byte) error) error {
	if len(lr.pending) == 0 {
		return nil
	}
	l := lr.pending
	lr.pending = nil
	return fn(l)
}

// output turns the lines of a file into what the user asked for.
type output struct {
	w    io.Writer
	opts ReadOptions
	// mid is set after a P chunk: the next chunk continues its line.
	mid bool
	// keep says whether the current line passed SinceTime; its later chunks follow suit.
	keep    bool
	written int64
	dirty   bool // written since the last flush
	prefix  []byte
}

// line writes one line of the file.
func (o *output) line(l []byte) error {
	c, ok := parseChunk(l)
	if !ok {
		o.mid = false
		return o.write(l)
	}
	if !o.mid {
		o.keep = o.opts.SinceTime.IsZero() || !c.time.Before(o.opts.SinceTime)
		if o.keep && o.opts.Timestamps {
			// The kubelet reformats rather than copying the file's text, so every line
			// shows the same format whatever wrote the file.
			o.prefix = append(c.time.AppendFormat(o.prefix[:0], time.RFC3339Nano), ' ')
			if err := o.write(o.prefix); err != nil {
				return err
			}
		}
	}
	o.mid = c.partial
	if !o.keep {
		return nil
	}
	return o.write(c.content)
}

// write writes p, cut at LimitBytes.
func (o *output) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	limited := false
	if o.opts.LimitBytes > 0 && o.written+int64(len(p)) >= o.opts.LimitBytes {
		p = p[:o.opts.LimitBytes-o.written]
		limited = true
	}
	n, err := o.w.Write(p)
	o.written += int64(n)
	o.dirty = o.dirty || n > 0
	if err != nil {
		return fmt.Errorf("write logs: %w", err)
	}
	if limited {
		return errLimit
	}
	return nil
}

// flush pushes what was written to the client when w buffers (http.ResponseWriter).
func (o *output) flush() {
	if f, ok := o.w.(interface{ Flush() }); ok && o.dirty {
		f.Flush()
		o.dirty = false
	}
}

// tailStart returns the offset in the file's first size bytes at which its last n lines of
// output begin, 0 when it holds no more than n. A line of output begins after an F chunk
// or a line not in the CRI format (a P chunk continues into the next line of the file).
// The file is read backwards in blocks, and only the newlines and the first bytes of each
// line are looked at, so memory stays small however long the lines are.
func tailStart(f io.ReaderAt, size, n int64) (int64, error) {
	if n == 0 {
		return size, nil
	}
	block := make([]byte, tailBlockSize)
	var head [maxHeaderSize]byte
	var found int64
	// end is the offset of the newline ending the line being walked back over, -1 until
	// the first newline is met.
	end := int64(-1)
	// ends reports whether the line from start to end is the n-th line of output from the
	// end of the file to finish there; buf, read from off, may hold its first bytes.
	ends := func(start int64, buf []byte, off int64) (bool, error) {
		if end < 0 || end+1 == size {
			// Nothing, or the end of the file: the last line of output ends there
			// whatever its tag, and that is counted as the one being walked.
			return false, nil
		}
		h := min(end+1-start, maxHeaderSize)
		var b []byte
		if start >= off && start+h <= off+int64(len(buf)) {
			b = buf[start-off : start-off+h]
		} else {
			b = head[:h]
			if _, err := f.ReadAt(b, start); err != nil {
				return false, fmt.Errorf("read log file: %w", err)
			}
		}
		if isPartial(b) {
			return false, nil
		}
		found++
		return found == n, nil
	}
	var buf []byte
	var lo int64
	for off := size; off > 0; off = lo {
		lo = max(off-int64(len(block)), 0)
		buf = block[:off-lo]
		if _, err := f.ReadAt(buf, lo); err != nil {
			return 0, fmt.Errorf("read log file: %w", err)
		}
		for i := len(buf) - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				continue
			}
			nl := lo + int64(i)
			done, err := ends(nl+1, buf, lo)
			if err != nil {
				return 0, err
			}
			if done {
				return end + 1, nil
			}
			end = nl
		}
	}
	done, err := ends(0, buf, 0)
	if err != nil {
		return 0, err
	}
	if done {
		return end + 1, nil
	}
	return 0, nil
}
