//! `somata._somata.Sequential` and the optimizers: surrogate-gradient BPTT over numpy data.

use crate::{py_err, spec_of};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use somata::dynamics::NeuronModel;
use somata::neurons::registry::{dispatch, ModelFn};
use somata::nn::{Layer, LeakyMembraneReadout, LeakyRateReadout, Linear, Loss, Neurons, Recurrent, Reduce, SeqBuf, Sequential as RsSeq};
use somata::optim::{Adam, Optimizer as RsOpt, Sgd};
use somata::units::ms;
use somata::SomataError;
use std::sync::Mutex;

struct BuildRecurrent(crate::Spec, Vec<String>, u64, Option<Vec<f32>>, bool);
impl ModelFn for BuildRecurrent {
    type Out = Result<Box<dyn Layer>, SomataError>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        let layer = self.0.builder::<M>().build()?;
        let mut l = match self.3 {
            Some(w) => Recurrent::from_weights(layer, w)?,
            None => Recurrent::new(layer, self.2),
        };
        if self.4 {
            l = l.with_bias();
        }
        for t in &self.1 {
            l = l.train(t)?;
        }
        Ok(Box::new(l))
    }
}

struct BuildNeurons(crate::Spec, Vec<String>);
impl ModelFn for BuildNeurons {
    type Out = Result<Box<dyn Layer>, SomataError>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        let mut l = Neurons::new(self.0.builder::<M>().build()?);
        for t in &self.1 {
            l = l.train(t)?;
        }
        Ok(Box::new(l))
    }
}

/// Items 1..8 of a `("neurons" | "recurrent", model, n, params, spk_fun, spk_reset, seed,
/// train, ...)` description: the model, its layer spec, the trained parameters and the seed.
#[allow(clippy::type_complexity)]
fn neuron_part(t: &Bound<'_, PyTuple>) -> PyResult<(String, crate::Spec, Vec<String>, u64)> {
    let (_, model, n, params, sg, reset, seed, train): (
        String,
        String,
        usize,
        Option<Bound<'_, PyDict>>,
        Option<Bound<'_, PyAny>>,
        Option<String>,
        u64,
        Vec<String>,
    ) = t.get_slice(0, 8).extract()?;
    let spec = spec_of(&model, vec![n], params.as_ref(), sg.as_ref(), reset.as_deref(), seed, None)?;
    Ok((model, spec, train, seed))
}

/// One layer from its Python description (a tuple whose first item names the kind):
/// * `("linear", n_in, n_out, seed, bias, W or None, b or None)`: `y = x W + b`, `W` `[n_in, n_out]` row-major;
/// * `("neurons", model, n, params, spk_fun, spk_reset, seed, train)`: a neuron layer whose
///   listed parameters are trained;
/// * `("readout", n_in, n_out, tau_ms, seed, W or None)`: leaky integration of `x W` (rates);
/// * `("membrane", n_in, n_out, tau_ms, seed, W or None, b or None)`: a leaky integrator (LI);
/// * `("recurrent", model, n, params, spk_fun, spk_reset, seed, train, W_rec or None, bias)`: a
///   neuron layer whose previous spikes feed back through `W_rec` (`[n, n]`).
#[allow(clippy::type_complexity)]
fn layer_of(t: &Bound<'_, PyTuple>) -> PyResult<Box<dyn Layer>> {
    let kind: String = t.get_item(0)?.extract()?;
    let e = py_err;
    Ok(match kind.as_str() {
        "linear" => {
            let (_, n_in, n_out, seed, bias, w, b): (String, usize, usize, u64, bool, Option<Vec<f32>>, Option<Vec<f32>>) = t.extract()?;
            let l = match w {
                Some(w) => Linear::from_weights(w, if bias { Some(b.unwrap_or_else(|| vec![0.0; n_out])) } else { None }, n_in, n_out)
                    .map_err(e)?,
                None => Linear::new(n_in, n_out, seed),
            };
            Box::new(if bias { l } else { l.without_bias() })
        }
        "neurons" => {
            let (model, spec, train, _) = neuron_part(t)?;
            dispatch(&model, BuildNeurons(spec, train)).map_err(e)?
        }
        "recurrent" => {
            let (model, spec, train, seed) = neuron_part(t)?;
            let (w, bias): (Option<Vec<f32>>, bool) = t.get_slice(8, 10).extract()?;
            dispatch(&model, BuildRecurrent(spec, train, seed, w, bias)).map_err(e)?
        }
        "readout" => {
            let (_, n_in, n_out, tau, seed, w): (String, usize, usize, f64, u64, Option<Vec<f32>>) = t.extract()?;
            Box::new(match w {
                Some(w) => LeakyRateReadout::from_weights(w, n_in, n_out, tau * ms).map_err(e)?,
                None => LeakyRateReadout::new(n_in, n_out, tau * ms, seed),
            })
        }
        "membrane" => {
            let (_, n_in, n_out, tau, seed, w, b): (String, usize, usize, f64, u64, Option<Vec<f32>>, Option<Vec<f32>>) = t.extract()?;
            let l = match w {
                Some(w) => LeakyMembraneReadout::from_weights(w, b, n_in, n_out).map_err(e)?,
                None => LeakyMembraneReadout::new(n_in, n_out, seed),
            };
            Box::new(l.tau(tau * ms).map_err(e)?)
        }
        k => return Err(PyValueError::new_err(format!("unknown layer kind `{k}` (linear, neurons, recurrent, readout, membrane)"))),
    })
}

