//! Losses on a network's output sequence, with their gradient.

use super::SeqBuf;
use crate::error::{Result, SomataError};

/// How an output sequence `[steps][batch][classes]` becomes one score per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// Mean over time (readouts: the usual choice).
    Mean,
    /// Sum over time (spike counts).
    Sum,
    /// Maximum over time (membrane readouts).
    Max,
    /// The last step.
    Last,
}

/// A loss over the network's output and integer labels (or targets).
#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// Softmax cross-entropy of the reduced output, mean over the batch.
    CrossEntropy(Reduce),
    /// Mean squared error between the reduced output and a one-hot target scaled by `target`
    /// (e.g. a spike count or rate for the right class, 0 for the others), mean over batch and
    /// classes.
    Mse(Reduce, f32),
}

impl Reduce {
    /// Reduce `y` to `[batch][classes]`, and for `Max` the step of each maximum.
    pub fn apply(self, y: &SeqBuf) -> (Vec<f32>, Vec<u32>) {
        let (t_n, b_n, c_n) = (y.steps, y.batch, y.n);
        let mut out = vec![0.0f32; b_n * c_n];
        let mut arg = Vec::new();
        match self {
            Reduce::Mean | Reduce::Sum => {
                for t in 0..t_n {
                    for b in 0..b_n {
                        for c in 0..c_n {
                            out[b * c_n + c] += y.at(t, b, c);
                        }
                    }
                }
                if self == Reduce::Mean && t_n > 0 {
                    out.iter_mut().for_each(|v| *v /= t_n as f32);
                }
            }
            Reduce::Last => {
                for b in 0..b_n {
                    for c in 0..c_n {
                        out[b * c_n + c] = if t_n > 0 { y.at(t_n - 1, b, c) } else { 0.0 };
                    }
                }
            }
            Reduce::Max => {
                arg = vec![0u32; b_n * c_n];
                out.fill(f32::NEG_INFINITY);
                for t in 0..t_n {
                    for b in 0..b_n {
                        for c in 0..c_n {
                            let v = y.at(t, b, c);
                            if v > out[b * c_n + c] {
                                out[b * c_n + c] = v;
                                arg[b * c_n + c] = t as u32;
                            }
                        }
                    }
                }
            }
        }
        (out, arg)
    }

    /// Spread `∂L/∂(reduced)` back over time: a dense `[steps][batch][classes]` gradient.
    fn spread(self, g: &[f32], arg: &[u32], steps: usize, batch: usize, n: usize) -> SeqBuf {
        let mut d = vec![0.0f32; steps * batch * n];
        let blk = batch * n;
        match self {
            Reduce::Mean | Reduce::Sum => {
                let s = if self == Reduce::Mean { 1.0 / steps.max(1) as f32 } else { 1.0 };
                for t in 0..steps {
                    for (o, &v) in d[t * blk..(t + 1) * blk].iter_mut().zip(g) {
                        *o = v * s;
                    }
                }
            }
            Reduce::Last => {
                if steps > 0 {
                    d[(steps - 1) * blk..].copy_from_slice(g);
                }
            }
            Reduce::Max => {
                for (k, &v) in g.iter().enumerate() {
                    d[arg[k] as usize * blk + k] = v;
                }
            }
        }
        SeqBuf::dense(d, steps, batch, n)
    }
}

