//! [`Recurrent`]: a population of any neuron model with all-to-all recurrent weights, trained
//! by BPTT through the recurrence.

use super::layers::{check_in, initial_state_slice, kaiming_normal, Carried, TrainParams};
use super::mat::sgemm;
use super::{Layer, Param, SeqBuf};
use crate::dynamics::{Clock, NeuronModel};
use crate::engine::{Gradients, NeuronLayer, SeqInput, Tape};
use crate::error::{Result, SomataError};
use crate::init::Rng;

/// A recurrent spiking layer: `n` neurons of any model whose own spikes of the previous step
/// feed back through a trained weight matrix `W_rec` (`[n][n]`, row = presynaptic neuron,
/// column = postsynaptic neuron). The input current of step `t` is
///
/// ```text
/// I_t = x_t + s_{t−1}·W_rec (+ b),    s_{−1} = 0,
/// s_t = neuron step(I_t)           (the model's update, spikes out)
/// ```
///
/// `x_t` is the layer's input, already projected to the `n` neurons (put a [`Linear`] in front:
/// `Linear(in, n) → Recurrent(n)`; there is no input matrix inside), read like `s·W_rec` as raw
/// numbers in the model's input unit ([`NeuronModel::INPUT_UNIT`]: mA for LIF), as
/// [`Neurons`] reads its input. The optional bias `b` ([`Recurrent::with_bias`], zero at
/// start, trained) is added every step. The output is the spikes `s_t`.
///
/// * **Initialisation**: `W_rec` from brainstate's `KaimingNormal()` with fan-in `n` (the code
///   of [`Linear::new`]), reproducible from the seed; the diagonal (self-connections) is
///   included. Scale it (`w_rec` is public) to taste.
/// * **Forward**: one step at a time; each step records a one-step BPTT tape of the engine
///   ([`NeuronLayer::forward_tape_into`] with one step, the neuron state carried in the layer),
///   so any built-in or user-defined model works, with the same kernel as [`Neurons`]. The
///   product `s_{t−1}·W_rec` adds the rows of the active neurons (event-driven on spikes; any
///   nonzero value is weighted, so smooth user-defined outputs work too).
/// * **Backward** (exact BPTT through the recurrence): walking the steps in reverse with
///   `ḡ_t = ∂L/∂s_t + (∂L/∂I_{t+1})·W_recᵀ` and the neuron state's adjoint carried between the
///   one-step tapes ([`NeuronLayer::backward_full`]'s `grad_states`):
///   `∂L/∂W_rec = Σ_t s_{t−1}ᵀ·∂L/∂I_t`, `∂L/∂b = Σ_t ∂L/∂I_t`, `∂L/∂x_t = ∂L/∂I_t`, and the
///   gradients of parameters marked with [`Recurrent::train`] (e.g. `tau`) as in [`Neurons`].
///   [`Recurrent::grad_initial_state`] gives `∂L/∂s_0` of the neuron state.
/// * **Truncated BPTT**: with [`Layer::set_carry_state`] on, a pass continues from the previous
///   pass's neuron state, last spikes and clock step.
///
/// ```
/// use somata::nn::{Linear, LeakyMembraneReadout, Loss, Recurrent, Reduce, SeqBuf, Sequential};
/// use somata::prelude::*;
///
/// // 4 inputs → Linear → 8 recurrent LIF (tau trained) → membrane readout (3), dt = 1 ms
/// let lif = Lif::builder(8).tau(5.0 * ms).spk_fun(Sigmoid::default()).build()?;
/// let mut net = Sequential::new(1.0 * ms)
///     .push(Linear::new(4, 8, 0))
///     .push(Recurrent::new(lif, 1).train("tau")?)
///     .push(LeakyMembraneReadout::new(8, 3, 2));
/// let x = SeqBuf::constant(vec![2.0; 2 * 4], 20, 2, 4);
/// let y = net.forward(&x)?;
/// let (loss, g) = Loss::CrossEntropy(Reduce::Max).eval(&y, &[0, 2])?;
/// net.zero_grad();
/// net.backward(&g)?;
/// assert!(loss.is_finite() && net.grad_norm() > 0.0);
/// assert_eq!(net.params()[2].name, "W_rec");
/// # Ok::<(), somata::SomataError>(())
/// ```
///
/// [`Linear`]: super::Linear
/// [`Linear::new`]: super::Linear::new
/// [`Neurons`]: super::Neurons
#[derive(Debug, Clone)]
pub struct Recurrent<M: NeuronModel> {
    /// Recurrent weights `[n][n]`: `W_rec[i][j]` from neuron `i`'s spike to neuron `j`'s input.
    pub w_rec: Vec<f32>,
    /// Bias `[n]`, if any.
    pub b: Option<Vec<f32>>,
    layer: NeuronLayer<M, f32>,
    train: TrainParams,
    gw: Vec<f32>,
    gb: Vec<f32>,
    /// One tape per step of the last forward pass (buffers reused).
    tapes: Vec<Tape<f32>>,
    grads: Gradients<f32>,
    /// Spikes of the last forward pass, `[steps][batch·n]`.
    spikes: Vec<f32>,
    /// `s_{−1}` of the last forward pass.
    s0: Vec<f32>,
    steps: usize,
    batch: usize,
    x_constant: bool,
    carry: bool,
    carried: Option<Carried>,
    /// `∂L/∂s_0` of the neuron state, `[state][batch·n]`.
    g_init: Vec<f32>,
    ibuf: Vec<f32>,
}

