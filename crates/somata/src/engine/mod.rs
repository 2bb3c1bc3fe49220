//! Model-agnostic machinery every model gets: fused sequence kernels and the reverse pass over
//! time. It knows the [`crate::dynamics::NeuronModel`] trait, never a particular model.

mod bptt;
pub(crate) mod kernel;
mod layer;
pub mod monitor;

pub use bptt::{Gradients, ParamGrad, Tape};
pub use kernel::{Kernels, KernelsFor, ParamValue};
pub(crate) use layer::RangeDriver;
pub use layer::{Build, Input, LayerBuilder, LayerPrep, NeuronLayer, QInput, SeqInput, Shape};
pub use monitor::{RunOptions, RunOutput, SpikeMonitor, SpikeTrains, StateMonitor, StateTrace};
