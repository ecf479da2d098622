//! Refract's fuzz targets (cargo-fuzz, libFuzzer), built apart from the workspace with nightly:
//! `frame`, `handler_args` and `shard` (`fuzz/fuzz_targets/`), each a call of its check in
//! [`checks`]. `scripts/fuzz.sh` runs them for a bounded time; `docs/security.md` says how to run
//! them and what the kept corpus (`fuzz/corpus/<target>/`) holds.

// The state macros name what they use through `::refract`; this crate stands in for the `refract`
// crate with the same names, so that the fuzz build needs the app model and the worker, not the
// gateway and the compiler.
extern crate self as refract;

pub use refract_core as core;
pub use refract_macros::{State, handlers};
pub use serde;
pub use serde_json;

pub mod checks;

pub use checks::{frame, handler_args, shard};
