module github.com/tugboat-io/tug/sdk/go

go 1.24

require github.com/tugboat-io/tug/hostabi v0.0.0-00010101000000-000000000000

replace github.com/tugboat-io/tug/hostabi => ../../hostabi
