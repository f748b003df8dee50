// Package admission makes a module an admission policy: importing it for its side effect,
//
//	import _ "github.com/tugboat-io/tug/sdk/go/kinds/admission"
//
// adds the export tug_admit to the module, which runs the Admitter the plugin registers
// with tug.RegisterAdmit. Natively (go test) the package is empty.
package admission
