// Package controller makes a module a controller: importing it for its side effect,
//
//	import _ "github.com/tugboat-io/tug/sdk/go/kinds/controller"
//
// adds the export tug_reconcile to the module, which runs the Reconciler the plugin
// registers with tug.RegisterReconcile. Natively (go test) the package is empty.
package controller
