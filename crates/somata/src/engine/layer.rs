//! [`NeuronLayer`]: a population of one neuron model with its parameters and state, stepped one
//! update at a time (BrainPy's `update(x)`) or run over whole sequences.

use super::kernel::{self, CountSink, ParamValue, Prepared, RecSink, RunSpec, Sink, SyncPtr, Xs};
use crate::dynamics::{Check, Clock, GateTable, InitSpec, NeuronModel, Real, SpikeReset};
use crate::error::{Result, SomataError};
use crate::init::{Init, Rng};
use crate::surrogate::Surrogate;
use crate::units::{Dimension, Quantity};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

static LAYER_ID: AtomicUsize = AtomicUsize::new(0);

/// The size of a layer: an int (`100`) or a shape (`[28, 28]`), as BrainPy's `in_size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape(pub Vec<usize>);

impl From<usize> for Shape {
    fn from(n: usize) -> Shape {
        Shape(vec![n])
    }
}
impl<const K: usize> From<[usize; K]> for Shape {
    fn from(s: [usize; K]) -> Shape {
        Shape(s.to_vec())
    }
}
impl From<Vec<usize>> for Shape {
    fn from(s: Vec<usize>) -> Shape {
        Shape(s)
    }
}
impl From<&[usize]> for Shape {
    fn from(s: &[usize]) -> Shape {
        Shape(s.to_vec())
    }
}

/// The external input of one step.
#[derive(Debug, Clone)]
pub enum Input<'a, T> {
    /// The same value for every neuron (canonical units of the model's input).
    Scalar(T),
    /// `N` values (broadcast over the batch) or `batch × N` values, batch-major.
    Slice(&'a [T]),
    /// An array of shape `in_size`, `(batch, *in_size)` or `()`.
    Array(ArrayViewD<'a, T>),
}

impl<T> From<T> for Input<'_, T> {
    fn from(v: T) -> Self {
        Input::Scalar(v)
    }
}
impl<'a, T> From<&'a [T]> for Input<'a, T> {
    fn from(v: &'a [T]) -> Self {
        Input::Slice(v)
    }
}
impl<'a, T> From<&'a Vec<T>> for Input<'a, T> {
    fn from(v: &'a Vec<T>) -> Self {
        Input::Slice(v)
    }
}
impl<'a, T> From<ArrayViewD<'a, T>> for Input<'a, T> {
    fn from(v: ArrayViewD<'a, T>) -> Self {
        Input::Array(v)
    }
}

/// The inputs of a sequence run.
#[derive(Debug, Clone)]
pub enum SeqInput<'a, T> {
    /// The same input at every one of `steps` steps.
    Constant(Input<'a, T>, usize),
    /// `steps × N` or `steps × batch × N` values, time-major.
    Dense(&'a [T], usize),
}

/// What a sequence run records.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Keep the spike raster (`steps × batch × N` bytes).
    pub record_spikes: bool,
    /// Keep every state after every step (`steps × n_states × batch × N`).
    pub record_states: bool,
    /// Report the first non-finite state (model, variable, step, batch row, neuron).
    pub check_finite: bool,
}

/// The result of a sequence run. Elements are indexed batch-major (`b·N + n`).
#[derive(Debug, Clone)]
pub struct RunOutput<T> {
    /// Number of steps run.
    pub steps: usize,
    /// Spikes per element.
    pub spike_counts: Vec<u32>,
    /// `[step][element]` 0/1, if recorded.
    pub spikes: Option<Vec<u8>>,
    /// `[step][state][element]`, if recorded.
    pub states: Option<Vec<T>>,
    /// The first non-finite state, if `check_finite` was set and one occurred
    /// ([`SomataError::Diverged`]).
    pub divergence: Option<SomataError>,
}

/// Builder of a [`NeuronLayer`]; parameters are checked in [`LayerBuilder::build`].
#[derive(Debug, Clone)]
pub struct LayerBuilder<M: NeuronModel, T: Real = f32> {
    model: M,
    shape: Shape,
    params: Vec<ParamValue>,
    inits: Vec<Option<Init>>,
    spk_fun: Surrogate,
    spk_reset: SpikeReset,
    gate_tables: bool,
    name: Option<String>,
    seed: u64,
    error: Option<SomataError>,
    _t: PhantomData<T>,
}

