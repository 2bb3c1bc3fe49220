//! [`NeuronLayer`]: a population of one neuron model with its parameters and state, stepped one
//! update at a time (BrainPy's `update(x)`) or run over whole sequences.

use super::kernel::{self, CountSink, ParamValue, Prepared, RecSink, RunSpec, Sink, SyncPtr, Xs};
use super::monitor::{RunOptions, RunOutput};
use crate::dynamics::simd::{self, Backend};
use crate::dynamics::{Check, Clock, GateTable, InitSpec, NeuronModel, Real, SpikeReset, Step};
use crate::error::{Result, SomataError};
use crate::init::{Init, Rng};
use crate::surrogate::Surrogate;
use crate::units::{Dim, Dimension, Quantity, Unit};
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
///
/// **Raw numbers are read in the model's input unit** ([`NeuronModel::INPUT_UNIT`]): mA for the
/// LIF, exponential, quadratic and generalized families, **µA for `HH`, `MorrisLecar` and
/// `WangBuzsakiHH`** (BrainPy's convention), mV/ms for Izhikevich, unitless for the reduced
/// models. So `hh.update(&clock, 10.0)` is 10 µA, the number a BrainPy user types. Typed values
/// ([`Input::quantity`], [`Input::quantities`], or [`NeuronLayer::update_q`], which checks the
/// dimension at compile time) carry their own unit and are never rescaled.
#[derive(Debug, Clone)]
pub enum Input<'a, T> {
    /// The same value for every neuron, in the model's input unit.
    Scalar(T),
    /// `N` values (broadcast over the batch) or `batch × N` values, batch-major, in the model's
    /// input unit.
    Slice(&'a [T]),
    /// An array of shape `in_size`, `(batch, *in_size)` or `()`, in the model's input unit.
    Array(ArrayViewD<'a, T>),
    /// A typed quantity for every neuron: its canonical value and dimension (checked against the
    /// model's input dimension when used). Build with [`Input::quantity`].
    Quantity(f64, Dim),
    /// Typed values, `N` or `batch × N`, canonical, with their dimension. Build with
    /// [`Input::quantities`].
    Quantities(&'a [f64], Dim),
}

impl<'a, T> Input<'a, T> {
    /// A typed quantity broadcast to every neuron: `Input::quantity(10.0 * uA)`.
    pub fn quantity<D: Dimension>(q: Quantity<D>) -> Self {
        Input::Quantity(q.canonical(), D::DIM)
    }
    /// Typed per-neuron values (`N`, broadcast over the batch, or `batch × N`):
    /// `Input::quantities(&[1.0 * nA, 2.0 * nA])`.
    pub fn quantities<D: Dimension>(q: &'a [Quantity<D>]) -> Self {
        Input::Quantities(Quantity::canonical_slice(q), D::DIM)
    }
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

/// A typed input of dimension `D` for [`NeuronLayer::update_q`]: one quantity for every neuron
/// or one per neuron (`N` or `batch × N`). A quantity of the wrong dimension does not compile.
///
/// ```
/// use somata::prelude::*;
/// let mut hh = Hh::builder(3).build().unwrap();
/// hh.init_state(None).unwrap();
/// let mut clock = Clock::new(0.01 * ms).unwrap();
/// hh.update_q(&clock, 10.0 * uA).unwrap();                      // every neuron
/// clock.advance();
/// hh.update_q(&clock, &[0.0 * uA, 5.0 * uA, 10.0 * uA]).unwrap(); // one per neuron
/// ```
///
/// ```compile_fail
/// use somata::prelude::*;
/// let mut hh = Hh::builder(3).build().unwrap();
/// hh.init_state(None).unwrap();
/// let clock = Clock::new(0.01 * ms).unwrap();
/// hh.update_q(&clock, 10.0 * mV).unwrap(); // a voltage is not a current: does not compile
/// ```
#[derive(Debug, Clone, Copy)]
pub enum QInput<'a, D: Dimension> {
    /// The same quantity for every neuron.
    Scalar(Quantity<D>),
    /// One quantity per neuron (`N`) or per element (`batch × N`).
    Slice(&'a [Quantity<D>]),
}
impl<D: Dimension> From<Quantity<D>> for QInput<'_, D> {
    fn from(q: Quantity<D>) -> Self {
        QInput::Scalar(q)
    }
}
impl<'a, D: Dimension> From<&'a [Quantity<D>]> for QInput<'a, D> {
    fn from(q: &'a [Quantity<D>]) -> Self {
        QInput::Slice(q)
    }
}
impl<'a, D: Dimension, const K: usize> From<&'a [Quantity<D>; K]> for QInput<'a, D> {
    fn from(q: &'a [Quantity<D>; K]) -> Self {
        QInput::Slice(q)
    }
}
impl<'a, D: Dimension> From<&'a Vec<Quantity<D>>> for QInput<'a, D> {
    fn from(q: &'a Vec<Quantity<D>>) -> Self {
        QInput::Slice(q)
    }
}
impl<'a, D: Dimension> QInput<'a, D> {
    fn erase<T>(self) -> Input<'a, T> {
        match self {
            QInput::Scalar(q) => Input::quantity(q),
            QInput::Slice(q) => Input::quantities(q),
        }
    }
}

