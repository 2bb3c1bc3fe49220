//! Monitors: what a run records, and the typed, shaped results users read.
//!
//! * [`RunOptions`] says what [`NeuronLayer::run`](super::NeuronLayer::run) records. **Defaults:
//!   spike counts only**; no raster, no state, every step (`every = 1`), every neuron, no
//!   divergence check.
//! * [`RunOutput`] gives counts and rates shaped `(batch?, *in_size)`, [`SpikeTrains`] (spike
//!   times per neuron) when `record_spikes` is set, and a [`StateTrace`] per monitored state.
//! * In step mode (a loop of `update`), [`SpikeMonitor`] and [`StateMonitor`] collect the same
//!   results.
//!
//! Time follows BrainPy: an update at step `i` happens at `t = i·dt`, and a spike it emits is
//! at that time.
//!
//! ```
//! use somata::prelude::*;
//! let mut lif = Lif::builder(3).tau(10.0 * ms).build().unwrap();
//! lif.init_state(None).unwrap();
//! let mut clock = Clock::new(0.1 * ms).unwrap();
//! let opts = RunOptions::new().spikes().monitor("V").every(10).neurons(&[0, 2]);
//! let out = lif.run(&mut clock, SeqInput::Constant(Input::quantities(&[1.5 * mA, 2.0 * mA, 3.0 * mA]), 1000), &opts).unwrap();
//! let trains = out.spike_trains().unwrap();
//! assert!(trains.times(2).len() > trains.times(0).len()); // stronger input, more spikes
//! let rates = out.rates();                                  // Hz, shape [3]
//! assert_eq!(rates.shape(), &[3]);
//! let v = out.monitor("V").unwrap();                        // [100 records, 2 neurons], mV
//! assert_eq!(v.data.shape(), &[100, 2]);
//! assert_eq!(v.times_ms[1], 1.0);
//! ```

use super::kernel::SyncPtr;
use super::layer::NeuronLayer;
use crate::dynamics::{Clock, NeuronModel, Real};
use crate::error::{Result, SomataError};
use crate::units::{Dim, Frequency, Quantity, Time};
use ndarray::{ArrayD, IxDyn};

/// What a sequence run records. Defaults (`RunOptions::default()` or [`RunOptions::new`]):
/// spike counts only, monitors sample every step, on every neuron, no divergence check.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Keep the spike raster (`steps × batch × N` bytes), from which [`RunOutput::spike_trains`]
    /// and [`RunOutput::raster`] are built. Default `false`.
    pub record_spikes: bool,
    /// Keep every state after every step (`steps × n_states × batch × N`, [`RunOutput::states`]).
    /// Default `false`; prefer [`RunOptions::monitor`] for long runs.
    pub record_states: bool,
    /// States to monitor by name (`"V"`, `"w"`), sampled every [`RunOptions::every`] steps on
    /// [`RunOptions::neurons`]; read them with [`RunOutput::monitor`]. Default: none.
    pub monitor: Vec<String>,
    /// Sample monitored states at the steps `i` with `i % every == 0` (absolute clock steps, so
    /// consecutive runs line up). Default 1.
    pub every: usize,
    /// The neurons (flat indices into `in_size`, every batch row) that monitors sample.
    /// Default `None`: all.
    pub neurons: Option<Vec<usize>>,
    /// Report the first non-finite state (model, variable, step, batch row, neuron) in
    /// [`RunOutput::divergence`]. Default `false`.
    pub check_finite: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { record_spikes: false, record_states: false, monitor: Vec::new(), every: 1, neurons: None, check_finite: false }
    }
}