impl<M: NeuronModel, T: Real> LayerBuilder<M, T> {
    /// A builder with every parameter at BrainPy's default, `spk_fun = ReluGrad()`,
    /// `spk_reset` the model's default.
    pub fn new(model: M, in_size: impl Into<Shape>) -> Self {
        LayerBuilder {
            model,
            shape: in_size.into(),
            params: M::PARAMS.iter().map(|p| ParamValue::Shared(p.default)).collect(),
            inits: vec![None; M::STATES.len()],
            spk_fun: M::default_spk_fun(),
            spk_reset: M::DEFAULT_RESET,
            gate_tables: true,
            name: None,
            seed: 0,
            error: None,
            _t: PhantomData,
        }
    }

    fn fail(mut self, e: SomataError) -> Self {
        self.error.get_or_insert(e);
        self
    }

    fn index(&self, name: &str) -> Result<usize> {
        M::param_index(name).ok_or_else(|| SomataError::UnknownParameter {
            model: M::NAME.into(),
            name: name.into(),
            known: M::PARAMS.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
        })
    }

    /// Index of a parameter whose dimension must be `dim`.
    fn index_with_dim(&self, name: &str, dim: crate::units::Dim) -> Result<usize> {
        let i = self.index(name)?;
        if M::PARAMS[i].dim != dim {
            return Err(SomataError::DimensionMismatch {
                what: format!("{}.{}", M::NAME, name),
                expected: M::PARAMS[i].dim.describe(),
                got: dim.describe(),
            });
        }
        Ok(i)
    }

    fn put(mut self, i: Result<usize>, v: ParamValue) -> Self {
        match i {
            Ok(i) => {
                self.params[i] = v;
                self
            }
            Err(e) => self.fail(e),
        }
    }

    /// Set a parameter from a typed quantity; a wrong dimension or name is reported by `build`.
    pub fn set<D: Dimension>(self, name: &str, q: Quantity<D>) -> Self {
        let i = self.index_with_dim(name, D::DIM);
        self.put(i, ParamValue::Shared(q.canonical()))
    }

    /// Set a parameter from a plain number in canonical units (the unitless, ML-style path).
    pub fn set_raw(self, name: &str, value: f64) -> Self {
        let i = self.index(name);
        self.put(i, ParamValue::Shared(value))
    }

    /// Set a per-neuron parameter (canonical units, one value per neuron).
    pub fn set_per_neuron(self, name: &str, values: Vec<f64>) -> Self {
        let i = self.index(name);
        self.put(i, ParamValue::PerNeuron(values))
    }

    /// Set a per-neuron parameter from typed quantities.
    pub fn set_per_neuron_q<D: Dimension>(self, name: &str, values: &[Quantity<D>]) -> Self {
        let i = self.index_with_dim(name, D::DIM);
        self.put(i, ParamValue::PerNeuron(values.iter().map(|q| q.canonical()).collect()))
    }

    /// Set a boolean flag parameter (`ref_var`).
    pub fn flag(self, name: &str, on: bool) -> Self {
        self.set_raw(name, if on { 1.0 } else { 0.0 })
    }

    /// Initializer of a state variable, by state name (`"V"`) or BrainPy argument name
    /// (`"V_initializer"`), canonical units.
    pub fn init(mut self, state: &str, init: Init) -> Self {
        let pos = M::STATES.iter().position(|s| s.name == state || s.init_param == Some(state));
        match pos {
            Some(i) if M::STATES[i].init_param.is_some() => {
                self.inits[i] = Some(init);
                self
            }
            _ => {
                let e = SomataError::UnknownParameter {
                    model: M::NAME.into(),
                    name: state.into(),
                    known: M::STATES.iter().filter_map(|s| s.init_param).collect::<Vec<_>>().join(", "),
                };
                self.fail(e)
            }
        }
    }

