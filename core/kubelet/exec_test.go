package kubelet

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/cache"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// execRuntime runs one container per pod and "executes" a few commands: echo writes its
// arguments to stdout and "warn" to stderr, exit N exits with N, cat copies stdin to stdout.
type execRuntime struct {
	container.Runtime
	handler string
}

func (r execRuntime) Handler() string { return r.handler }

func (r execRuntime) Containers(_ context.Context, pod types.UID) ([]container.Container, error) {
	return []container.Container{
		{ID: "old", PodUID: pod, Name: "app", Attempt: 0, State: container.StateExited},
		{ID: "cur", PodUID: pod, Name: "app", Attempt: 1, State: container.StateRunning},
	}, nil
}

type execer struct{ execRuntime }

func (execer) Exec(_ context.Context, id string, cmd []string, s container.Streams) (int, error) {
	if id != "cur" {
		return 0, errors.New("exec in a container that is not the running one: " + id)
	}
	switch cmd[0] {
	case "echo":
		io.WriteString(s.Stdout, strings.Join(cmd[1:], " "))
		io.WriteString(s.Stderr, "warn")
		return 0, nil
	case "exit":
		return 3, nil
	case "cat":
		_, err := io.Copy(s.Stdout, s.Stdin)
		return 0, err
	}
	return 0, errors.New("no such command")
}

func execAgent(rt container.Runtime) *Agent {
	pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = pods.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "u1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}})
	return &Agent{cfg: Config{NodeName: "n1", Runtimes: []container.Runtime{rt}}, log: slog.New(slog.DiscardHandler), pods: pods}
}

// execMessages runs an exec over a WebSocket and returns what came on each channel, after
// sending in (each a whole message) once connected.
func execMessages(t *testing.T, srv *httptest.Server, query string, in ...[]byte) (string, map[byte]string) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{remotecommand.StreamProtocolV5Name}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/exec/default/web/app?"+query, nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer ws.Close()
	for _, m := range in {
		if err := ws.WriteMessage(websocket.BinaryMessage, m); err != nil {
			t.Fatal(err)
		}
	}
	got := map[byte]string{}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("the agent did not end the exec with a normal close: %v", err)
			}
			return ws.Subprotocol(), got
		}
		if typ != websocket.BinaryMessage || len(data) == 0 {
			t.Fatalf("message %d %q", typ, data)
		}
		got[data[0]] += string(data[1:])
	}
}

func TestExec(t *testing.T) {
	srv := httptest.NewServer(execAgent(execer{execRuntime{handler: "runc"}}).apiHandler())
	defer srv.Close()
	status := func(t *testing.T, s string) metav1.Status {
		t.Helper()
		var st metav1.Status
		if err := json.Unmarshal([]byte(s), &st); err != nil {
			t.Fatalf("error channel %q: %v", s, err)
		}
		return st
	}
	t.Run("output and success", func(t *testing.T) {
		proto, got := execMessages(t, srv, "command=echo&command=hello&command=there&stdout=true&stderr=true")
		if proto != remotecommand.StreamProtocolV5Name {
			t.Errorf("protocol %q", proto)
		}
		if got[1] != "hello there" || got[2] != "warn" {
			t.Errorf("stdout %q stderr %q", got[1], got[2])
		}
		if st := status(t, got[3]); st.Status != metav1.StatusSuccess {
			t.Errorf("status %+v", st)
		}
	})
	t.Run("exit code", func(t *testing.T) {
		_, got := execMessages(t, srv, "command=exit&stdout=true")
		st := status(t, got[3])
		if st.Status != metav1.StatusFailure || st.Reason != remotecommand.NonZeroExitCodeReason || st.Details == nil ||
			len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != remotecommand.ExitCodeCauseType || st.Details.Causes[0].Message != "3" {
			t.Errorf("status %+v, want NonZeroExitCode with cause ExitCode 3", st)
		}
	})
	t.Run("stdin until closed", func(t *testing.T) {
		_, got := execMessages(t, srv, "command=cat&stdin=true&stdout=true",
			append([]byte{remotecommand.StreamStdIn}, "typed"...), []byte{remotecommand.StreamClose, remotecommand.StreamStdIn})
		if got[1] != "typed" || status(t, got[3]).Status != metav1.StatusSuccess {
			t.Errorf("stdout %q, error channel %q", got[1], got[3])
		}
	})
	t.Run("not a websocket", func(t *testing.T) {
		resp, err := http.Post(srv.URL+"/exec/default/web/app?command=ls&stdout=true", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), "SPDY is not supported") {
			t.Errorf("= %d %s, want 400 saying SPDY is not supported", resp.StatusCode, body)
		}
	})

	t.Run("no such pod or container", func(t *testing.T) {
		// Refused before the upgrade, with the codes logs answers: not a 500 on the
		// error channel.
		d := websocket.Dialer{Subprotocols: []string{remotecommand.StreamProtocolV5Name}}
		for path, want := range map[string]int{"/exec/default/nothere/app": 404, "/exec/default/web/nothere": 400} {
			_, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+path+"?command=ls&stdout=true", nil)
			if err == nil || resp == nil || resp.StatusCode != want {
				code := 0
				if resp != nil {
					code = resp.StatusCode
				}
				t.Errorf("%s = %d (%v), want %d", path, code, err, want)
			}
		}
	})

	wasm := httptest.NewServer(execAgent(execRuntime{handler: "wasm"}).apiHandler())
	defer wasm.Close()
	t.Run("a runtime without exec", func(t *testing.T) {
		_, got := execMessages(t, wasm, "command=ls&stdout=true")
		if st := status(t, got[3]); st.Status != metav1.StatusFailure || !strings.Contains(st.Message, "exec is not supported by the wasm runtime") {
			t.Errorf("status %+v", st)
		}
	})
}