impl RunOptions {
    /// The defaults: spike counts only.
    pub fn new() -> Self {
        Self::default()
    }
    /// Record spikes (spike trains, raster).
    pub fn spikes(mut self) -> Self {
        self.record_spikes = true;
        self
    }
    /// Monitor a state variable by name.
    pub fn monitor(mut self, state: &str) -> Self {
        self.monitor.push(state.to_string());
        self
    }
    /// Sample monitors every `k` steps (k ≥ 1).
    pub fn every(mut self, k: usize) -> Self {
        self.every = k;
        self
    }
    /// Sample monitors on these neurons only (flat indices).
    pub fn neurons(mut self, idx: &[usize]) -> Self {
        self.neurons = Some(idx.to_vec());
        self
    }
    /// Check for divergence.
    pub fn check_finite(mut self) -> Self {
        self.check_finite = true;
        self
    }
}

/// The result of a sequence run. Raw vectors are indexed batch-major (`b·N + n`); the methods
/// return shaped arrays.
#[derive(Debug, Clone)]
pub struct RunOutput<T> {
    /// Number of steps run.
    pub steps: usize,
    /// Spikes per element (`batch × N`, batch-major); [`RunOutput::counts`] is the shaped view.
    pub spike_counts: Vec<u32>,
    /// `[step][element]` 0/1, if `record_spikes`.
    pub spikes: Option<Vec<u8>>,
    /// `[step][state][element]`, if `record_states`.
    pub states: Option<Vec<T>>,
    /// The first non-finite state, if `check_finite` was set and one occurred
    /// ([`SomataError::Diverged`]).
    pub divergence: Option<SomataError>,
    /// The clock step the run started at.
    pub start_step: u64,
    /// The time step, ms.
    pub dt_ms: f64,
    /// `(batch?, *in_size)`.
    pub shape: Vec<usize>,
    /// The monitored states, in the order asked.
    pub monitors: Vec<StateTrace<T>>,
}

impl<T: Real> RunOutput<T> {
    /// Simulated duration.
    pub fn duration(&self) -> Time {
        Quantity::from_canonical(self.steps as f64 * self.dt_ms)
    }
    /// Spike counts, shape `(batch?, *in_size)`.
    pub fn counts(&self) -> ArrayD<u32> {
        ArrayD::from_shape_vec(IxDyn(&self.shape), self.spike_counts.clone()).expect("count shape")
    }
    /// Firing rates in Hz (count / duration), shape `(batch?, *in_size)`.
    pub fn rates(&self) -> ArrayD<f64> {
        let secs = self.steps as f64 * self.dt_ms / 1e3;
        self.counts().mapv(|c| if secs > 0.0 { c as f64 / secs } else { 0.0 })
    }
    /// Firing rates as typed frequencies.
    pub fn rates_q(&self) -> ArrayD<Frequency> {
        self.rates().mapv(|hz| Quantity::from_canonical(hz * 1e-3))
    }
    /// The spike raster, shape `(steps, batch?, *in_size)`, 0/1; needs `record_spikes`.
    pub fn raster(&self) -> Result<ArrayD<u8>> {
        let r = self.spikes.as_ref().ok_or_else(not_recorded)?;
        let mut sh = vec![self.steps];
        sh.extend_from_slice(&self.shape);
        Ok(ArrayD::from_shape_vec(IxDyn(&sh), r.clone()).expect("raster shape"))
    }
    /// Spike times per neuron; needs `record_spikes`.
    pub fn spike_trains(&self) -> Result<SpikeTrains> {
        let r = self.spikes.as_ref().ok_or_else(not_recorded)?;
        let bn = self.spike_counts.len();
        let mut times = vec![Vec::new(); bn];
        for k in 0..self.steps {
            let row = &r[k * bn..(k + 1) * bn];
            for (g, &s) in row.iter().enumerate() {
                if s != 0 {
                    times[g].push(step_time(self.start_step + k as u64, self.dt_ms));
                }
            }
        }
        Ok(SpikeTrains { dt_ms: self.dt_ms, start_step: self.start_step, steps: self.steps, shape: self.shape.clone(), times })
    }
    /// A monitored state by name.
    pub fn monitor(&self, name: &str) -> Option<&StateTrace<T>> {
        self.monitors.iter().find(|m| m.name == name)
    }
}

fn not_recorded() -> SomataError {
    SomataError::Format("spikes were not recorded: set RunOptions::record_spikes (RunOptions::new().spikes())".into())
}

