//! `somata._somata.Synapse`: a synapse or short-term-plasticity module on its own (brainpy.state's
//! `Expon(n, tau=...)` called step by step), for inspecting a synapse's dynamics.

use crate::{canonical, py_err};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict};
use somata::synapse::Synapse as RsSynapse;
use std::sync::Mutex;

struct State {
    syn: Box<dyn RsSynapse>,
    n: usize,
    step: u64,
    init: bool,
}

/// A synapse module over `n` synapses (`"Expon"`, `"DualExpon"`, `"Alpha"`, `"AMPA"`, `"GABAa"`,
/// `"BioNMDA"`, `"STP"`, `"STD"`), parameters by BrainPy name in canonical units.
#[pyclass(module = "somata._somata")]
pub struct Synapse {
    inner: Mutex<State>,
    #[pyo3(get)]
    model: &'static str,
    dt_ms: Mutex<f64>,
}

impl Synapse {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl Synapse {
    #[new]
    #[pyo3(signature = (model, n, params=None, dt_ms=0.1))]
    fn new(model: &str, n: usize, params: Option<&Bound<'_, PyDict>>, dt_ms: f64) -> PyResult<Synapse> {
        let mut syn = somata::synapse::by_name(model).map_err(py_err)?;
        if n == 0 {
            return Err(PyValueError::new_err("a synapse module needs n ≥ 1"));
        }
        if let Some(p) = params {
            for (k, v) in p.iter() {
                let k: String = k.extract()?;
                if v.is_none() {
                    continue;
                }
                let spec = syn.params().iter().find(|s| s.name == k).copied().ok_or_else(|| {
                    py_err(somata::SomataError::UnknownParameter {
                        model: model.into(),
                        name: k.clone(),
                        known: syn.params().iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
                    })
                })?;
                if v.is_instance_of::<PyBool>() {
                    syn.set_flag(&k, v.extract()?).map_err(py_err)?;
                    continue;
                }
                if k == "g_initializer" {
                    // BrainPy's `1·unit(g) − g` (DualExpon, Alpha) counts in the initializer's unit
                    let unit = if let Ok(t) = v.extract::<String>() {
                        Some(crate::parse_quantity(&t).map_err(py_err)?.1)
                    } else if let Ok((_, u)) = v.extract::<(Bound<'_, PyAny>, String)>() {
                        Some(somata::units::Unit::parse(&u).map_err(py_err)?)
                    } else {
                        None
                    };
                    if let Some(u) = unit {
                        syn.set_g_unit(u.to_canonical(1.0, spec.dim, &k).map_err(py_err)?);
                    }
                }
                let vals = canonical(&v, spec.dim, &k)?;
                if vals.len() != 1 {
                    return Err(PyValueError::new_err(format!("{k}: a synapse parameter takes one value, got {}", vals.len())));
                }
                syn.set_param(&k, vals[0]).map_err(py_err)?;
            }
        }
        let name = syn.name();
        somata::dynamics::Clock::from_ms(dt_ms).map_err(py_err)?;
        Ok(Synapse { inner: Mutex::new(State { syn, n, step: 0, init: false }), model: name, dt_ms: Mutex::new(dt_ms) })
    }
    /// State names.
    #[getter]
    fn state_names(&self) -> Vec<&'static str> {
        self.lock().syn.states().iter().map(|s| s.name).collect()
    }
    /// The canonical unit of the input (`"S"` for a conductance synapse's spikes × weight, `"1"`
    /// for spikes).
    #[getter]
    fn input_unit(&self) -> &'static str {
        somata::units::canonical_unit_name(self.lock().syn.input_dim())
    }
    /// Create the states (their initializers) and restart at step 0 with time step `dt_ms`.
    #[pyo3(signature = (dt_ms=None))]
    fn init_state(&self, dt_ms: Option<f64>) -> PyResult<()> {
        if let Some(d) = dt_ms {
            somata::dynamics::Clock::from_ms(d).map_err(py_err)?;
            *self.dt_ms.lock().unwrap_or_else(|p| p.into_inner()) = d;
        }
        let mut s = self.lock();
        let n = s.n;
        s.syn.init_state(n).map_err(py_err)?;
        s.step = 0;
        s.init = true;
        Ok(())
    }
    /// One step with input `x` (`n` values or one, canonical units); returns the output
    /// (a conductance in S, or STP's released fraction), float32.
    fn update<'py>(&self, py: Python<'py>, x: PyReadonlyArray1<'py, f32>) -> PyResult<Bound<'py, PyAny>> {
        let dt = *self.dt_ms.lock().unwrap_or_else(|p| p.into_inner()) as f32;
        let mut s = self.lock();
        if !s.init {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!("{}: call init_state() first", self.model)));
        }
        let xs = x.as_slice()?;
        let n = s.n;
        let buf: Vec<f32> = match xs.len() {
            1 => vec![xs[0]; n],
            k if k == n => xs.to_vec(),
            k => return Err(PyValueError::new_err(format!("input of {}: {k} values, expected 1 or {n}", self.model))),
        };
        if let Some(i) = buf.iter().position(|v| !v.is_finite()) {
            return Err(PyValueError::new_err(format!("input of {}: value {i} is not finite", self.model)));
        }
        let step = s.step;
        let out = s.syn.update(step, dt, &buf).to_vec();
        s.step += 1;
        Ok(PyArray1::from_vec(py, out).into_any())
    }
    /// A state (canonical unit), float32.
    fn get_state<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let s = self.lock();
        let j = s.syn.states().iter().position(|st| st.name == name).ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown state `{name}` of {}; its states are: {}",
                self.model,
                s.syn.states().iter().map(|st| st.name).collect::<Vec<_>>().join(", ")
            ))
        })?;
        if !s.init {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!("{}: call init_state() first", self.model)));
        }
        Ok(PyArray1::from_slice(py, s.syn.state(j)).into_any())
    }
    /// A parameter's canonical value.
    fn get_param(&self, name: &str) -> PyResult<f64> {
        self.lock().syn.param(name).ok_or_else(|| PyValueError::new_err(format!("{} has no parameter `{name}`", self.model)))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Synapse>()?;
    m.add("SYNAPSE_MODELS", somata::synapse::MODELS.to_vec())?;
    Ok(())
}
