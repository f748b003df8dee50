package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Deep copies, written by hand for these few types (Kubernetes generates them).

func (in *WasmPlugin) DeepCopyInto(out *WasmPlugin) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	in.Spec.DeepCopyInto(&out.Spec)
	in.Status.DeepCopyInto(&out.Status)
}

func (in *WasmPlugin) DeepCopy() *WasmPlugin {
	if in == nil {
		return nil
	}
	out := new(WasmPlugin)
	in.DeepCopyInto(out)
	return out
}

func (in *WasmPlugin) DeepCopyObject() runtime.Object { return in.DeepCopy() }

func (in *WasmPluginSpec) DeepCopyInto(out *WasmPluginSpec) {
	*out = *in
	out.Kinds = copyStrings(in.Kinds)
	out.Capabilities = copyStrings(in.Capabilities)
	if in.Config != nil {
		out.Config = in.Config.DeepCopy()
	}
	if in.MemoryLimitMiB != nil {
		v := *in.MemoryLimitMiB
		out.MemoryLimitMiB = &v
	}
	if in.TimeoutMilliseconds != nil {
		v := *in.TimeoutMilliseconds
		out.TimeoutMilliseconds = &v
	}
}

func copyStrings(in []string) []string {
	if in == nil {
		return nil
	}
	return append(make([]string, 0, len(in)), in...)
}

func (in *WasmPluginStatus) DeepCopyInto(out *WasmPluginStatus) {
	*out = *in
	if in.Conditions != nil {
		out.Conditions = make([]metav1.Condition, len(in.Conditions))
		for i := range in.Conditions {
			in.Conditions[i].DeepCopyInto(&out.Conditions[i])
		}
	}
}

func (in *WasmPluginList) DeepCopyInto(out *WasmPluginList) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]WasmPlugin, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

func (in *WasmPluginList) DeepCopy() *WasmPluginList {
	if in == nil {
		return nil
	}
	out := new(WasmPluginList)
	in.DeepCopyInto(out)
	return out
}

func (in *WasmPluginList) DeepCopyObject() runtime.Object { return in.DeepCopy() }
