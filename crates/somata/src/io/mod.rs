//! Input/output: the `somata trace` document format (../shared/conformance/FORMAT.md), `.npy` and CSV files.

pub mod csv;
pub mod npy;
pub mod npy_stream;
pub mod trace;
