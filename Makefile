# Postfach: `make demo` shows it working, `make test` proves it. Both install what they
# need (Dovecot, Postfix, the wasm32-wasip2 target) on a fresh Debian machine.
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
export TARGET_DIR
CARGO ?= cargo
PLUGINS := --manifest-path plugins/Cargo.toml --workspace

.PHONY: all deps build plugins test lint demo demo-stop bench clean

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
	$(CARGO) test --workspace
	$(CARGO) test -p postfach-plugin-sdk --features router --examples
	CARGO_TARGET_DIR=$(TARGET_DIR)/plugins $(CARGO) test $(PLUGINS)

demo: build plugins
	scripts/demo.sh

# Side-by-side benchmarks (release build); writes bench/RESULTS.md. Takes 10 minutes plus the build.
bench: deps
	scripts/install-deps.sh --bench
	$(CARGO) build --release -p postfach -p postfach-bench
	scripts/build-plugins.sh $(TARGET_DIR)/release/plugins
	$(TARGET_DIR)/release/postfach-bench all --write bench/RESULTS.md

demo-stop:
	$(TARGET_DIR)/debug/postfach-mailservers stop demo/servers
	-if [ -f demo/oauth.pid ]; then kill "$$(cat demo/oauth.pid)" 2>/dev/null; rm -f demo/oauth.pid; fi

clean: demo-stop
	rm -rf demo config/data