impl<M: NeuronModel> Recurrent<M> {
    /// A recurrent layer of the built neuron layer `layer`, `W_rec` from KaimingNormal (fan-in
    /// `n`) with `seed`, no bias.
    pub fn new(layer: NeuronLayer<M, f32>, seed: u64) -> Recurrent<M> {
        let n = layer.num_neurons();
        let mut rng = Rng::new(seed);
        let w = kaiming_normal(n, n, &mut rng);
        Self::build(layer, w)
    }
    /// With given recurrent weights `[n][n]`.
    pub fn from_weights(layer: NeuronLayer<M, f32>, w_rec: Vec<f32>) -> Result<Recurrent<M>> {
        let n = layer.num_neurons();
        if w_rec.len() != n * n {
            return Err(SomataError::ShapeMismatch {
                what: "Recurrent weights [n][n]".into(),
                expected: vec![n, n],
                got: vec![w_rec.len()],
            });
        }
        Ok(Self::build(layer, w_rec))
    }
    fn build(layer: NeuronLayer<M, f32>, w_rec: Vec<f32>) -> Recurrent<M> {
        Recurrent {
            gw: vec![0.0; w_rec.len()],
            w_rec,
            b: None,
            layer,
            train: TrainParams::default(),
            gb: Vec::new(),
            tapes: Vec::new(),
            grads: Gradients::default(),
            spikes: Vec::new(),
            s0: Vec::new(),
            steps: 0,
            batch: 0,
            x_constant: false,
            carry: false,
            carried: None,
            g_init: Vec::new(),
            ibuf: Vec::new(),
        }
    }
    /// Add a trained bias `b` (`[n]`, zero).
    pub fn with_bias(mut self) -> Recurrent<M> {
        let n = self.layer.num_neurons();
        self.b = Some(vec![0.0; n]);
        self.gb = vec![0.0; n];
        self
    }
    /// Train a parameter of the neuron model (canonical units), as [`Neurons::train`](super::Neurons::train).
    pub fn train(mut self, name: &str) -> Result<Recurrent<M>> {
        self.train.add(&self.layer, name)?;
        Ok(self)
    }
    /// The wrapped neuron layer (its state is the one after the last forward pass).
    pub fn layer(&self) -> &NeuronLayer<M, f32> {
        &self.layer
    }
    /// `∂L/∂W_rec` accumulated so far, `[n][n]`.
    pub fn grad_w_rec(&self) -> &[f32] {
        &self.gw
    }
    /// `∂L/∂b` accumulated so far (empty without bias).
    pub fn grad_b(&self) -> &[f32] {
        &self.gb
    }
    /// `∂L/∂s_0` of the last backward pass for neuron state `state` (`"V"`, ...), `batch × n`
    /// values, per canonical unit of the state; see [`Neurons::grad_initial_state`](super::Neurons::grad_initial_state).
    pub fn grad_initial_state(&self, state: &str) -> Result<&[f32]> {
        initial_state_slice::<M>(&self.g_init, self.layer.num_elements(), state)
    }

