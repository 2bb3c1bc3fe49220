//! `somata._somata`: the compiled core of the `somata` Python package.
//!
//! The Python modules (`python/somata/*.py`) give the BrainPy-shaped API; this module holds
//! the objects that own Rust state (neuron layers, networks, trainable stacks) and converts at
//! the boundary:
//!
//! * numbers arrive as canonical floats (ms, mV, mA, S, ...) or as `(mantissa, "unit")` pairs
//!   and `"10 ms"` strings, converted and dimension-checked here by the library's unit parser;
//! * arrays leave as numpy arrays (`float32` states and spikes, `int64` event indices);
//! * every [`SomataError`] becomes a Python exception with the same message
//!   (`ValueError` for parameters, units, shapes and file contents; `OSError` for files;
//!   `MemoryError` for a run refused before allocation; `RuntimeError` for a layer used before
//!   `init_state` or a diverged state);
//! * runs and training release the GIL and go in chunks, between which a pending Ctrl-C
//!   (`KeyboardInterrupt`) stops them cleanly.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::{PyMemoryError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict};
use somata::dynamics::{Clock, NeuronModel, SpikeReset};
use somata::engine::{LayerBuilder, NeuronLayer, ParamGrad, RunOptions, RunOutput, SeqInput};
use somata::init::Init;
use somata::neurons::registry::{dispatch, ModelFn};
use somata::surrogate::Surrogate;
use somata::units::{Dim, Unit};
use somata::SomataError;
use std::sync::Mutex;

mod net;
mod syn;
mod train;

type Result<T, E = SomataError> = std::result::Result<T, E>;

/// A somata error as the Python exception of its kind, with the same message.
pub(crate) fn py_err(e: SomataError) -> PyErr {
    let msg = e.to_string();
    match e {
        SomataError::Io(_) => PyOSError::new_err(msg),
        SomataError::TooLarge { .. } => PyMemoryError::new_err(msg),
        SomataError::NotInitialized(_) | SomataError::ClockNotAdvanced { .. } | SomataError::Diverged { .. } | SomataError::Simd(_) => {
            PyRuntimeError::new_err(msg)
        }
        _ => PyValueError::new_err(msg),
    }
}

/// A value for a dimension `dim`: a canonical float, `"10 ms"`, or `(mantissa, "unit")`
/// (mantissa a float or a sequence: one value per neuron).
pub(crate) fn canonical(obj: &Bound<'_, PyAny>, dim: Dim, what: &str) -> PyResult<Vec<f64>> {
    if obj.is_instance_of::<PyBool>() {
        return Err(PyValueError::new_err(format!("{what}: expected a number or a quantity, got a boolean")));
    }
    if let Ok(v) = obj.extract::<f64>() {
        return Ok(vec![v]);
    }
    if let Ok(s) = obj.extract::<String>() {
        let (v, u) = parse_quantity(&s).map_err(py_err)?;
        return Ok(vec![u.to_canonical(v, dim, what).map_err(py_err)?]);
    }
    if let Ok((m, unit)) = obj.extract::<(Bound<'_, PyAny>, String)>() {
        let u = Unit::parse(&unit).map_err(py_err)?;
        let vals: Vec<f64> = if let Ok(v) = m.extract::<f64>() { vec![v] } else { m.extract::<Vec<f64>>()? };
        return vals.into_iter().map(|v| u.to_canonical(v, dim, what).map_err(py_err)).collect();
    }
    obj.extract::<Vec<f64>>()
        .map_err(|_| PyValueError::new_err(format!("{what}: expected a number, a sequence of numbers, \"<number> <unit>\" or a quantity")))
}

/// `"10 ms"`, `"-65mV"`, `"0.5"`: the longest leading number, then a unit (default `1`).
pub(crate) fn parse_quantity(s: &str) -> Result<(f64, Unit)> {
    let t = s.trim();
    let bad = || SomataError::Format(format!("`{s}` is not a quantity such as \"10 ms\""));
    let mut end = 0;
    for (i, _) in t.char_indices().chain(std::iter::once((t.len(), ' '))) {
        if i > 0 && t[..i].parse::<f64>().is_ok() {
            end = i;
        }
    }
    // a unit that begins with `e`/`E` is not part of the number ("1e" is not a number anyway)
    if end == 0 {
        return Err(bad());
    }
    let v: f64 = t[..end].parse().map_err(|_| bad())?;
    let rest = t[end..].trim();
    let u = if rest.is_empty() { Unit::ONE } else { Unit::parse(rest)? };
    Ok((v, u))
}

