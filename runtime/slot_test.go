package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tugboat-io/tug/hostabi"
)

// admission is the filter guest's tug_admit answer.
type admission struct {
	Allowed bool   `json:"allowed"`
	Tag     string `json:"tag"`
	Calls   int    `json:"calls"`
}

func admit(ctx context.Context, call func(context.Context, string, []byte) ([]byte, hostabi.Status, error)) (admission, error) {
	var a admission
	out, _, err := call(ctx, hostabi.ExportAdmit, []byte(`{"uid":"1"}`))
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(out, &a); err != nil {
		return a, fmt.Errorf("admit result %q: %w", out, err)
	}
	if !a.Allowed || (a.Tag != "a" && a.Tag != "b") {
		return a, fmt.Errorf("admit result %q is not one version's", out)
	}
	return a, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestSlotHotSwap swaps a plugin 50 times between two builds while 8 goroutines call it.
func TestSlotHotSwap(t *testing.T) {
	ctx := context.Background()
	baseline := gaugeSum(t)
	s := testRT.NewSlot("swapped")
	if _, _, err := s.Call(ctx, hostabi.ExportAdmit, nil); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("call before the first Swap: %v", err)
	}
	// Deadlines are wall-clock: with 8 goroutines calling in tight loops on a machine with
	// perhaps 2 CPUs, a call can wait tens of milliseconds for the Go scheduler between its
	// steps, past the 100ms scheduler default. This test is about swapping, so it allows that.
	opts := PluginOptions{PoolSize: 4, Deadline: 10 * time.Second}
	if err := s.Swap(ctx, guests["filter-a"], opts); err != nil {
		t.Fatal(err)
	}

	var (
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		calls  atomic.Int64
		byTag  sync.Map // tag → *atomic.Int64
		failed = make(chan error, 8)
	)
	count := func(tag string) {
		n, _ := byTag.LoadOrStore(tag, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch i % 3 {
				case 0: // a single call
					var a admission
					if a, err = admit(ctx, s.Call); err == nil {
						count(a.Tag)
					}
				case 1: // a session: every call on one instance of one version
					err = func() error {
						inst, err := s.Acquire(ctx)
						if err != nil {
							return err
						}
						defer inst.Release()
						first, err := admit(ctx, inst.Call)
						if err != nil {
							return err
						}
						if _, _, err := inst.Call(ctx, hostabi.ExportSchedFilter, encodeIDs(7, 8)); err != nil {
							return err
						}
						second, err := admit(ctx, inst.Call)
						if err != nil {
							return err
						}
						if second.Tag != first.Tag || second.Calls != first.Calls+1 {
							return fmt.Errorf("one session saw %+v then %+v", first, second)
						}
						count(first.Tag)
						return nil
					}()
				case 2: // the filter, checked
					var out []byte
					if out, _, err = s.Call(ctx, hostabi.ExportSchedFilter, encodeIDs(1, 2, 3)); err == nil {
						var rej map[uint32]string
						if rej, err = decodeRejections(out); err == nil && fmt.Sprint(rej) != "map[1:odd 3:odd]" {
							err = fmt.Errorf("filter rejected %v", rej)
						}
					}
				}
				if err != nil {
					failed <- err
					return
				}
				calls.Add(1)
			}
		}()
	}

	var retired []*Module
	for i := range 50 {
		wasm, tag := guests["filter-b"], "b"
		if i%2 == 1 {
			wasm, tag = guests["filter-a"], "a"
		}
		old := s.Module()
		if err := s.Swap(ctx, wasm, opts); err != nil {
			t.Fatalf("swap %d: %v", i, err)
		}
		retired = append(retired, old)
		// Swap returned: the old version is drained and closed, every new call is on the new.
		if n := old.Instances(); n != 0 {
			t.Errorf("swap %d: the old version still has %d instances", i, n)
		}
		if a, err := admit(ctx, s.Call); err != nil || a.Tag != tag {
			t.Fatalf("swap %d: a call after the swap answered %+v, %v; want tag %s", i, a, err, tag)
		}
		if st := s.Status(); st.Digest != digestOf(wasm) || st.LastError != nil || st.Swaps != i+2 {
			t.Fatalf("swap %d: status %+v", i, st)
		}
	}
	close(stop)
	wg.Wait()
	close(failed)
	for err := range failed {
		t.Errorf("a call during the swaps failed: %v", err)
	}
	for _, tag := range []string{"a", "b"} {
		n, _ := byTag.Load(tag)
		if n == nil || n.(*atomic.Int64).Load() == 0 {
			t.Errorf("no call during the swaps ran on version %s", tag)
		}
	}
	t.Logf("%d calls during 50 swaps", calls.Load())

	for i, m := range retired {
		if _, _, err := m.Call(ctx, hostabi.ExportAdmit, nil); !errors.Is(err, ErrClosed) {
			t.Errorf("retired version %d still serves: %v", i, err)
		}
		if m.Instances() != 0 {
			t.Errorf("retired version %d has %d instances", i, m.Instances())
		}
	}
	if got, want := gaugeSum(t), baseline+float64(s.Module().Instances()); got != want {
		t.Errorf("tug_plugin_instances sums to %v, want %v (baseline %v + the active version's)", got, want, baseline)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := gaugeSum(t); got != baseline {
		t.Errorf("after Slot.Close tug_plugin_instances sums to %v, want the baseline %v", got, baseline)
	}
	if _, _, err := s.Call(ctx, hostabi.ExportAdmit, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Slot.Close: %v", err)
	}
	if err := s.Swap(ctx, guests["filter-a"], opts); !errors.Is(err, ErrClosed) {
		t.Errorf("Swap after Slot.Close: %v", err)
	}
	stillServing(t)
}

