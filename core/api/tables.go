package api

import (
	"time"

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

// tables holds each resource's Table printer, keyed by resource.
var tables = map[string]table{}

// defaultTableColumns and defaultTableRow print kinds without their own printer, as
// kube-apiserver's default table convertor does.
var defaultTableColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."},
	{Name: "Created At", Type: "date", Description: "CreationTimestamp is a timestamp representing the server time when this object was created."},
}

func defaultTableRow(obj runtime.Object) []any {
	m, err := meta.Accessor(obj)
	if err != nil {
		return []any{"", ""}
	}
	return []any{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}
}

// translateAge prints an age the way kubectl does ("5s", "3m2s", "4h", "2d").
func translateAge(ts metav1.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(ts.Time))
}
