//! Postfach's integration tests: one binary, one module per area, all against real
//! servers started by `postfach-test-harness` on loopback.

mod check;
mod crash;
mod lifecycle;
mod reload;
mod support;
mod sync;
mod tls;
