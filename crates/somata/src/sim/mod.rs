//! Simulation utilities built on the engine: f-I curves.

mod fi;

pub use fi::{fi_curve, fi_curve_by_name, FiOptions, FiPoint};