    /// The surrogate gradient function of the spike (default `ReluGrad()`).
    pub fn spk_fun(mut self, s: impl Into<Surrogate>) -> Self {
        self.spk_fun = s.into();
        self
    }
    /// Soft or hard reset.
    pub fn spk_reset(mut self, r: SpikeReset) -> Self {
        self.spk_reset = r;
        self
    }
    /// Whether the AVX-512 kernel may take the model's gates from a [`GateTable`] (default
    /// `true`; only the HH family has one, see [`crate::dynamics::table`]). With `false` every
    /// kernel evaluates BrainPy's formulas each step, and the layer gives the same bits on every
    /// x86-64 CPU.
    ///
    /// ```
    /// use somata::prelude::*;
    /// let hh = Hh::builder(4).gate_tables(false).build().unwrap();
    /// assert!(!hh.gate_tables());
    /// ```
    pub fn gate_tables(mut self, on: bool) -> Self {
        self.gate_tables = on;
        self
    }
    /// A name (default: model name plus a unique number).
    pub fn name(mut self, n: impl Into<String>) -> Self {
        self.name = Some(n.into());
        self
    }
    /// Seed of the layer's RNG (random initializers).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Switch the float type (`f32` default, `f64` available).
    pub fn precision<U: Real>(self) -> LayerBuilder<M, U> {
        LayerBuilder {
            model: self.model,
            shape: self.shape,
            params: self.params,
            inits: self.inits,
            spk_fun: self.spk_fun,
            spk_reset: self.spk_reset,
            gate_tables: self.gate_tables,
            name: self.name,
            seed: self.seed,
            error: self.error,
            _t: PhantomData,
        }
    }

    /// Check everything and build the layer.
    pub fn build(self) -> Result<NeuronLayer<M, T>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let n: usize = self.shape.0.iter().product();
        if self.shape.0.is_empty() {
            return Err(SomataError::ShapeMismatch { what: "in_size (must be non-empty)".into(), expected: vec![1], got: vec![] });
        }
        for (spec, pv) in M::PARAMS.iter().zip(&self.params) {
            let vals: &[f64] = match pv {
                ParamValue::Shared(v) => std::slice::from_ref(v),
                ParamValue::PerNeuron(v) => {
                    if v.len() != n {
                        return Err(SomataError::ShapeMismatch {
                            what: format!("per-neuron parameter {}", spec.name),
                            expected: vec![n],
                            got: vec![v.len()],
                        });
                    }
                    v
                }
            };
            for &v in vals {
                let bad = |r: &str| Err(SomataError::param(M::NAME, spec.name, v, r));
                if !v.is_finite() {
                    return bad("must be finite (not NaN or infinite)");
                }
                match spec.check {
                    Check::Positive if v <= 0.0 => return bad("must be > 0"),
                    Check::NonNegative if v < 0.0 => return bad("must be >= 0"),
                    Check::Flag if v != 0.0 && v != 1.0 => return bad("must be a boolean"),
                    _ => {}
                }
            }
        }
        let rows = if self.params.iter().all(|p| matches!(p, ParamValue::Shared(_))) { 1 } else { n };
        let mut pbuf = vec![0.0; M::PARAMS.len()];
        for r in 0..rows {
            for (i, pv) in self.params.iter().enumerate() {
                pbuf[i] = pv.at(r);
            }
            self.model.validate(&pbuf)?;
        }
        for (spec, init) in M::STATES.iter().zip(&self.inits) {
            if let Some(i) = init {
                i.validate(spec.init_param.unwrap_or(spec.name))?;
            }
        }
        let id = LAYER_ID.fetch_add(1, Ordering::Relaxed);
        Ok(NeuronLayer {
            name: self.name.unwrap_or_else(|| format!("{}{}", M::NAME, id)),
            model: self.model,
            n,
            shape: self.shape.0,
            params: self.params,
            inits: self.inits,
            spk_fun: self.spk_fun,
            spk_reset: self.spk_reset,
            gate_tables: self.gate_tables,
            table_cache: TableCache::default(),
            rng: Rng::new(self.seed),
            batch: None,
            state: Vec::new(),
            initialized: false,
            xbuf: Vec::new(),
        })
    }
}

/// A cached table with what it was fitted for: `dt` and the shared parameter values.
#[derive(Clone)]
struct CachedTable {
    dt_ms: f64,
    params: Vec<f64>,
    table: Option<Arc<GateTable>>,
}

