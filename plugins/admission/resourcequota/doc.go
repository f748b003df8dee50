// Package resourcequota is kube-apiserver's ResourceQuota admission plugin: a create that
// would take a namespace past a quota's hard limit is refused, and one that fits is charged
// to every quota covering it, atomically with the create (the response's statusUpdates,
// ABI 1.5), so that concurrent creates cannot together pass a limit each fits alone.
//
// What an object is charged is package quota's, the same the ResourceQuota controller
// recalculates usage with: the two agree by construction. Updates and deletes are left to
// the controller, which recalculates from the objects themselves.
//
// Unlike kube, which checks against status.hard and refuses a quota whose status the
// controller has not filled in yet ("status unknown for quota"), the policy checks against
// spec.hard and counts a resource without usage from zero: a quota limits from the moment
// it exists, and the controller corrects the count when it catches up.
package resourcequota
