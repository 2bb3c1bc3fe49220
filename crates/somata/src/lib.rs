#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod data;
pub mod dynamics;
pub mod engine;
pub mod error;
pub mod init;
pub mod input;
pub mod io;
pub mod optim;
#[cfg(feature = "plot")]
pub mod plot;
pub mod surrogate;
pub mod synapse;
pub mod units;

pub use error::{Result, SomataError};
pub mod net;
pub mod neurons;
pub mod nn;
pub mod sim;

#[doc = include_str!("../docs/getting-started.md")]
pub mod getting_started {}
#[doc = include_str!("../docs/network-format.md")]
pub mod network_format {}
#[doc = include_str!("../docs/training.md")]
pub mod training {}

/// Everything a typical program needs: `use somata::prelude::*;`.
pub mod prelude {
    pub use crate::dynamics::{Clock, NeuronModel, Real, Scalar, SpikeReset, Step};
    pub use crate::engine::{
        Build, Input, LayerBuilder, NeuronLayer, QInput, RunOptions, RunOutput, SeqInput, SpikeMonitor, SpikeTrains, StateMonitor,
        StateTrace,
    };
    pub use crate::error::{Result, SomataError};
    pub use crate::init::Init;
    pub use crate::neurons::*;
    pub use crate::surrogate::*;
    pub use crate::units::{
        amp, dim, farad, kHz, kohm, mA, mF, mM, mS, mV, molar, ms, nA, nF, nS, ohm, pA, pF, second, siemens, uA, uF, uM, uS, uV, us, volt,
        Capacitance, Conductance, Current, Dimensionless, Frequency, Gohm, Hz, Mohm, Quantity, Resistance, Time, Voltage, VoltageRate,
    };
}
