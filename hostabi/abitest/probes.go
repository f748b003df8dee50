package abitest

import (
	"bytes"
	"encoding/binary"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/hostabi/wasmbin"
)

// The probe modules RunHost loads, assembled here byte by byte so that the kit needs no
// toolchain and a host author can read exactly what each one does.
//
// Every probe imports set_result and log from tug:host/v1, has two pages of memory, exports
// tug_abi_version, tug_alloc (a fixed buffer at inputAt, 0 past 64 KiB) and two operations:
// tug_admit, which shows the behaviour under test, and tug_reconcile, which echoes its
// input, so that the kit can check that a host keeps serving after a failure. The echo probe
// exports the echo under every operation name.

const (
	inputAt  = 1024
	maxInput = 64 << 10
	// Strings in the data segment.
	firstAt  = 100 // "first"
	secondAt = 110 // "second"
	reasonAt = 120 // "reason"
	logAt    = 130 // "hello"
)

// Function indices: the two imports, then the module's own functions.
const (
	fnSetResult = iota
	fnLog
	fnVersion
	fnAlloc
	fnBehaviour
	fnEcho
)

type probe struct {
	version   uint32
	behaviour []byte // body of tug_admit: (ptr, len i32) -> status i32
	allocZero bool   // tug_alloc always answers 0
	echoAll   bool   // every operation is the echo
	// What breaks the module's interface, for the probes a host must refuse.
	noAlloc, noMemoryExport, badSignature, unknownImport bool
}

// Bodies of tug_admit (code only: assemble adds the empty locals and the end).
var (
	bodyEcho  = cat(localGet(0), localGet(1), callFn(fnSetResult), i32c(0)) // set_result(ptr, len); 0
	bodyLoop  = cat(ops(0x03, 0x40, 0x0c, 0, 0x0b), i32c(0))                // loop br 0 end; 0
	bodyTrap  = ops(0x00)                                                   // unreachable
	bodyTwice = cat(i32c(firstAt), i32c(5), callFn(fnSetResult),            // set_result("first")
		i32c(secondAt), i32c(6), callFn(fnSetResult), i32c(0)) // set_result("second"); 0
	bodyLog = cat(logAt0(0), logAt0(1), logAt0(2), logAt0(3), bodyEcho) // log("hello") at each level; echo
	// set_result(0xfffffff0, 64): past the end of memory.
	bodyOOBResult = cat(i32c(-16), i32c(64), callFn(fnSetResult), i32c(0))
)

// bodyStatus sets "reason" as the result and returns status.
func bodyStatus(status int32) []byte {
	return cat(i32c(reasonAt), i32c(6), callFn(fnSetResult), i32c(status))
}

func logAt0(level int32) []byte { return cat(i32c(level), i32c(logAt), i32c(5), callFn(fnLog)) }

func ops(b ...byte) []byte       { return b }
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
func i32c(v int32) []byte        { return wasmbin.AppendSLEB([]byte{0x41}, int64(v)) }
func localGet(i byte) []byte     { return []byte{0x20, i} }
func callFn(fn byte) []byte      { return []byte{0x10, fn} }

// assemble builds the probe's module.
func (p probe) assemble() []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	section := func(id byte, parts ...[]byte) {
		payload := bytes.Join(parts, nil)
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(payload)))
		out = append(out, payload...)
	}
	name := func(s string) []byte { return append(binary.AppendUvarint(nil, uint64(len(s))), s...) }
	vec := func(items ...[]byte) []byte {
		return append(binary.AppendUvarint(nil, uint64(len(items))), bytes.Join(items, nil)...)
	}
	const i32 = 0x7f
	// Types: 0 (i32 i32), 1 (i32 i32 i32), 2 () -> i32, 3 (i32) -> i32, 4 (i32 i32) -> i32.
	section(1, vec(
		[]byte{0x60, 2, i32, i32, 0},
		[]byte{0x60, 3, i32, i32, i32, 0},
		[]byte{0x60, 0, 1, i32},
		[]byte{0x60, 1, i32, 1, i32},
		[]byte{0x60, 2, i32, i32, 1, i32},
	))
	logName := hostabi.ImportLog
	if p.unknownImport {
		logName = "no_such_function"
	}
	section(2, vec(
		append(append(name(hostabi.ImportModule), name(hostabi.ImportSetResult)...), 0x00, 0),
		append(append(name(hostabi.ImportModule), name(logName)...), 0x00, 1),
	))
	behaviourType := byte(4)
	if p.badSignature {
		behaviourType = 2 // () -> i32
	}
	section(3, vec([]byte{2}, []byte{3}, []byte{behaviourType}, []byte{4}))
	section(5, vec([]byte{0x00, 2})) // two pages, no maximum
	export := func(n string, kind byte, idx byte) []byte { return append(name(n), kind, idx) }
	exports := [][]byte{export(hostabi.ExportABIVersion, 0, fnVersion)}
	if !p.noMemoryExport {
		exports = append(exports, export(hostabi.ExportMemory, 2, 0))
	}
	if !p.noAlloc {
		exports = append(exports, export(hostabi.ExportAlloc, 0, fnAlloc))
	}
	if p.echoAll {
		for _, op := range []string{hostabi.ExportSchedNodes, hostabi.ExportSchedPreFilter, hostabi.ExportSchedFilter,
			hostabi.ExportSchedScore, hostabi.ExportSchedNormalize, hostabi.ExportAdmit, hostabi.ExportReconcile} {
			exports = append(exports, export(op, 0, fnEcho))
		}
	} else {
		exports = append(exports, export(hostabi.ExportAdmit, 0, fnBehaviour), export(hostabi.ExportReconcile, 0, fnEcho))
	}
	section(7, vec(exports...))

	body := func(code []byte) []byte {
		b := append([]byte{0}, code...) // no locals
		b = append(b, 0x0b)
		return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
	}
	version := i32c(int32(p.version))
	// len > maxInput ? 0 : inputAt
	alloc := cat(localGet(0), i32c(maxInput), ops(0x4b, 0x04, i32), i32c(0), ops(0x05), i32c(inputAt), ops(0x0b))
	if p.allocZero {
		alloc = i32c(0)
	}
	behaviour := p.behaviour
	if behaviour == nil {
		behaviour = bodyEcho
	}
	if p.badSignature {
		behaviour = i32c(0)
	}
	section(10, vec(body(version), body(alloc), body(behaviour), body(bodyEcho)))
	data := func(at int32, s string) []byte { return cat([]byte{0x00}, i32c(at), []byte{0x0b}, name(s)) }
	section(11, vec(data(firstAt, "first"), data(secondAt, "second"), data(reasonAt, "reason"), data(logAt, "hello")))
	return out
}

// v1 is the version this kit's hostabi speaks.
var v1 = uint32(hostabi.Major)<<16 | uint32(hostabi.Minor)
