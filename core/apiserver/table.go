package apiserver

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// defaultColumns serve kinds without their own printer, like kube-apiserver's default table
// convertor.
var defaultColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
}

// table renders objects as the Table kubectl prints. include is the includeObject parameter:
// None, Metadata (the default) or Object.
func (r *resource) table(objs []runtime.Object, include string) *metav1.Table {
	t := &metav1.Table{}
	cols, row := r.kind.Columns, r.kind.Row
	if len(cols) == 0 || row == nil {
		cols = defaultColumns
		row = func(obj runtime.Object) []any {
			m := accessor(obj)
			return []any{m.GetName(), age(m.GetCreationTimestamp())}
		}
	}
	t.ColumnDefinitions = cols
	t.Rows = make([]metav1.TableRow, 0, len(objs))
	for _, obj := range objs {
		tr := metav1.TableRow{Cells: row(obj)}
		switch include {
		case "Object":
			tr.Object = runtime.RawExtension{Object: obj}
		case "None":
		default:
			tr.Object = runtime.RawExtension{Object: partialMeta(obj, r.kind.GVK)}
		}
		t.Rows = append(t.Rows, tr)
	}
	return t
}

func age(ts metav1.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(ts.Time))
}
