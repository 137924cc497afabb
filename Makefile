# chatio: `make run` starts one node, `make test` runs every test,
# `make bench` measures cluster fan-out, `make bench-node` compares one node
# with a Node.js socket.io server (neither is part of `make test`), `make fuzz`
# sends one node 100,000 hostile packets (`make test` runs 20,000 of them),
# `make chaos` runs a cluster under random faults for 10 minutes and checks
# that nothing was lost (`make test` runs a one-minute version).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
JS_TESTS := tests/js
JAVA_TESTS := tests/java
JAVA_PUPPET := $(JAVA_TESTS)/target/chatio-java-puppet.jar
BENCH := bench
CLIENT_JS := client-js

.PHONY: run cluster test install system-deps js-deps client-deps test-python test-js test-client bench-deps bench bench-node fuzz chaos clean

$(BIN)/chatio: setup.cfg pyproject.toml
	bash .ci/system-deps python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/chatio

run: install
	CHATIO_GUEST_LOGIN=$${CHATIO_GUEST_LOGIN:-1} HOST=$(HOST) PORT=$(PORT) $(BIN)/chatio serve

cluster: install
	bash .ci/system-deps redis nginx
	$(BIN)/python nginx/cluster.py --port $(PORT) --chatio $(CURDIR)/$(BIN)/chatio

system-deps:
	bash .ci/system-deps python node

$(JS_TESTS)/node_modules/.package-lock.json: $(JS_TESTS)/package-lock.json
	cd $(JS_TESTS) && npm ci --no-audit --no-fund --loglevel=error

js-deps: $(JS_TESTS)/node_modules/.package-lock.json

# The Java client's puppet: Maven fetches io.socket:socket.io-client into
# ~/.m2 (once) and builds a runnable jar; rebuilt when its sources change.
$(JAVA_PUPPET): $(JAVA_TESTS)/pom.xml $(shell find $(JAVA_TESTS)/src -name '*.java')
	bash .ci/system-deps java
	cd $(JAVA_TESTS) && mvn -q -B package
	touch $@

.PHONY: java-deps
java-deps: $(JAVA_PUPPET)

$(CLIENT_JS)/node_modules/.package-lock.json: $(CLIENT_JS)/package-lock.json
	cd $(CLIENT_JS) && npm ci --no-audit --no-fund --loglevel=error

client-deps: $(CLIENT_JS)/node_modules/.package-lock.json

test: test-python test-js test-client

# tests/cluster/test_chaos_short.py drives client-js's library.
test-python: install system-deps js-deps java-deps client-deps
	bash .ci/system-deps redis nginx ss
	$(BIN)/python -m pytest -q

# The Admin UI test loads @socket.io/admin-ui's page in chromium.
test-js: install system-deps js-deps
	bash .ci/system-deps chromium
	cd $(JS_TESTS) && CHATIO_BIN=$(CURDIR)/$(BIN)/chatio node --test --test-concurrency=1

$(BENCH)/node_modules/.package-lock.json: $(BENCH)/package-lock.json
	cd $(BENCH) && npm ci --no-audit --no-fund --loglevel=error

bench-deps: $(BENCH)/node_modules/.package-lock.json

# Sizes: BENCH_ARGS="--receivers 100 --rate 0"; see --help.
bench: install system-deps bench-deps
	bash .ci/system-deps redis
	$(BIN)/python $(BENCH)/cluster_fanout.py $(BENCH_ARGS)

# Fan-out, chat and idle against chatio and Node.js socket.io; see
# docs/performance.md. Sizes: BENCH_ARGS="--quick"; see --help.
bench-node: install system-deps bench-deps
	$(BIN)/python $(BENCH)/vs_node.py $(BENCH_ARGS)

# Seeded; FUZZ_ARGS="--seed 1234 --packets 20000" or "--replay N"; see --help.
fuzz: install
	$(BIN)/python tests/fuzz/live.py $(FUZZ_ARGS)

# Seeded; CHAOS_ARGS="--duration 60 --seed 1234"; see --help and
# docs/deployment.md#the-chaos-run.
chaos: install system-deps client-deps
	bash .ci/system-deps redis nginx
	$(BIN)/python tests/chaos/run.py $(CHAOS_ARGS)

# The client library, the committed page build, and the page in chromium;
# the epoch tests run a node on a real redis-server.
test-client: install system-deps client-deps
	bash .ci/system-deps chromium redis
	cd $(CLIENT_JS) && CHATIO_BIN=$(CURDIR)/$(BIN)/chatio node --test --test-concurrency=1 test/*.test.mjs

clean:
	rm -rf $(VENV) $(JS_TESTS)/node_modules $(CLIENT_JS)/node_modules $(BENCH)/node_modules $(JAVA_TESTS)/target