/// `t = i·dt` in ms (BrainPy's time of step `i`, here in f64).
fn step_time(i: u64, dt_ms: f64) -> f64 {
    i as f64 * dt_ms
}

/// Spike times of every neuron (every element, batch-major), in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeTrains {
    /// Time step, ms.
    pub dt_ms: f64,
    /// First recorded step.
    pub start_step: u64,
    /// Number of recorded steps.
    pub steps: usize,
    /// `(batch?, *in_size)`.
    pub shape: Vec<usize>,
    /// Spike times per element, ms, ascending.
    pub times: Vec<Vec<f64>>,
}

impl SpikeTrains {
    /// Number of elements (batch × N).
    pub fn len(&self) -> usize {
        self.times.len()
    }
    /// True if there are no elements.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
    /// Spike times of element `g` (`b·N + n`), ms.
    pub fn times(&self, g: usize) -> &[f64] {
        &self.times[g]
    }
    /// Spike times of element `g` as typed times.
    pub fn times_q(&self, g: usize) -> Vec<Time> {
        self.times[g].iter().map(|&t| Quantity::from_canonical(t)).collect()
    }
    /// Spike steps of element `g` (`t / dt`, rounded).
    pub fn steps_of(&self, g: usize) -> Vec<u64> {
        self.times[g].iter().map(|&t| (t / self.dt_ms).round() as u64).collect()
    }
    /// The recorded duration.
    pub fn duration(&self) -> Time {
        Quantity::from_canonical(self.steps as f64 * self.dt_ms)
    }
    /// Spike counts, shape `(batch?, *in_size)`.
    pub fn counts(&self) -> ArrayD<u32> {
        let c: Vec<u32> = self.times.iter().map(|t| t.len() as u32).collect();
        ArrayD::from_shape_vec(IxDyn(&self.shape), c).expect("count shape")
    }
    /// Firing rates in Hz over the recorded duration, shape `(batch?, *in_size)`.
    pub fn rates(&self) -> ArrayD<f64> {
        let secs = self.steps as f64 * self.dt_ms / 1e3;
        self.counts().mapv(|c| if secs > 0.0 { c as f64 / secs } else { 0.0 })
    }
    /// Mean firing rate over all elements, Hz.
    pub fn mean_rate(&self) -> f64 {
        let r = self.rates();
        if r.is_empty() {
            0.0
        } else {
            r.sum() / r.len() as f64
        }
    }
}

/// A state variable sampled every few steps on a subset of neurons.
#[derive(Debug, Clone)]
pub struct StateTrace<T> {
    /// State name (`"V"`).
    pub name: String,
    /// Its dimension.
    pub dim: Dim,
    /// The unit of the numbers in `data` (the canonical unit of `dim`: `"mV"`, `"ms"`, ...).
    pub unit: &'static str,
    /// The sampled clock steps.
    pub steps: Vec<u64>,
    /// Their times, ms.
    pub times_ms: Vec<f64>,
    /// The sampled neurons (flat indices into `in_size`).
    pub neurons: Vec<usize>,
    /// Values, shape `(samples, batch?, neurons)`, in `unit`.
    pub data: ArrayD<T>,
}

impl<T: Real> StateTrace<T> {
    /// The values converted to `unit` (a quantity of the state's dimension): `trace.values_in(mV)`.
    pub fn values_in<D: crate::units::Dimension>(&self, unit: Quantity<D>) -> Result<ArrayD<f64>> {
        if D::DIM != self.dim {
            return Err(SomataError::DimensionMismatch {
                what: format!("monitored state {}", self.name),
                expected: self.dim.describe(),
                got: D::DIM.describe(),
            });
        }
        let u = unit.canonical();
        Ok(self.data.mapv(|v| v.to_f64() / u))
    }
}

/// A run's monitor layout: which states, which steps, which elements.
pub(crate) struct MonitorPlan {
    vars: Vec<usize>,
    names: Vec<String>,
    every: usize,
    /// first sampled step offset within the run
    k0: usize,
    nrec: usize,
    /// per element: column, or u32::MAX
    slot: Vec<u32>,
    ncols: usize,
    neurons: Vec<usize>,
    start: u64,
    dt_ms: f64,
}