// TestSlotFailedSwap: whatever is wrong with the new version, the old one stays active.
func TestSlotFailedSwap(t *testing.T) {
	ctx := context.Background()
	s := testRT.NewSlot("steady")
	t.Cleanup(func() { _ = s.Close(ctx) })
	if err := s.Swap(ctx, guests["filter-a"], PluginOptions{}); err != nil {
		t.Fatal(err)
	}
	active := s.Module()
	for _, tc := range []struct {
		name string
		wasm []byte
		opts PluginOptions
		is   error
	}{
		{"broken module", []byte("\x00asm\x01\x00\x00\x00\x07\xff"), PluginOptions{}, ErrInvalidModule},
		{"wrong ABI", guests["abiv2"], PluginOptions{}, ErrInvalidModule},
		{"unknown import", guests["badimport"], PluginOptions{}, ErrInvalidModule},
		{"refused config", guests["filter-b"], PluginOptions{Config: []byte(`{"colour": "blue"}`)}, ErrInvalidConfig},
		{"configure panics", guests["misbehave"], PluginOptions{Config: []byte(`{"panic": 1}`)}, ErrTrap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Swap(ctx, tc.wasm, tc.opts)
			if !errors.Is(err, tc.is) {
				t.Fatalf("Swap: %v, want %v", err, tc.is)
			}
			st := s.Status()
			if st.Digest != digestOf(guests["filter-a"]) || st.LastError != err || s.Module() != active {
				t.Errorf("status after a failed swap: %+v", st)
			}
			if a, err := admit(ctx, s.Call); err != nil || a.Tag != "a" {
				t.Errorf("after a failed swap the slot answered %+v, %v", a, err)
			}
			if got, want := gaugeSum(t, "steady"), float64(active.Instances()); got != want {
				t.Errorf("tug_plugin_instances{plugin=steady} = %v, want %v: the failed version left instances", got, want)
			}
		})
	}
	if err := s.Swap(ctx, guests["filter-b"], PluginOptions{}); err != nil {
		t.Fatal(err)
	}
	if a, err := admit(ctx, s.Call); err != nil || a.Tag != "b" {
		t.Errorf("after a good swap the slot answered %+v, %v", a, err)
	}
	if st := s.Status(); st.LastError != nil || st.Digest != digestOf(guests["filter-b"]) {
		t.Errorf("status after a good swap: %+v", st)
	}
}
