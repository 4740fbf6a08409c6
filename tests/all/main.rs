//! Postfach's integration tests: one binary, one module per area, all against real
//! servers started by `postfach-test-harness` on loopback.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod adapters;
mod api;
mod backup;
mod bodies;
mod changes;
mod check;
mod cluster;
mod cluster_nodes;
mod conformance;
mod crash;
mod disk_full;
mod faults;
mod hostile_mail;
mod hostile_server;
mod import;
mod lifecycle;
mod oauth;
mod plugins;
mod push;
mod reload;
mod retention;
mod routing;
mod security;
mod send;
mod service;
mod support;
mod sync;
mod tls;