/// The model's [`GateTable`] for the last `dt` and parameters it was asked for: fitting one
/// takes about 0.7 ms, far more than a step of a small layer, so `update` called step by step
/// must not refit.
#[derive(Default)]
struct TableCache(Mutex<Option<CachedTable>>);

impl TableCache {
    fn get<M: NeuronModel>(&self, model: &M, params: &[ParamValue], dt_ms: f64) -> Option<Arc<GateTable>> {
        let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let same = |e: &CachedTable| {
            e.dt_ms.to_bits() == dt_ms.to_bits()
                && e.params.len() == params.len()
                && e.params.iter().zip(params).all(|(a, b)| a.to_bits() == b.at(0).to_bits())
        };
        if let Some(e) = c.as_ref().filter(|e| same(e)) {
            return e.table.clone();
        }
        let p: Vec<f64> = params.iter().map(|v| v.at(0)).collect();
        let table = model.gate_table(&p, dt_ms).map(Arc::new);
        *c = Some(CachedTable { dt_ms, params: p, table: table.clone() });
        table
    }
}

impl Clone for TableCache {
    fn clone(&self) -> Self {
        TableCache(Mutex::new(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()))
    }
}

impl std::fmt::Debug for TableCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TableCache")
    }
}

/// A layer of neurons of model `M`, float type `T` (`f32` by default).
///
/// State lives in structure-of-arrays form, one contiguous array per state variable over
/// `batch × N` elements (batch-major).
#[derive(Debug, Clone)]
pub struct NeuronLayer<M: NeuronModel, T: Real = f32> {
    pub(crate) model: M,
    name: String,
    shape: Vec<usize>,
    pub(crate) n: usize,
    pub(crate) params: Vec<ParamValue>,
    inits: Vec<Option<Init>>,
    pub(crate) spk_fun: Surrogate,
    pub(crate) spk_reset: SpikeReset,
    gate_tables: bool,
    table_cache: TableCache,
    rng: Rng,
    batch: Option<usize>,
    /// `[n_states][batch·N]`
    pub(crate) state: Vec<T>,
    initialized: bool,
    xbuf: Vec<T>,
}