impl MonitorPlan {
    pub(crate) fn new<M: NeuronModel>(o: &RunOptions, n: usize, bn: usize, steps: usize, start: u64, dt_ms: f64) -> Result<MonitorPlan> {
        if o.every == 0 {
            return Err(SomataError::Format("RunOptions::every must be at least 1".into()));
        }
        let mut vars = Vec::new();
        for name in &o.monitor {
            vars.push(M::state_index(name).ok_or_else(|| SomataError::UnknownState {
                model: M::NAME.into(),
                name: name.clone(),
                known: M::STATES.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
            })?);
        }
        let neurons: Vec<usize> = o.neurons.clone().unwrap_or_else(|| (0..n).collect());
        if let Some(&bad) = neurons.iter().find(|&&i| i >= n) {
            return Err(SomataError::ShapeMismatch { what: format!("monitored neuron index {bad}"), expected: vec![n], got: vec![bad] });
        }
        let rows = bn / n.max(1);
        let mut slot = vec![u32::MAX; if vars.is_empty() { 0 } else { bn }];
        if !vars.is_empty() {
            for b in 0..rows {
                for (c, &i) in neurons.iter().enumerate() {
                    slot[b * n + i] = (b * neurons.len() + c) as u32;
                }
            }
        }
        let e = o.every as u64;
        let k0 = ((e - start % e) % e) as usize;
        let nrec = if vars.is_empty() || k0 >= steps { 0 } else { (steps - k0).div_ceil(o.every) };
        Ok(MonitorPlan {
            vars,
            names: o.monitor.clone(),
            every: o.every,
            k0,
            nrec,
            slot,
            ncols: rows * neurons.len(),
            neurons,
            start,
            dt_ms,
        })
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }
    pub(crate) fn len(&self) -> usize {
        self.nrec * self.vars.len() * self.ncols
    }
    pub(crate) fn sink<T>(&self, data: SyncPtr<T>) -> MonSink<T> {
        let mut vars = [0u8; crate::dynamics::MAX_STATES];
        for (i, &v) in self.vars.iter().enumerate() {
            vars[i] = v as u8;
        }
        MonSink {
            data,
            slot: SyncPtr(self.slot.as_ptr() as *mut u32),
            vars,
            nv: self.vars.len(),
            every: self.every,
            k0: self.k0,
            ncols: self.ncols,
        }
    }
    pub(crate) fn into_traces<M: NeuronModel, T: Real>(self, data: Vec<T>, batch: Option<usize>) -> Vec<StateTrace<T>> {
        let steps: Vec<u64> = (0..self.nrec).map(|r| self.start + (self.k0 + r * self.every) as u64).collect();
        let times: Vec<f64> = steps.iter().map(|&i| step_time(i, self.dt_ms)).collect();
        let nv = self.vars.len();
        let nsel = self.neurons.len();
        self.vars
            .iter()
            .enumerate()
            .map(|(vi, &j)| {
                let mut d = Vec::with_capacity(self.nrec * self.ncols);
                for r in 0..self.nrec {
                    let o = (r * nv + vi) * self.ncols;
                    d.extend_from_slice(&data[o..o + self.ncols]);
                }
                let mut sh = vec![self.nrec];
                if let Some(b) = batch {
                    sh.push(b);
                }
                sh.push(nsel);
                StateTrace {
                    name: self.names[vi].clone(),
                    dim: M::STATES[j].dim,
                    unit: M::STATES[j].unit,
                    steps: steps.clone(),
                    times_ms: times.clone(),
                    neurons: self.neurons.clone(),
                    data: ArrayD::from_shape_vec(IxDyn(&sh), d).expect("monitor shape"),
                }
            })
            .collect()
    }
}

