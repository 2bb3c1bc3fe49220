//! Networks of layers over whole sequences, trained by backpropagation through time.
//!
//! A network is a stack of [`Layer`]s run **layer after layer over all time steps** (the fast
//! path): a [`Linear`] layer multiplies every time step and batch row at once (one matrix product;
//! event-driven when its input is sparse spikes), a [`Neurons`] layer runs any neuron model
//! (built-in or user-defined) through the fused kernel and records its BPTT tape, and a
//! [`LeakyRateReadout`] integrates its input (BrainPy's `r ← exp(−dt/τ)·r + x·W`). The backward
//! pass walks the stack in reverse; no backward is written per model.
//!
//! Also: [`Recurrent`] (a neuron layer with trained all-to-all recurrent weights, run step by
//! step with exact BPTT through the recurrence), [`LeakyMembraneReadout`] (a non-spiking leaky
//! membrane with bias), [`RateReg`] (firing-rate regularisers fed into hidden layers through
//! [`Sequential::backward_all`]), truncated BPTT ([`Sequential::tbptt`], state carrying with
//! [`Layer::set_carry_state`]) and initial-state gradients ([`Neurons::grad_initial_state`]).
//!
//! Data layout: a [`SeqBuf`] holds `steps × batch × n` values, time-major, or one `batch × n`
//! block repeated at every step (`constant`, e.g. a direct current input), which layers exploit:
//! a Linear layer on a constant input multiplies once, and its weight gradient sums the
//! incoming gradient over time first.
//!
//! ```
//! use somata::nn::{Linear, LeakyRateReadout, Neurons, SeqBuf, Sequential, Loss, Reduce};
//! use somata::prelude::*;
//!
//! // 4 inputs → Linear → 8 LIF → LeakyRateReadout(3), dt = 1 ms
//! let mut net = Sequential::new(1.0 * ms)
//!     .push(Linear::new(4, 8, 0))
//!     .push(Neurons::new(Lif::builder(8).tau(5.0 * ms).build()?))
//!     .push(LeakyRateReadout::new(8, 3, 5.0 * ms, 1));
//! let x = SeqBuf::constant(vec![0.5; 2 * 4], 10, 2, 4);   // 10 steps, batch 2, direct current
//! let y = net.forward(&x)?;                               // [10, 2, 3]
//! let (loss, g) = Loss::CrossEntropy(Reduce::Mean).eval(&y, &[0, 2])?;
//! net.zero_grad();
//! net.backward(&g)?;
//! assert!(loss.is_finite() && net.grad_norm() > 0.0);
//! # Ok::<(), somata::SomataError>(())
//! ```

pub mod checkpoint;
mod layers;
mod loss;
pub(crate) mod mat;
mod network;
mod readout;
mod recurrent;
mod seq;
pub mod train;

pub use layers::{Linear, Neurons};
pub use loss::{Loss, RateReg, Reduce};
pub use network::{Dale, NetParam, NetPop, NetProj, NetProjId, NetReadout, Source, SpikingNetwork, SynKind};
pub use readout::{LeakyMembraneReadout, LeakyRateReadout};
pub use recurrent::Recurrent;
pub use seq::Sequential;

use crate::error::{Result, SomataError};

/// A batch of sequences, time-major: `data[(t·batch + b)·n + i]`, or, when `constant`, one
/// `batch × n` block used at every step.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqBuf {
    /// The values.
    pub data: Vec<f32>,
    /// Time steps.
    pub steps: usize,
    /// Batch rows.
    pub batch: usize,
    /// Values per row (features, neurons).
    pub n: usize,
    /// Whether `data` is one `batch × n` block repeated at every step.
    pub constant: bool,
}

