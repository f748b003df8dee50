package api

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// table is one kind's printer: column definitions and a row function.
type table struct {
	columns []metav1.TableColumnDefinition
	row     func(obj runtime.Object) []any
}

// tables holds each resource's Table printer, keyed by resource. The printers reproduce
// kube-apiserver's (pkg/printers/internalversion): the same columns, descriptions, cell values
// and cell types. The real server always prints with Wide set, so every row carries the
// priority-1 cells too and kubectl hides them unless -o wide.
var tables = map[string]table{
	// core/v1
	"pods":                   podTable,
	"nodes":                  nodeTable,
	"namespaces":             namespaceTable,
	"services":               serviceTable,
	"endpoints":              endpointsTable,
	"configmaps":             configMapTable,
	"secrets":                secretTable,
	"serviceaccounts":        serviceAccountTable,
	"events":                 eventTable,
	"resourcequotas":         resourceQuotaTable,
	"limitranges":            {columns: defaultTableColumns, row: defaultTableRow}, // no printer upstream either
	"replicationcontrollers": replicationControllerTable,
	"persistentvolumes":      persistentVolumeTable,
	"persistentvolumeclaims": persistentVolumeClaimTable,
	// apps/v1, batch/v1
	"deployments":  deploymentTable,
	"replicasets":  replicaSetTable,
	"statefulsets": statefulSetTable,
	"daemonsets":   daemonSetTable,
	"jobs":         jobTable,
	"cronjobs":     cronJobTable,
	// coordination, discovery, networking
	"leases":            leaseTable,
	"wasmplugins":       wasmPluginTable,
	"schedulerprofiles": schedulerProfileTable,
	"controllers":       controllerTable,
	"admissionpolicies": admissionPolicyTable,
	"endpointslices":    endpointSliceTable,
	"ingresses":         ingressTable,
	"runtimeclasses":    runtimeClassTable,
	// rbac.authorization.k8s.io, certificates.k8s.io
	"roles":                      {columns: defaultTableColumns, row: defaultTableRow},
	"clusterroles":               {columns: defaultTableColumns, row: defaultTableRow},
	"rolebindings":               roleBindingTable,
	"clusterrolebindings":        clusterRoleBindingTable,
	"certificatesigningrequests": csrTable,
}

// Descriptions shared by most printers, taken from the API's own field docs as the real
// server does.
var (
	metaDocs        = metav1.ObjectMeta{}.SwaggerDoc()
	nameDescription = metaDocs["name"]
	ageDescription  = metaDocs["creationTimestamp"]
)

// defaultTableColumns and defaultTableRow print kinds without their own printer, as
// kube-apiserver's default table convertor does.
var defaultTableColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: nameDescription},
	{Name: "Created At", Type: "date", Description: ageDescription},
}

func defaultTableRow(obj runtime.Object) []any {
	m, err := meta.Accessor(obj)
	if err != nil {
		return []any{"", ""}
	}
	return []any{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}
}

// translateAge prints an age the way kubectl does ("5s", "3m2s", "4h", "2d"), measured on the
// package clock so tests can pin it.
func translateAge(ts metav1.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(nowFunc().Sub(ts.Time))
}

// translateMicroAge is translateAge for MicroTime (event times).
func translateMicroAge(ts metav1.MicroTime) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(nowFunc().Sub(ts.Time))
}

// Column constructors. Every printer starts with nameColumn; wide-only columns are
// priority 1.
func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: nameDescription}
}

func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: ageDescription}
}

func column(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

func wideColumn(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Priority: 1, Description: description}
}

// The container columns of every workload printer.
func containerColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		wideColumn("Containers", "string", "Names of each container in the template."),
		wideColumn("Images", "string", "Images referenced by each container in the template."),
	}
}

func columns(cols ...any) []metav1.TableColumnDefinition {
	var out []metav1.TableColumnDefinition
	for _, c := range cols {
		switch c := c.(type) {
		case metav1.TableColumnDefinition:
			out = append(out, c)
		case []metav1.TableColumnDefinition:
			out = append(out, c...)
		default:
			panic(fmt.Sprintf("api: column of type %T", c))
		}
	}
	return out
}

// printer adapts a typed row func. An object of another type is converted when it is
// unstructured; anything else gets a row of empty cells holding only its name, so a Table
// always has one cell per column.
func printer[T any, PT interface {
	*T
	runtime.Object
}](cols []metav1.TableColumnDefinition, row func(PT) []any) table {
	return table{columns: cols, row: func(obj runtime.Object) []any {
		o, ok := obj.(PT)
		if !ok {
			u, isU := obj.(runtime.Unstructured)
			if !isU {
				return fallbackRow(obj, cols)
			}
			o = PT(new(T))
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), o); err != nil {
				return fallbackRow(obj, cols)
			}
		}
		if o == nil {
			return fallbackRow(nil, cols)
		}
		return row(o)
	}}
}

func fallbackRow(obj runtime.Object, cols []metav1.TableColumnDefinition) []any {
	cells := make([]any, len(cols))
	name := ""
	if obj != nil {
		if m, err := meta.Accessor(obj); err == nil {
			name = m.GetName()
		}
	}
	for i, c := range cols {
		cells[i] = ""
		if c.Format == "name" {
			cells[i] = name
		}
	}
	return cells
}

// layoutContainerCells joins container names and images with commas.
func layoutContainerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// listWithMore joins at most max items and notes how many were left off; an empty list is
// "<unset>".
func listWithMore(list []string, more bool, count, max int) string {
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	if ret == "" {
		ret = "<unset>"
	}
	return ret
}

func printBoolPtr(v *bool) string {
	if v == nil {
		return "<unset>"
	}
	if *v {
		return "True"
	}
	return "False"
}

func int32Value(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
