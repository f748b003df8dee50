module github.com/tugboat-io/tug/plugins/scheduler

go 1.24

require (
	github.com/tugboat-io/tug/hostabi v0.0.0-00010101000000-000000000000
	github.com/tugboat-io/tug/sdk/go v0.0.0-00010101000000-000000000000
)

replace (
	github.com/tugboat-io/tug/hostabi => ../../hostabi
	github.com/tugboat-io/tug/sdk/go => ../../sdk/go
)
