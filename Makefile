# The README's commands. `make test` is what CI runs (.ci/run).
.PHONY: test build run
test:
	scripts/test

build:
	go build -o bin/ivs-ingest ./cmd/ivs-ingest
