package api

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/duration"
)

// The column descriptions below come from the same (older) API versions the real server
// takes them from, so Tables match it byte for byte.

var deploymentTable = printer(columns(
	nameColumn(),
	column("Ready", "string", "Number of the pod with ready state"),
	column("Up-to-date", "string", extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]),
	column("Available", "string", extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]),
	ageColumn(),
	containerColumns(),
	wideColumn("Selector", "string", extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"]),
), func(d *appsv1.Deployment) []any {
	names, images := layoutContainerCells(d.Spec.Template.Spec.Containers)
	// Unlike the other workloads, deployments print an empty selector as "".
	selector := "<invalid>"
	if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		selector = s.String()
	}
	return []any{
		d.Name, fmt.Sprintf("%d/%d", int64(d.Status.ReadyReplicas), int64(int32Value(d.Spec.Replicas))),
		int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), translateAge(d.CreationTimestamp),
		names, images, selector,
	}
})

var replicaSetTable = printer(columns(
	nameColumn(),
	column("Desired", "integer", extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]),
	column("Current", "integer", extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]),
	column("Ready", "integer", extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]),
	ageColumn(),
	containerColumns(),
	wideColumn("Selector", "string", extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["selector"]),
), func(rs *appsv1.ReplicaSet) []any {
	names, images := layoutContainerCells(rs.Spec.Template.Spec.Containers)
	return []any{
		rs.Name, int64(int32Value(rs.Spec.Replicas)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
		translateAge(rs.CreationTimestamp), names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
	}
})

var statefulSetTable = printer(columns(
	nameColumn(),
	column("Ready", "string", "Number of the pod with ready state"),
	ageColumn(),
	containerColumns(),
), func(ss *appsv1.StatefulSet) []any {
	names, images := layoutContainerCells(ss.Spec.Template.Spec.Containers)
	return []any{
		ss.Name, fmt.Sprintf("%d/%d", int64(ss.Status.ReadyReplicas), int64(int32Value(ss.Spec.Replicas))),
		translateAge(ss.CreationTimestamp), names, images,
	}
})

var daemonSetTable = printer(columns(
	nameColumn(),
	column("Desired", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]),
	column("Current", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]),
	column("Ready", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]),
	column("Up-to-date", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]),
	column("Available", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]),
	column("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
	ageColumn(),
	containerColumns(),
	wideColumn("Selector", "string", extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
), func(ds *appsv1.DaemonSet) []any {
	names, images := layoutContainerCells(ds.Spec.Template.Spec.Containers)
	return []any{
		ds.Name, int64(ds.Status.DesiredNumberScheduled), int64(ds.Status.CurrentNumberScheduled),
		int64(ds.Status.NumberReady), int64(ds.Status.UpdatedNumberScheduled), int64(ds.Status.NumberAvailable),
		labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector), translateAge(ds.CreationTimestamp),
		names, images, metav1.FormatLabelSelector(ds.Spec.Selector),
	}
})

var jobTable = printer(columns(
	nameColumn(),
	column("Status", "string", "Status of the job."),
	column("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
	column("Duration", "string", "Time required to complete the job."),
	ageColumn(),
	containerColumns(),
	wideColumn("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"]),
), jobRow)

func jobRow(job *batchv1.Job) []any {
	var completions string
	if job.Spec.Completions != nil {
		completions = fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	} else if parallelism := int32Value(job.Spec.Parallelism); parallelism > 1 {
		completions = fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, parallelism)
	} else {
		completions = fmt.Sprintf("%d/1", job.Status.Succeeded)
	}
	var jobDuration string
	switch {
	case job.Status.StartTime == nil:
	case job.Status.CompletionTime == nil:
		jobDuration = duration.HumanDuration(nowFunc().Sub(job.Status.StartTime.Time))
	default:
		jobDuration = duration.HumanDuration(job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
	}
	var status string
	switch {
	case hasJobCondition(job.Status.Conditions, batchv1.JobComplete):
		status = "Complete"
	case hasJobCondition(job.Status.Conditions, batchv1.JobFailed):
		status = "Failed"
	case job.DeletionTimestamp != nil:
		status = "Terminating"
	case hasJobCondition(job.Status.Conditions, batchv1.JobSuspended):
		status = "Suspended"
	case hasJobCondition(job.Status.Conditions, batchv1.JobFailureTarget):
		status = "FailureTarget"
	default:
		status = "Running"
	}
	names, images := layoutContainerCells(job.Spec.Template.Spec.Containers)
	return []any{
		job.Name, status, completions, jobDuration, translateAge(job.CreationTimestamp),
		names, images, metav1.FormatLabelSelector(job.Spec.Selector),
	}
}

// hasJobCondition reports whether the first condition of the type is true.
func hasJobCondition(conditions []batchv1.JobCondition, t batchv1.JobConditionType) bool {
	for _, c := range conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

var cronJobTable = printer(columns(
	nameColumn(),
	column("Schedule", "string", batchv1beta1.CronJobSpec{}.SwaggerDoc()["schedule"]),
	column("Timezone", "string", batchv1beta1.CronJobSpec{}.SwaggerDoc()["timeZone"]),
	column("Suspend", "boolean", batchv1beta1.CronJobSpec{}.SwaggerDoc()["suspend"]),
	column("Active", "integer", batchv1beta1.CronJobStatus{}.SwaggerDoc()["active"]),
	column("Last Schedule", "string", batchv1beta1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]),
	ageColumn(),
	containerColumns(),
	wideColumn("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"]),
), func(cj *batchv1.CronJob) []any {
	lastSchedule := "<none>"
	if cj.Status.LastScheduleTime != nil {
		lastSchedule = translateAge(*cj.Status.LastScheduleTime)
	}
	timeZone := "<none>"
	if cj.Spec.TimeZone != nil {
		timeZone = *cj.Spec.TimeZone
	}
	names, images := layoutContainerCells(cj.Spec.JobTemplate.Spec.Template.Spec.Containers)
	return []any{
		cj.Name, cj.Spec.Schedule, timeZone, printBoolPtr(cj.Spec.Suspend), int64(len(cj.Status.Active)),
		lastSchedule, translateAge(cj.CreationTimestamp),
		names, images, metav1.FormatLabelSelector(cj.Spec.JobTemplate.Spec.Selector),
	}
})