    fn n(&self) -> usize {
        self.layer.num_neurons()
    }
}

/// `out[r][·] += Σ_i s[r][i]·W[i][·]`, skipping zeros (spikes: adds the rows of the active
/// neurons), rows of `n` in and out.
fn add_recurrent(out: &mut [f32], s: &[f32], w: &[f32], n: usize) {
    for (orow, srow) in out.chunks_exact_mut(n).zip(s.chunks_exact(n)) {
        for (i, &sv) in srow.iter().enumerate() {
            if sv == 0.0 {
                continue;
            }
            let wr = &w[i * n..(i + 1) * n];
            if sv == 1.0 {
                for (o, &wv) in orow.iter_mut().zip(wr) {
                    *o += wv;
                }
            } else {
                for (o, &wv) in orow.iter_mut().zip(wr) {
                    *o += sv * wv;
                }
            }
        }
    }
}

impl<M: NeuronModel> Layer for Recurrent<M> {
    fn kind(&self) -> String {
        format!("recurrent-{}", M::NAME)
    }
    fn n_in(&self) -> usize {
        self.n()
    }
    fn n_out(&self) -> usize {
        self.n()
    }
    fn forward(&mut self, x: &SeqBuf, dt_ms: f64) -> Result<SeqBuf> {
        let n = self.n();
        check_in(x, n, &self.kind())?;
        self.train.apply(&mut self.layer)?;
        let (steps, batch) = (x.steps, x.batch);
        let bn = batch * n;
        let continued = matches!(&self.carried, Some(c) if self.carry && c.batch == batch && c.clock.dt_ms() == dt_ms);
        let mut clock = if continued {
            let c = self.carried.as_ref().expect("checked").clock;
            // s_{−1}: the last spikes of the previous pass
            let last = if self.steps > 0 && self.spikes.len() == self.steps * bn {
                self.spikes[(self.steps - 1) * bn..].to_vec()
            } else {
                std::mem::take(&mut self.s0)
            };
            self.s0 = last;
            c
        } else {
            self.layer.init_state(Some(batch))?;
            self.s0.clear();
            self.s0.resize(bn, 0.0);
            Clock::from_ms(dt_ms)?
        };
        if self.tapes.len() < steps {
            self.tapes.resize_with(steps, Tape::default);
        }
        self.spikes.clear();
        self.spikes.resize(steps * bn, 0.0);
        let mut ibuf = std::mem::take(&mut self.ibuf);
        for t in 0..steps {
            ibuf.clear();
            ibuf.extend_from_slice(if x.constant { &x.data } else { &x.data[t * bn..(t + 1) * bn] });
            if let Some(b) = &self.b {
                for row in ibuf.chunks_exact_mut(n) {
                    for (o, &bv) in row.iter_mut().zip(b) {
                        *o += bv;
                    }
                }
            }
            let prev = if t == 0 { &self.s0[..] } else { &self.spikes[(t - 1) * bn..t * bn] };
            add_recurrent(&mut ibuf, prev, &self.w_rec, n);
            let r = self.layer.forward_tape_into(&mut clock, SeqInput::Dense(&ibuf, 1), &mut self.tapes[t]);
            if let Err(e) = r {
                self.ibuf = ibuf;
                return Err(e);
            }
            self.spikes[t * bn..(t + 1) * bn].copy_from_slice(self.tapes[t].spikes());
        }
        self.ibuf = ibuf;
        self.steps = steps;
        self.batch = batch;
        self.x_constant = x.constant;
        self.carried = Some(Carried { batch, clock });
        Ok(SeqBuf::dense(self.spikes.clone(), steps, batch, n))
    }
    fn backward(&mut self, gy: &SeqBuf, need_input: bool) -> Result<Option<SeqBuf>> {
        let n = self.n();
        let (steps, batch) = (self.steps, self.batch);
        let bn = batch * n;
        if self.carried.is_none() {
            return Err(SomataError::Format(format!("{}::backward before forward", self.kind())));
        }
        let gy = if gy.constant { gy.to_dense() } else { gy.clone() };
        if gy.data.len() != steps * bn {
            return Err(SomataError::ShapeMismatch {
                what: format!("{} output gradient", self.kind()),
                expected: vec![steps, batch, n],
                got: vec![gy.data.len()],
            });
        }
        let names: Vec<String> = self.train.name_list().iter().map(|s| s.to_string()).collect();
        let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let ns = M::STATES.len();
        let mut lam: Vec<f32> = vec![0.0; ns * bn];
        let mut have_lam = false;
        let mut grec = vec![0.0f32; bn];
        let mut gsp = vec![0.0f32; bn];
        let mut gx = if need_input { vec![0.0f32; if self.x_constant { bn } else { steps * bn }] } else { Vec::new() };
        for t in (0..steps).rev() {
            for ((o, &a), &b) in gsp.iter_mut().zip(&gy.data[t * bn..(t + 1) * bn]).zip(&grec) {
                *o = a + b;
            }
            self.layer.backward_full(&self.tapes[t], &gsp, have_lam.then_some(&lam[..]), &names, &mut self.grads)?;
            self.train.accumulate(&self.grads);
            let gi = &self.grads.input;
            // ∂W_rec += s_{t−1}ᵀ·∂I_t (rows of the active presynaptic neurons)
            let prev = if t == 0 { &self.s0[..] } else { &self.spikes[(t - 1) * bn..t * bn] };
            for (srow, grow) in prev.chunks_exact(n).zip(gi.chunks_exact(n)) {
                for (i, &sv) in srow.iter().enumerate() {
                    if sv != 0.0 {
                        for (d, &g) in self.gw[i * n..(i + 1) * n].iter_mut().zip(grow) {
                            *d += sv * g;
                        }
                    }
                }
            }
            if self.b.is_some() {
                for grow in gi.chunks_exact(n) {
                    for (d, &g) in self.gb.iter_mut().zip(grow) {
                        *d += g;
                    }
                }
            }
            if need_input {
                let dst = if self.x_constant { &mut gx[..] } else { &mut gx[t * bn..(t + 1) * bn] };
                for (d, &g) in dst.iter_mut().zip(gi) {
                    *d += g;
                }
            }
            // ∂L/∂s_{t−1} through the recurrence: ∂I_t·W_recᵀ
            if t > 0 {
                sgemm(batch, n, n, gi, false, &self.w_rec, true, &mut grec, false);
            }
            lam.copy_from_slice(&self.grads.initial_state);
            have_lam = true;
        }
        self.g_init = if have_lam { lam } else { Vec::new() };
        if !need_input {
            return Ok(None);
        }
        Ok(Some(SeqBuf { data: gx, steps, batch, n, constant: self.x_constant }))
    }
    fn params(&mut self) -> Vec<Param<'_>> {
        let mut v = vec![Param { name: "W_rec", value: &mut self.w_rec, grad: &mut self.gw }];
        if let Some(b) = self.b.as_mut() {
            v.push(Param { name: "b", value: b, grad: &mut self.gb });
        }
        v.extend(self.train.params::<M>());
        v
    }
    fn hyper_params(&self) -> Vec<(String, Vec<f64>)> {
        super::layers::neuron_hyper_params(&self.layer)
    }
    fn states(&self) -> Vec<(String, &'static str, Vec<f32>)> {
        (0..M::STATES.len())
            .filter(|&j| M::STATES[j].visible_if.is_none_or(|f| self.layer.param(f).is_some_and(|p| p.at(0) != 0.0)))
            .map(|j| {
                let mut v = Vec::with_capacity(self.steps * self.batch * self.n());
                for tape in &self.tapes[..self.steps] {
                    v.extend_from_slice(tape.state(1, j));
                }
                (M::STATES[j].name.to_string(), M::STATES[j].unit, v)
            })
            .collect()
    }
    fn set_carry_state(&mut self, carry: bool) {
        self.carry = carry;
    }
    fn reset_carried_state(&mut self) {
        self.carried = None;
    }
}
