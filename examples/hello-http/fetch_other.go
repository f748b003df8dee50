//go:build !wasip1

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// fetch asks each target n times, a new connection each time, and prints one line per answer:
// "TARGET ANSWER" or "TARGET error: …", then "done". A target is an http:// URL (GET; the
// answer is the body's first line) or udp://HOST:PORT (one datagram; the answer is the reply).
// With OUT_FILE set, the lines also go to that file, for a test to read from the node.
func fetch(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "hello-http: want fetch N TARGET...")
		return 2
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "hello-http: fetch count %q: want a positive number\n", args[0])
		return 2
	}
	out := io.Writer(os.Stdout)
	if name := os.Getenv("OUT_FILE"); name != "" {
		f, err := os.Create(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hello-http: %v\n", err)
			return 1
		}
		defer f.Close()
		out = io.MultiWriter(os.Stdout, f)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range n {
		for _, target := range args[1:] {
			answer, err := ask(client, target)
			if err != nil {
				answer = "error: " + err.Error()
			}
			fmt.Fprintf(out, "%s %s\n", target, answer)
		}
	}
	fmt.Fprintln(out, "done")
	return 0
}

func ask(client *http.Client, target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", err
	}
	if u.Scheme == "udp" {
		conn, err := net.DialTimeout("udp", u.Host, 5*time.Second)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte("ping")); err != nil {
			return "", err
		}
		buf := make([]byte, 512)
		n, err := conn.Read(buf)
		return strings.TrimSpace(string(buf[:n])), err
	}
	resp, err := client.Get(target)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	line, _, _ := strings.Cut(string(b), "\n")
	return line, err
}

// serveUDP answers each datagram on :$UDP_PORT with "<hostname> <datagram>", until the
// process ends.
func serveUDP(port string) error {
	pc, err := net.ListenPacket("udp", ":"+port)
	if err != nil {
		return fmt.Errorf("listen udp: %w", err)
	}
	fmt.Printf("udp echo on %s\n", pc.LocalAddr())
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte(hostname()+" "), buf[:n]...), from)
		}
	}()
	return nil
}