/// The inputs of a sequence run (raw numbers in the model's input unit, as [`Input`]).
#[derive(Debug, Clone)]
pub enum SeqInput<'a, T> {
    /// The same input at every one of `steps` steps.
    Constant(Input<'a, T>, usize),
    /// `steps × N` or `steps × batch × N` values, time-major, in the model's input unit.
    Dense(&'a [T], usize),
    /// Typed values, `steps × N` or `steps × batch × N`, canonical, with their dimension. Build
    /// with [`SeqInput::dense_q`].
    DenseQ(&'a [f64], Dim, usize),
}

impl<'a, T> SeqInput<'a, T> {
    /// A typed dense sequence, `steps × N` or `steps × batch × N` quantities, time-major:
    /// `SeqInput::dense_q(&currents, steps)` with `currents: Vec<Current>`. The dimension is
    /// checked against the model's input when the sequence is run.
    pub fn dense_q<D: Dimension>(q: &'a [Quantity<D>], steps: usize) -> Self {
        SeqInput::DenseQ(Quantity::canonical_slice(q), D::DIM, steps)
    }
    /// One typed quantity for every neuron at each of `steps` steps.
    pub fn constant_q<D: Dimension>(q: Quantity<D>, steps: usize) -> Self {
        SeqInput::Constant(Input::quantity(q), steps)
    }
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
    simd: Option<Backend>,
    check_finite: bool,
    name: Option<String>,
    seed: u64,
    error: Option<SomataError>,
    _t: PhantomData<T>,
}

impl<M: NeuronModel, T: Real> LayerBuilder<M, T> {
    /// A builder with every parameter at BrainPy's default, `spk_fun` the model's default
    /// (`ReluGrad()` for the built-in models, `InvSquareGrad(alpha=100)` for a user model that
    /// does not say otherwise, as BrainPy's base class), `spk_reset` the model's default.
    pub fn new(model: M, in_size: impl Into<Shape>) -> Self {
        LayerBuilder {
            model,
            shape: in_size.into(),
            params: M::PARAMS.iter().map(|p| ParamValue::Shared(p.default)).collect(),
            inits: vec![None; M::STATES.len()],
            spk_fun: M::default_spk_fun(),
            spk_reset: M::DEFAULT_RESET,
            gate_tables: true,
            simd: None,
            check_finite: false,
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

    /// Initializer of a state variable, by state name (`"V"`, `"w"`) or BrainPy argument name
    /// (`"V_initializer"`), canonical units of the state (see [`crate::units`]).
    pub fn init(mut self, state: &str, init: Init) -> Self {
        match M::STATES.iter().position(|s| s.name == state || s.init_param == Some(state)) {
            Some(i) => {
                self.inits[i] = Some(init);
                self
            }
            None => {
                let e = SomataError::UnknownState { model: M::NAME.into(), name: state.into(), known: state_names::<M>() };
                self.fail(e)
            }
        }
    }

    /// Initializer of a state from typed quantities ([`Init::constant_q`], [`Init::normal_q`],
    /// [`Init::uniform_q`]): its dimension is checked against the state's (a mismatch is a
    /// [`SomataError::DimensionMismatch`] at `build`).
    pub fn init_with(self, state: &str, init: crate::init::TypedInit) -> Self {
        if let Some(sp) = M::STATES.iter().find(|s| s.name == state || s.init_param == Some(state))
            && sp.dim != init.dim
        {
            let e = SomataError::DimensionMismatch {
                what: format!("initial {}.{}", M::NAME, sp.name),
                expected: sp.dim.describe(),
                got: init.dim.describe(),
            };
            return self.fail(e);
        }
        self.init(state, init.init)
    }

    /// Per-neuron initial values of a state from typed quantities (`N` values):
    /// `.init_q("V", &[-65.0 * mV, -60.0 * mV])`. The dimension is checked against the state's.
    pub fn init_q<D: Dimension>(self, state: &str, values: &[Quantity<D>]) -> Self {
        if let Some(sp) = M::STATES.iter().find(|s| s.name == state || s.init_param == Some(state))
            && sp.dim != D::DIM
        {
            let e = SomataError::DimensionMismatch {
                what: format!("initial {}.{}", M::NAME, sp.name),
                expected: sp.dim.describe(),
                got: D::DIM.describe(),
            };
            return self.fail(e);
        }
        self.init(state, Init::Values(Quantity::canonical_slice(values).to_vec()))
    }

    /// Check every state after every [`NeuronLayer::update`] and [`NeuronLayer::run`] and
    /// return [`SomataError::Diverged`] (model, variable, step, batch row, neuron, value) at the
    /// first non-finite value, instead of carrying NaN or infinity on silently. Default `false`
    /// (the check reads every state once per step: about 5–15% of a LIF step).
    pub fn check_finite(mut self, on: bool) -> Self {
        self.check_finite = on;
        self
    }

    /// The surrogate gradient function of the spike (default: the model's,
    /// [`NeuronModel::default_spk_fun`]).
    pub fn spk_fun(mut self, s: impl Into<Surrogate>) -> Self {
        self.spk_fun = s.into();
        self
    }
    /// Soft or hard reset.
    pub fn spk_reset(mut self, r: SpikeReset) -> Self {
        self.spk_reset = r;
        self
    }
    /// Whether the vector kernels (AVX-512, AVX2) may take the model's gates from a
    /// [`GateTable`] (default `true`; only HH has one, see [`crate::dynamics::table`]); the
    /// scalar loop evaluates the formulas. With `false` every kernel evaluates BrainPy's
    /// formulas each step, and the layer gives the same bits on every CPU.
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
    /// The vector back end of this layer's kernels (default: [`simd::active`], the best the CPU
    /// has or `SOMATA_SIMD`). Every back end gives the same bits (gate tables aside, see
    /// [`LayerBuilder::gate_tables`]); one the CPU lacks makes [`LayerBuilder::build`] fail with
    /// [`SomataError::Simd`].
    ///
    /// ```
    /// use somata::prelude::*;
    /// use somata::dynamics::simd::Backend;
    /// let lif = Lif::builder(4).simd(Backend::Scalar).build().unwrap();
    /// assert_eq!(lif.backend(), Backend::Scalar);
    /// ```
    pub fn simd(mut self, b: Backend) -> Self {
        self.simd = Some(b);
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
            simd: self.simd,
            check_finite: self.check_finite,
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
            // per-neuron parameters are validated element-wise: name the neuron
            self.model.validate(&pbuf).map_err(|e| match e {
                SomataError::InvalidParameter { model, name, value, reason } if rows > 1 => {
                    SomataError::InvalidParameter { model, name, value, reason: format!("{reason} (neuron {r})") }
                }
                e => e,
            })?;
        }
        for (spec, init) in M::STATES.iter().zip(&self.inits) {
            if let Some(i) = init {
                i.validate(spec.init_param.unwrap_or(spec.name))?;
            }
        }
        let input_unit = Unit::parse(M::INPUT_UNIT)?;
        if input_unit.dim != M::INPUT_DIM {
            return Err(SomataError::DimensionMismatch {
                what: format!("{}::INPUT_UNIT", M::NAME),
                expected: M::INPUT_DIM.describe(),
                got: M::INPUT_UNIT.into(),
            });
        }
        let backend = match self.simd {
            Some(b) => simd::check(b)?,
            None => simd::active(),
        };
        let id = LAYER_ID.fetch_add(1, Ordering::Relaxed);
        Ok(NeuronLayer {
            input_scale: input_unit.scale,
            check_finite: self.check_finite,
            last_step: None,
            name: self.name.unwrap_or_else(|| format!("{}{}", M::NAME, id)),
            model: self.model,
            n,
            shape: self.shape.0,
            params: self.params,
            inits: self.inits,
            spk_fun: self.spk_fun,
            spk_reset: self.spk_reset,
            gate_tables: self.gate_tables,
            backend,
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

/// A layer's constants prepared for network stepping ([`NeuronLayer::prepare_steps`]).
pub struct LayerPrep<T> {
    prep: Prepared<T>,
    dt_ms: f64,
}

/// A layer borrowed for stepping disjoint element ranges from several threads
/// ([`NeuronLayer::range_driver`]).
pub(crate) struct RangeDriver<'a, M: NeuronModel, T: Real> {
    model: &'a M,
    prep: &'a Prepared<T>,
    n: usize,
    bn: usize,
    state: SyncPtr<T>,
    reset: SpikeReset,
    sg: &'a Surrogate,
    backend: Backend,
}

impl<M: NeuronModel, T: Real> RangeDriver<'_, M, T> {
    /// One step of elements `base..base + len` at `clock`'s step.
    ///
    /// # Safety
    /// Calls that run at the same time cover disjoint ranges, nothing else touches the state of
    /// `base..base + len` meanwhile, and `i`, `g`, `spk` hold at least `len` values.
    #[inline]
    pub(crate) unsafe fn drive(&self, clock: &Clock, base: usize, len: usize, i: &[T], g: Option<&[T]>, spk: &mut [T]) {
        let spec = kernel::DriveSpec {
            model: self.model,
            prep: self.prep,
            n: self.n,
            bn: self.bn,
            state: SyncPtr(self.state.0),
            base,
            len,
            clock: *clock,
            reset: self.reset,
            sg: self.sg,
            backend: self.backend,
        };
        kernel::drive(&spec, i, g, spk);
    }
    /// The first element of state variable `j` (`bn` values follow).
    pub(crate) fn state_ptr(&self, j: usize) -> *const T {
        assert!(j < M::STATES.len());
        // SAFETY: the state holds `STATES.len()·bn` values.
        unsafe { self.state.0.add(j * self.bn) }
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
    backend: Backend,
    table_cache: TableCache,
    rng: Rng,
    batch: Option<usize>,
    /// `[n_states][batch·N]`
    pub(crate) state: Vec<T>,
    initialized: bool,
    xbuf: Vec<T>,
    /// Canonical value of one raw input number (`INPUT_UNIT`'s scale: 1e-3 for µA).
    input_scale: f64,
    check_finite: bool,
    /// The last step this layer was updated at (the clock rule), `None` after `init_state`.
    last_step: Option<u64>,
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
    /// Whether the vector kernels may use the model's [`GateTable`] ([`LayerBuilder::gate_tables`]).
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
    /// Whether this layer's updates run on a vector kernel
    /// ([`crate::dynamics::NeuronModel::VECTOR`], `f32`, parameters shared by all neurons, a
    /// vector [`NeuronLayer::backend`]). The results are bit for bit those of the scalar kernel
    /// either way (gate tables aside).
    pub fn uses_vector_kernel(&self) -> bool {
        let shared = self.params.iter().all(|p| matches!(p, ParamValue::Shared(_)));
        kernel::uses_vector_kernel::<M, T>(shared, self.backend)
    }
    /// The SIMD back end this layer's kernels run on ([`LayerBuilder::simd`]).
    pub fn backend(&self) -> Backend {
        self.backend
    }
    /// Run this layer's kernels on back end `b` from now on; an error (and no change) if the CPU
    /// does not support it.
    pub fn set_backend(&mut self, b: Backend) -> Result<()> {
        self.backend = simd::check(b)?;
        Ok(())
    }
    /// The reset mode.
    pub fn spk_reset(&self) -> SpikeReset {
        self.spk_reset
    }
    /// A parameter value in canonical units (see [`crate::units`]: 1 mS is 0.001 S). To read
    /// it in the unit of the model's documentation, use [`NeuronLayer::param_in`].
    pub fn param(&self, name: &str) -> Option<&ParamValue> {
        M::param_index(name).map(|i| &self.params[i])
    }

    fn param_checked<D: Dimension>(&self, name: &str) -> Result<&ParamValue> {
        let i = M::param_index(name).ok_or_else(|| SomataError::UnknownParameter {
            model: M::NAME.into(),
            name: name.into(),
            known: M::PARAMS.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
        })?;
        if M::PARAMS[i].dim != D::DIM {
            return Err(SomataError::DimensionMismatch {
                what: format!("{}.{}", M::NAME, name),
                expected: M::PARAMS[i].dim.describe(),
                got: D::DIM.describe(),
            });
        }
        Ok(&self.params[i])
    }

    /// A shared parameter as a typed quantity: `hh.param_q::<dim::G>("gNa")?.value_in(mS)` is
    /// 120. Errors: unknown name, wrong dimension, or a per-neuron parameter
    /// ([`NeuronLayer::param_per_neuron_in`]).
    pub fn param_q<D: Dimension>(&self, name: &str) -> Result<Quantity<D>> {
        match self.param_checked::<D>(name)? {
            ParamValue::Shared(v) => Ok(Quantity::from_canonical(*v)),
            ParamValue::PerNeuron(_) => Err(SomataError::Format(format!(
                "parameter `{name}` of layer {} is per neuron: read it with param_per_neuron_in",
                self.name
            ))),
        }
    }

    /// A shared parameter as a number in `unit` (a quantity of the parameter's dimension):
    ///
    /// ```
    /// use somata::prelude::*;
    /// let hh = Hh::builder(1).build().unwrap();
    /// assert!((hh.param_in("gNa", mS).unwrap() - 120.0).abs() < 1e-9);
    /// assert!((hh.param_in("C", uF).unwrap() - 1.0).abs() < 1e-12);
    /// assert!(hh.param_in("gNa", mV).is_err()); // not a voltage: a clear error
    /// ```
    pub fn param_in<D: Dimension>(&self, name: &str, unit: Quantity<D>) -> Result<f64> {
        Ok(self.param_q::<D>(name)?.value_in(unit))
    }

    /// A parameter's value for every neuron (shared ones repeated), as numbers in `unit`.
    pub fn param_per_neuron_in<D: Dimension>(&self, name: &str, unit: Quantity<D>) -> Result<Vec<f64>> {
        let pv = self.param_checked::<D>(name)?;
        Ok((0..self.n).map(|i| pv.at(i) / unit.canonical()).collect())
    }

    /// Whether every update checks the state for non-finite values ([`LayerBuilder::check_finite`]).
    pub fn checks_finite(&self) -> bool {
        self.check_finite
    }
    /// Switch the divergence check on or off ([`LayerBuilder::check_finite`]).
    pub fn set_check_finite(&mut self, on: bool) {
        self.check_finite = on;
    }
    /// The step of this layer's last update (`None` since `init_state`/`reset_state`): the next
    /// update must run at a later step (the clock rule, [`Clock`]).
    pub fn last_step(&self) -> Option<u64> {
        self.last_step
    }
    /// The canonical value of one raw input number (the scale of [`NeuronModel::INPUT_UNIT`]).
    pub fn input_scale(&self) -> f64 {
        self.input_scale
    }

    /// The clock rule: an update, a run or a tape must start at a step after the layer's last
    /// one. Running twice at one step (a forgotten `clock.advance()`) or going back in time
    /// without `reset_state` is an error, never a silent repeat.
    pub(crate) fn check_clock_pub(&self, clock: &Clock) -> Result<()> {
        self.check_clock(clock)
    }
    /// Record that steps `start..start + steps` ran.
    pub(crate) fn mark_steps(&mut self, start: u64, steps: usize) {
        if steps > 0 {
            self.last_step = Some(start + steps as u64 - 1);
        }
    }
    /// `prep` was made for `clock`'s dt, and the clock has advanced past the last step.
    fn check_prep(&self, prep: &LayerPrep<T>, clock: &Clock) -> Result<()> {
        if prep.dt_ms != clock.dt_ms() {
            return Err(SomataError::Format(format!(
                "layer {} was prepared for dt = {} ms, stepped at {} ms",
                self.name,
                prep.dt_ms,
                clock.dt_ms()
            )));
        }
        self.check_clock(clock)
    }
    fn check_clock(&self, clock: &Clock) -> Result<()> {
        match self.last_step {
            Some(last) if clock.step() <= last => Err(SomataError::ClockNotAdvanced { layer: self.name.clone(), step: clock.step(), last }),
            _ => Ok(()),
        }
    }

    /// Create the state for `batch` rows (None: no batch axis), from the initializers.
    pub fn init_state(&mut self, batch: Option<usize>) -> Result<()> {
        if batch == Some(0) {
            return Err(SomataError::ShapeMismatch { what: "batch size".into(), expected: vec![1], got: vec![0] });
        }
        let bn = self.n.saturating_mul(batch.unwrap_or(1));
        let ns = M::STATES.len();
        // the states (f64 while they are initialised, then T) and the layer's buffers: a layer
        // larger than the machine's available memory is refused before anything is allocated
        let bytes = (bn as u64).saturating_mul(ns as u64 * (8 + std::mem::size_of::<T>() as u64) + 16);
        if bytes > 64 << 20 {
            crate::net::MemoryBudget::new().take(
                &format!(
                    "layer `{}` ({} {} neurons{} × {ns} states)",
                    self.name,
                    self.n,
                    M::NAME,
                    batch.map_or(String::new(), |b| format!(" × batch {b}"))
                ),
                bytes,
            )?;
        }
        self.batch = batch;
        let bn = self.num_elements();
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
        self.last_step = None;
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

    fn state_idx(&self, name: &str) -> Result<usize> {
        M::state_index(name).ok_or_else(|| SomataError::UnknownState {
            model: M::NAME.into(),
            name: name.into(),
            known: state_names::<M>(),
        })
    }

    /// A state variable by name (`"V"`), shape `(batch?, *in_size)`, canonical units (mV for
    /// voltages, ms for times, ...; [`NeuronLayer::state_in`] converts).
    pub fn state(&self, name: &str) -> Result<ArrayViewD<'_, T>> {
        self.check_init()?;
        let j = self.state_idx(name)?;
        let bn = self.num_elements();
        let sh = self.state_shape();
        Ok(ArrayViewD::from_shape(IxDyn(&sh), &self.state[j * bn..(j + 1) * bn]).expect("state shape"))
    }

    /// The membrane potential `V` (mV).
    pub fn v(&self) -> Result<ArrayViewD<'_, T>> {
        self.state("V")
    }

    /// A state variable as numbers in `unit` (a quantity of the state's dimension), shape
    /// `(batch?, *in_size)`: `layer.state_in("V", mV)`, `adex.state_in("w", pA)`. A unit of
    /// another dimension is an error.
    pub fn state_in<D: Dimension>(&self, name: &str, unit: Quantity<D>) -> Result<ArrayD<f64>> {
        let a = self.state(name)?;
        let dim = M::STATES[self.state_idx(name)?].dim;
        if dim != D::DIM {
            return Err(SomataError::DimensionMismatch {
                what: format!("state {}.{name}", M::NAME),
                expected: dim.describe(),
                got: D::DIM.describe(),
            });
        }
        let u = unit.canonical();
        Ok(a.mapv(|v| v.to_f64() / u))
    }

    /// A state variable as typed quantities, shape `(batch?, *in_size)`.
    pub fn state_q<D: Dimension>(&self, name: &str) -> Result<ArrayD<Quantity<D>>> {
        Ok(self.state_in(name, Quantity::<D>::from_canonical(1.0))?.mapv(Quantity::from_canonical))
    }

    /// Overwrite a state variable (`batch × N` values or `N` values broadcast), canonical units.
    pub fn set_state(&mut self, name: &str, values: &[T]) -> Result<()> {
        self.check_init()?;
        let j = self.state_idx(name)?;
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

    /// Copy `src` (`bn` or `N` values, broadcast over the batch) into `out` through `conv`.
    fn broadcast<U: Copy>(&self, src: &[U], conv: impl Fn(U) -> T, out: &mut Vec<T>, what: &str) -> Result<()> {
        let bn = self.num_elements();
        if src.len() == bn {
            out.extend(src.iter().map(|&v| conv(v)));
        } else if src.len() == self.n {
            for g in 0..bn {
                out.push(conv(src[g % self.n]));
            }
        } else {
            let mut exp = self.state_shape();
            if exp.is_empty() {
                exp.push(1);
            }
            return Err(SomataError::ShapeMismatch { what: format!("{what} of layer {}", self.name), expected: exp, got: vec![src.len()] });
        }
        Ok(())
    }

    /// The input dimension check of typed values.
    fn check_input_dim(&self, dim: Dim) -> Result<()> {
        if dim != M::INPUT_DIM {
            return Err(SomataError::DimensionMismatch {
                what: format!("input of {} layer {}", M::NAME, self.name),
                expected: M::INPUT_DIM.describe(),
                got: dim.describe(),
            });
        }
        Ok(())
    }

    /// Refuse a non-finite value in materialized inputs `xs` (`[step][element]`, `bn` values
    /// per step; one step when `xs.len() == bn`), before any state is touched:
    /// [`SomataError::NonFiniteInput`] naming the step (`step0` + the row), batch row and neuron
    /// of the first one. One pass over the values, branch-free per chunk so that it vectorizes;
    /// the position is searched only when a chunk fails.
    pub(crate) fn check_input_finite(&self, xs: &[T], step0: u64, what: &str) -> Result<()> {
        const CHUNK: usize = 256;
        let ok = |c: &[T]| c.iter().fold(true, |a, v| a & v.finite());
        let Some(ci) = xs.chunks(CHUNK).position(|c| !ok(c)) else {
            return Ok(());
        };
        let e = ci * CHUNK + xs[ci * CHUNK..].iter().position(|v| !v.finite()).unwrap_or(0);
        let bn = self.num_elements().max(1);
        let g = e % bn;
        Err(SomataError::NonFiniteInput {
            layer: self.name.clone(),
            model: M::NAME.into(),
            what: what.into(),
            step: step0 + (e / bn) as u64,
            batch: g / self.n.max(1),
            neuron: g % self.n.max(1),
            value: format!("{}", xs[e]),
        })
    }

    /// A raw number in the model's input unit, as the canonical value the kernels read.
    #[inline]
    fn raw(&self) -> impl Fn(T) -> T + use<M, T> {
        let scale = self.input_scale;
        move |v: T| if scale == 1.0 { v } else { T::from_f64(v.to_f64() * scale) }
    }

    /// Materialize one step's input into `out` (`batch × N`, canonical units).
    pub(crate) fn fill_input(&self, x: &Input<'_, T>, out: &mut Vec<T>) -> Result<()> {
        let bn = self.num_elements();
        out.clear();
        match x {
            Input::Scalar(v) => out.resize(bn, self.raw()(*v)),
            Input::Slice(s) => self.broadcast(s, self.raw(), out, "input")?,
            Input::Quantity(v, dim) => {
                self.check_input_dim(*dim)?;
                out.resize(bn, T::from_f64(*v));
            }
            Input::Quantities(s, dim) => {
                self.check_input_dim(*dim)?;
                self.broadcast(s, T::from_f64, out, "input")?;
            }
            Input::Array(a) => {
                let sh = a.shape();
                let raw = self.raw();
                if sh.is_empty() {
                    out.resize(bn, raw(a.iter().next().copied().unwrap_or(T::ZERO)));
                } else if sh == self.shape.as_slice() || sh == self.state_shape().as_slice() {
                    let flat: Vec<T> = a.iter().copied().collect();
                    for g in 0..bn {
                        out.push(raw(flat[g % flat.len()]));
                    }
                } else {
                    let mut exp = self.state_shape();
                    if exp.is_empty() {
                        exp.push(1);
                    }
                    return Err(SomataError::ShapeMismatch {
                        what: format!("input of layer {}", self.name),
                        expected: exp,
                        got: sh.to_vec(),
                    });
                }
            }
        }
        Ok(())
    }

    pub(crate) fn prepare(&self, clock: &Clock) -> Prepared<T> {
        let mut p = Prepared::new(&self.model, &self.params, self.n, T::from_f64(clock.dt_ms()), |_, v| T::from_f64(v));
        // the vector kernels read tables (they require shared parameters); the scalar loop
        // evaluates the formulas, which the compiler vectorises
        if self.gate_tables && self.backend != Backend::Scalar && self.uses_vector_kernel() {
            p.table = self.table_cache.get(&self.model, &self.params, clock.dt_ms());
        }
        p
    }

    /// Constants of this layer prepared once for many [`NeuronLayer::step_drive`] calls (a
    /// network runner prepares each population once per run, not once per step).
    pub fn prepare_steps(&self, clock: &Clock) -> Result<LayerPrep<T>> {
        self.check_init()?;
        Ok(LayerPrep { prep: self.prepare(clock), dt_ms: clock.dt_ms() })
    }

    /// One step of a network population at the clock's step, allocation-free: `i` is the
    /// current per element (canonical units, mA), `g`, when given, a conductance per element (S)
    /// that makes the drive `I(V) = i − g·V`, evaluated inside the membrane equation
    /// ([`crate::dynamics::Cond`], BrainPy's COBA outputs); spikes are written to `spk`. The
    /// clock rule of [`NeuronLayer::update`] applies.
    pub fn step_drive(&mut self, prep: &LayerPrep<T>, clock: &Clock, i: &[T], g: Option<&[T]>, spk: &mut [T]) -> Result<()> {
        let bn = self.num_elements();
        for (what, len) in [("current", i.len()), ("spike buffer", spk.len()), ("conductance", g.map_or(bn, |g| g.len()))] {
            if len != bn {
                return Err(SomataError::ShapeMismatch {
                    what: format!("{what} of layer {}", self.name),
                    expected: vec![bn],
                    got: vec![len],
                });
            }
        }
        self.check_prep(prep, clock)?;
        let state = SyncPtr(self.state.as_mut_ptr());
        let spec = |base: usize, len: usize| kernel::DriveSpec {
            model: &self.model,
            prep: &prep.prep,
            n: self.n,
            bn,
            state,
            base,
            len,
            clock: *clock,
            reset: self.spk_reset,
            sg: &self.spk_fun,
            backend: self.backend,
        };
        // one thread: a rayon hand-off per population and step costs more than it saves here
        // (measured: coba-40k 1184 → 2155 ms with the 32,000-neuron population in two chunks)
        kernel::drive(&spec(0, bn), i, g, spk);
        self.last_step = Some(clock.step());
        if self.check_finite
            && let Some(e) = self.first_non_finite(clock.step())
        {
            return Err(e);
        }
        Ok(())
    }

    /// A handle that steps disjoint element ranges of this layer from several threads (the
    /// network's parallel runner), for the clock's dt; `None` when the layer checks every step
    /// for non-finite states or has a batch axis (then it steps only as a whole).
    pub(crate) fn range_driver<'a>(&'a mut self, prep: &'a LayerPrep<T>, clock: &Clock) -> Result<Option<RangeDriver<'a, M, T>>> {
        self.check_init()?;
        self.check_prep(prep, clock)?;
        if self.check_finite || self.batch.is_some() {
            return Ok(None);
        }
        Ok(Some(RangeDriver {
            model: &self.model,
            prep: &prep.prep,
            n: self.n,
            bn: self.num_elements(),
            state: SyncPtr(self.state.as_mut_ptr()),
            reset: self.spk_reset,
            sg: &self.spk_fun,
            backend: self.backend,
        }))
    }

    /// The spikes of the stored state (BrainPy's `get_spike()`), per element, for models that
    /// define [`NeuronModel::spike_of`]; `false` (and `out` untouched) for the others.
    pub fn get_spike_into(&self, clock: &Clock, out: &mut [T]) -> Result<bool> {
        self.check_init()?;
        let bn = self.num_elements();
        if out.len() != bn {
            return Err(SomataError::ShapeMismatch {
                what: format!("spike buffer of layer {}", self.name),
                expected: vec![bn],
                got: vec![out.len()],
            });
        }
        let prep = self.prepare(clock);
        let ns = M::STATES.len();
        let t: T = clock.t_at(clock.step());
        let dt = T::from_f64(clock.dt_ms());
        for (e, o) in out.iter_mut().enumerate() {
            let c =
                Step { p: prep.p_of(e % self.n), h: prep.h_of(e % self.n), dt, t, reset: self.spk_reset, sg: &self.spk_fun, table: None };
            let mut s = [T::ZERO; crate::dynamics::MAX_STATES];
            for (j, sj) in s.iter_mut().enumerate().take(ns) {
                *sj = self.state[j * bn + e];
            }
            match self.model.spike_of(&c, &s[..ns]) {
                Some(v) => *o = v,
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Mutable access to one state variable's values (canonical units, `batch·N` elements), for
    /// network code that adds to a state directly (BrainPy's delta inputs, which are added to V
    /// after integration).
    pub fn state_mut(&mut self, name: &str) -> Result<&mut [T]> {
        let j = M::state_index(name).ok_or_else(|| SomataError::UnknownState {
            model: M::NAME.into(),
            name: name.into(),
            known: M::STATES.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        })?;
        let bn = self.num_elements();
        Ok(&mut self.state[j * bn..(j + 1) * bn])
    }

    /// One update at the clock's current step (BrainPy's `update(x)`): returns the spikes, shape
    /// `(batch?, *in_size)`. Raw numbers are in the model's input unit ([`Input`]).
    ///
    /// **The clock rule.** `update` reads the clock and never advances it, so that every layer
    /// of a network updates at the same step; the program calls `clock.advance()` once per step.
    /// A layer refuses a second update at a step it has already run
    /// ([`SomataError::ClockNotAdvanced`]): a forgotten `advance()` is an error, not a silent
    /// repeat of time (which changes the results of refractory and time-dependent models).
    /// [`NeuronLayer::run`] and [`NeuronLayer::forward_tape`] follow the same rule and advance
    /// the clock by the steps they run.
    ///
    /// With [`LayerBuilder::check_finite`] on, a non-finite state is returned as
    /// [`SomataError::Diverged`] naming the step and neuron.
    ///
    /// **A NaN or infinite input is refused** ([`SomataError::NonFiniteInput`], naming the layer,
    /// the step, the batch row and the neuron) before the state is touched, always (one pass
    /// over the input): fed to the kernel it would make `V` NaN for good. [`NeuronLayer::run`]
    /// and [`NeuronLayer::forward_tape`] check their sequences the same way.
    pub fn update<'a>(&mut self, clock: &Clock, x: impl Into<Input<'a, T>>) -> Result<ArrayD<T>>
    where
        T: 'a,
    {
        self.check_init()?;
        self.check_clock(clock)?;
        let mut xb = std::mem::take(&mut self.xbuf);
        let r = self.fill_input(&x.into(), &mut xb).and_then(|()| self.check_input_finite(&xb, clock.step(), "input"));
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
        self.last_step = Some(clock.step());
        if self.check_finite
            && let Some(e) = self.first_non_finite(clock.step())
        {
            return Err(e);
        }
        Ok(ArrayD::from_shape_vec(IxDyn(&self.state_shape()), out).expect("spike shape"))
    }

    /// The first non-finite state value (lowest element, then lowest variable), as a
    /// [`SomataError::Diverged`] at `step`.
    fn first_non_finite(&self, step: u64) -> Option<SomataError> {
        let bn = self.num_elements();
        let ns = M::STATES.len();
        let g = (0..bn).find(|&g| (0..ns).any(|j| !self.state[j * bn + g].finite()))?;
        let j = (0..ns).find(|&j| !self.state[j * bn + g].finite())?;
        Some(SomataError::Diverged {
            model: M::NAME.into(),
            variable: M::STATES[j].name.into(),
            step: step as usize,
            batch: g / self.n,
            neuron: g % self.n,
            value: format!("{}", self.state[j * bn + g]),
        })
    }

    /// One update with typed input: one quantity for every neuron (`10.0 * uA`) or one per
    /// neuron (`&[Current]`, `N` or `batch × N`). The dimension is checked at compile time (a
    /// voltage fed to a current-driven model does not compile); see [`QInput`].
    pub fn update_q<'a>(&mut self, clock: &Clock, x: impl Into<QInput<'a, M::Input>>) -> Result<ArrayD<T>>
    where
        T: 'a,
    {
        self.update(clock, x.into().erase::<T>())
    }

    /// Materialize a sequence input into `out` (canonical units); returns `(stride, steps)`.
    pub(crate) fn seq_input_into(&self, x: &SeqInput<'_, T>, out: &mut Vec<T>) -> Result<(usize, usize)> {
        let bn = self.num_elements();
        let (steps, dense) = match x {
            SeqInput::Constant(inp, steps) => {
                self.fill_input(inp, out)?;
                return Ok((0, *steps));
            }
            SeqInput::Dense(d, steps) => (*steps, d.len()),
            SeqInput::DenseQ(d, dim, steps) => {
                self.check_input_dim(*dim)?;
                (*steps, d.len())
            }
        };
        out.clear();
        let per_step = if steps > 0 && dense == steps * bn {
            bn
        } else if steps > 0 && dense == steps * self.n {
            self.n
        } else {
            return Err(SomataError::ShapeMismatch {
                what: format!("sequence input of layer {}", self.name),
                expected: vec![steps, bn],
                got: vec![dense],
            });
        };
        out.reserve(steps * bn);
        for k in 0..steps {
            let r = k * per_step..(k + 1) * per_step;
            match x {
                SeqInput::Dense(d, _) => self.broadcast(&d[r], self.raw(), out, "sequence input")?,
                SeqInput::DenseQ(d, _, _) => self.broadcast(&d[r], T::from_f64, out, "sequence input")?,
                SeqInput::Constant(..) => unreachable!("handled above"),
            }
        }
        Ok((bn, steps))
    }

    /// Run a whole sequence from the clock's current step and advance the clock by `steps` (the
    /// clock rule of [`NeuronLayer::update`]). Uses the same kernel as `update`
    /// (bit-identical results). What is recorded is set by [`RunOptions`] (default: spike counts
    /// only). A divergence is reported in [`RunOutput::divergence`] when
    /// [`RunOptions::check_finite`] is set, and returned as an error when the layer's own
    /// [`LayerBuilder::check_finite`] is on.
    pub fn run(&mut self, clock: &mut Clock, x: SeqInput<'_, T>, opts: &RunOptions) -> Result<RunOutput<T>> {
        self.check_init()?;
        self.check_clock(clock)?;
        let mut xd = Vec::new();
        let (stride, steps) = self.seq_input_into(&x, &mut xd)?;
        self.check_input_finite(&xd, clock.step(), "sequence input")?;
        let bn = self.num_elements();
        let ns = M::STATES.len();
        let mon = super::monitor::MonitorPlan::new::<M>(opts, self.n, bn, steps, clock.step(), clock.dt_ms())?;
        let mut counts = vec![0u32; bn];
        let mut raster = opts.record_spikes.then(|| vec![0u8; steps * bn]);
        let mut states = opts.record_states.then(|| vec![T::ZERO; steps * ns * bn]);
        let mut mon_data = vec![T::ZERO; mon.len()];
        let check = opts.check_finite || self.check_finite;
        let mut first_bad = check.then(|| (vec![u32::MAX; bn], vec![0u8; bn]));
        let prep = self.prepare(clock);
        {
            let spec = run_spec(self, &prep, Xs { data: &xd, stride }, *clock, steps);
            if raster.is_none() && states.is_none() && first_bad.is_none() && mon.is_empty() {
                kernel::run(&spec, &CountSink(SyncPtr(counts.as_mut_ptr())));
            } else {
                let sink = RecSink {
                    bn,
                    ns,
                    counts: SyncPtr(counts.as_mut_ptr()),
                    raster: raster.as_mut().map(|r| SyncPtr(r.as_mut_ptr())),
                    states: states.as_mut().map(|s| SyncPtr(s.as_mut_ptr())),
                    bad: first_bad.as_mut().map(|(a, b)| (SyncPtr(a.as_mut_ptr()), SyncPtr(b.as_mut_ptr()))),
                    mon: (!mon.is_empty()).then(|| mon.sink(SyncPtr(mon_data.as_mut_ptr()))),
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
        let start = clock.step();
        if steps > 0 {
            self.last_step = Some(start + steps as u64 - 1);
        }
        clock.set_step(start + steps as u64);
        if self.check_finite
            && let Some(e) = divergence
        {
            return Err(e);
        }
        let monitors = mon.into_traces::<M, T>(mon_data, self.batch);
        Ok(RunOutput {
            steps,
            spike_counts: counts,
            spikes: raster,
            states,
            divergence,
            start_step: start,
            dt_ms: clock.dt_ms(),
            shape: self.state_shape(),
            monitors,
        })
    }
}

fn state_names<M: NeuronModel>() -> String {
    M::STATES.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
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
        backend: layer.backend,
    }
}

/// Writes one step's spikes as floats.
struct OutSink<T>(SyncPtr<T>);
impl<T: Real> Sink<T> for OutSink<T> {
    unsafe fn put_block(&self, _k: usize, g: usize, spk: &[T], _st: kernel::States<T>) {
        unsafe {
            std::ptr::copy_nonoverlapping(spk.as_ptr(), self.0 .0.add(g), spk.len());
        }
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
