package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// kubectl exec: the API server proxies pods/exec to
//
//	GET /exec/{namespace}/{pod}/{container}?command=…&command=…&stdin=1&stdout=1&stderr=1&tty=0
//
// upgraded to a WebSocket that speaks kube's remote command protocol, v5.channel.k8s.io (or
// v4): every binary message is one byte of channel and the data. Channels: 0 stdin (client to
// agent), 1 stdout, 2 stderr, 3 error — at the end, a metav1.Status: Success, or Failure with
// reason NonZeroExitCode and the exit code as an ExitCode cause, or the error —, 4 terminal
// resize, and in v5 255 close, whose data names the channel the client is done with (stdin).
// kubectl 1.30 and newer speak it; older ones use SPDY, which the agent does not: they get a
// 400 saying so. A TTY is not offered yet (tty=1 runs the command without one).

// execProtocols are the subprotocols offered, preferred first.
var execProtocols = []string{remotecommand.StreamProtocolV5Name, remotecommand.StreamProtocolV4Name}

// errExecNeedsWebSocket is the answer to an exec request that is not a WebSocket upgrade.
const errExecNeedsWebSocket = "exec needs a WebSocket upgrade (v5.channel.k8s.io); SPDY is not supported: use kubectl 1.30 or newer"

var execUpgrader = websocket.Upgrader{
	Subprotocols:     execProtocols,
	HandshakeTimeout: 10 * time.Second,
	// The caller is authenticated and authorized (auth.go); browsers never reach this API.
	CheckOrigin: func(*http.Request) bool { return true },
}

func (a *Agent) serveExec(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, errExecNeedsWebSocket, http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	cmd := q["command"]
	if len(cmd) == 0 {
		http.Error(w, "exec: command is required", http.StatusBadRequest)
		return
	}
	if !boolParam(q.Get("stdin")) && !boolParam(q.Get("stdout")) && !boolParam(q.Get("stderr")) {
		http.Error(w, "exec: you must specify at least 1 of stdin, stdout, stderr", http.StatusBadRequest)
		return
	}
	// Before the upgrade, so that a wrong pod or container is a plain 404 or 400, as for logs.
	pod, ok := a.podContainer(w, r)
	if !ok {
		return
	}
	ws, err := execUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	defer ws.Close()
	s := newExecSession(ws)
	cname := r.PathValue("container")
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	var stdin *io.PipeReader
	if boolParam(q.Get("stdin")) {
		var pw *io.PipeWriter
		stdin, pw = io.Pipe()
		s.stdin = pw
	}
	go func() {
		s.readLoop()
		cancel() // the client went away: the command ends with it
	}()
	streams := container.Streams{}
	if stdin != nil {
		streams.Stdin = stdin
	}
	if boolParam(q.Get("stdout")) {
		streams.Stdout = s.channelWriter(remotecommand.StreamStdOut)
	}
	if boolParam(q.Get("stderr")) {
		streams.Stderr = s.channelWriter(remotecommand.StreamStdErr)
	}
	code, err := a.exec(ctx, pod, cname, cmd, streams)
	if stdin != nil {
		stdin.Close()
	}
	a.log.Debug("exec", "pod", pod.Namespace+"/"+pod.Name, "container", cname, "command", cmd, "exit", code, "err", err)
	s.finish(execStatus(code, err))
}

// exec runs cmd in the running container cname of pod.
func (a *Agent) exec(ctx context.Context, pod *corev1.Pod, cname string, cmd []string, streams container.Streams) (int, error) {
	for _, rt := range a.cfg.Runtimes {
		cs, err := rt.Containers(ctx, pod.UID)
		if err != nil {
			return 0, err
		}
		var running *container.Container
		for i := range cs {
			c := &cs[i]
			if c.Name == cname && c.State == container.StateRunning && (running == nil || c.Attempt > running.Attempt) {
				running = c
			}
		}
		if running == nil {
			continue
		}
		ex, ok := rt.(container.Execer)
		if !ok {
			return 0, fmt.Errorf("exec is not supported by the %s runtime of container %s (WebAssembly modules run in the node agent, with nothing to run a command in)", rt.Handler(), cname)
		}
		return ex.Exec(ctx, running.ID, cmd, streams)
	}
	return 0, fmt.Errorf("container %s in pod %s is not running", cname, pod.Name)
}

// execStatus is the error channel's Status for a command that ended with code or failed with
// err, as kubelet writes it.
func execStatus(code int, err error) metav1.Status {
	st := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}}
	switch {
	case err != nil:
		st.Status, st.Reason, st.Message = metav1.StatusFailure, metav1.StatusReasonInternalError, err.Error()
		st.Code = http.StatusInternalServerError
	case code != 0:
		st.Status, st.Reason = metav1.StatusFailure, remotecommand.NonZeroExitCodeReason
		st.Message = fmt.Sprintf("command terminated with non-zero exit code: error executing command, exit code %d", code)
		st.Details = &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: remotecommand.ExitCodeCauseType, Message: strconv.Itoa(code)}}}
	default:
		st.Status = metav1.StatusSuccess
	}
	return st
}

// execSession is one exec's WebSocket: writes from the command's streams are serialized; the
// read loop feeds stdin.
type execSession struct {
	ws    *websocket.Conn
	mu    sync.Mutex
	stdin *io.PipeWriter // nil without stdin
}

func newExecSession(ws *websocket.Conn) *execSession { return &execSession{ws: ws} }

// send writes data on channel ch as one message.
func (s *execSession) send(ch byte, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ws.SetWriteDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}
	w, err := s.ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte{ch}); err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	return w.Close()
}

type channelWriter struct {
	s  *execSession
	ch byte
}

func (c channelWriter) Write(p []byte) (int, error) {
	if err := c.s.send(c.ch, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *execSession) channelWriter(ch byte) io.Writer { return channelWriter{s, ch} }

// readLoop reads the client's messages until the connection ends: stdin data, stdin's close
// (v5), resizes (ignored: no TTY).
func (s *execSession) readLoop() {
	defer func() {
		if s.stdin != nil {
			s.stdin.Close()
		}
	}()
	for {
		typ, data, err := s.ws.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.BinaryMessage || len(data) == 0 {
			continue
		}
		switch data[0] {
		case remotecommand.StreamStdIn:
			if s.stdin != nil && len(data) > 1 {
				if _, err := s.stdin.Write(data[1:]); err != nil {
					// The command no longer reads stdin; drop what comes.
					s.stdin = nil
				}
			}
		case remotecommand.StreamClose:
			if len(data) > 1 && data[1] == remotecommand.StreamStdIn && s.stdin != nil {
				s.stdin.Close()
			}
		}
	}
}

// finish writes the Status on the error channel and closes the connection normally, which
// tells the client every stream has ended.
func (s *execSession) finish(st metav1.Status) {
	b, err := json.Marshal(st)
	if err == nil {
		err = s.send(remotecommand.StreamErr, b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
	}
}
