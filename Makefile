# Postfach: `make demo` shows it working, `make test` proves it. Both install what they
# need (Dovecot, Postfix, the wasm32-wasip2 target) on a fresh Debian machine.
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
export TARGET_DIR
CARGO ?= cargo

.PHONY: all deps build test lint demo demo-stop clean

all: build

deps:
	scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace --all-targets

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: build lint
	$(CARGO) test --workspace

demo: build
	scripts/demo.sh

demo-stop:
	$(TARGET_DIR)/debug/postfach-mailservers stop demo/servers

clean: demo-stop
	rm -rf demo config/data