/// The kernel side of a state monitor.
pub(crate) struct MonSink<T> {
    data: SyncPtr<T>,
    slot: SyncPtr<u32>,
    vars: [u8; crate::dynamics::MAX_STATES],
    nv: usize,
    every: usize,
    k0: usize,
    ncols: usize,
}

impl<T: Copy> MonSink<T> {
    /// Record element `g` at run step `k` if sampled.
    ///
    /// # Safety
    /// `g` below the layer's element count and `k` within the run; one writer per element.
    #[inline(always)]
    pub(crate) unsafe fn put(&self, k: usize, g: usize, s: &[T]) {
        unsafe {
            if k < self.k0 || !(k - self.k0).is_multiple_of(self.every) {
                return;
            }
            let c = *self.slot.0.add(g);
            if c == u32::MAX {
                return;
            }
            let r = (k - self.k0) / self.every;
            for vi in 0..self.nv {
                *self.data.0.add((r * self.nv + vi) * self.ncols + c as usize) = s[self.vars[vi] as usize];
            }
        }
    }
}

/// Spike times collected in step mode: call [`SpikeMonitor::record`] after each `update`.
///
/// ```
/// use somata::prelude::*;
/// let mut lif = Lif::builder(2).build().unwrap();
/// lif.init_state(None).unwrap();
/// let mut clock = Clock::new(0.1 * ms).unwrap();
/// let mut mon = SpikeMonitor::new();
/// for _ in 0..1000 {
///     let spk = lif.update_q(&clock, &[0.5 * mA, 2.0 * mA]).unwrap();
///     mon.record(&clock, &spk).unwrap();
///     clock.advance();
/// }
/// let trains = mon.trains();
/// assert!(trains.times(0).is_empty());   // 0.5 mA stays under threshold
/// assert!(trains.times(1).len() > 10);
/// assert_eq!(trains.duration().value_in(ms), 100.0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SpikeMonitor {
    dt_ms: f64,
    first: Option<u64>,
    last: u64,
    shape: Vec<usize>,
    times: Vec<Vec<f64>>,
}

impl SpikeMonitor {
    /// An empty monitor.
    pub fn new() -> Self {
        Self::default()
    }
    /// Record one step's spikes (any shape, fixed after the first call) at the clock's step.
    pub fn record<T: Real>(&mut self, clock: &Clock, spikes: &ArrayD<T>) -> Result<()> {
        if self.first.is_none() {
            self.first = Some(clock.step());
            self.dt_ms = clock.dt_ms();
            self.shape = spikes.shape().to_vec();
            self.times = vec![Vec::new(); spikes.len()];
        } else if spikes.shape() != self.shape.as_slice() {
            return Err(SomataError::ShapeMismatch {
                what: "spikes given to SpikeMonitor".into(),
                expected: self.shape.clone(),
                got: spikes.shape().to_vec(),
            });
        }
        self.last = clock.step();
        let t = step_time(clock.step(), clock.dt_ms());
        for (g, &s) in spikes.iter().enumerate() {
            if s > T::ZERO {
                self.times[g].push(t);
            }
        }
        Ok(())
    }
    /// The spike trains so far (duration from the first to the last recorded step).
    pub fn trains(&self) -> SpikeTrains {
        let steps = self.first.map(|f| (self.last - f + 1) as usize).unwrap_or(0);
        SpikeTrains { dt_ms: self.dt_ms, start_step: self.first.unwrap_or(0), steps, shape: self.shape.clone(), times: self.times.clone() }
    }
}

