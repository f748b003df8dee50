// Package encrypt encrypts chosen resources at rest: a store.Transformer that seals values with
// AES-GCM before they reach etcd and opens them on the way back, configured the way
// kube-apiserver is (an EncryptionConfiguration file) or, for `tug up --encrypt-secrets`, with
// one key kept in the data dir.
//
// # Where it cuts
//
// Encryption sits in the store (store.WithTransformer), below the API server's encoding and
// above etcd, as kube-apiserver's value.Transformer does. Every path that moves a value goes
// through the store — create, optimistic update, delete and its returned value, guarded and
// claimed side keys, get, list and watch — so none of them can forget to encrypt, and the API
// server stays unaware of it except for one thing: a value read under an old key is "stale",
// and an update writes it even when the object is unchanged, so
// `kubectl get secrets -A -o json | kubectl replace -f -` re-encrypts everything after a
// rotation, as it does on Kubernetes. The watch cache holds values as etcd does and decrypts
// one when it first decodes it.
//
// # Stored form
//
// An encrypted value is "k8s:enc:aesgcm:v1:<key name>:" followed by a 12-byte nonce and the
// AES-GCM ciphertext with its tag — kube-apiserver's aesgcm format. The additional
// authenticated data is the object's store key (e.g. /core/secrets/default/db), so a value
// copied to another key fails authentication instead of impersonating that object. Values
// without the "k8s:enc:" prefix are plain (written before encryption was on, or by the
// identity provider) and read only where identity is listed.
//
// # Which values
//
// Rules match store keys of the API server's layout, /<group>/<resource>/…, with "core" for
// the legacy group: "secrets" is /core/secrets/, "deployments.apps" /apps/deployments/, "*.apps"
// every resource of apps, "*." every core resource and "*.*" everything. The first rule that
// matches a key decides; a key no rule matches is stored as given.
package encrypt