impl SeqBuf {
    /// A time-major sequence, `steps × batch × n` values.
    pub fn dense(data: Vec<f32>, steps: usize, batch: usize, n: usize) -> SeqBuf {
        SeqBuf { data, steps, batch, n, constant: false }
    }
    /// One `batch × n` block at every one of `steps` steps (direct current input).
    pub fn constant(data: Vec<f32>, steps: usize, batch: usize, n: usize) -> SeqBuf {
        SeqBuf { data, steps, batch, n, constant: true }
    }
    /// Zeros, dense.
    pub fn zeros(steps: usize, batch: usize, n: usize) -> SeqBuf {
        SeqBuf::dense(vec![0.0; steps * batch * n], steps, batch, n)
    }
    /// Rows of the stored block (`steps·batch`, or `batch` when constant).
    pub fn rows(&self) -> usize {
        if self.constant {
            self.batch
        } else {
            self.steps * self.batch
        }
    }
    /// Check that `data` has the size the shape says.
    pub fn check(&self, what: &str) -> Result<()> {
        if self.data.len() != self.rows() * self.n {
            return Err(SomataError::ShapeMismatch {
                what: format!("{what} ({})", if self.constant { "batch × n" } else { "steps × batch × n" }),
                expected: if self.constant { vec![self.batch, self.n] } else { vec![self.steps, self.batch, self.n] },
                got: vec![self.data.len()],
            });
        }
        Ok(())
    }
    /// The value at step `t`, row `b`, index `i`.
    pub fn at(&self, t: usize, b: usize, i: usize) -> f32 {
        let r = if self.constant { b } else { t * self.batch + b };
        self.data[r * self.n + i]
    }
    /// Steps `range` of the sequence (a constant input stays constant, with `range.len()`
    /// steps): the chunks of truncated BPTT ([`Sequential::tbptt`]).
    ///
    /// ```
    /// use somata::nn::SeqBuf;
    /// let x = SeqBuf::dense((0..12).map(|v| v as f32).collect(), 3, 2, 2);
    /// let c = x.slice_steps(1..3);
    /// assert_eq!((c.steps, c.data.len()), (2, 8));
    /// assert_eq!(c.at(0, 1, 0), x.at(1, 1, 0));
    /// ```
    pub fn slice_steps(&self, range: std::ops::Range<usize>) -> SeqBuf {
        let (a, b) = (range.start.min(self.steps), range.end.min(self.steps).max(range.start.min(self.steps)));
        if self.constant {
            return SeqBuf::constant(self.data.clone(), b - a, self.batch, self.n);
        }
        let blk = self.batch * self.n;
        SeqBuf::dense(self.data[a * blk..b * blk].to_vec(), b - a, self.batch, self.n)
    }
    /// Join sequences of the same batch and width along time (dense).
    pub fn concat_steps(parts: &[SeqBuf]) -> Result<SeqBuf> {
        let Some(first) = parts.first() else {
            return Ok(SeqBuf::zeros(0, 0, 0));
        };
        let (batch, n) = (first.batch, first.n);
        let mut data = Vec::with_capacity(parts.iter().map(|p| p.steps * batch * n).sum());
        let mut steps = 0;
        for p in parts {
            if (p.batch, p.n) != (batch, n) {
                return Err(SomataError::ShapeMismatch {
                    what: "sequences to join".into(),
                    expected: vec![batch, n],
                    got: vec![p.batch, p.n],
                });
            }
            data.extend_from_slice(&p.to_dense().data);
            steps += p.steps;
        }
        Ok(SeqBuf::dense(data, steps, batch, n))
    }
    /// The dense form (a constant block repeated).
    pub fn to_dense(&self) -> SeqBuf {
        if !self.constant {
            return self.clone();
        }
        let mut d = Vec::with_capacity(self.steps * self.data.len());
        for _ in 0..self.steps {
            d.extend_from_slice(&self.data);
        }
        SeqBuf::dense(d, self.steps, self.batch, self.n)
    }
}

/// A trainable tensor of a layer and its gradient.
pub struct Param<'a> {
    /// Name, e.g. `"W"`, `"b"`.
    pub name: &'static str,
    /// Values.
    pub value: &'a mut [f32],
    /// Accumulated gradient (same length).
    pub grad: &'a mut [f32],
}

