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
	out.Conditions = copyConditions(in.Conditions)
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

func (in *SchedulerProfile) DeepCopyInto(out *SchedulerProfile) {
	*out = *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	in.Spec.DeepCopyInto(&out.Spec)
	out.Status = *in.Status.DeepCopy()
}

func (in *SchedulerProfile) DeepCopy() *SchedulerProfile {
	if in == nil {
		return nil
	}
	out := new(SchedulerProfile)
	in.DeepCopyInto(out)
	return out
}

func (in *SchedulerProfile) DeepCopyObject() runtime.Object { return in.DeepCopy() }

func (in *SchedulerProfileSpec) DeepCopyInto(out *SchedulerProfileSpec) {
	*out = *in
	if in.PercentageOfNodesToScore != nil {
		v := *in.PercentageOfNodesToScore
		out.PercentageOfNodesToScore = &v
	}
	if in.Plugins != nil {
		out.Plugins = &Plugins{Filter: in.Plugins.Filter.deepCopy(), PostFilter: in.Plugins.PostFilter.deepCopy(),
			Score: in.Plugins.Score.deepCopy(), Reserve: in.Plugins.Reserve.deepCopy(), Permit: in.Plugins.Permit.deepCopy(),
			PreBind: in.Plugins.PreBind.deepCopy(), PostBind: in.Plugins.PostBind.deepCopy()}
	}
	if in.PluginConfig != nil {
		out.PluginConfig = make([]PluginConfig, len(in.PluginConfig))
		for i, pc := range in.PluginConfig {
			out.PluginConfig[i] = PluginConfig{Name: pc.Name}
			pc.Args.DeepCopyInto(&out.PluginConfig[i].Args)
		}
	}
}

// DeepCopy copies a spec; the scheduler keeps the copy it built a chain from.
func (in *SchedulerProfileSpec) DeepCopy() *SchedulerProfileSpec {
	if in == nil {
		return nil
	}
	out := new(SchedulerProfileSpec)
	in.DeepCopyInto(out)
	return out
}

func (in PluginSet) deepCopy() PluginSet {
	clone := func(ps []Plugin) []Plugin {
		if ps == nil {
			return nil
		}
		return append(make([]Plugin, 0, len(ps)), ps...)
	}
	return PluginSet{Enabled: clone(in.Enabled), Disabled: clone(in.Disabled)}
}

func copyConditions(in []metav1.Condition) []metav1.Condition {
	if in == nil {
		return nil
	}
	out := make([]metav1.Condition, len(in))
	for i := range in {
		in[i].DeepCopyInto(&out[i])
	}
	return out
}

func (in *SchedulerProfileList) DeepCopyInto(out *SchedulerProfileList) {
	*out = *in
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]SchedulerProfile, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

func (in *SchedulerProfileList) DeepCopy() *SchedulerProfileList {
	if in == nil {
		return nil
	}
	out := new(SchedulerProfileList)
	in.DeepCopyInto(out)
	return out
}

func (in *SchedulerProfileList) DeepCopyObject() runtime.Object { return in.DeepCopy() }

// DeepCopy copies a status, for a writer that changes one condition.
func (in *SchedulerProfileStatus) DeepCopy() *SchedulerProfileStatus {
	if in == nil {
		return nil
	}
	out := *in
	out.Conditions = copyConditions(in.Conditions)
	return &out
}
