# minirtc: the two commands are `make run` and `make test`; both install what
# they need first (scripts/deps.sh) on Debian/Ubuntu.

BIN      := bin/minirtc
DATA     ?= ./data
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# Generous but bounded: a hang fails the run instead of blocking CI.
TEST_TIMEOUT ?= 15m

.PHONY: run test build check fuzz bench clean

# Build and start the server with an embedded SQLite store in $(DATA). The
# demo page may mint tokens of the development app: for your own machine.
run: build
	MINIRTC_DEMO_MINT_TOKENS=$${MINIRTC_DEMO_MINT_TOKENS:-true} ./$(BIN) serve --data $(DATA)

build:
	@GO=$$(scripts/deps.sh build | tail -n1) && \
	  echo "building $(BIN) with $$GO" && \
	  $$GO build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/minirtc && \
	  $$GO build -o bin/minirtc-join ./examples/join

# Build and run the example app server (examples/app-server) on
# http://127.0.0.1:8080 against a local `make run` server started in another
# terminal; the app id and secret are read from $(DATA) unless
# MINIRTC_APP_ID and MINIRTC_APP_SECRET are set.
.PHONY: app-server
app-server: build
	@GO=$$(scripts/deps.sh build | tail -n1) && \
	  $$GO build -o bin/minirtc-app-server ./examples/app-server && \
	  DATA=$(DATA) examples/app-server/run.sh

# Every test: formatting, vet, unit and integration tests with the race
# detector and goroutine-leak checks.
test:
	@GO=$$(scripts/deps.sh test | tail -n1) && \
	  export PATH="$$(dirname $$GO):$$PATH" && \
	  scripts/test.sh $(TEST_TIMEOUT)

# Run each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	@GO=$$(scripts/deps.sh test | tail -n1) && \
	  export PATH="$$(dirname $$GO):$$PATH" && \
	  scripts/fuzz.sh $(FUZZTIME)

# Go microbenchmarks (the load tool is `minirtc bench`, see docs/benchmarks.md).
bench:
	@GO=$$(scripts/deps.sh build | tail -n1) && \
	  $$GO test -run='^$$' -bench=. -benchmem ./...

clean:
	rm -rf bin