/// `(scale, dimension exponents [time, voltage, current, concentration])` of a unit string:
/// canonical = number × scale.
#[pyfunction]
fn parse_unit(unit: &str) -> PyResult<(f64, [i8; 4])> {
    let u = Unit::parse(unit).map_err(py_err)?;
    Ok((u.scale, u.dim.0))
}

/// The BrainPy class names of the built-in neuron models.
#[pyfunction]
fn model_names() -> Vec<&'static str> {
    somata::neurons::registry::MODEL_NAMES.to_vec()
}

/// The names of the surrogate gradient functions.
#[pyfunction]
fn surrogate_names() -> Vec<&'static str> {
    somata::surrogate::Surrogate::NAMES.to_vec()
}

struct Info;
impl ModelFn for Info {
    type Out = Result<(Vec<(String, String, f64, String)>, Vec<(String, String, Option<String>)>, String, String)>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        let params = M::PARAMS
            .iter()
            .map(|p| (p.name.to_string(), p.dim.describe(), p.default, somata::units::canonical_unit_name(p.dim).to_string()))
            .collect();
        let states = M::STATES.iter().map(|s| (s.name.to_string(), s.unit.to_string(), s.init_param.map(str::to_string))).collect();
        let reset = match M::DEFAULT_RESET {
            SpikeReset::Soft => "soft",
            SpikeReset::Hard => "hard",
        };
        Ok((params, states, somata::units::canonical_unit_name(M::INPUT_DIM).to_string(), reset.to_string()))
    }
}

/// A model's parameters `(name, dimension, default (canonical), canonical unit)`, states
/// `(name, unit, initializer argument)`, input unit and default reset.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn model_info(model: &str) -> PyResult<(Vec<(String, String, f64, String)>, Vec<(String, String, Option<String>)>, String, String)> {
    dispatch(model, Info).map_err(py_err)
}

/// What a layer needs from Python, the object-safe face of `NeuronLayer<M, f32>`.
trait DynLayer: Send {
    fn model(&self) -> &'static str;
    fn in_size(&self) -> Vec<usize>;
    fn n(&self) -> usize;
    fn batch(&self) -> Option<usize>;
    fn input_dim(&self) -> Dim;
    fn state_names(&self) -> Vec<&'static str>;
    fn init_state(&mut self, b: Option<usize>) -> Result<()>;
    fn reset_state(&mut self, b: Option<usize>) -> Result<()>;
    fn update(&mut self, clock: &Clock, x: &[f64]) -> Result<Vec<f32>>;
    fn get_spike(&self, clock: &Clock) -> Result<Option<Vec<f32>>>;
    fn state(&self, name: &str) -> Result<Vec<f32>>;
    fn set_state(&mut self, name: &str, v: &[f32]) -> Result<()>;
    fn run(&mut self, clock: &mut Clock, x: &[f64], steps: usize, constant: bool, opts: &RunOptions) -> Result<RunOutput<f32>>;
    fn param(&self, name: &str) -> Option<Vec<f64>>;
    fn grad(&mut self, clock: &mut Clock, x: &[f64], steps: usize, w: &[f32], names: &[String]) -> Result<GradOut>;
    fn spk_reset(&self) -> &'static str;
}

struct GradOut {
    spikes: Vec<f32>,
    input: Vec<f32>,
    params: Vec<(String, Vec<f64>)>,
}

struct Dyn<M: NeuronModel>(NeuronLayer<M, f32>);

fn input_of(x: &[f64], dim: Dim) -> somata::engine::Input<'_, f32> {
    if x.len() == 1 {
        somata::engine::Input::Quantity(x[0], dim)
    } else {
        somata::engine::Input::Quantities(x, dim)
    }
}