fn loss_of(name: &str, reduce: &str, target: f32) -> PyResult<Loss> {
    let r = match reduce {
        "mean" => Reduce::Mean,
        "sum" => Reduce::Sum,
        "max" => Reduce::Max,
        "last" => Reduce::Last,
        r => return Err(PyValueError::new_err(format!("reduce must be mean, sum, max or last, got `{r}`"))),
    };
    match name {
        "cross_entropy" => Ok(Loss::CrossEntropy(r)),
        "mse" => Ok(Loss::Mse(r, target)),
        l => Err(PyValueError::new_err(format!("loss must be cross_entropy or mse, got `{l}`"))),
    }
}

/// The input as a sequence: `[batch, n]` values fed at every one of `steps` steps (`constant`)
/// or `[steps, batch, n]` values.
fn seq(x: Vec<f32>, steps: usize, batch: usize, n: usize, constant: bool) -> PyResult<SeqBuf> {
    let want = if constant { batch * n } else { steps * batch * n };
    if x.len() != want {
        return Err(PyValueError::new_err(format!("input: expected {want} values, got {}", x.len())));
    }
    Ok(if constant { SeqBuf::constant(x, steps, batch, n) } else { SeqBuf::dense(x, steps, batch, n) })
}

/// Values per sample of a data set `x` (`[samples, n]` constant or `[samples, steps, n]`),
/// checked against the number of labels.
fn per_sample(xs: &[f32], samples: usize, steps: usize, n: usize, constant: bool) -> PyResult<usize> {
    let per = if constant { n } else { steps * n };
    if xs.len() != samples * per {
        return Err(PyValueError::new_err(format!("x: expected {samples} samples of {per} values, got {} values", xs.len())));
    }
    Ok(per)
}

/// The batch of samples `idx` of `xs` as a sequence (time-major when not constant).
fn gather(xs: &[f32], idx: impl ExactSizeIterator<Item = usize>, steps: usize, n: usize, constant: bool) -> PyResult<SeqBuf> {
    let b = idx.len();
    let per = if constant { n } else { steps * n };
    let mut data = vec![0f32; per * b];
    for (r, s) in idx.enumerate() {
        if constant {
            data[r * n..(r + 1) * n].copy_from_slice(&xs[s * n..(s + 1) * n]);
        } else {
            for t in 0..steps {
                data[(t * b + r) * n..(t * b + r + 1) * n].copy_from_slice(&xs[s * per + t * n..s * per + (t + 1) * n]);
            }
        }
    }
    seq(data, steps, b, n, constant)
}

enum Opt {
    Adam(Adam),
    Sgd(Sgd),
}
impl Opt {
    fn get(&mut self) -> &mut dyn RsOpt {
        match self {
            Opt::Adam(a) => a,
            Opt::Sgd(s) => s,
        }
    }
}

/// An optimizer: `Optimizer("adam", lr, beta1, beta2, eps, weight_decay)` or
/// `Optimizer("sgd", lr, momentum, 0, 0, weight_decay)`.
#[pyclass(module = "somata._somata")]
pub struct Optimizer(Mutex<Opt>);

