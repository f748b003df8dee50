package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// rawConn is a minimal HTTP/1.1 keep-alive client: one request at a time on one connection,
// request bytes written as they are, the response read just far enough to check its status
// and frame the body. It keeps the load generator's own CPU cost small next to the server's,
// as a C load generator such as wrk would, so the 2 cores measure the server rather than the
// client — the raw etcd phase's gRPC client is similarly lean.
type rawConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf bytes.Buffer
}

func dialRaw(addr string) (*rawConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

// do sends one request and returns the response status, discarding the body.
func (rc *rawConn) do(method, path, host, ctype, accept string, body []byte) (int, error) {
	rc.buf.Reset()
	fmt.Fprintf(&rc.buf, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nAccept: %s\r\nContent-Length: %d\r\n\r\n",
		method, path, host, ctype, accept, len(body))
	rc.buf.Write(body)
	if _, err := rc.c.Write(rc.buf.Bytes()); err != nil {
		return 0, err
	}
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	parts := strings.SplitN(line, " ", 3)
	if len(parts) < 2 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length, chunked := -1, false
	for {
		h, err := rc.r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		h = strings.TrimRight(h, "\r\n")
		if h == "" {
			break
		}
		k, v, _ := strings.Cut(h, ":")
		switch strings.ToLower(k) {
		case "content-length":
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(v), "chunked")
		}
	}
	switch {
	case chunked:
		for {
			sz, err := rc.r.ReadString('\n')
			if err != nil {
				return 0, err
			}
			n, err := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("bad chunk size %q", sz)
			}
			if _, err := io.CopyN(io.Discard, rc.r, n+2); err != nil {
				return 0, err
			}
			if n == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := io.CopyN(io.Discard, rc.r, int64(length)); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("response without length")
	}
	return code, nil
}