impl<M: NeuronModel> DynLayer for Dyn<M> {
    fn model(&self) -> &'static str {
        M::NAME
    }
    fn in_size(&self) -> Vec<usize> {
        self.0.in_size().to_vec()
    }
    fn n(&self) -> usize {
        self.0.num_neurons()
    }
    fn batch(&self) -> Option<usize> {
        self.0.batch_size()
    }
    fn input_dim(&self) -> Dim {
        M::INPUT_DIM
    }
    fn state_names(&self) -> Vec<&'static str> {
        M::STATES.iter().map(|s| s.name).collect()
    }
    fn init_state(&mut self, b: Option<usize>) -> Result<()> {
        self.0.init_state(b)
    }
    fn reset_state(&mut self, b: Option<usize>) -> Result<()> {
        self.0.reset_state(b)
    }
    fn update(&mut self, clock: &Clock, x: &[f64]) -> Result<Vec<f32>> {
        Ok(self.0.update(clock, input_of(x, M::INPUT_DIM))?.into_raw_vec_and_offset().0)
    }
    fn get_spike(&self, clock: &Clock) -> Result<Option<Vec<f32>>> {
        let mut out = vec![0.0f32; self.0.num_elements()];
        Ok(self.0.get_spike_into(clock, &mut out)?.then_some(out))
    }
    fn state(&self, name: &str) -> Result<Vec<f32>> {
        Ok(self.0.state(name)?.iter().copied().collect())
    }
    fn set_state(&mut self, name: &str, v: &[f32]) -> Result<()> {
        self.0.set_state(name, v)
    }
    fn run(&mut self, clock: &mut Clock, x: &[f64], steps: usize, constant: bool, opts: &RunOptions) -> Result<RunOutput<f32>> {
        let seq = if constant || x.len() == 1 {
            SeqInput::Constant(input_of(x, M::INPUT_DIM), steps)
        } else {
            SeqInput::DenseQ(x, M::INPUT_DIM, steps)
        };
        self.0.run(clock, seq, opts)
    }
    fn param(&self, name: &str) -> Option<Vec<f64>> {
        self.0.param(name).map(|p| match p {
            somata::engine::ParamValue::Shared(v) => vec![*v],
            somata::engine::ParamValue::PerNeuron(v) => v.clone(),
        })
    }
    fn grad(&mut self, clock: &mut Clock, x: &[f64], steps: usize, w: &[f32], names: &[String]) -> Result<GradOut> {
        let tape = self.0.forward_tape(clock, SeqInput::DenseQ(x, M::INPUT_DIM, steps))?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let g = self.0.backward(&tape, w, &names)?;
        // grads.input is per unit of the model's input unit: per canonical unit it is / scale
        let s = self.0.input_scale();
        let input = g.input.iter().map(|&v| if s == 1.0 { v } else { (v as f64 / s) as f32 }).collect();
        let params = g
            .params
            .iter()
            .map(|(n, p)| {
                let v = match p {
                    ParamGrad::Shared(v) => vec![*v],
                    ParamGrad::PerNeuron(v) => v.clone(),
                };
                (n.to_string(), v)
            })
            .collect();
        Ok(GradOut { spikes: tape.spikes().to_vec(), input, params })
    }
    fn spk_reset(&self) -> &'static str {
        match self.0.spk_reset() {
            SpikeReset::Soft => "soft",
            SpikeReset::Hard => "hard",
        }
    }
}

/// A parameter as the builder takes it.
pub(crate) enum PVal {
    Flag(bool),
    Values(Vec<f64>),
}

/// Everything a layer is built from, already in canonical units.
pub(crate) struct Spec {
    pub in_size: Vec<usize>,
    pub params: Vec<(String, PVal)>,
    pub inits: Vec<(String, Init)>,
    pub sg: Option<Surrogate>,
    pub reset: Option<SpikeReset>,
    pub seed: u64,
    pub name: Option<String>,
}

impl Spec {
    pub(crate) fn builder<M: NeuronModel + Default>(self) -> LayerBuilder<M, f32> {
        let mut b = LayerBuilder::<M, f32>::new(M::default(), self.in_size).seed(self.seed);
        if let Some(s) = self.sg {
            b = b.spk_fun(s);
        }
        if let Some(r) = self.reset {
            b = b.spk_reset(r);
        }
        if let Some(n) = self.name {
            b = b.name(n);
        }
        for (k, v) in self.params {
            b = match v {
                PVal::Flag(on) => b.flag(&k, on),
                PVal::Values(v) if v.len() == 1 => b.set_raw(&k, v[0]),
                PVal::Values(v) => b.set_per_neuron(&k, v),
            };
        }
        for (k, i) in self.inits {
            b = b.init(&k, i);
        }
        b
    }
}

