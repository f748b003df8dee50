module github.com/tugboat-io/tug/hostabi

go 1.24