impl<M: NeuronModel, T: Real> NeuronLayer<M, T> {
    /// The layer's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// `in_size` (varshape).
    pub fn in_size(&self) -> &[usize] {
        &self.shape
    }
    /// Number of neurons (product of `in_size`).
    pub fn num_neurons(&self) -> usize {
        self.n
    }
    /// Batch size given to `init_state` (None: no batch axis).
    pub fn batch_size(&self) -> Option<usize> {
        self.batch
    }
    /// Elements = batch × N.
    pub fn num_elements(&self) -> usize {
        self.batch.unwrap_or(1) * self.n
    }
    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }
    /// Whether the AVX-512 kernel may use the model's [`GateTable`] ([`LayerBuilder::gate_tables`]).
    pub fn gate_tables(&self) -> bool {
        self.gate_tables
    }
    /// Switch [`GateTable`]s on or off (see [`LayerBuilder::gate_tables`]).
    pub fn set_gate_tables(&mut self, on: bool) {
        self.gate_tables = on;
    }
    /// The surrogate.
    pub fn spk_fun(&self) -> &Surrogate {
        &self.spk_fun
    }
    /// Whether this layer's updates run on the 64-lane vector kernel
    /// ([`crate::dynamics::NeuronModel::VECTOR`], `f32`, parameters shared by all neurons, a CPU
    /// with AVX-512; `SOMATA_NO_VECTOR=1` in the environment turns it off). The results are bit
    /// for bit those of the scalar kernel either way.
    pub fn uses_vector_kernel(&self) -> bool {
        let shared = self.params.iter().all(|p| matches!(p, ParamValue::Shared(_)));
        kernel::uses_vector_kernel::<M, T>(shared)
    }
    /// The reset mode.
    pub fn spk_reset(&self) -> SpikeReset {
        self.spk_reset
    }
    /// A parameter value (canonical units).
    pub fn param(&self, name: &str) -> Option<&ParamValue> {
        M::param_index(name).map(|i| &self.params[i])
    }

    /// Create the state for `batch` rows (None: no batch axis), from the initializers.
    pub fn init_state(&mut self, batch: Option<usize>) -> Result<()> {
        if batch == Some(0) {
            return Err(SomataError::ShapeMismatch { what: "batch size".into(), expected: vec![1], got: vec![0] });
        }
        self.batch = batch;
        let bn = self.num_elements();
        let ns = M::STATES.len();
        let mut vals = vec![0.0f64; ns * bn];
        let mut explicit = vec![false; ns];
        for (j, spec) in M::STATES.iter().enumerate() {
            let out = &mut vals[j * bn..(j + 1) * bn];
            match (&self.inits[j], spec.init) {
                (Some(init), _) => {
                    init.fill(out, self.n, &mut self.rng)?;
                    explicit[j] = true;
                }
                (None, InitSpec::Constant(c)) => out.fill(c),
                (None, InitSpec::Uniform(lo, hi)) => Init::Uniform { low: lo, high: hi }.fill(out, self.n, &mut self.rng)?,
                (None, InitSpec::Derived) => {}
            }
        }
        // derived states (per element, with that neuron's parameters)
        let mut p = vec![0.0; M::PARAMS.len()];
        let mut s = vec![0.0; ns];
        for g in 0..bn {
            let nidx = g % self.n.max(1);
            for (i, pv) in self.params.iter().enumerate() {
                p[i] = pv.at(nidx);
            }
            for j in 0..ns {
                s[j] = vals[j * bn + g];
            }
            self.model.derive_init(&p, &mut s, &explicit);
            for j in 0..ns {
                vals[j * bn + g] = s[j];
            }
        }
        self.state = vals.into_iter().map(T::from_f64).collect();
        self.initialized = true;
        Ok(())
    }

    /// Re-initialize the state (same as `init_state`, BrainPy's `reset_state`).
    pub fn reset_state(&mut self, batch: Option<usize>) -> Result<()> {
        self.init_state(batch)
    }

    fn check_init(&self) -> Result<()> {
        if self.initialized {
            Ok(())
        } else {
            Err(SomataError::NotInitialized(self.name.clone()))
        }
    }

    fn state_shape(&self) -> Vec<usize> {
        let mut sh = Vec::with_capacity(self.shape.len() + 1);
        if let Some(b) = self.batch {
            sh.push(b);
        }
        sh.extend_from_slice(&self.shape);
        sh
    }

    /// A state variable by name (`"V"`), shape `(batch?, *in_size)`, canonical units.
    pub fn state(&self, name: &str) -> Result<ArrayViewD<'_, T>> {
        self.check_init()?;
        let j = M::state_index(name).ok_or_else(|| SomataError::UnknownParameter {
            model: M::NAME.into(),
            name: name.into(),
            known: M::STATES.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        })?;
        let bn = self.num_elements();
        let sh = self.state_shape();
        Ok(ArrayViewD::from_shape(IxDyn(&sh), &self.state[j * bn..(j + 1) * bn]).expect("state shape"))
    }

    /// The membrane potential `V`.
    pub fn v(&self) -> Result<ArrayViewD<'_, T>> {
        self.state("V")
    }

    /// Overwrite a state variable (`batch × N` values or `N` values broadcast).
    pub fn set_state(&mut self, name: &str, values: &[T]) -> Result<()> {
        self.check_init()?;
        let j = M::state_index(name).ok_or_else(|| SomataError::UnknownParameter {
            model: M::NAME.into(),
            name: name.into(),
            known: M::STATES.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        })?;
        let bn = self.num_elements();
        let dst = &mut self.state[j * bn..(j + 1) * bn];
        if values.len() == bn {
            dst.copy_from_slice(values);
        } else if values.len() == self.n {
            for (g, d) in dst.iter_mut().enumerate() {
                *d = values[g % self.n];
            }
        } else {
            return Err(SomataError::ShapeMismatch { what: format!("state {name}"), expected: vec![bn], got: vec![values.len()] });
        }
        Ok(())
    }

    /// Materialize one step's input into `out` (`batch × N`).
    pub(crate) fn fill_input(&self, x: &Input<'_, T>, out: &mut Vec<T>) -> Result<()> {
        let bn = self.num_elements();
        out.clear();
        let mismatch = |got: Vec<usize>| {
            let mut exp = self.state_shape();
            if exp.is_empty() {
                exp.push(1);
            }
            Err(SomataError::ShapeMismatch { what: format!("input of layer {}", self.name), expected: exp, got })
        };
        match x {
            Input::Scalar(v) => out.resize(bn, *v),
            Input::Slice(s) => {
                if s.len() == bn {
                    out.extend_from_slice(s);
                } else if s.len() == self.n {
                    for g in 0..bn {
                        out.push(s[g % self.n]);
                    }
                } else {
                    return mismatch(vec![s.len()]);
                }
            }
            Input::Array(a) => {
                let sh = a.shape();
                if sh.is_empty() {
                    out.resize(bn, a.iter().next().copied().unwrap_or(T::ZERO));
                } else if sh == self.shape.as_slice() || sh == self.state_shape().as_slice() {
                    let flat: Vec<T> = a.iter().copied().collect();
                    for g in 0..bn {
                        out.push(flat[g % flat.len()]);
                    }
                } else {
                    return mismatch(sh.to_vec());
                }
            }
        }
        Ok(())
    }

    pub(crate) fn prepare(&self, clock: &Clock) -> Prepared<T> {
        let mut p = Prepared::new(&self.model, &self.params, self.n, T::from_f64(clock.dt_ms()), |_, v| T::from_f64(v));
        // only the vector kernel reads tables (and it requires shared parameters)
        if self.gate_tables && self.uses_vector_kernel() {
            p.table = self.table_cache.get(&self.model, &self.params, clock.dt_ms());
        }
        p
    }

    /// One update at the clock's current step (BrainPy's `update(x)`): returns the spikes, shape
    /// `(batch?, *in_size)`. The clock is not advanced (several layers share one step).
    pub fn update<'a>(&mut self, clock: &Clock, x: impl Into<Input<'a, T>>) -> Result<ArrayD<T>>
    where
        T: 'a,
    {
        self.check_init()?;
        let mut xb = std::mem::take(&mut self.xbuf);
        let r = self.fill_input(&x.into(), &mut xb);
        if let Err(e) = r {
            self.xbuf = xb;
            return Err(e);
        }
        let bn = self.num_elements();
        let mut out = vec![T::ZERO; bn];
        let prep = self.prepare(clock);
        {
            let spec = run_spec(self, &prep, Xs { data: &xb, stride: 0 }, *clock, 1);
            let sink = OutSink(SyncPtr(out.as_mut_ptr()));
            kernel::run(&spec, &sink);
        }
        self.xbuf = xb;
        Ok(ArrayD::from_shape_vec(IxDyn(&self.state_shape()), out).expect("spike shape"))
    }

    /// One update with a typed input quantity broadcast to every neuron; the dimension is checked
    /// at compile time (a voltage fed to a current-driven model does not compile).
    pub fn update_q(&mut self, clock: &Clock, x: Quantity<M::Input>) -> Result<ArrayD<T>> {
        self.update(clock, T::from_f64(x.canonical()))
    }

    /// Materialize a sequence input into `out`; returns `(stride, steps)`.
    pub(crate) fn seq_input_into(&self, x: &SeqInput<'_, T>, out: &mut Vec<T>) -> Result<(usize, usize)> {
        let bn = self.num_elements();
        match x {
            SeqInput::Constant(inp, steps) => {
                self.fill_input(inp, out)?;
                Ok((0, *steps))
            }
            SeqInput::Dense(d, steps) => {
                out.clear();
                if *steps > 0 && d.len() == steps * bn {
                    out.extend_from_slice(d);
                    Ok((bn, *steps))
                } else if *steps > 0 && d.len() == steps * self.n {
                    out.reserve(steps * bn);
                    for k in 0..*steps {
                        for g in 0..bn {
                            out.push(d[k * self.n + g % self.n]);
                        }
                    }
                    Ok((bn, *steps))
                } else {
                    Err(SomataError::ShapeMismatch {
                        what: format!("sequence input of layer {}", self.name),
                        expected: vec![*steps, bn],
                        got: vec![d.len()],
                    })
                }
            }
        }
    }

    /// Run a whole sequence from the clock's current step; advances the clock by `steps`.
    /// Uses the same kernel as [`NeuronLayer::update`] (bit-identical results).
    pub fn run(&mut self, clock: &mut Clock, x: SeqInput<'_, T>, opts: &RunOptions) -> Result<RunOutput<T>> {
        self.check_init()?;
        let mut xd = Vec::new();
        let (stride, steps) = self.seq_input_into(&x, &mut xd)?;
        let bn = self.num_elements();
        let ns = M::STATES.len();
        let mut counts = vec![0u32; bn];
        let mut raster = opts.record_spikes.then(|| vec![0u8; steps * bn]);
        let mut states = opts.record_states.then(|| vec![T::ZERO; steps * ns * bn]);
        let mut first_bad = opts.check_finite.then(|| (vec![u32::MAX; bn], vec![0u8; bn]));
        let prep = self.prepare(clock);
        {
            let spec = run_spec(self, &prep, Xs { data: &xd, stride }, *clock, steps);
            if raster.is_none() && states.is_none() && first_bad.is_none() {
                kernel::run(&spec, &CountSink(SyncPtr(counts.as_mut_ptr())));
            } else {
                let sink = RecSink {
                    bn,
                    ns,
                    counts: SyncPtr(counts.as_mut_ptr()),
                    raster: raster.as_mut().map(|r| SyncPtr(r.as_mut_ptr())),
                    states: states.as_mut().map(|s| SyncPtr(s.as_mut_ptr())),
                    bad: first_bad.as_mut().map(|(a, b)| (SyncPtr(a.as_mut_ptr()), SyncPtr(b.as_mut_ptr()))),
                };
                kernel::run(&spec, &sink);
            }
        }
        let divergence = first_bad.and_then(|(first, var)| {
            let g = (0..bn).filter(|&g| first[g] != u32::MAX).min_by_key(|&g| (first[g], g))?;
            let j = var[g] as usize;
            let bad = self.state.get(j * bn + g).map(|v| format!("{v}")).unwrap_or_default();
            Some(SomataError::Diverged {
                model: M::NAME.into(),
                variable: M::STATES[j].name.into(),
                step: clock.step() as usize + first[g] as usize,
                batch: g / self.n,
                neuron: g % self.n,
                value: if bad.is_empty() { "non-finite".into() } else { bad },
            })
        });
        clock.set_step(clock.step() + steps as u64);
        Ok(RunOutput { steps, spike_counts: counts, spikes: raster, states, divergence })
    }
}