/// One layer of a [`Sequential`] network, run over whole sequences.
pub trait Layer: Send {
    /// Short kind name (`"linear"`, `"LIF"`, `"readout"`).
    fn kind(&self) -> String;
    /// Input width.
    fn n_in(&self) -> usize;
    /// Output width.
    fn n_out(&self) -> usize;
    /// Run the whole sequence, keeping what the backward pass needs. `dt_ms` is the network's.
    fn forward(&mut self, x: &SeqBuf, dt_ms: f64) -> Result<SeqBuf>;
    /// Given `∂L/∂output` (dense), accumulate parameter gradients and return `∂L/∂input` (dense,
    /// or constant when the input was constant) if `need_input`.
    fn backward(&mut self, gy: &SeqBuf, need_input: bool) -> Result<Option<SeqBuf>>;
    /// Trainable tensors with their gradients.
    fn params(&mut self) -> Vec<Param<'_>>;
    /// The hyper-parameters that change what the layer computes, by name, canonical units
    /// (`[value]` when shared, one value per neuron otherwise): every model parameter of a
    /// neuron layer (`tau`, `V_th`, `V_reset`, ...) and its `spk_reset` (0 soft, 1 hard), a
    /// readout's `tau`. [`checkpoint`] stores them and refuses to load into a network where one
    /// differs (trained ones excepted: their stored tensor is loaded). Default: none.
    fn hyper_params(&self) -> Vec<(String, Vec<f64>)> {
        Vec::new()
    }
    /// Recorded states of the last forward pass (`(name, [steps][batch][n])`), for traces.
    fn states(&self) -> Vec<(String, &'static str, Vec<f32>)> {
        Vec::new()
    }
    /// State carrying, for truncated BPTT ([`Sequential::tbptt`]). With `carry` on, each forward
    /// pass continues from the state the previous one ended in (neuron states, the last spikes
    /// of a [`Recurrent`] layer, a readout's value, and the clock's step), when the batch size
    /// is the same; the backward pass treats that state as a constant (the gradient is cut at
    /// the boundary). With `carry` off (the default), every forward starts from the initial
    /// state. Stateless layers ignore it (the default does nothing).
    fn set_carry_state(&mut self, _carry: bool) {}
    /// Forget the carried state: the next forward starts from the initial state even with
    /// carrying on.
    fn reset_carried_state(&mut self) {}
    /// Take back a buffer this layer returned (the data of a `forward` output or of a
    /// `backward` gradient) once its consumer is done with it, so that the next pass reuses the
    /// memory instead of allocating, page-faulting and zeroing a fresh one (a training loop
    /// then runs without allocating once the sizes are stable). [`Sequential`] calls it; the
    /// default drops the buffer.
    fn recycle(&mut self, _buf: Vec<f32>) {}
}

/// Spare buffers of a layer ([`Layer::recycle`]): a few vectors whose capacity is reused.
#[derive(Debug, Default, Clone)]
pub(crate) struct BufPool(Vec<Vec<f32>>);

impl BufPool {
    /// An empty vector with capacity for `len` values if a spare one has it (the smallest
    /// that does), else a new one.
    pub(crate) fn take(&mut self, len: usize) -> Vec<f32> {
        let best = self.0.iter().enumerate().filter(|(_, v)| v.capacity() >= len).min_by_key(|(_, v)| v.capacity()).map(|(i, _)| i);
        match best {
            Some(i) => {
                let mut v = self.0.swap_remove(i);
                v.clear();
                v
            }
            None => Vec::with_capacity(len),
        }
    }
    /// `len` zeros in a reused buffer.
    pub(crate) fn zeros(&mut self, len: usize) -> Vec<f32> {
        let mut v = self.take(len);
        v.resize(len, 0.0);
        v
    }
    /// Keep a buffer for later (at most four, the largest).
    pub(crate) fn put(&mut self, v: Vec<f32>) {
        if v.capacity() == 0 {
            return;
        }
        self.0.push(v);
        if self.0.len() > 4 {
            let (i, _) = self.0.iter().enumerate().min_by_key(|(_, v)| v.capacity()).expect("non-empty");
            self.0.swap_remove(i);
        }
    }
}
