// Package policy holds what the default admission policies share: reading a policy's
// configuration once per distinct value rather than once per request, telling a pod request
// from others, wording denials as the API server does, and the request's Namespace,
// decoded without reflection.
package policy
