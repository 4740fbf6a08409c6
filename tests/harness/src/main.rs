//! `postfach-mailservers`: starts the demo's mail servers (placeholder until the demo
//! fixtures are written).

fn main() {}
