package apiserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tugboat-io/tug/core/store"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// initialEventsEnd is the bookmark annotation that ends the initial events of a watch-list.
const initialEventsEnd = "k8s.io/initial-events-end"

// handleWatch streams changes as newline-separated WatchEvent JSON objects, flushed per event,
// served from the resource's watch cache.
//
// Where it starts follows kube-apiserver: resourceVersion "" or "0" begins with a synthetic
// ADDED for every current object; N replays every change after N; sendInitialEvents=true is a
// watch-list, whose initial ADDED events end with a bookmark annotated k8s.io/initial-events-end.
// A revision older than the cache's window is answered with an ERROR event holding a 410
// Expired status, and the client re-lists.
func (r *resource) handleWatch(rc *reqCtx) error {
	ctx := rc.r.Context()
	q := rc.r.URL.Query()
	filter, _, err := r.selectors(rc)
	if err != nil {
		return err
	}
	out, _ := negotiate(rc.r)
	if out == outProtobuf && !r.protobuf {
		out = outObject // clients that ask for protobuf accept JSON too
	}
	rvStr := q.Get("resourceVersion")
	bookmarks := isTrue(q.Get("allowWatchBookmarks"))
	sendInitial := q.Has("sendInitialEvents") && isTrue(q.Get("sendInitialEvents"))
	if q.Has("sendInitialEvents") {
		if q.Get("resourceVersionMatch") != "NotOlderThan" {
			return apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("ListOptions").GroupKind(), "", nil)
		}
	}
	timeout := time.Duration(1800+rand.IntN(1800)) * time.Second
	if t := q.Get("timeoutSeconds"); t != "" {
		secs, err := strconv.ParseInt(t, 10, 64)
		if err != nil || secs < 0 {
			return badRequest("timeoutSeconds: invalid value %q", t)
		}
		timeout = time.Duration(secs) * time.Second
	}

	opts := store.WatchOptions{Prefix: r.nsPrefix(rc.ri.Namespace), Filter: filter}
	switch {
	case sendInitial:
		opts.Initial = true
		if rvStr == "" {
			// A consistent watch-list: the initial state must be at least as new as etcd now.
			cur, err := r.s.store.Revision(ctx)
			if err != nil {
				return err
			}
			if err := r.cache.WaitFresh(ctx, cur); err != nil {
				return apierrors.NewTimeoutError(err.Error(), 1)
			}
		} else if rvStr != "0" {
			want, err := strconv.ParseInt(rvStr, 10, 64)
			if err != nil {
				return badRequest("resourceVersion: invalid value %q", rvStr)
			}
			if err := r.cache.WaitFresh(ctx, want); err != nil {
				return apierrors.NewTimeoutError(err.Error(), 1)
			}
		}
	case rvStr == "" || rvStr == "0":
		opts.Initial = true
	default:
		from, err := strconv.ParseInt(rvStr, 10, 64)
		if err != nil {
			return badRequest("resourceVersion: invalid value %q", rvStr)
		}
		opts.From = from
	}

	w := rc.w
	if out == outProtobuf {
		w.Header().Set("Content-Type", mediaProtobufWatch)
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Transfer-Encoding", "chunked")
	cw, err := r.cache.Watch(opts)
	if err != nil {
		w.WriteHeader(http.StatusOK)
		if errors.Is(err, store.ErrCompacted) {
			st := apierrors.NewResourceExpired("too old resource version: " + rvStr).Status()
			r.writeWatchError(rc, &st)
			return nil
		}
		st := apierrors.NewInternalError(err).Status()
		r.writeWatchError(rc, &st)
		return nil
	}
	defer cw.Stop()
	w.WriteHeader(http.StatusOK)
	w.Flush()

	enc := &watchEncoder{r: r, rc: rc, out: out}
	for _, ev := range cw.Initial {
		if err := enc.write(ev); err != nil {
			return nil
		}
	}
	if sendInitial {
		if err := enc.bookmark(cw.StartRevision, true); err != nil {
			return nil
		}
	}
	w.Flush()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			return nil
		case ev, ok := <-cw.C:
			if !ok {
				if errors.Is(cw.Err(), store.ErrTooSlow) {
					r.s.log.Warn("watcher too slow, closing", "resource", r.kind.Resource)
				}
				return nil
			}
			if ev.Type == watch.Bookmark {
				if bookmarks {
					if err := enc.bookmark(ev.Revision, false); err != nil {
						return nil
					}
					w.Flush()
				}
				continue
			}
			if err := enc.write(ev); err != nil {
				return nil
			}
			// Drain what is already queued before flushing, so a burst costs one flush.
			for drained := false; !drained; {
				select {
				case ev, ok := <-cw.C:
					if !ok {
						w.Flush()
						return nil
					}
					if ev.Type == watch.Bookmark {
						continue
					}
					if err := enc.write(ev); err != nil {
						return nil
					}
				default:
					drained = true
				}
			}
			w.Flush()
		}
	}
}

