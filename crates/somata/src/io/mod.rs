//! Input/output: the `somata trace` document format (../shared/conformance/FORMAT.md).

pub mod csv;
pub mod npy;
pub mod trace;