/// States sampled in step mode: call [`StateMonitor::record`] after each `update`; it samples
/// at the steps `i % every == 0`, on the chosen neurons (default all).
///
/// ```
/// use somata::prelude::*;
/// let mut hh = Hh::builder(4).build().unwrap();
/// hh.init_state(None).unwrap();
/// let mut clock = Clock::new(0.01 * ms).unwrap();
/// let mut mon = StateMonitor::new(&["V", "m"]).every(100).neurons(&[0, 3]);
/// for _ in 0..1000 {
///     hh.update_q(&clock, 10.0 * uA).unwrap();
///     mon.record(&clock, &hh).unwrap();
///     clock.advance();
/// }
/// let v = mon.trace("V").unwrap();
/// assert_eq!(v.data.shape(), &[10, 2]);                // 10 samples × 2 neurons
/// assert_eq!(v.unit, "mV");
/// ```
#[derive(Debug, Clone)]
pub struct StateMonitor {
    names: Vec<String>,
    every: usize,
    neurons: Option<Vec<usize>>,
    steps: Vec<u64>,
    times: Vec<f64>,
    dims: Vec<(Dim, &'static str)>,
    batch: Option<usize>,
    /// per state: samples × (batch × selected)
    data: Vec<Vec<f64>>,
}

impl StateMonitor {
    /// Monitor these states (by name), every step, all neurons.
    pub fn new(states: &[&str]) -> Self {
        StateMonitor {
            names: states.iter().map(|s| s.to_string()).collect(),
            every: 1,
            neurons: None,
            steps: Vec::new(),
            times: Vec::new(),
            dims: Vec::new(),
            batch: None,
            data: vec![Vec::new(); states.len()],
        }
    }
    /// Sample every `k` steps (k ≥ 1; 0 is taken as 1).
    pub fn every(mut self, k: usize) -> Self {
        self.every = k.max(1);
        self
    }
    /// Sample these neurons only (flat indices).
    pub fn neurons(mut self, idx: &[usize]) -> Self {
        self.neurons = Some(idx.to_vec());
        self
    }
    /// Sample `layer` if the clock's step is due.
    pub fn record<M: NeuronModel, T: Real>(&mut self, clock: &Clock, layer: &NeuronLayer<M, T>) -> Result<()> {
        if !clock.step().is_multiple_of(self.every as u64) {
            return Ok(());
        }
        let n = layer.num_neurons();
        let sel: Vec<usize> = self.neurons.clone().unwrap_or_else(|| (0..n).collect());
        if let Some(&bad) = sel.iter().find(|&&i| i >= n) {
            return Err(SomataError::ShapeMismatch { what: format!("monitored neuron index {bad}"), expected: vec![n], got: vec![bad] });
        }
        if self.steps.is_empty() {
            self.dims.clear();
            for name in &self.names {
                let j = M::state_index(name).ok_or_else(|| SomataError::UnknownState {
                    model: M::NAME.into(),
                    name: name.clone(),
                    known: M::STATES.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
                })?;
                self.dims.push((M::STATES[j].dim, M::STATES[j].unit));
            }
            self.batch = layer.batch_size();
        }
        let rows = layer.batch_size().unwrap_or(1);
        for (vi, name) in self.names.iter().enumerate() {
            let a = layer.state(name)?;
            let flat: Vec<T> = a.iter().copied().collect();
            for b in 0..rows {
                for &i in &sel {
                    self.data[vi].push(flat[b * n + i].to_f64());
                }
            }
        }
        self.steps.push(clock.step());
        self.times.push(step_time(clock.step(), clock.dt_ms()));
        Ok(())
    }
    /// The samples of one state, shape `(samples, batch?, neurons)`.
    pub fn trace(&self, name: &str) -> Option<StateTrace<f64>> {
        let vi = self.names.iter().position(|n| n == name)?;
        let nsel = if self.steps.is_empty() { 0 } else { self.data[vi].len() / self.steps.len() / self.batch.unwrap_or(1) };
        let mut sh = vec![self.steps.len()];
        if let Some(b) = self.batch {
            sh.push(b);
        }
        sh.push(nsel);
        let (dim, unit) = self.dims.get(vi).copied().unwrap_or((Dim::ONE, "1"));
        Some(StateTrace {
            name: name.to_string(),
            dim,
            unit,
            steps: self.steps.clone(),
            times_ms: self.times.clone(),
            neurons: self.neurons.clone().unwrap_or_else(|| (0..nsel).collect()),
            data: ArrayD::from_shape_vec(IxDyn(&sh), self.data[vi].clone()).ok()?,
        })
    }
}
