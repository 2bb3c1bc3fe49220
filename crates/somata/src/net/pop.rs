//! Populations: neuron layers of any model behind one object-safe interface.

use crate::dynamics::{Clock, NeuronModel};
use crate::engine::{LayerPrep, NeuronLayer, RangeDriver};
use crate::error::{Result, SomataError};
use crate::units::Dim;

/// A population of a network: a [`NeuronLayer`] of any model (built-in or user-defined) with
/// `f32` state and no batch axis, seen through an object-safe interface.
pub trait Population: Send {
    /// Model name (`"LIFRef"`).
    fn model_name(&self) -> &'static str;
    /// Number of neurons.
    fn n(&self) -> usize;
    /// The model's state names, in order.
    fn state_names(&self) -> Vec<&'static str>;
    /// Create the state from the initializers (no batch axis).
    fn init(&mut self) -> Result<()>;
    /// Prepare constants for a run at this clock's `dt`.
    fn prepare(&mut self, clock: &Clock) -> Result<()>;
    /// One step: current `i` (mA), optional conductance `g` (S, drive `i − g·V`), spikes out.
    fn step(&mut self, clock: &Clock, i: &[f32], g: Option<&[f32]>, spk: &mut [f32]) -> Result<()>;
    /// The spikes of the stored state, if the model defines them (BrainPy's `get_spike()`).
    fn spikes_of_state(&self, clock: &Clock, out: &mut [f32]) -> Result<bool>;
    /// A state variable (canonical units).
    fn state(&self, name: &str) -> Result<&[f32]>;
    /// A state variable, mutable.
    fn state_mut(&mut self, name: &str) -> Result<&mut [f32]>;
    /// Dimension of the drive [`Population::step`] takes (canonical units: a current, mA, for
    /// most models). Default: current.
    fn input_dim(&self) -> Dim {
        Dim::CURRENT
    }
    /// Dimension of a state variable, if the population knows it (gap junctions check their
    /// weights' dimension with it). Default: unknown.
    fn state_dim(&self, _name: &str) -> Option<Dim> {
        None
    }
    /// A stepper of disjoint element ranges for the network's fused, multi-threaded runner,
    /// valid from `clock`'s step on (the clock rule is checked now); `Ok(None)` when the
    /// population steps only as a whole through [`Population::step`] (the default; the network
    /// then uses its one-step reference loop).
    fn range_stepper(&mut self, _clock: &Clock) -> Result<Option<Box<dyn RangeStep + '_>>> {
        Ok(None)
    }
    /// Record that a range stepper ran steps `start..start + steps` (the clock rule).
    fn mark_steps(&mut self, _start: u64, _steps: usize) {}
}

/// Steps disjoint element ranges of a population from several threads
/// ([`Population::range_stepper`]).
pub trait RangeStep: Sync {
    /// One step of elements `base..base + len` at `clock`'s step: current `i` (mA), optional
    /// conductance `g` (S), spikes out, each holding `len` values.
    ///
    /// # Safety
    /// Calls that run at the same time cover disjoint ranges, and nothing else reads or writes
    /// the state of `base..base + len` meanwhile.
    unsafe fn step(&self, clock: &Clock, base: usize, len: usize, i: &[f32], g: Option<&[f32]>, spk: &mut [f32]);
    /// The first value of state variable `j` (in [`Population::state_names`] order); the
    /// population's `n` values follow. Read only elements that no running step writes.
    fn state_ptr(&self, j: usize) -> *const f32;
}

impl<M: NeuronModel> RangeStep for RangeDriver<'_, M, f32> {
    #[inline]
    unsafe fn step(&self, clock: &Clock, base: usize, len: usize, i: &[f32], g: Option<&[f32]>, spk: &mut [f32]) {
        // SAFETY: forwarded from the caller.
        unsafe { self.drive(clock, base, len, i, g, spk) }
    }
    fn state_ptr(&self, j: usize) -> *const f32 {
        RangeDriver::state_ptr(self, j)
    }
}

/// The [`Population`] of a neuron layer.
pub struct Pop<M: NeuronModel> {
    layer: NeuronLayer<M, f32>,
    prep: Option<LayerPrep<f32>>,
}

impl<M: NeuronModel> Pop<M> {
    /// Wrap a layer.
    pub fn new(layer: NeuronLayer<M, f32>) -> Pop<M> {
        Pop { layer, prep: None }
    }
    /// The layer.
    pub fn layer(&self) -> &NeuronLayer<M, f32> {
        &self.layer
    }
}

impl<M: NeuronModel> Population for Pop<M> {
    fn model_name(&self) -> &'static str {
        M::NAME
    }
    fn n(&self) -> usize {
        self.layer.num_neurons()
    }
    fn state_names(&self) -> Vec<&'static str> {
        M::STATES.iter().map(|s| s.name).collect()
    }
    fn init(&mut self) -> Result<()> {
        self.layer.init_state(None)
    }
    fn prepare(&mut self, clock: &Clock) -> Result<()> {
        self.prep = Some(self.layer.prepare_steps(clock)?);
        Ok(())
    }
    #[inline]
    fn step(&mut self, clock: &Clock, i: &[f32], g: Option<&[f32]>, spk: &mut [f32]) -> Result<()> {
        let prep = self.prep.as_ref().ok_or_else(|| SomataError::Format("population stepped before prepare".into()))?;
        self.layer.step_drive(prep, clock, i, g, spk)
    }
    fn spikes_of_state(&self, clock: &Clock, out: &mut [f32]) -> Result<bool> {
        self.layer.get_spike_into(clock, out)
    }
    fn state(&self, name: &str) -> Result<&[f32]> {
        let v = self.layer.state(name)?;
        let n = v.len();
        // the view is contiguous: one state variable of a layer without batch axis
        let p = v.as_ptr();
        // SAFETY: `state` returns a view into the layer's own contiguous storage, which lives
        // as long as `self`.
        Ok(unsafe { std::slice::from_raw_parts(p, n) })
    }
    fn state_mut(&mut self, name: &str) -> Result<&mut [f32]> {
        self.layer.state_mut(name)
    }
    fn input_dim(&self) -> Dim {
        M::INPUT_DIM
    }
    fn state_dim(&self, name: &str) -> Option<Dim> {
        M::STATES.iter().find(|s| s.name == name).map(|s| s.dim)
    }
    fn range_stepper(&mut self, clock: &Clock) -> Result<Option<Box<dyn RangeStep + '_>>> {
        let prep = self.prep.as_ref().ok_or_else(|| SomataError::Format("population stepped before prepare".into()))?;
        Ok(self.layer.range_driver(prep, clock)?.map(|d| Box::new(d) as Box<dyn RangeStep + '_>))
    }
    fn mark_steps(&mut self, start: u64, steps: usize) {
        self.layer.mark_steps(start, steps);
    }
}
