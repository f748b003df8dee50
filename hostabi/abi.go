package hostabi

import "strconv"

// Version is the ABI version this package describes: major 1, minor 6 (1.1 added modules
// hosting several scheduling plugins, ABI.md §4.7; 1.2 the pre-filter's skips, §4.8, and
// preemption, §4.9; 1.3 the reconcile's clock, actions and requeue, §4.6; 1.4 the
// reconcile's parent patch and deletion, and deletes of related objects, §4.6; 1.5 the
// admission request's policy, configuration and related objects, and its status updates,
// §4.5; 1.6 Reserve, Unreserve, Permit, PreBind and PostBind, §4.10).
const (
	Major = 1
	Minor = 6
	// Version is what a guest's tug_abi_version export returns: (major << 16) | minor.
	Version = Major<<16 | Minor
)

// ImportModule is the module name of the host's imports; the major version is part of it.
const ImportModule = "tug:host/v1"

// Host imports (module ImportModule).
const (
	// ImportSetResult is set_result(ptr, len i32): the call's output or, with a non-zero
	// status, its reason.
	ImportSetResult = "set_result"
	// ImportLog is log(level, ptr, len i32).
	ImportLog = "log"
)

// Guest exports every module has.
const (
	ExportMemory     = "memory"
	ExportABIVersion = "tug_abi_version" // () -> i32
	ExportAlloc      = "tug_alloc"       // (size i32) -> i32
)

// Operation exports, each (ptr, len i32) -> i32 status.
const (
	ExportConfigure      = "tug_configure"
	ExportSchedNodes     = "tug_sched_nodes"
	ExportSchedPreFilter = "tug_sched_prefilter"
	ExportSchedFilter    = "tug_sched_filter"
	ExportSchedScore     = "tug_sched_score"
	ExportSchedNormalize = "tug_sched_normalize"
	ExportAdmit          = "tug_admit"
	ExportReconcile      = "tug_reconcile"

	// Since 1.1: a module hosting several scheduling plugins (ABI.md §4.7) lists them with
	// tug_sched_plugins and serves each through the _at operations, whose input starts with
	// the plugin's index.
	ExportSchedPlugins     = "tug_sched_plugins"
	ExportSchedFilterAt    = "tug_sched_filter_at"
	ExportSchedScoreAt     = "tug_sched_score_at"
	ExportSchedNormalizeAt = "tug_sched_normalize_at"
	// Since 1.2: a hosted plugin that chooses among preemption candidates (ABI.md §4.9).
	ExportSchedPostFilterAt = "tug_sched_postfilter_at"

	// Since 1.6: the extension points after the choice of a node (ABI.md §4.10), optional
	// exports of a scheduler module, and their hosted forms.
	ExportSchedReserve     = "tug_sched_reserve"
	ExportSchedUnreserve   = "tug_sched_unreserve"
	ExportSchedPermit      = "tug_sched_permit"
	ExportSchedPreBind     = "tug_sched_prebind"
	ExportSchedPostBind    = "tug_sched_postbind"
	ExportSchedReserveAt   = "tug_sched_reserve_at"
	ExportSchedUnreserveAt = "tug_sched_unreserve_at"
	ExportSchedPermitAt    = "tug_sched_permit_at"
	ExportSchedPreBindAt   = "tug_sched_prebind_at"
	ExportSchedPostBindAt  = "tug_sched_postbind_at"
)

// Status is what an operation export returns.
type Status int32

const (
	StatusOK            Status = 0
	StatusError         Status = 1
	StatusInvalidInput  Status = 2
	StatusInvalidConfig Status = 3
	StatusUnsupported   Status = 4
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusError:
		return "ERROR"
	case StatusInvalidInput:
		return "INVALID_INPUT"
	case StatusInvalidConfig:
		return "INVALID_CONFIG"
	case StatusUnsupported:
		return "UNSUPPORTED"
	}
	return "ERROR"
}

// Code is a scheduling verdict, numbered as the Kubernetes scheduler framework's.
type Code uint32

const (
	CodeSuccess                      Code = 0
	CodeError                        Code = 1
	CodeUnschedulable                Code = 2
	CodeUnschedulableAndUnresolvable Code = 3
	// CodeWait is the framework's Wait: a Permit verdict holding the pod until it is allowed,
	// rejected or its timeout passes (ABI.md §4.10, since 1.6).
	CodeWait Code = 4
	// CodeSkip is the framework's Skip: a pre-filter found nothing for the plugin to do for
	// the cycle's pod. It never crosses the ABI as a code; it becomes a Skip entry of the
	// pre-filter verdict (ABI.md §4.8).
	CodeSkip Code = 5
)

// String is the framework's name for the code.
func (c Code) String() string {
	switch c {
	case CodeSuccess:
		return "Success"
	case CodeError:
		return "Error"
	case CodeUnschedulable:
		return "Unschedulable"
	case CodeUnschedulableAndUnresolvable:
		return "UnschedulableAndUnresolvable"
	case CodeWait:
		return "Wait"
	case CodeSkip:
		return "Skip"
	}
	return "Code(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// MaxNodeScore is the highest score a score operation returns (the framework's MaxNodeScore).
const MaxNodeScore = 100

// Log levels of the log import.
const (
	LogDebug int32 = 0
	LogInfo  int32 = 1
	LogWarn  int32 = 2
	LogError int32 = 3
)

// Kind is a plugin kind; a module implements the kinds whose required exports it has.
type Kind string

const (
	KindSchedulerFilter Kind = "scheduler-filter"
	KindSchedulerScore  Kind = "scheduler-score"
	KindAdmission       Kind = "admission"
	KindController      Kind = "controller"
)

// HostedRequiredExports lists, per scheduling kind, the operation exports a module hosting
// several plugins (ABI.md §4.7) must have to be that kind: RequiredExports' alternative.
var HostedRequiredExports = map[Kind][]string{
	KindSchedulerFilter: {ExportSchedNodes, ExportSchedPreFilter, ExportSchedPlugins, ExportSchedFilterAt},
	KindSchedulerScore:  {ExportSchedNodes, ExportSchedPreFilter, ExportSchedPlugins, ExportSchedScoreAt},
}

// RequiredExports lists, per kind, the operation exports a module must have to be that kind.
var RequiredExports = map[Kind][]string{
	KindSchedulerFilter: {ExportSchedNodes, ExportSchedPreFilter, ExportSchedFilter},
	KindSchedulerScore:  {ExportSchedNodes, ExportSchedPreFilter, ExportSchedScore},
	KindAdmission:       {ExportAdmit},
	KindController:      {ExportReconcile},
}
