// Package kubeconfig writes the kubeconfig file `tug up` leaves in its data directory: one
// cluster "tug", one user "admin", one context "tug" made current. kubectl and client-go read it
// unchanged (KUBECONFIG=<data-dir>/kubeconfig).
//
// The file is produced from small local types with sigs.k8s.io/yaml rather than client-go's
// clientcmd, so the binary does not carry client-go for one file.
package kubeconfig