struct BuildDyn(Spec);
impl ModelFn for BuildDyn {
    type Out = Result<Box<dyn DynLayer>>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        Ok(Box::new(Dyn(self.0.builder::<M>().build()?)))
    }
}

/// A parameter or initializer's dimension, by name, for a model.
struct Dims(String);
impl ModelFn for Dims {
    type Out = Result<(Option<Dim>, Option<Dim>)>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        let p = M::PARAMS.iter().find(|p| p.name == self.0).map(|p| p.dim);
        let s = M::STATES.iter().find(|s| s.init_param == Some(self.0.as_str()) || s.name == self.0).map(|s| s.dim);
        Ok((p, s))
    }
}

/// Read `params` (a dict of name → value) into a [`Spec`] for `model`.
pub(crate) fn spec_of(
    model: &str,
    in_size: Vec<usize>,
    params: Option<&Bound<'_, PyDict>>,
    spk_fun: Option<&Bound<'_, PyAny>>,
    spk_reset: Option<&str>,
    seed: u64,
    name: Option<String>,
) -> PyResult<Spec> {
    if in_size.is_empty() || in_size.contains(&0) {
        return Err(PyValueError::new_err(format!("in_size must be positive, got {in_size:?}")));
    }
    let mut spec = Spec {
        in_size,
        params: vec![],
        inits: vec![],
        sg: spk_fun.map(surrogate_of).transpose()?,
        reset: spk_reset.map(SpikeReset::parse).transpose().map_err(py_err)?,
        seed,
        name,
    };
    let Some(params) = params else { return Ok(spec) };
    for (k, v) in params.iter() {
        let k: String = k.extract()?;
        let (pdim, sdim) = dispatch(model, Dims(k.clone())).map_err(py_err)?;
        if v.is_none() {
            continue; // BrainPy's None: the model's own default
        }
        match (pdim, sdim) {
            (Some(d), _) => {
                if v.is_instance_of::<PyBool>() {
                    spec.params.push((k, PVal::Flag(v.extract()?)));
                } else {
                    let vals = canonical(&v, d, &k)?;
                    spec.params.push((k, PVal::Values(vals)));
                }
            }
            (None, Some(d)) => {
                let init = init_of(&v, d, &k)?;
                spec.inits.push((k, init));
            }
            (None, None) => {
                // let the builder name the known parameters
                spec.params.push((k, PVal::Values(vec![f64::NAN])));
            }
        }
    }
    Ok(spec)
}

/// An initializer: `("Constant", value)`, `("Uniform", low, high)`, `("Normal", mean, std)`
/// (each value as [`canonical`] reads it), or a value / per-neuron values.
fn init_of(v: &Bound<'_, PyAny>, dim: Dim, what: &str) -> PyResult<Init> {
    if let Ok(t) = v.extract::<(String, Bound<'_, PyAny>)>()
        && t.0 == "Constant"
    {
        return Ok(Init::Constant(one(&t.1, dim, what)?));
    }
    if let Ok((kind, a, b)) = v.extract::<(String, Bound<'_, PyAny>, Bound<'_, PyAny>)>() {
        let (a, b) = (one(&a, dim, what)?, one(&b, dim, what)?);
        return match kind.as_str() {
            "Uniform" => Ok(Init::Uniform { low: a, high: b }),
            "Normal" => Ok(Init::Normal { mean: a, std: b }),
            k => Err(PyValueError::new_err(format!("{what}: unknown initializer `{k}` (Constant, Uniform, Normal)"))),
        };
    }
    let vals = canonical(v, dim, what)?;
    Ok(if vals.len() == 1 { Init::Constant(vals[0]) } else { Init::Values(vals) })
}

fn one(v: &Bound<'_, PyAny>, dim: Dim, what: &str) -> PyResult<f64> {
    let vals = canonical(v, dim, what)?;
    if vals.len() != 1 {
        return Err(PyValueError::new_err(format!("{what}: expected one value, got {}", vals.len())));
    }
    Ok(vals[0])
}

/// A surrogate: a name (`"Sigmoid"`, `"ReluGrad()"`) or `(name, {param: value})`.
pub(crate) fn surrogate_of(v: &Bound<'_, PyAny>) -> PyResult<Surrogate> {
    let (name, params): (String, Vec<(String, f64)>) = if let Ok(s) = v.extract::<String>() {
        (s, vec![])
    } else if let Ok((s, d)) = v.extract::<(String, Bound<'_, PyDict>)>() {
        let mut p = vec![];
        for (k, x) in d.iter() {
            p.push((k.extract()?, x.extract()?));
        }
        (s, p)
    } else {
        return Err(PyValueError::new_err("spk_fun: expected a surrogate name such as \"Sigmoid\" or (name, {param: value})"));
    };
    let base = name.split('(').next().unwrap_or(&name).trim().to_string();
    Surrogate::from_name(&base, &params).map_err(py_err)
}

fn f32_array<'py>(py: Python<'py>, v: Vec<f32>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, v).reshape(shape.to_vec())?.into_any())
}

