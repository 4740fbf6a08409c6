//! The Postfach plugin SDK (filled in by the plugin work: traits, registration macros,
//! a native test host).
