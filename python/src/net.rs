//! `somata._somata.Network`: a network built from a network file or from its JSON form (the
//! Python package's dictionaries), run in chunks with the GIL released.

use crate::py_err;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use somata::net::{toml_net, Network as RsNetwork};
use std::path::Path;
use std::sync::Mutex;

struct State {
    net: RsNetwork,
    /// Spikes per population over all runs (the initial state's included).
    spikes: Vec<u64>,
    /// Synaptic events over all runs.
    events: u64,
    /// Steps over all runs.
    steps: usize,
}

/// A network of populations, projections, inputs and monitors (docs/network-format.md).
#[pyclass(module = "somata._somata")]
pub struct Network {
    inner: Mutex<State>,
    /// Steps the description asks for (`duration / dt` or `steps`).
    #[pyo3(get)]
    default_steps: usize,
    /// The description's `name`.
    #[pyo3(get)]
    name: String,
}

impl Network {
    fn of(f: toml_net::NetFile) -> Network {
        let n = f.net.names().len();
        Network { inner: Mutex::new(State { net: f.net, spikes: vec![0; n], events: 0, steps: 0 }), default_steps: f.steps, name: f.name }
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl Network {
    /// Read and build a network file (TOML).
    #[staticmethod]
    fn load(path: &str) -> PyResult<Network> {
        Ok(Network::of(toml_net::load(Path::new(path)).map_err(py_err)?))
    }
    /// Build from TOML text; relative data paths are read from `dir`.
    #[staticmethod]
    #[pyo3(signature = (text, dir=".", name="network"))]
    fn from_toml(text: &str, dir: &str, name: &str) -> PyResult<Network> {
        Ok(Network::of(toml_net::parse(text, Path::new(dir), name).map_err(py_err)?))
    }
    /// Build from JSON text with the network file's structure.
    #[staticmethod]
    #[pyo3(signature = (text, dir=".", name="network"))]
    fn from_json(text: &str, dir: &str, name: &str) -> PyResult<Network> {
        Ok(Network::of(toml_net::parse_json(text, Path::new(dir), name).map_err(py_err)?))
    }
    /// The time step, ms.
    #[getter]
    fn dt(&self) -> f64 {
        self.lock().net.clock().dt_ms()
    }
    /// Steps run so far.
    #[getter]
    fn step(&self) -> u64 {
        self.lock().net.clock().step()
    }
    /// Population names and sizes, in order.
    fn populations(&self) -> Vec<(String, usize)> {
        let s = self.lock();
        s.net.names().into_iter().map(|n| (n.clone(), s.net.pop_id(&n).map(|id| s.net.size(id)).unwrap_or(0))).collect()
    }
    /// Stream the monitors into `dir` while running (the files `somata run --out DIR` writes).
    fn record_to(&self, dir: &str) -> PyResult<()> {
        self.lock().net.record_to(dir).map_err(py_err)
    }
    /// Run `steps` steps (GIL released) in chunks of `chunk` steps; after each chunk
    /// `progress(steps_done)` is called (when given) and a pending Ctrl-C stops the run with
    /// `KeyboardInterrupt` (the steps done so far stay done and recorded). Returns this run's
    /// `(steps, spikes per population during the run, spikes of the initial state (the first
    /// run from step 0 only), synaptic events, fused, threads)`.
    #[pyo3(signature = (steps, chunk=2000, progress=None))]
    #[allow(clippy::type_complexity)]
    fn run(
        &self,
        py: Python<'_>,
        steps: usize,
        chunk: usize,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<(usize, Vec<u64>, Vec<u64>, u64, bool, usize)> {
        let chunk = chunk.max(1);
        let mut done = 0;
        let n = self.lock().spikes.len();
        let mut spikes = vec![0u64; n];
        let mut initial = vec![0u64; n];
        let (mut events, mut fused, mut threads) = (0u64, false, 1usize);
        while done < steps || (steps == 0 && done == 0) {
            let k = chunk.min(steps - done);
            let s = py
                .detach(|| {
                    let mut st = self.lock();
                    let s = st.net.run(k)?;
                    for (j, (a, b)) in s.spikes.iter().zip(&s.initial_spikes).enumerate() {
                        st.spikes[j] += a + b;
                    }
                    st.events += s.synaptic_events;
                    st.steps += k;
                    Ok::<_, somata::SomataError>(s)
                })
                .map_err(py_err)?;
            for (j, (a, b)) in s.spikes.iter().zip(&s.initial_spikes).enumerate() {
                spikes[j] += a;
                initial[j] += b;
            }
            events += s.synaptic_events;
            fused = s.fused;
            threads = s.threads;
            done += k;
            if let Some(p) = &progress {
                p.call1((done,))?;
            }
            if steps == 0 {
                break;
            }
            py.check_signals()?;
        }
        Ok((done, spikes, initial, events, fused, threads))
    }
    /// Totals over every run so far: `(steps, spikes per population, synaptic events)`.
    fn totals(&self) -> (usize, Vec<u64>, u64) {
        let s = self.lock();
        (s.steps, s.spikes.clone(), s.events)
    }
    /// Monitors: `(name, population, var, columns, every, samples, dense, events or None, files)`.
    #[allow(clippy::type_complexity)]
    fn monitor_info(&self) -> Vec<(String, String, String, usize, usize, usize, bool, Option<u64>, Vec<String>)> {
        self.lock()
            .net
            .monitor_info()
            .into_iter()
            .map(|m| {
                let files = m.files.iter().map(|f| f.display().to_string()).collect();
                (m.name, m.population, m.var, m.cols, m.every, m.samples, m.dense, m.events, files)
            })
            .collect()
    }
    /// A dense monitor's samples, float32 `[samples, columns]` (canonical units).
    fn monitor_data<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let s = self.lock();
        let (data, cols) = s.net.monitor_data(name).map_err(py_err)?;
        let rows = data.len().checked_div(cols).unwrap_or(0);
        Ok(PyArray1::from_slice(py, data).reshape(vec![rows, cols])?.into_any())
    }
    /// A spike monitor's events: `(steps int64, neurons int64)`, in step order (the initial
    /// state's spikes at step −1).
    fn spike_events<'py>(&self, py: Python<'py>, name: &str) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let s = self.lock();
        let ev = s.net.spike_events(name).map_err(py_err)?;
        let t: Vec<i64> = ev.iter().map(|e| e[0]).collect();
        let i: Vec<i64> = ev.iter().map(|e| e[1]).collect();
        Ok((PyArray1::from_vec(py, t).into_any(), PyArray1::from_vec(py, i).into_any()))
    }
    /// A population's state variable (canonical unit), float32.
    fn get_state<'py>(&self, py: Python<'py>, population: &str, var: &str) -> PyResult<Bound<'py, PyAny>> {
        let s = self.lock();
        let id = s.net.pop_id(population).map_err(py_err)?;
        let v = s.net.population(id).state(var).map_err(py_err)?;
        Ok(PyArray1::from_slice(py, v).into_any())
    }
    /// Overwrite a population's state variable (canonical unit, one value per neuron).
    fn set_state(&self, population: &str, var: &str, values: Vec<f32>) -> PyResult<()> {
        let mut s = self.lock();
        let id = s.net.pop_id(population).map_err(py_err)?;
        let dst = s.net.population_mut(id).state_mut(var).map_err(py_err)?;
        if dst.len() != values.len() {
            return Err(PyValueError::new_err(format!("state `{var}` of `{population}` has {} values, got {}", dst.len(), values.len())));
        }
        dst.copy_from_slice(&values);
        Ok(())
    }
    /// Warnings the network collected (a delay rounded to the step, ...).
    fn warnings(&self) -> Vec<String> {
        self.lock().net.warnings().to_vec()
    }
    /// `(synapses, projections)`.
    fn synapse_stats(&self) -> (usize, usize) {
        self.lock().net.synapse_stats()
    }
    /// Threads for the fused runner (0: all cores).
    fn set_threads(&self, threads: usize) {
        self.lock().net.threads(threads);
    }
}

/// The network file of the Potjans & Diesmann (2014) cortical microcircuit
/// (`somata microcircuit`): `background` is `"poisson"` or `"dc"`.
#[pyfunction]
#[pyo3(signature = (scale_n=1.0, scale_k=1.0, background="poisson", seed=55, duration_ms=1000.0, record_spikes=true))]
fn microcircuit_toml(scale_n: f64, scale_k: f64, background: &str, seed: u64, duration_ms: f64, record_spikes: bool) -> PyResult<String> {
    use somata::net::microcircuit::{Background, McConfig};
    let background = match background {
        "poisson" => Background::Poisson,
        "dc" => Background::Dc,
        b => return Err(PyValueError::new_err(format!("background must be \"poisson\" or \"dc\", got `{b}`"))),
    };
    let c = McConfig { scale_n, scale_k, background, seed, duration_ms, record_spikes, ..McConfig::default() };
    c.toml().map_err(py_err)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(microcircuit_toml, m)?)?;
    m.add_class::<Network>()?;
    Ok(())
}