/// A neuron layer of a built-in model (`somata.LIF(...)` and the other model classes derive
/// from it). Values in canonical units: ms, mV, mA, S, mF, ... (`somata.units`).
#[pyclass(subclass, module = "somata._somata")]
struct Layer {
    inner: Mutex<Box<dyn DynLayer>>,
    clock: Mutex<Clock>,
    dt_ms: Mutex<f64>,
}

impl Layer {
    fn with<R>(&self, f: impl FnOnce(&mut Box<dyn DynLayer>) -> R) -> R {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }
    fn shape(&self) -> Vec<usize> {
        self.with(|l| {
            let mut s = vec![];
            if let Some(b) = l.batch() {
                s.push(b);
            }
            s.extend(l.in_size());
            s
        })
    }
}

#[pymethods]
impl Layer {
    #[new]
    #[pyo3(signature = (model, in_size, params=None, spk_fun=None, spk_reset=None, seed=0, name=None, dt_ms=0.1))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        model: &str,
        in_size: Vec<usize>,
        params: Option<&Bound<'_, PyDict>>,
        spk_fun: Option<&Bound<'_, PyAny>>,
        spk_reset: Option<&str>,
        seed: u64,
        name: Option<String>,
        dt_ms: f64,
    ) -> PyResult<Layer> {
        let spec = spec_of(model, in_size, params, spk_fun, spk_reset, seed, name)?;
        let layer = dispatch(model, BuildDyn(spec)).map_err(py_err)?;
        let clock = Clock::from_ms(dt_ms).map_err(py_err)?;
        Ok(Layer { inner: Mutex::new(layer), clock: Mutex::new(clock), dt_ms: Mutex::new(dt_ms) })
    }
    /// BrainPy class name.
    #[getter]
    fn model(&self) -> &'static str {
        self.with(|l| l.model())
    }
    /// The neuron shape.
    #[getter]
    fn in_size(&self) -> Vec<usize> {
        self.with(|l| l.in_size())
    }
    /// Number of neurons.
    #[getter]
    fn num(&self) -> usize {
        self.with(|l| l.n())
    }
    /// Batch size of the state (`None`: no batch axis).
    #[getter]
    fn batch_size(&self) -> Option<usize> {
        self.with(|l| l.batch())
    }
    /// `"soft"` or `"hard"`.
    #[getter]
    fn spk_reset(&self) -> &'static str {
        self.with(|l| l.spk_reset())
    }
    /// State names, in order.
    #[getter]
    fn state_names(&self) -> Vec<&'static str> {
        self.with(|l| l.state_names())
    }
    /// The time step (ms) of the layer's clock.
    #[getter]
    fn dt(&self) -> f64 {
        *self.dt_ms.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Steps run since `init_state`/`reset_state`.
    #[getter]
    fn step(&self) -> u64 {
        self.clock.lock().unwrap_or_else(|p| p.into_inner()).step()
    }
    /// Create the state from the initializers; `batch_size=None`: no batch axis. Resets the
    /// clock to t = 0 with time step `dt_ms`.
    #[pyo3(signature = (batch_size=None, dt_ms=None))]
    fn init_state(&self, batch_size: Option<usize>, dt_ms: Option<f64>) -> PyResult<()> {
        self.restart(dt_ms)?;
        self.with(|l| l.init_state(batch_size)).map_err(py_err)
    }
    /// Reset the state to the initializers' values (and the clock to t = 0).
    #[pyo3(signature = (batch_size=None, dt_ms=None))]
    fn reset_state(&self, batch_size: Option<usize>, dt_ms: Option<f64>) -> PyResult<()> {
        self.restart(dt_ms)?;
        self.with(|l| l.reset_state(batch_size)).map_err(py_err)
    }
    /// One step with input `x` (canonical input unit; one value, one per neuron, or one per
    /// element), then the clock advances; returns the spikes (float32, the state's shape).
    fn update<'py>(&self, py: Python<'py>, x: PyReadonlyArray1<'py, f64>) -> PyResult<Bound<'py, PyAny>> {
        let xs = x.as_slice()?;
        let mut clock = self.clock.lock().unwrap_or_else(|p| p.into_inner());
        let spk = self.with(|l| l.update(&clock, xs)).map_err(py_err)?;
        clock.advance();
        drop(clock);
        f32_array(py, spk, &self.shape())
    }
    /// The spikes of the current state (BrainPy's `get_spike()`), float32.
    fn get_spike<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let clock = *self.clock.lock().unwrap_or_else(|p| p.into_inner());
        match self.with(|l| l.get_spike(&clock)).map_err(py_err)? {
            Some(v) => f32_array(py, v, &self.shape()),
            None => Err(PyValueError::new_err("this model defines no spike of its state (get_spike)")),
        }
    }
    /// A state variable (canonical unit), float32, the state's shape.
    fn get_state<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = self.with(|l| l.state(name)).map_err(py_err)?;
        f32_array(py, v, &self.shape())
    }
    /// Overwrite a state variable (canonical unit; `N` values broadcast over the batch, or all).
    fn set_state(&self, name: &str, values: PyReadonlyArray1<'_, f32>) -> PyResult<()> {
        let v = values.as_slice()?;
        self.with(|l| l.set_state(name, v)).map_err(py_err)
    }
    /// A parameter's canonical value(s): one (shared) or one per neuron.
    fn get_param(&self, name: &str) -> PyResult<Vec<f64>> {
        self.with(|l| l.param(name)).ok_or_else(|| PyValueError::new_err(format!("no parameter `{name}`")))
    }
    /// Run `steps` steps (GIL released, in chunks of `chunk` steps between which Ctrl-C stops
    /// the run) over `x` in the canonical input unit: with `constant`, one value or one per
    /// neuron or element held over every step; else `steps × (N | batch·N)` values flattened.
    /// Returns `(spikes, {state: float32 [steps, *shape]})` for the states in `record` (all with
    /// `"*"`): the spikes as uint8 `[steps, *shape]` with `raster`, else as spike counts
    /// (uint32 `[*shape]`, no raster kept).
    #[pyo3(signature = (x, steps, record=vec![], chunk=10_000, constant=false, raster=true))]
    #[allow(clippy::too_many_arguments)]
    fn run<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f64>,
        steps: usize,
        record: Vec<String>,
        chunk: usize,
        constant: bool,
        raster: bool,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
        let xs = x.as_slice()?;
        let shape = self.shape();
        let bn: usize = shape.iter().product();
        let names = self.state_names();
        let want: Vec<usize> = if record.iter().any(|r| r == "*") {
            (0..names.len()).collect()
        } else {
            record
                .iter()
                .map(|r| {
                    names.iter().position(|n| n == r).ok_or_else(|| {
                        PyValueError::new_err(format!("unknown state `{r}` of {}; its states are: {}", self.model(), names.join(", ")))
                    })
                })
                .collect::<PyResult<_>>()?
        };
        let constant = constant || xs.len() == 1;
        let per_step = if constant { 0 } else { xs.len() / steps.max(1) };
        if !constant && per_step * steps != xs.len() {
            return Err(PyValueError::new_err(format!("input: {} values do not divide into {steps} steps", xs.len())));
        }
        let mut spikes = if raster { vec![0u8; steps * bn] } else { vec![] };
        let mut counts = vec![0u32; bn];
        let mut states: Vec<Vec<f32>> = want.iter().map(|_| vec![0f32; steps * bn]).collect();
        let opts = RunOptions { record_spikes: raster, record_states: !want.is_empty(), ..Default::default() };
        let ns = names.len();
        let chunk = chunk.max(1);
        let mut done = 0;
        while done < steps {
            let k = chunk.min(steps - done);
            let xk: &[f64] = if constant { xs } else { &xs[done * per_step..(done + k) * per_step] };
            let out = py
                .detach(|| {
                    let mut clock = self.clock.lock().unwrap_or_else(|p| p.into_inner());
                    self.with(|l| l.run(&mut clock, xk, k, constant, &opts))
                })
                .map_err(py_err)?;
            if let Some(s) = &out.spikes {
                spikes[done * bn..(done + k) * bn].copy_from_slice(s);
            }
            for (c, &v) in counts.iter_mut().zip(&out.spike_counts) {
                *c += v;
            }
            if let Some(st) = &out.states {
                for (w, &j) in want.iter().enumerate() {
                    for t in 0..k {
                        states[w][(done + t) * bn..(done + t + 1) * bn].copy_from_slice(&st[(t * ns + j) * bn..(t * ns + j + 1) * bn]);
                    }
                }
            }
            if let Some(e) = out.divergence {
                return Err(py_err(e));
            }
            done += k;
            py.check_signals()?;
        }
        let mut full = vec![steps];
        full.extend(&shape);
        let sp = if raster {
            PyArray1::from_vec(py, spikes).reshape(full.clone())?.into_any()
        } else {
            PyArray1::from_vec(py, counts).reshape(shape.clone())?.into_any()
        };
        let d = PyDict::new(py);
        for (w, &j) in want.iter().enumerate() {
            d.set_item(names[j], f32_array(py, std::mem::take(&mut states[w]), &full)?)?;
        }
        Ok((sp, d))
    }
    /// Surrogate gradients of `L = Σ w · spikes` over a run from the current state (BPTT):
    /// returns `{"spikes": [steps, *shape], "input": ∂L/∂x (per canonical input unit),
    /// "<param>": ∂L/∂param (per canonical unit; one value or one per neuron)}`. The state
    /// and clock advance as in `run`.
    #[pyo3(signature = (x, steps, loss_weight, params=vec![]))]
    fn grad<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f64>,
        steps: usize,
        loss_weight: PyReadonlyArray1<'py, f32>,
        params: Vec<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let xs = x.as_slice()?.to_vec();
        let w = loss_weight.as_slice()?.to_vec();
        let shape = self.shape();
        let g = py
            .detach(|| {
                let mut clock = self.clock.lock().unwrap_or_else(|p| p.into_inner());
                self.with(|l| l.grad(&mut clock, &xs, steps, &w, &params))
            })
            .map_err(py_err)?;
        let mut full = vec![steps];
        full.extend(&shape);
        let d = PyDict::new(py);
        d.set_item("spikes", f32_array(py, g.spikes, &full)?)?;
        d.set_item("input", f32_array(py, g.input, &full)?)?;
        for (n, v) in g.params {
            d.set_item(n, PyArray1::from_vec(py, v))?;
        }
        Ok(d)
    }
    /// The canonical input unit (`"mA"` for current-driven models).
    #[getter]
    fn input_unit(&self) -> &'static str {
        somata::units::canonical_unit_name(self.with(|l| l.input_dim()))
    }
}

impl Layer {
    fn restart(&self, dt_ms: Option<f64>) -> PyResult<()> {
        let mut dt = self.dt_ms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = dt_ms {
            *dt = d;
        }
        *self.clock.lock().unwrap_or_else(|p| p.into_inner()) = Clock::from_ms(*dt).map_err(py_err)?;
        Ok(())
    }
}

/// The SIMD back end in use and those this CPU has.
#[pyfunction]
fn simd_info() -> (String, Vec<String>) {
    use somata::dynamics::simd;
    (simd::active().to_string(), simd::available().iter().map(|b| b.name().to_string()).collect())
}

#[pymodule]
fn _somata(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(parse_unit, m)?)?;
    m.add_function(wrap_pyfunction!(model_names, m)?)?;
    m.add_function(wrap_pyfunction!(surrogate_names, m)?)?;
    m.add_function(wrap_pyfunction!(model_info, m)?)?;
    m.add_function(wrap_pyfunction!(simd_info, m)?)?;
    m.add_class::<Layer>()?;
    net::register(m)?;
    syn::register(m)?;
    train::register(m)?;
    Ok(())
}