/// The kernel's view of a layer: shared borrows of the model and surrogate, and a pointer to the
/// state taken from a mutable borrow (the kernel writes the state through it).
pub(crate) fn run_spec<'a, M: NeuronModel, T: Real>(
    layer: &'a mut NeuronLayer<M, T>,
    prep: &'a Prepared<T>,
    xs: Xs<'a, T>,
    clock: Clock,
    steps: usize,
) -> RunSpec<'a, M, T> {
    let bn = layer.num_elements();
    RunSpec {
        state: SyncPtr(layer.state.as_mut_ptr()),
        model: &layer.model,
        prep,
        n: layer.n,
        bn,
        xs,
        clock,
        steps,
        reset: layer.spk_reset,
        sg: &layer.spk_fun,
    }
}

/// Writes one step's spikes as floats.
struct OutSink<T>(SyncPtr<T>);
impl<T: Real> Sink<T> for OutSink<T> {
    #[inline(always)]
    unsafe fn put(&self, _k: usize, g: usize, spk: T, _s: &[T]) {
        *self.0 .0.add(g) = spk;
    }
}

/// Builder entry points for every model: `Lif::builder(100)`.
pub trait Build: NeuronModel + Default {
    /// A layer builder with BrainPy's defaults, `f32`.
    fn builder(in_size: impl Into<Shape>) -> LayerBuilder<Self, f32> {
        LayerBuilder::new(Self::default(), in_size)
    }
}
impl<M: NeuronModel + Default> Build for M {}
