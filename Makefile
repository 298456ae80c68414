# The README's commands. `make test` is what CI runs (.ci/run).
.PHONY: test build run
test:
	scripts/test

build:
	go build -o bin/ivs-ingest ./cmd/ivs-ingest

# The load benchmark of issue 5 (see BENCHMARKS.md); not part of `make test`.
# It rewrites the generated section of BENCHMARKS.md. A quick check:
#   make bench BENCH_FLAGS='-duration 2s -sellers 200 -conns 50,200 -first-fetch 10 -restart-fetch 10 -cold-runs 2 -flash-sellers 100 -flash-window 5s'
.PHONY: bench
bench:
	AWS_EC2_METADATA_DISABLED=true scripts/with-postgres go run ./bench -out BENCHMARKS.md $(BENCH_FLAGS)