impl Loss {
    /// The loss and `∂L/∂y` for labels `0..classes`.
    pub fn eval(&self, y: &SeqBuf, labels: &[u32]) -> Result<(f64, SeqBuf)> {
        y.check("network output")?;
        if labels.len() != y.batch {
            return Err(SomataError::ShapeMismatch {
                what: "labels (one per batch row)".into(),
                expected: vec![y.batch],
                got: vec![labels.len()],
            });
        }
        if let Some(&bad) = labels.iter().find(|&&l| l as usize >= y.n) {
            return Err(SomataError::Format(format!("label {bad} out of range: the network has {} outputs (labels 0..{})", y.n, y.n)));
        }
        let (bn, cn) = (y.batch, y.n);
        let red = match self {
            Loss::CrossEntropy(r) | Loss::Mse(r, _) => *r,
        };
        let (z, arg) = red.apply(y);
        let mut g = vec![0.0f32; bn * cn];
        let mut loss = 0.0f64;
        match self {
            Loss::CrossEntropy(_) => {
                for b in 0..bn {
                    let row = &z[b * cn..(b + 1) * cn];
                    let m = row.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v)) as f64;
                    let se: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
                    let lse = m + se.ln();
                    loss += lse - row[labels[b] as usize] as f64;
                    for c in 0..cn {
                        let p = ((row[c] as f64 - m).exp() / se) as f32;
                        g[b * cn + c] = (p - if c == labels[b] as usize { 1.0 } else { 0.0 }) / bn as f32;
                    }
                }
                loss /= bn as f64;
            }
            Loss::Mse(_, target) => {
                let k = (bn * cn) as f32;
                for b in 0..bn {
                    for c in 0..cn {
                        let t = if c == labels[b] as usize { *target } else { 0.0 };
                        let e = z[b * cn + c] - t;
                        loss += (e as f64) * (e as f64);
                        g[b * cn + c] = 2.0 * e / k;
                    }
                }
                loss /= k as f64;
            }
        }
        if !loss.is_finite() {
            return Err(SomataError::Format(format!("the loss is not finite ({loss})")));
        }
        Ok((loss, red.spread(&g, &arg, y.steps, bn, cn)))
    }

    /// The predicted class of each batch row (argmax of the reduced output).
    pub fn predict(&self, y: &SeqBuf) -> Vec<u32> {
        let red = match self {
            Loss::CrossEntropy(r) | Loss::Mse(r, _) => *r,
        };
        let (z, _) = red.apply(y);
        z.chunks_exact(y.n.max(1))
            .map(|row| {
                row.iter().enumerate().fold((0usize, f32::NEG_INFINITY), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) }).0
                    as u32
            })
            .collect()
    }
}

/// A firing-rate regulariser on the spikes of chosen layers of a [`Sequential`](super::Sequential)
/// (layer indices into its stack, e.g. the [`Neurons`](super::Neurons) and
/// [`Recurrent`](super::Recurrent) layers), added to the loss. For a layer with output `s`
/// (`[T][B][N]`, spikes 0/1), the rate of neuron `i` in batch row `b` is
/// `r_{b,i} = (1/T)·Σ_t s_{t,b,i}` in **spikes per step** (× `1000/dt_ms` for Hz;
/// [`RateReg::per_step`] converts):
///
/// ```text
/// Mean:    R = λ·Σ_layers (1/(T·B·N))·Σ_{t,b,i} s_{t,b,i}            ∂R/∂s = λ/(T·B·N)
/// Target:  R = λ·Σ_layers (1/(B·N))·Σ_{b,i} (r_{b,i} − ρ)²           ∂R/∂s_{t,b,i} = 2λ(r_{b,i} − ρ)/(T·B·N)
/// ```
///
/// The gradient is on the layer's output (`∂R/∂s`), which
/// [`Sequential::backward_all`](super::Sequential::backward_all) feeds into that layer's
/// backward pass (through the surrogate); [`Loss::eval_regularized`] returns it in that form.
///
/// ```
/// use somata::nn::{Linear, Loss, Neurons, RateReg, Reduce, SeqBuf, Sequential};
/// use somata::prelude::*;
/// let mut net = Sequential::new(1.0 * ms)
///     .push(Linear::new(4, 8, 0))
///     .push(Neurons::new(Lif::builder(8).tau(5.0 * ms).build()?))
///     .push(Linear::new(8, 3, 1));
/// let x = SeqBuf::constant(vec![3.0; 2 * 4], 10, 2, 4);
/// let outs = net.forward_all(&x)?;
/// // cross-entropy + 0.1·(mean rate of layer 1 − 0.05 spikes/step)²
/// let reg = RateReg::Target { layers: vec![1], lambda: 0.1, target: RateReg::per_step(50.0, 1.0 * ms) };
/// let (loss, g, extra) = Loss::CrossEntropy(Reduce::Mean).eval_regularized(&outs, &[0, 1], &[reg])?;
/// net.zero_grad();
/// net.backward_all(&g, extra)?;
/// assert!(loss.is_finite());
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum RateReg {
    /// `λ·mean(s)` over steps, batch and neurons of each chosen layer, summed over the layers.
    Mean {
        /// Layer indices in the [`Sequential`](super::Sequential).
        layers: Vec<usize>,
        /// Weight `λ`.
        lambda: f64,
    },
    /// `λ·mean_{b,i}(r_{b,i} − ρ)²` of each chosen layer, summed over the layers; `r` and the
    /// target `ρ` in spikes per step.
    Target {
        /// Layer indices in the [`Sequential`](super::Sequential).
        layers: Vec<usize>,
        /// Weight `λ`.
        lambda: f64,
        /// Target rate `ρ`, spikes per step (`RateReg::per_step(hz, dt)`).
        target: f64,
    },
}

