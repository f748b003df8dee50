package hostabi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestFilterOutputRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   []Rejection
	}{
		{"none", []Rejection{}},
		{"one", []Rejection{{NodeID: 1, Code: CodeUnschedulable, Reason: "Insufficient cpu"}}},
		{"shared and distinct reasons", []Rejection{
			{NodeID: 1, Code: CodeUnschedulable, Reason: "Insufficient cpu"},
			{NodeID: 2, Code: CodeUnschedulable, Reason: "Insufficient cpu"},
			{NodeID: 3, Code: CodeError, Reason: ""},
			{NodeID: 4, Code: CodeUnschedulableAndUnresolvable, Reason: "node(s) had untolerated taint"},
			{NodeID: 5, Code: CodeUnschedulable, Reason: "Insufficient cpu"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeFilterOutput(AppendFilterOutput(nil, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.in) {
				t.Fatalf("decoded %d rejections, want %d", len(got), len(tt.in))
			}
			for i := range got {
				if got[i] != tt.in[i] {
					t.Errorf("rejection %d = %+v, want %+v", i, got[i], tt.in[i])
				}
			}
		})
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	dst := []byte("prefix")
	out := AppendScores(dst, []int64{-1})
	if !bytes.HasPrefix(out, []byte("prefix")) || len(out) != len("prefix")+4+8 {
		t.Fatalf("AppendScores = %x", out)
	}
	if got, err := DecodeScores(out[len("prefix"):]); err != nil || len(got) != 1 || got[0] != -1 {
		t.Fatalf("decoded %v, %v; want [-1]", got, err)
	}
}

func TestDecodeFilterOutputSharesEqualReasons(t *testing.T) {
	in := make([]Rejection, 1000)
	for i := range in {
		in[i] = Rejection{NodeID: uint32(i), Code: CodeUnschedulable, Reason: "Insufficient cpu"}
	}
	frame := AppendFilterOutput(nil, in)
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := DecodeFilterOutput(frame); err != nil {
			t.Fatal(err)
		}
	})
	// One slice and one string: a reason shared by every node is not copied per node.
	if allocs > 2 {
		t.Errorf("decoding 1000 rejections with one reason took %v allocations, want at most 2", allocs)
	}
}

// A frame whose count claims more elements than its bytes can hold is refused before
// anything is allocated for them.
func TestDecodeRefusesCountsTheInputCannotHold(t *testing.T) {
	header := binary.LittleEndian.AppendUint32(nil, 0xffffffff)
	withOne := AppendFilterOutput(nil, []Rejection{{NodeID: 1, Code: 2, Reason: "x"}})
	binary.LittleEndian.PutUint32(withOne, 0xffffffff)
	tests := []struct {
		name   string
		decode func() error
	}{
		{"node ids", func() error { _, err := DecodeNodeIDs(header); return err }},
		{"filter output", func() error { _, err := DecodeFilterOutput(header); return err }},
		{"filter output with one rejection", func() error { _, err := DecodeFilterOutput(withOne); return err }},
		{"scores", func() error { _, err := DecodeScores(header); return err }},
		{"normalize input", func() error { _, err := DecodeNormalizeInput(header); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := tt.decode()
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
				t.Errorf("refusing a %d-byte frame allocated %d bytes", len(header), n)
			}
		})
	}
}

// seedFrames adds every golden frame of the given kind to a fuzz corpus, with the
// encodings of extra values.
func seedFrames(f *testing.F, frame string, extra ...[]byte) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "frames", frame+"_*.bin"))
	if len(paths) == 0 {
		f.Fatalf("no golden %s frames to seed the corpus", frame)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range extra {
		f.Add(b)
	}
	f.Add([]byte{})
}

// The fuzz targets check that decoding never panics and that whatever decodes re-encodes to
// exactly the same bytes: the frames have one encoding per value, so a decoder that accepts
// anything else has skipped a check.

func FuzzDecodeNodeIDs(f *testing.F) {
	seedFrames(f, "node_ids", AppendNodeIDs(nil, []uint32{1, 2, 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := DecodeNodeIDs(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if enc := AppendNodeIDs(nil, ids); !bytes.Equal(enc, b) {
			t.Fatalf("%x decoded to %v, which encodes to %x", b, ids, enc)
		}
		// ParseNodeIDs accepts the same frames and reads the same ids in place.
		l, err := ParseNodeIDs(b)
		if err != nil || l.Len() != len(ids) {
			t.Fatalf("ParseNodeIDs(%x) = %d ids, %v; DecodeNodeIDs found %d", b, l.Len(), err, len(ids))
		}
		for i, id := range ids {
			if l.At(i) != id {
				t.Fatalf("ParseNodeIDs(%x).At(%d) = %d, want %d", b, i, l.At(i), id)
			}
		}
	})
}

func FuzzDecodeFilterOutput(f *testing.F) {
	seedFrames(f, "filter_output", AppendFilterOutput(nil, []Rejection{{NodeID: 7, Code: 3, Reason: strings.Repeat("r", 40)}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := DecodeFilterOutput(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if enc := AppendFilterOutput(nil, rs); !bytes.Equal(enc, b) {
			t.Fatalf("%x decoded to %v, which encodes to %x", b, rs, enc)
		}
	})
}

func FuzzDecodeScores(f *testing.F) {
	seedFrames(f, "scores", AppendScores(nil, []int64{-1 << 63, 1<<63 - 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeScores(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if enc := AppendScores(nil, s); !bytes.Equal(enc, b) {
			t.Fatalf("%x decoded to %v, which encodes to %x", b, s, enc)
		}
	})
}

func FuzzDecodeNormalizeInput(f *testing.F) {
	seedFrames(f, "normalize_input", AppendNormalizeInput(nil, []NodeScore{{NodeID: 1, Score: -7}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeNormalizeInput(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if enc := AppendNormalizeInput(nil, s); !bytes.Equal(enc, b) {
			t.Fatalf("%x decoded to %v, which encodes to %x", b, s, enc)
		}
	})
}