func (r *resource) writeWatchError(rc *reqCtx, st *metav1.Status) {
	st.Kind, st.APIVersion = "Status", "v1"
	if strings.HasPrefix(rc.w.Header().Get("Content-Type"), mediaProtobuf) {
		if frame, err := protobufWatchFrame(watch.Error, st, statusGVK); err == nil {
			_, _ = rc.w.Write(frame)
			rc.w.Flush()
			return
		}
	}
	b, _ := encodeJSON(st, statusGVK)
	var buf bytes.Buffer
	buf.WriteString(`{"type":"ERROR","object":`)
	buf.Write(b)
	buf.WriteString("}\n")
	_, _ = rc.w.Write(buf.Bytes())
	rc.w.Flush()
}

type watchEncoder struct {
	r   *resource
	rc  *reqCtx
	out output
	buf bytes.Buffer
}

// write sends one event. Plain JSON encodings are shared by every watcher of the event.
func (e *watchEncoder) write(ev *store.CacheEvent) error {
	if ev.Object() == nil {
		return nil // undecodable stored bytes: logged by the cache, skipped here
	}
	var line []byte
	switch e.out {
	case outObject:
		b, err := ev.Encoded(encodedJSON, func(ev *store.CacheEvent) ([]byte, error) {
			obj, err := encodeJSON(ev.Object(), e.r.kind.GVK)
			if err != nil {
				return nil, err
			}
			return watchLine(ev.Type, obj), nil
		})
		if err != nil {
			return err
		}
		line = b
	case outProtobuf:
		b, err := ev.Encoded(encodedProtobuf, func(ev *store.CacheEvent) ([]byte, error) {
			return protobufWatchFrame(ev.Type, ev.Object(), e.r.kind.GVK)
		})
		if err != nil {
			return err
		}
		line = b
	default:
		var body runtime.Object
		gvk := tableGVK
		if e.out == outTable {
			t := e.r.table([]runtime.Object{ev.Object()}, includeObject(e.rc.r, "Metadata"))
			t.ResourceVersion = strconv.FormatInt(ev.Revision, 10)
			body = t
		} else {
			body, gvk = partialMeta(ev.Object(), e.r.kind.GVK), partialGVK
		}
		obj, err := encodeJSON(body, gvk)
		if err != nil {
			return err
		}
		line = watchLine(ev.Type, obj)
	}
	_, err := e.rc.w.Write(line)
	return err
}

// bookmark sends a BOOKMARK: an object of the kind carrying only the revision.
func (e *watchEncoder) bookmark(rev int64, initialEnd bool) error {
	obj := e.r.kind.New()
	m := accessor(obj)
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	if initialEnd {
		m.SetAnnotations(map[string]string{initialEventsEnd: "true"})
	}
	if e.out == outProtobuf {
		frame, err := protobufWatchFrame(watch.Bookmark, obj, e.r.kind.GVK)
		if err != nil {
			return err
		}
		_, err = e.rc.w.Write(frame)
		return err
	}
	b, err := encodeJSON(obj, e.r.kind.GVK)
	if err != nil {
		return err
	}
	_, err = e.rc.w.Write(watchLine(watch.Bookmark, b))
	return err
}

// The watch cache's encodings of an event, one per representation every watcher of it shares.
const (
	encodedJSON = iota
	encodedProtobuf
)

// statusGVK is a Status's kind in responses, as kube-apiserver writes it.
var statusGVK = schema.GroupVersionKind{Version: "v1", Kind: "Status"}

// mediaProtobufWatch is the Content-Type of a protobuf watch stream: length-delimited frames,
// each a metav1.WatchEvent whose object is in the Kubernetes protobuf envelope, as
// kube-apiserver writes them and client-go reads them.
const mediaProtobufWatch = mediaProtobuf + ";stream=watch"

// protobufWatchFrame encodes one event as a frame of a protobuf watch stream: a 4-byte
// big-endian length, then the WatchEvent.
func protobufWatchFrame(t watch.EventType, obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	if obj.GetObjectKind().GroupVersionKind() != gvk {
		obj = obj.DeepCopyObject() // cached objects are shared
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	var raw bytes.Buffer
	if err := protoSerializer.Encode(obj, &raw); err != nil {
		return nil, err
	}
	ev := metav1.WatchEvent{Type: string(t), Object: runtime.RawExtension{Raw: raw.Bytes()}}
	frame := make([]byte, 4+ev.Size())
	n, err := ev.MarshalToSizedBuffer(frame[4:])
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(frame[:4], uint32(n))
	return frame[:4+n], nil
}

func watchLine(t watch.EventType, obj []byte) []byte {
	b := make([]byte, 0, len(obj)+32)
	b = append(b, `{"type":"`...)
	b = append(b, t...)
	b = append(b, `","object":`...)
	b = append(b, obj...)
	b = append(b, "}\n"...)
	return b
}
