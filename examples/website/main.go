// Command website is a custom controller for tug, written in Go with sdk/go: it reconciles
// Website objects (website.example.tug.dev/v1, a CustomResourceDefinition in crd.yaml) into
// a ConfigMap holding the page and a Deployment serving it, and reports the Deployment's
// progress in the Website's status.
//
// The page carries a footer from the plugin's configuration, so pushing the same module
// with another configuration is a visible hot swap:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o website.wasm .
//	tug plugin push website website.wasm --kind controller --plugin-config '{"footer":"v1"}'
//	kubectl apply -f crd.yaml -f controller.yaml -f hello.yaml
//
// See README.md for the whole walk-through.
package main

import (
	tug "github.com/tugboat-io/tug/sdk/go"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/controller"
)

func init() {
	tug.RegisterConfigure(configure)
	tug.RegisterReconcile(tug.ReconcileFunc(Reconcile))
}

func main() {}
