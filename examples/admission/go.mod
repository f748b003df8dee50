module github.com/tugboat-io/tug/examples/admission

go 1.25.0

require github.com/tugboat-io/tug/sdk/go v0.0.0-00010101000000-000000000000

require github.com/tugboat-io/tug/hostabi v0.0.0-00010101000000-000000000000 // indirect

replace (
	github.com/tugboat-io/tug/hostabi => ../../hostabi
	github.com/tugboat-io/tug/sdk/go => ../../sdk/go
)
