# Postfach: `make demo` shows it working, `make test` proves it. Both install what they
# need (Dovecot, Postfix, the wasm32-wasip2 target) on a fresh Debian machine.
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
export TARGET_DIR
CARGO ?= cargo
PLUGINS := --manifest-path plugins/Cargo.toml --workspace

.PHONY: all deps build plugins test lint demo demo-stop bench fuzz deb clean

all: build plugins

deps:
	scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace --all-targets

# Bundled plugins, installed next to the postfachd binary (the default plugin directory).
plugins: deps
	scripts/build-plugins.sh $(TARGET_DIR)/debug/plugins

lint:
	$(CARGO) fmt --all --check
	$(CARGO) fmt --manifest-path plugins/Cargo.toml --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	CARGO_TARGET_DIR=$(TARGET_DIR)/plugins $(CARGO) clippy $(PLUGINS) --all-targets -- -D warnings

test: build plugins lint
	rm -rf $(TARGET_DIR)/tmp/conformance
	$(CARGO) test --workspace
	scripts/check-conformance.sh
	scripts/check-deb.sh
	$(CARGO) test -p postfach-plugin-sdk --features router --examples
	CARGO_TARGET_DIR=$(TARGET_DIR)/plugins $(CARGO) test $(PLUGINS)

# The Debian package from a release build: $(TARGET_DIR)/deb/postfach_<version>_<arch>.deb
# (`make test` packages the debug build and checks it with scripts/check-deb.sh).
deb: deps
	$(CARGO) build --release -p postfach
	scripts/build-plugins.sh $(TARGET_DIR)/release/plugins
	scripts/build-deb.sh release $(TARGET_DIR)/deb

demo: build plugins
	scripts/demo.sh

# Side-by-side benchmarks (release build); writes bench/RESULTS.md. Takes 10 minutes plus the build.
bench: deps
	scripts/install-deps.sh --bench
	$(CARGO) build --release -p postfach -p postfach-bench
	scripts/build-plugins.sh $(TARGET_DIR)/release/plugins
	$(TARGET_DIR)/release/postfach-bench all --write bench/RESULTS.md

# Long fuzzing runs (issue 14): the property tests that `make test` runs with a fixed seed and
# a few thousand cases, in a release build with FUZZ_CASES cases per test (the importer's
# tests that write files take a hundredth) and a fresh seed (printed; `make fuzz FUZZ_SEED=n`
# repeats a run).
FUZZ_CASES ?= 100000
FUZZ_CRATES := -p postfach-imap -p postfach-content -p postfach -p postfach-config -p postfach-plugins -p postfach-api
fuzz:
	@seed="$(FUZZ_SEED)"; seed="$${seed:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"; \
	echo "fuzz: $(FUZZ_CASES) cases per test, seed $$seed (make fuzz FUZZ_SEED=$$seed repeats this run)"; \
	PROPTEST_CASES=$(FUZZ_CASES) PROPTEST_RNG_SEED=$$seed $(CARGO) test --release $(FUZZ_CRATES) --lib fuzz

demo-stop:
	$(TARGET_DIR)/debug/postfach-mailservers stop demo/servers
	-if [ -f demo/oauth.pid ]; then kill "$$(cat demo/oauth.pid)" 2>/dev/null; rm -f demo/oauth.pid; fi

clean: demo-stop
	rm -rf demo config/data