#[pymethods]
impl Optimizer {
    #[new]
    #[pyo3(signature = (kind, lr, a=0.9, b=0.999, eps=1e-8, weight_decay=0.0))]
    fn new(kind: &str, lr: f64, a: f64, b: f64, eps: f64, weight_decay: f64) -> PyResult<Optimizer> {
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(PyValueError::new_err(format!("learning rate must be > 0, got {lr}")));
        }
        Ok(Optimizer(Mutex::new(match kind {
            "adam" => Opt::Adam(Adam::new(lr).betas(a, b).eps(eps).weight_decay(weight_decay)),
            "sgd" => Opt::Sgd(Sgd::new(lr).momentum(a).weight_decay(weight_decay)),
            k => return Err(PyValueError::new_err(format!("optimizer must be adam or sgd, got `{k}`"))),
        })))
    }
    /// The learning rate.
    #[getter]
    fn lr(&self) -> f64 {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get().lr()
    }
    #[setter]
    fn set_lr(&self, lr: f64) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get().set_lr(lr);
    }
}

/// Layers run one after the other over whole sequences, trained by BPTT.
#[pyclass(module = "somata._somata")]
pub struct Sequential(Mutex<RsSeq>);

impl Sequential {
    fn lock(&self) -> std::sync::MutexGuard<'_, RsSeq> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn apply(net: &mut RsSeq, opt: &mut dyn RsOpt) -> Result<(), SomataError> {
    let mut ps = net.params();
    let (mut vals, grads): (Vec<&mut [f32]>, Vec<&[f32]>) = ps.iter_mut().map(|p| (&mut *p.value, &*p.grad)).unzip();
    opt.step(&mut vals, &grads)
}

