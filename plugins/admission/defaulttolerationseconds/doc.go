// Package defaulttolerationseconds is kube-apiserver's DefaultTolerationSeconds admission
// plugin: a pod that says nothing about nodes going not-ready or unreachable tolerates
// both for five minutes, so that the node lifecycle controller evicts it from a lost node
// after that grace rather than at once (or never).
package defaulttolerationseconds
