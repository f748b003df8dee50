module github.com/tugboat-io/tug/plugins

go 1.25.0

require (
	github.com/robfig/cron/v3 v3.0.1
	github.com/tetratelabs/wazero v1.12.0
	github.com/tugboat-io/tug/hostabi v0.0.0-00010101000000-000000000000
	github.com/tugboat-io/tug/sdk/go v0.0.0-00010101000000-000000000000
)

require golang.org/x/sys v0.44.0 // indirect

replace (
	github.com/tugboat-io/tug/hostabi => ../hostabi
	github.com/tugboat-io/tug/sdk/go => ../sdk/go
)