#[pymethods]
impl Sequential {
    #[new]
    fn new(dt_ms: f64, layers: Vec<Bound<'_, PyTuple>>) -> PyResult<Sequential> {
        let mut s = RsSeq::new(dt_ms * ms);
        for l in &layers {
            s.push_boxed(layer_of(l)?);
        }
        s.validate().map_err(py_err)?;
        Ok(Sequential(Mutex::new(s)))
    }
    /// `"linear(784→256) LIF(256→256) ..."`.
    fn describe(&self) -> String {
        self.lock().describe()
    }
    /// Input and output widths.
    fn widths(&self) -> (usize, usize) {
        let s = self.lock();
        (s.layers().first().map(|l| l.n_in()).unwrap_or(0), s.layers().last().map(|l| l.n_out()).unwrap_or(0))
    }
    /// The time step, ms.
    #[getter]
    fn dt(&self) -> f64 {
        self.lock().dt_ms()
    }
    /// Run over `x` (`[batch, n]` constant or `[steps, batch, n]` flattened), keeping what
    /// backward needs; returns the output `[steps, batch, n_out]` flattened.
    fn forward<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f32>,
        steps: usize,
        batch: usize,
        constant: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = self.widths().0;
        let xs = seq(x.as_slice()?.to_vec(), steps, batch, n, constant)?;
        let y = py.detach(|| self.lock().forward(&xs)).map_err(py_err)?;
        let data = if y.constant { y.to_dense().data } else { y.data };
        Ok(PyArray1::from_vec(py, data).into_any())
    }
    /// Backpropagate `∂L/∂output` (`[steps, batch, n_out]` flattened) after `forward`:
    /// accumulates the parameter gradients, returns `(∂L/∂input flattened, constant)`: for a
    /// constant input (`[batch, n]` at every step) one `[batch, n]` block, the sum over steps.
    fn backward<'py>(
        &self,
        py: Python<'py>,
        gy: PyReadonlyArray1<'py, f32>,
        steps: usize,
        batch: usize,
    ) -> PyResult<(Bound<'py, PyAny>, bool)> {
        let n_out = self.widths().1;
        let g = seq(gy.as_slice()?.to_vec(), steps, batch, n_out, false)?;
        let gx = py.detach(|| self.lock().backward(&g)).map_err(py_err)?;
        // a constant input's gradient is one [batch, n] block: the sum over the steps
        Ok((PyArray1::from_vec(py, gx.data).into_any(), gx.constant))
    }
    /// Run over `x` like `forward` and return every layer's output (flattened
    /// `[steps, batch, n_k]`), for losses on hidden layers.
    fn forward_all<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f32>,
        steps: usize,
        batch: usize,
        constant: bool,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let n = self.widths().0;
        let xs = seq(x.as_slice()?.to_vec(), steps, batch, n, constant)?;
        let ys = py.detach(|| self.lock().forward_all(&xs)).map_err(py_err)?;
        Ok(ys.into_iter().map(|y| PyArray1::from_vec(py, if y.constant { y.to_dense().data } else { y.data }).into_any()).collect())
    }
    /// Backpropagate `∂L/∂output` after `forward_all`, with extra gradients on hidden layers'
    /// outputs (`(layer, ∂L/∂y_layer)` pairs, each flattened `[steps, batch, n_layer]`).
    fn backward_all<'py>(
        &self,
        py: Python<'py>,
        gy: PyReadonlyArray1<'py, f32>,
        steps: usize,
        batch: usize,
        extra: Vec<(usize, PyReadonlyArray1<'py, f32>)>,
    ) -> PyResult<(Bound<'py, PyAny>, bool)> {
        let n_out = self.widths().1;
        let g = seq(gy.as_slice()?.to_vec(), steps, batch, n_out, false)?;
        let widths: Vec<usize> = self.lock().layers().iter().map(|l| l.n_out()).collect();
        let mut ex: Vec<Option<SeqBuf>> = vec![None; widths.len()];
        for (k, e) in extra {
            let w = *widths.get(k).ok_or_else(|| PyValueError::new_err(format!("no layer {k}")))?;
            ex[k] = Some(seq(e.as_slice()?.to_vec(), steps, batch, w, false)?);
        }
        let gx = py.detach(|| self.lock().backward_all(&g, ex)).map_err(py_err)?;
        Ok((PyArray1::from_vec(py, gx.data).into_any(), gx.constant))
    }
    /// The states each layer recorded in the last forward pass: `[(layer, name, unit,
    /// values [steps, batch, n] flattened)]` (neuron layers: their states, e.g. `V` in mV).
    fn layer_states<'py>(&self, py: Python<'py>) -> Vec<(usize, String, &'static str, Bound<'py, PyAny>)> {
        let s = self.lock();
        let mut out = vec![];
        for (k, l) in s.layers().iter().enumerate() {
            for (name, unit, v) in l.states() {
                out.push((k, name, unit, PyArray1::from_vec(py, v).into_any()));
            }
        }
        out
    }
    /// Set every gradient to zero.
    fn zero_grad(&self) {
        self.lock().zero_grad();
    }
    /// `(layer, name, values, gradient)` of every trainable tensor (copies).
    fn parameters<'py>(&self, py: Python<'py>) -> Vec<(usize, &'static str, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let mut s = self.lock();
        let mut out = vec![];
        for (k, l) in s.layers_mut().iter_mut().enumerate() {
            for p in l.params() {
                out.push((k, p.name, PyArray1::from_slice(py, p.value).into_any(), PyArray1::from_slice(py, p.grad).into_any()));
            }
        }
        out
    }
    /// Overwrite the trainable tensor `name` of layer `layer`.
    fn set_parameter(&self, layer: usize, name: &str, values: PyReadonlyArray1<'_, f32>) -> PyResult<()> {
        let v = values.as_slice()?;
        let mut s = self.lock();
        let l = s.layers_mut().get_mut(layer).ok_or_else(|| PyValueError::new_err(format!("no layer {layer}")))?;
        let mut ps = l.params();
        let p = ps
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| PyValueError::new_err(format!("layer {layer} has no parameter `{name}`")))?;
        if p.value.len() != v.len() {
            return Err(PyValueError::new_err(format!(
                "parameter `{name}` of layer {layer} has {} values, got {}",
                p.value.len(),
                v.len()
            )));
        }
        p.value.copy_from_slice(v);
        Ok(())
    }
    /// One optimizer step over the accumulated gradients.
    fn step(&self, opt: &Optimizer) -> PyResult<()> {
        let mut o = opt.0.lock().unwrap_or_else(|p| p.into_inner());
        apply(&mut self.lock(), o.get()).map_err(py_err)
    }
    /// The loss of the output `y` (`[steps, batch, n_out]`) for `labels` and its gradient.
    #[pyo3(signature = (y, steps, batch, labels, loss="cross_entropy", reduce="mean", target=1.0))]
    #[allow(clippy::too_many_arguments)]
    fn loss<'py>(
        &self,
        py: Python<'py>,
        y: PyReadonlyArray1<'py, f32>,
        steps: usize,
        batch: usize,
        labels: Vec<u32>,
        loss: &str,
        reduce: &str,
        target: f32,
    ) -> PyResult<(f64, Bound<'py, PyAny>)> {
        let l = loss_of(loss, reduce, target)?;
        let ys = seq(y.as_slice()?.to_vec(), steps, batch, self.widths().1, false)?;
        let (v, g) = l.eval(&ys, &labels).map_err(py_err)?;
        Ok((v, PyArray1::from_vec(py, g.data).into_any()))
    }
    /// One epoch of minibatch training: shuffles with `seed`, then per batch forward, loss,
    /// backward and an optimizer step, GIL released; a pending Ctrl-C stops between batches.
    /// `x`: `[samples, n]` (constant current, `constant`) or `[samples, steps, n]` flattened.
    /// Returns `(mean loss, accuracy)`.
    #[pyo3(signature = (x, labels, steps, opt, batch_size=64, constant=true, seed=0, loss="cross_entropy", reduce="mean", target=1.0, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn train_epoch(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray1<'_, f32>,
        labels: Vec<u32>,
        steps: usize,
        opt: &Optimizer,
        batch_size: usize,
        constant: bool,
        seed: u64,
        loss: &str,
        reduce: &str,
        target: f32,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<(f64, f64)> {
        let l = loss_of(loss, reduce, target)?;
        let n = self.widths().0;
        let xs = x.as_slice()?;
        let samples = labels.len();
        per_sample(xs, samples, steps, n, constant)?;
        let bs = batch_size.max(1);
        let mut order: Vec<usize> = (0..samples).collect();
        let mut rng = somata::init::Rng::new(seed);
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        let nb = samples.div_ceil(bs);
        for (k, idx) in order.chunks(bs).enumerate() {
            let b = idx.len();
            let lab: Vec<u32> = idx.iter().map(|&s| labels[s]).collect();
            let xb = gather(xs, idx.iter().copied(), steps, n, constant)?;
            let (lv, c) = py
                .detach(|| {
                    let mut net = self.lock();
                    let y = net.forward(&xb)?;
                    let (lv, g) = l.eval(&y, &lab)?;
                    let c = l.predict(&y).iter().zip(&lab).filter(|(p, q)| p == q).count();
                    net.recycle(y);
                    net.zero_grad();
                    net.backward_params(&g)?;
                    let mut o = opt.0.lock().unwrap_or_else(|p| p.into_inner());
                    apply(&mut net, o.get())?;
                    Ok::<_, SomataError>((lv, c))
                })
                .map_err(py_err)?;
            loss_sum += lv * b as f64;
            correct += c;
            if let Some(p) = &progress {
                p.call1((k + 1, nb, lv))?;
            }
            py.check_signals()?;
        }
        Ok((loss_sum / samples.max(1) as f64, correct as f64 / samples.max(1) as f64))
    }
    /// `(mean loss, accuracy, predictions)` over a data set, in batches, no gradients kept.
    #[pyo3(signature = (x, labels, steps, batch_size=256, constant=true, loss="cross_entropy", reduce="mean", target=1.0))]
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray1<'_, f32>,
        labels: Vec<u32>,
        steps: usize,
        batch_size: usize,
        constant: bool,
        loss: &str,
        reduce: &str,
        target: f32,
    ) -> PyResult<(f64, f64, Vec<u32>)> {
        let l = loss_of(loss, reduce, target)?;
        let n = self.widths().0;
        let xs = x.as_slice()?;
        let samples = labels.len();
        per_sample(xs, samples, steps, n, constant)?;
        let (mut loss_sum, mut preds) = (0.0, Vec::with_capacity(samples));
        let bs = batch_size.max(1);
        let mut s0 = 0;
        while s0 < samples {
            let b = bs.min(samples - s0);
            let xb = gather(xs, s0..s0 + b, steps, n, constant)?;
            let lab = &labels[s0..s0 + b];
            let (lv, p) = py
                .detach(|| {
                    let mut net = self.lock();
                    let y = net.forward(&xb)?;
                    let (lv, _) = l.eval(&y, lab)?;
                    let p = l.predict(&y);
                    net.recycle(y);
                    Ok::<_, SomataError>((lv, p))
                })
                .map_err(py_err)?;
            loss_sum += lv * b as f64;
            preds.extend(p);
            s0 += b;
            py.check_signals()?;
        }
        let acc = preds.iter().zip(&labels).filter(|(p, q)| p == q).count() as f64 / samples.max(1) as f64;
        Ok((loss_sum / samples.max(1) as f64, acc, preds))
    }
    /// Write a checkpoint (safetensors, atomically: a temporary file renamed over `path`).
    #[pyo3(signature = (path, meta=vec![]))]
    fn save(&self, path: &str, meta: Vec<(String, String)>) -> PyResult<()> {
        somata::nn::checkpoint::save(path, &mut self.lock(), &meta).map_err(py_err)
    }
    /// Load a checkpoint written for this architecture; returns its metadata.
    fn load(&self, path: &str) -> PyResult<Vec<(String, String)>> {
        Ok(somata::nn::checkpoint::load(path, &mut self.lock()).map_err(py_err)?.into_iter().collect())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Sequential>()?;
    m.add_class::<Optimizer>()?;
    Ok(())
}
