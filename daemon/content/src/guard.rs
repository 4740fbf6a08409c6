//! The last line of defence against panics in third-party parsing code.
//!
//! mail-parser promises not to panic, and this crate is written not to either; but the
//! input is hostile mail from the internet and a sync worker must never die of a single
//! message. Every public entry point therefore runs under [`or_default`].

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`, turning a panic into `T::default()`.
///
/// Unwind safety is asserted because the closures only read the caller's byte slice;
/// no shared state can be left half-updated.
pub(crate) fn or_default<T: Default>(f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            // The robustness tests must see a panic the guard would hide in production.
            #[cfg(test)]
            std::panic::resume_unwind(payload);
            #[cfg(not(test))]
            {
                drop(payload);
                T::default()
            }
        }
    }
}