impl RateReg {
    /// A rate in Hz as spikes per step of `dt`: `hz · dt_s`.
    pub fn per_step(hz: f64, dt: crate::units::Time) -> f64 {
        hz * dt.canonical() * 1e-3
    }

    /// The penalty and its gradient on each layer's output (`extra[k]` for layer `k`, `None`
    /// for layers it does not touch), given the outputs of
    /// [`Sequential::forward_all`](super::Sequential::forward_all).
    pub fn eval(&self, outs: &[SeqBuf]) -> Result<(f64, Vec<Option<SeqBuf>>)> {
        let mut extra: Vec<Option<SeqBuf>> = vec![None; outs.len()];
        let r = self.add_to(outs, &mut extra)?;
        Ok((r, extra))
    }

    /// [`RateReg::eval`], adding the gradient into `extra` (one entry per layer).
    pub fn add_to(&self, outs: &[SeqBuf], extra: &mut [Option<SeqBuf>]) -> Result<f64> {
        let (layers, lambda) = match self {
            RateReg::Mean { layers, lambda } | RateReg::Target { layers, lambda, .. } => (layers, *lambda),
        };
        if extra.len() != outs.len() {
            return Err(SomataError::ShapeMismatch {
                what: "extra gradients (one per layer)".into(),
                expected: vec![outs.len()],
                got: vec![extra.len()],
            });
        }
        let mut total = 0.0f64;
        for &k in layers {
            let y = outs.get(k).ok_or_else(|| {
                SomataError::Format(format!("rate regulariser: layer {k} does not exist (the network has {} layers)", outs.len()))
            })?;
            y.check("regularised layer output")?;
            let (t_n, b_n, n) = (y.steps, y.batch, y.n);
            let cnt = (t_n * b_n * n).max(1) as f64;
            let mut g = vec![0.0f32; t_n * b_n * n];
            match self {
                RateReg::Mean { .. } => {
                    let mut s = 0.0f64;
                    for t in 0..t_n {
                        for b in 0..b_n {
                            for i in 0..n {
                                s += y.at(t, b, i) as f64;
                            }
                        }
                    }
                    total += lambda * s / cnt;
                    g.fill((lambda / cnt) as f32);
                }
                RateReg::Target { target, .. } => {
                    let bn = b_n * n;
                    let mut rate = vec![0.0f64; bn];
                    for t in 0..t_n {
                        for b in 0..b_n {
                            for i in 0..n {
                                rate[b * n + i] += y.at(t, b, i) as f64;
                            }
                        }
                    }
                    let mut s = 0.0f64;
                    let mut gr = vec![0.0f32; bn];
                    for (r, gv) in rate.iter_mut().zip(gr.iter_mut()) {
                        *r /= t_n.max(1) as f64;
                        let e = *r - target;
                        s += e * e;
                        *gv = (2.0 * lambda * e / cnt) as f32;
                    }
                    total += lambda * s / bn.max(1) as f64;
                    for t in 0..t_n {
                        g[t * bn..(t + 1) * bn].copy_from_slice(&gr);
                    }
                }
            }
            match &mut extra[k] {
                Some(e) => {
                    if e.data.len() != g.len() {
                        return Err(SomataError::ShapeMismatch {
                            what: format!("extra gradient of layer {k}"),
                            expected: vec![g.len()],
                            got: vec![e.data.len()],
                        });
                    }
                    let mut d = if e.constant { e.to_dense() } else { e.clone() };
                    for (a, &b) in d.data.iter_mut().zip(&g) {
                        *a += b;
                    }
                    *e = d;
                }
                slot @ None => *slot = Some(SeqBuf::dense(g, t_n, b_n, n)),
            }
        }
        Ok(total)
    }
}

impl Loss {
    /// The loss on the last layer's output plus the rate regularisers, given every layer's
    /// output ([`Sequential::forward_all`](super::Sequential::forward_all)). Returns
    /// `(total loss, ∂L/∂output of the last layer, extra)`, where `extra[k]` is the regularisers'
    /// gradient on layer `k`'s output: pass both to
    /// [`Sequential::backward_all`](super::Sequential::backward_all).
    pub fn eval_regularized(&self, outs: &[SeqBuf], labels: &[u32], regs: &[RateReg]) -> Result<(f64, SeqBuf, Vec<Option<SeqBuf>>)> {
        let y = outs.last().ok_or_else(|| SomataError::Format("eval_regularized: no layer outputs".into()))?;
        let (mut loss, g) = self.eval(y, labels)?;
        let mut extra: Vec<Option<SeqBuf>> = vec![None; outs.len()];
        for r in regs {
            loss += r.add_to(outs, &mut extra)?;
        }
        Ok((loss, g, extra))
    }
}
