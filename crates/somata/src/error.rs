//! The one error type of the library.
//!
//! Every fallible public function returns [`Result<T>`]; each variant names the problem
//! (which parameter, which shape, which unit) so that a message is actionable without a debugger.

use thiserror::Error;

/// Result alias used throughout somata.
pub type Result<T, E = SomataError> = std::result::Result<T, E>;

/// Everything that can go wrong in somata, as structured variants.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum SomataError {
    /// A parameter value is outside its valid range (e.g. `tau <= 0`, NaN).
    #[error("invalid parameter `{name}` of {model}: {reason} (got {value})")]
    InvalidParameter {
        /// Model (BrainPy class name) the parameter belongs to.
        model: String,
        /// Parameter name, BrainPy spelling.
        name: String,
        /// The offending value, in canonical units.
        value: f64,
        /// Why it is rejected.
        reason: String,
    },
    /// A parameter name the model does not have.
    #[error("unknown parameter `{name}` for model {model}; known: {known}")]
    UnknownParameter {
        /// Model name.
        model: String,
        /// The unknown name.
        name: String,
        /// Comma-separated list of valid names.
        known: String,
    },
    /// A state variable name the model does not have.
    #[error("unknown state `{name}` of model {model}; its states are: {known}")]
    UnknownState {
        /// Model name.
        model: String,
        /// The unknown name.
        name: String,
        /// Comma-separated list of the model's states.
        known: String,
    },
    /// An update at a step the layer has already run (the clock rule): the clock was not
    /// advanced, or went back without `reset_state`.
    #[error(
        "layer `{layer}` was already updated at step {last} and is asked to update at step {step}: call clock.advance() once per step (update never advances the clock), or reset_state() to start over"
    )]
    ClockNotAdvanced {
        /// The layer's name.
        layer: String,
        /// The clock's step.
        step: u64,
        /// The layer's last step.
        last: u64,
    },
    /// A SIMD back end that is unknown or that this CPU does not support
    /// ([`crate::dynamics::simd`]).
    #[error("{0}")]
    Simd(#[from] crate::dynamics::simd::SimdError),
    /// A per-neuron array whose length does not match the layer.
    #[error("shape mismatch in {what}: expected {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// What was being checked.
        what: String,
        /// Expected shape (or alternatives flattened).
        expected: Vec<usize>,
        /// Shape received.
        got: Vec<usize>,
    },
    /// A unit string that could not be parsed.
    #[error("unknown unit `{0}`")]
    UnknownUnit(String),
    /// A quantity of the wrong physical dimension.
    #[error("wrong dimension for {what}: expected {expected}, got `{got}`")]
    DimensionMismatch {
        /// What was being converted.
        what: String,
        /// Expected dimension, e.g. "time".
        expected: String,
        /// The unit supplied.
        got: String,
    },
    /// `update` or a sequence run before `init_state`.
    #[error("layer `{0}` has no state: call init_state(batch) first")]
    NotInitialized(String),
    /// Time step missing, zero, negative or not finite.
    #[error("invalid time step dt = {0} ms: dt must be finite and > 0")]
    InvalidDt(f64),
    /// Unknown model name (registry / trace files).
    #[error("unknown model `{name}`; known models: {known}")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// Known names.
        known: String,
    },
    /// Unknown surrogate name or parameter.
    #[error("unknown surrogate `{0}`")]
    UnknownSurrogate(String),
    /// Unknown or malformed surrogate parameter.
    #[error("invalid surrogate parameter `{name}` for {surrogate}: {reason}")]
    InvalidSurrogateParameter {
        /// Surrogate class name.
        surrogate: String,
        /// Parameter name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Unknown initializer.
    #[error("unknown or invalid initializer: {0}")]
    InvalidInitializer(String),
    /// Malformed input document (trace JSON, config).
    #[error("malformed input: {0}")]
    Format(String),
    /// A state became non-finite during a run that asked for divergence checks.
    #[error("divergence: {model} state `{variable}` became {value} at step {step}, batch row {batch}, neuron {neuron}")]
    Diverged {
        /// Model name.
        model: String,
        /// State variable.
        variable: String,
        /// Step index (0-based).
        step: usize,
        /// Batch row.
        batch: usize,
        /// Neuron index (flattened over in_size).
        neuron: usize,
        /// The non-finite value, as text.
        value: String,
    },
    /// A NaN or infinite input value, refused before the layer's state is touched: fed to the
    /// kernel it would turn `V` into NaN for good (the neuron would never spike again).
    #[error(
        "non-finite input to layer `{layer}` ({model}): {what} is {value} at step {step}, batch row {batch}, neuron {neuron}; the state was left unchanged (a NaN or infinite input would make it NaN for good)"
    )]
    NonFiniteInput {
        /// The layer's name.
        layer: String,
        /// Model name.
        model: String,
        /// Which input (`"input"`, `"sequence input"`, `"current i"`, `"conductance g"`).
        what: String,
        /// Clock step the value belongs to.
        step: u64,
        /// Batch row (0 without a batch axis).
        batch: usize,
        /// Neuron index (flattened over in_size).
        neuron: usize,
        /// The non-finite value, as text (`NaN`, `inf`, `-inf`).
        value: String,
    },
    /// A checkpoint whose stored hyper-parameter (a neuron model's `tau`, `V_th`, ..., a
    /// readout's `tau`, the network's `dt`) differs from the network it is loaded into: the
    /// weights were trained for another model and would compute something else.
    #[error(
        "checkpoint {path}: {layer} has {name} = {stored} in the checkpoint but {given} in the network it is loaded into (canonical units: ms, mV, ...); build the network with the checkpoint's value"
    )]
    HyperParameterMismatch {
        /// The checkpoint file.
        path: String,
        /// Which layer (`"layer 1 (LIF)"`, or `"the network"` for `dt`).
        layer: String,
        /// The parameter (`"tau"`, `"V_th"`, `"dt"`, with `[neuron i]` for a per-neuron one).
        name: String,
        /// The checkpoint's value.
        stored: f64,
        /// The network's value.
        given: f64,
    },
    /// I/O failure (CLI, files).
    #[error("i/o error: {0}")]
    Io(String),
    /// A request larger than the memory this machine has available, refused before anything
    /// is allocated ([`crate::net::MemoryBudget`]).
    #[error("too large: {text}")]
    TooLarge {
        /// The part that does not fit (`population `E` (10¹¹ neurons × 2 states)`).
        what: String,
        /// Its bytes.
        bytes: u64,
        /// Bytes of everything taken so far, this part included.
        total: u64,
        /// Bytes available.
        available: u64,
        /// The whole message.
        text: String,
    },
}

impl SomataError {
    pub(crate) fn param(model: &str, name: &str, value: f64, reason: impl Into<String>) -> Self {
        SomataError::InvalidParameter { model: model.to_string(), name: name.to_string(), value, reason: reason.into() }
    }
}
