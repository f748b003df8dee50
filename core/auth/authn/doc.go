// Package authn says who sent a request: the authenticators the API server chains, each
// turning one kind of credential into a user.Info.
//
//   - TokenFile: kube's static token file (token,user,uid,"group1,group2"), for bootstrapping
//     and tests; tokens are compared in constant time.
//   - X509: client certificates verified against the cluster CA; user = CN, groups = O, as
//     kubectl and kubelets present them.
//   - ServiceAccountVerifier (with Signer, which issues the tokens): kube-shaped ES256 JWTs
//     bound to a service account and optionally a pod and node; a token stops working when an
//     object it is bound to is deleted or replaced by one with another UID.
//   - JoinTokens: kube's bootstrap tokens (<id>.<secret>) for nodes joining the cluster.
//   - Union: tries them in order and adds system:authenticated to whoever it finds.
//
// Token authenticators implement TokenAuthenticator and are put on the request by Bearer,
// which reads the Authorization header. Every authenticator answers (nil, false, nil) for a
// request that carries no credential of its kind, so a union can move on, and (nil, false,
// err) for a credential of its kind that is not valid; err says why, for the server's log, and
// never reaches the client beyond a 401. There is no anonymous user: a request nobody
// recognises is not authenticated.
package authn
