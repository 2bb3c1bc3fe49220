//! [`SpikingNetwork`]: a network of populations and align-post projections (synapse dynamics,
//! COBA/CUBA outputs, delays, recurrence, Dale's law) trained by backpropagation through time.

use super::{Layer, Param, SeqBuf};
use crate::dynamics::{Check, Clock, Dual, NeuronModel, Real, Scalar};
use crate::engine::{Gradients, NeuronLayer, ParamGrad, ParamValue, Tape};
use crate::error::{Result, SomataError};
use crate::init::Rng;
use crate::net::Output;
use crate::synapse::{alpha_step, expon_step};

/// A population of a [`SpikingNetwork`] (its index, in the order of [`SpikingNetwork::add_pop`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetPop(pub usize);

/// A projection of a [`SpikingNetwork`] (its index, in the order of [`SpikingNetwork::connect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetProjId(pub usize);

/// Where a projection reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The network's input sequence: at step `t` the input row `x_t` (read as it is, any value).
    Input,
    /// The spikes of a population: at step `t` the spikes it produced at step `t − 1` (BrainPy's
    /// order: projections read the previous step's spikes; `s_{−1} = 0`).
    Pop(NetPop),
}

impl From<NetPop> for Source {
    fn from(p: NetPop) -> Source {
        Source::Pop(p)
    }
}

/// The postsynaptic (align-post) synapse dynamics of a projection, BrainPy's `Expon`,
/// `DualExpon` and `Alpha` (exponential Euler, the arithmetic of [`crate::synapse`]), or none.
/// Time constants in ms; the input `x` of a step is the projected delta conductance (S for a
/// COBA output) and the output `g` feeds the output (see [`SpikingNetwork`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SynKind {
    /// No dynamics: `g_t = x_t` (BrainPy's `CurrentProj`: the projected value drives the output
    /// during the step of arrival only).
    None,
    /// `g ← g + dt·exprel(−dt/τ)·(−g/τ) + x` (i.e. `g·e^(−dt/τ) + x`), output `g`. BrainPy's
    /// default `τ = 8 ms`. Trainable: `tau_syn`.
    Expon {
        /// Decay time constant (ms).
        tau: f64,
    },
    /// `r ← r·e^(−dt/τ_r) + x`, `d ← d·e^(−dt/τ_d) + x` (both exponential Euler), output
    /// `scale·(d − r)` with `scale = amplitude·τ_d/(τ_d − τ_r)·(τ_r/τ_d)^(τ_r/(τ_r − τ_d))` if
    /// `normalize` (peak of a unit jump = amplitude), else `amplitude`. BrainPy's defaults:
    /// `τ_r = 1 ms`, `τ_d = 10 ms`, amplitude 1, normalize on. Trainable: `tau_rise`, `tau_decay`
    /// (the normalisation is differentiated too).
    DualExpon {
        /// Rise time constant (ms).
        tau_rise: f64,
        /// Decay time constant (ms).
        tau_decay: f64,
        /// Output amplitude (dimensionless).
        amplitude: f64,
        /// Normalise the peak of a unit jump to `amplitude`.
        normalize: bool,
    },
    /// `h' = h·e^(−dt/τ)`, `g ← g + dt·exprel(−dt/τ)·((−g + h)/τ)` with the old `h`, then
    /// `h ← h' + x`; output `g` (lags the jump by one step). Trainable: `tau_syn`.
    Alpha {
        /// Time constant (ms).
        tau: f64,
    },
}

impl SynKind {
    /// BrainPy's `DualExpon` defaults (rise 1 ms, decay 10 ms, amplitude 1, normalised).
    pub const DUAL_EXPON: SynKind = SynKind::DualExpon { tau_rise: 1.0, tau_decay: 10.0, amplitude: 1.0, normalize: true };
    fn n_states(&self) -> usize {
        match self {
            SynKind::None => 0,
            SynKind::Expon { .. } => 1,
            SynKind::DualExpon { .. } | SynKind::Alpha { .. } => 2,
        }
    }
    fn taus(&self) -> Vec<f64> {
        match *self {
            SynKind::None => vec![],
            SynKind::Expon { tau } | SynKind::Alpha { tau } => vec![tau],
            SynKind::DualExpon { tau_rise, tau_decay, .. } => vec![tau_rise, tau_decay],
        }
    }
    fn tau_names(&self) -> &'static [&'static str] {
        match self {
            SynKind::None => &[],
            SynKind::Expon { .. } | SynKind::Alpha { .. } => &["tau_syn"],
            SynKind::DualExpon { .. } => &["tau_rise", "tau_decay"],
        }
    }
    fn name(&self) -> &'static str {
        match self {
            SynKind::None => "none",
            SynKind::Expon { .. } => "Expon",
            SynKind::DualExpon { .. } => "DualExpon",
            SynKind::Alpha { .. } => "Alpha",
        }
    }
    /// Check time constants (given in the order of `tau_names`).
    fn check(&self, tau: &[f64]) -> Result<()> {
        for (&t, name) in tau.iter().zip(self.tau_names()) {
            if !(t.is_finite() && t > 0.0) {
                return Err(SomataError::param(self.name(), name, t, "must be finite and > 0"));
            }
        }
        if let SynKind::DualExpon { amplitude, normalize, .. } = *self {
            if !amplitude.is_finite() {
                return Err(SomataError::param("DualExpon", "amplitude", amplitude, "must be finite"));
            }
            if normalize && tau[0] == tau[1] {
                return Err(SomataError::param("DualExpon", "tau_rise", tau[0], "must differ from tau_decay when normalize is on"));
            }
        }
        Ok(())
    }
}

/// The constants of one synapse step (functions of the time constants and `dt` only), in any
/// scalar: plain floats for the forward pass, dual numbers seeded in the time constants for the
/// backward pass.
#[derive(Clone, Copy)]
struct SynK<S> {
    dt: S,
    t1: S,
    t2: S,
    e1: S,
    e2: S,
    scale: S,
}

/// The step constants: `exprel(−dt/τ)` per time constant and DualExpon's output scale. The
/// same expressions as the synapse modules (`(dt·(−1/τ)).exprel()`).
#[inline(always)]
fn syn_consts<S: Scalar>(kind: &SynKind, tau: &[S], dt: S) -> SynK<S> {
    let z = S::lit(0.0);
    let e = |t: S| (dt * (S::lit(-1.0) / t)).exprel();
    match *kind {
        SynKind::None => SynK { dt, t1: S::lit(1.0), t2: S::lit(1.0), e1: z, e2: z, scale: S::lit(1.0) },
        SynKind::Expon { .. } | SynKind::Alpha { .. } => SynK { dt, t1: tau[0], t2: S::lit(1.0), e1: e(tau[0]), e2: z, scale: S::lit(1.0) },
        SynKind::DualExpon { amplitude, normalize, .. } => {
            let (tr, td) = (tau[0], tau[1]);
            let a = S::lit(amplitude);
            let scale = if normalize { a * td / (td - tr) * ((tr / td).ln() * (tr / (tr - td))).exp() } else { a };
            SynK { dt, t1: tr, t2: td, e1: e(tr), e2: e(td), scale }
        }
    }
}

/// One synapse step of one element, the single definition both passes use: updates the state
/// `y` (`[g]`, `[g_rise, g_decay]` or `[g, h]`) with the input `x` and returns the output `g`,
/// through the synapse modules' own element steps (`expon_step`, `alpha_step` of
/// `synapse/linear.rs`), so in `f32` it is [`crate::synapse::Expon`], `DualExpon` and `Alpha`'s
/// update.
#[inline(always)]
fn syn_step<S: Scalar>(kind: &SynKind, k: &SynK<S>, y: &mut [S; 2], x: S) -> S {
    match kind {
        SynKind::None => x,
        SynKind::Expon { .. } => {
            y[0] = expon_step(y[0], x, k.e1, k.dt, k.t1);
            y[0]
        }
        SynKind::DualExpon { .. } => {
            y[0] = expon_step(y[0], x, k.e1, k.dt, k.t1);
            y[1] = expon_step(y[1], x, k.e2, k.dt, k.t2);
            k.scale * (y[1] - y[0])
        }
        SynKind::Alpha { .. } => {
            let [g, h] = y;
            alpha_step(g, h, x, k.e1, k.dt, k.t1);
            *g
        }
    }
}

/// The output of a synapse as the drive of the postsynaptic neuron: `(i, g_cond)` with the
/// drive `I(V) = i − g_cond·V` (COBA `g·(E − V)`: `(g·E, g)`; CUBA `g·scale`: `(g·scale, 0)`).
#[inline(always)]
fn drive<S: Scalar>(out: &Output, g: S) -> (S, S) {
    match *out {
        Output::Coba { e } => (g * S::lit(e), g),
        Output::Cuba { scale } => (g * S::lit(scale), S::lit(0.0)),
        // rejected by `connect`
        Output::MgBlock { .. } => (S::lit(0.0), S::lit(0.0)),
    }
}

/// Dale's law for the outgoing projections of a population: every weight has a fixed sign.
///
/// The trained parameter is a raw `θ`; the weight is `w = σ·|θ|` (the gradient
/// `∂L/∂θ = σ·sign(θ)·∂L/∂w`, `sign(0) = +1`). `σ = +1` for [`Dale::Excitatory`]; for
/// [`Dale::Inhibitory`], `σ = −1` onto a CUBA output and `σ = +1` onto a COBA output (a
/// conductance is never negative: the inhibition is the reversal potential's, e.g. −80 mV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dale {
    /// Excitatory: `w = |θ| ≥ 0`.
    Excitatory,
    /// Inhibitory: `w = −|θ|` (CUBA) or `|θ|` (COBA).
    Inhibitory,
}

/// What the network outputs: the spikes or one state of its output population
/// ([`SpikingNetwork::output`]).
#[derive(Debug, Clone, PartialEq)]
pub enum NetReadout {
    /// The spikes, `[steps][batch][n]`.
    Spikes,
    /// One state variable after each step (canonical units: `"V"` in mV), `[steps][batch][n]`;
    /// with a high threshold, a population of LIF neurons read this way is a leaky-integrator
    /// readout.
    State(String),
}

#[derive(Debug, Clone, PartialEq)]
enum ConnSpec {
    Dense,
    Prob { p: f64, seed: u64 },
}

#[derive(Debug, Clone, PartialEq)]
enum WInit {
    Normal { scale: Option<f64>, seed: u64 },
    Values(Vec<f64>),
}

/// A projection to add with [`SpikingNetwork::connect`]: source, target population, synapse,
/// output, connectivity, delay and initial weights.
///
/// * connectivity: dense (all `n_src × n_dst` pairs, the default) or sparse
///   ([`NetProj::prob`]: each pair present with probability `p`, a fixed mask from a seed);
/// * weights: `θ ~ scale·N(0, 1)` with `scale = 1/√(fan-in)` by default ([`NetProj::init`];
///   `|N(0,1)|` for a Dale population), or given ([`NetProj::weights`]). Units: the weight is
///   the delta of the synapse's input per presynaptic spike (S for a conductance: with a CUBA
///   output, `g·scale` is a current in mA with `scale` in mV);
/// * delay: a whole number of steps `d` ([`NetProj::delay_steps`]): at step `t` the projection
///   reads the source at `t − d` (the spikes of step `t − 1 − d` for a population);
/// * trainable synaptic time constants ([`NetProj::train_tau`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NetProj {
    src: Source,
    dst: NetPop,
    syn: SynKind,
    out: Output,
    conn: ConnSpec,
    delay: usize,
    init: WInit,
    train_tau: bool,
}

impl NetProj {
    /// A dense projection from `src` (a population or [`Source::Input`]) to `dst` through the
    /// synapse `syn` and the output `out` (`Output::Coba { e }`, `Output::Cuba { scale }`),
    /// no delay, default initial weights, time constants fixed.
    pub fn new(src: impl Into<Source>, dst: NetPop, syn: SynKind, out: Output) -> NetProj {
        NetProj {
            src: src.into(),
            dst,
            syn,
            out,
            conn: ConnSpec::Dense,
            delay: 0,
            init: WInit::Normal { scale: None, seed: 0 },
            train_tau: false,
        }
    }
    /// Sparse: each (pre, post) pair present with probability `p` (`0 < p ≤ 1`), from `seed`.
    pub fn prob(mut self, p: f64, seed: u64) -> NetProj {
        self.conn = ConnSpec::Prob { p, seed };
        self
    }
    /// A delay of `d` whole steps.
    pub fn delay_steps(mut self, d: usize) -> NetProj {
        self.delay = d;
        self
    }
    /// Initial `θ = scale·z` with `z ~ N(0, 1)` (`|z|` under Dale's law) from `seed`.
    pub fn init(mut self, scale: f64, seed: u64) -> NetProj {
        self.init = WInit::Normal { scale: Some(scale), seed };
        self
    }
    /// Initial `θ` given: dense `[n_src][n_dst]`, or one per synapse in row order for a sparse
    /// projection (see [`SpikingNetwork::synapses`]).
    pub fn weights(mut self, theta: Vec<f64>) -> NetProj {
        self.init = WInit::Values(theta);
        self
    }
    /// Train the synapse's time constants (`tau_syn`, or `tau_rise` and `tau_decay`).
    pub fn train_tau(mut self, on: bool) -> NetProj {
        self.train_tau = on;
        self
    }
}

/// A trainable tensor of a [`SpikingNetwork`] in its precision, with its gradient.
pub struct NetParam<'a, T> {
    /// Name: a neuron parameter (`"tau"`, `"V_th"`), `"W"` (the raw weights `θ` of a
    /// projection), `"tau_syn"`, `"tau_rise"`, `"tau_decay"`.
    pub name: &'static str,
    /// Values.
    pub value: &'a mut [T],
    /// Accumulated gradient.
    pub grad: &'a mut [T],
}

/// A population inside the network: type-erased neuron layer with its per-step tapes.
trait PopDyn<T: Real>: Send {
    fn n(&self) -> usize;
    fn model_name(&self) -> &'static str;
    fn state_index(&self, name: &str) -> Option<usize>;
    fn add_train(&mut self, name: &str) -> Result<()>;
    fn begin(&mut self, batch: usize, steps: usize, dt_ms: f64) -> Result<()>;
    fn step(&mut self, t: usize, i: &[T], g: &[T]) -> Result<()>;
    fn spikes(&self, t: usize) -> &[T];
    fn state(&self, t: usize, j: usize) -> &[T];
    fn back_step(&mut self, t: usize, gspk: &[T], gstate: Option<(usize, &[T])>) -> Result<()>;
    fn grad_i(&self) -> &[T];
    fn grad_g(&self) -> &[T];
    fn params(&mut self) -> Vec<NetParam<'_, T>>;
}

struct PopCell<M: NeuronModel, T: Real> {
    layer: NeuronLayer<M, T>,
    clock: Clock,
    tapes: Vec<Tape<T>>,
    grads: Gradients<T>,
    /// `(index in M::PARAMS, values, gradients)`
    train: Vec<(usize, Vec<T>, Vec<T>)>,
    /// adjoint of the state after the step being walked back, `[state][bn]`
    lam: Vec<T>,
    have_lam: bool,
    gst: Vec<T>,
}

impl<M: NeuronModel, T: Real> PopDyn<T> for PopCell<M, T> {
    fn n(&self) -> usize {
        self.layer.num_neurons()
    }
    fn model_name(&self) -> &'static str {
        M::NAME
    }
    fn state_index(&self, name: &str) -> Option<usize> {
        M::state_index(name)
    }
    fn add_train(&mut self, name: &str) -> Result<()> {
        let i = M::param_index(name).ok_or_else(|| SomataError::UnknownParameter {
            model: M::NAME.into(),
            name: name.into(),
            known: M::PARAMS.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
        })?;
        if self.train.iter().any(|(j, _, _)| *j == i) {
            return Ok(());
        }
        let vals: Vec<T> = match &self.layer.params[i] {
            ParamValue::Shared(v) => vec![T::from_f64(*v)],
            ParamValue::PerNeuron(v) => v.iter().map(|&x| T::from_f64(x)).collect(),
        };
        let zeros = vec![T::ZERO; vals.len()];
        self.train.push((i, vals, zeros));
        Ok(())
    }
    fn begin(&mut self, batch: usize, steps: usize, dt_ms: f64) -> Result<()> {
        for (i, v, _) in &self.train {
            let spec = &M::PARAMS[*i];
            if v.iter().any(|p| !p.finite() || (spec.check == Check::Positive && p.to_f64() <= 0.0)) {
                return Err(SomataError::param(M::NAME, spec.name, v[0].to_f64(), "left its valid range during training"));
            }
            self.layer.params[*i] = if v.len() == 1 {
                ParamValue::Shared(v[0].to_f64())
            } else {
                ParamValue::PerNeuron(v.iter().map(|p| p.to_f64()).collect())
            };
        }
        self.layer.init_state(Some(batch))?;
        self.clock = Clock::from_ms(dt_ms)?;
        if self.tapes.len() < steps {
            self.tapes.resize_with(steps, Tape::default);
        }
        self.have_lam = false;
        Ok(())
    }
    fn step(&mut self, t: usize, i: &[T], g: &[T]) -> Result<()> {
        self.layer.forward_tape_cond(&mut self.clock, i, g, 1, &mut self.tapes[t])
    }
    fn spikes(&self, t: usize) -> &[T] {
        self.tapes[t].spikes()
    }
    fn state(&self, t: usize, j: usize) -> &[T] {
        self.tapes[t].state(1, j)
    }
    fn back_step(&mut self, t: usize, gspk: &[T], gstate: Option<(usize, &[T])>) -> Result<()> {
        let bn = self.layer.num_elements();
        let ns = M::STATES.len();
        let gst = if self.have_lam || gstate.is_some() {
            self.gst.clear();
            if self.have_lam {
                self.gst.extend_from_slice(&self.lam);
            } else {
                self.gst.resize(ns * bn, T::ZERO);
            }
            if let Some((j, g)) = gstate {
                for (d, &v) in self.gst[j * bn..(j + 1) * bn].iter_mut().zip(g) {
                    *d += v;
                }
            }
            Some(&self.gst[..])
        } else {
            None
        };
        let names: Vec<&str> = self.train.iter().map(|(i, _, _)| M::PARAMS[*i].name).collect();
        self.layer.backward_full(&self.tapes[t], gspk, gst, &names, &mut self.grads)?;
        for (k, (_, _, g)) in self.train.iter_mut().enumerate() {
            match &self.grads.params[k].1 {
                ParamGrad::Shared(v) => g[0] += T::from_f64(*v),
                ParamGrad::PerNeuron(v) => {
                    for (d, &x) in g.iter_mut().zip(v) {
                        *d += T::from_f64(x);
                    }
                }
            }
        }
        self.lam.clear();
        self.lam.extend_from_slice(&self.grads.initial_state);
        self.have_lam = true;
        Ok(())
    }
    fn grad_i(&self) -> &[T] {
        &self.grads.input
    }
    fn grad_g(&self) -> &[T] {
        &self.grads.conductance
    }
    fn params(&mut self) -> Vec<NetParam<'_, T>> {
        self.train.iter_mut().map(|(i, v, g)| NetParam { name: M::PARAMS[*i].name, value: v, grad: g }).collect()
    }
}

/// A projection inside the network.
struct Proj<T> {
    src: Source,
    dst: usize,
    syn: SynKind,
    out: Output,
    delay: usize,
    train_tau: bool,
    n_src: usize,
    n_dst: usize,
    /// CSR over source neurons: synapses `ptr[i]..ptr[i+1]` go to `idx[k]`
    ptr: Vec<usize>,
    idx: Vec<u32>,
    theta: Vec<T>,
    gtheta: Vec<T>,
    /// effective weights of the current pass, and their gradient
    w: Vec<T>,
    gw: Vec<T>,
    /// σ of Dale's law (0: free weights, w = θ)
    sigma: f64,
    tau: Vec<T>,
    gtau: Vec<T>,
    /// synapse states before each step: `[steps + 1][2][bn]`
    y: Vec<T>,
    /// projected inputs: `[steps][bn]`
    x: Vec<T>,
    /// adjoint of the synapse state, `[2][bn]`
    lam: Vec<T>,
    /// ∂L/∂x of one step
    gx: Vec<T>,
}

impl<T: Real> Proj<T> {
    fn nnz(&self) -> usize {
        self.idx.len()
    }
}

/// `out[b][idx[k]] += u[b][i]·w[k]` over the synapses of every nonzero `u[b][i]`.
fn propagate<T: Real>(u: &[T], n_src: usize, n_dst: usize, ptr: &[usize], idx: &[u32], w: &[T], out: &mut [T]) {
    for (urow, orow) in u.chunks_exact(n_src).zip(out.chunks_exact_mut(n_dst)) {
        for (i, &ui) in urow.iter().enumerate() {
            if ui == T::ZERO {
                continue;
            }
            for k in ptr[i]..ptr[i + 1] {
                orow[idx[k] as usize] += ui * w[k];
            }
        }
    }
}

/// A trainable network of spiking populations and projections, run step by step over a batch
/// of sequences and trained by exact BPTT through every path: recurrence, delays, synapse
/// states and the conductance terms of the membrane equations.
///
/// # Model (step `t`, BrainPy's order, as [`crate::net::Network`])
///
/// 1. every projection `p` reads its source `u_t` (the input `x_{t−d}`, or the spikes
///    `s_{t−1−d}` of its presynaptic population; zero before the start) and projects it:
///    `x^p_t = u_t·W_p` (dense or sparse `W_p`, `[n_src][n_dst]`, event-driven on nonzero `u`);
/// 2. its synapse steps, `y^p_t = f(y^p_{t−1}, x^p_t; τ_p)`, output `g^p_t` ([`SynKind`]);
/// 3. the outputs sum into each population's drive `I(V) = Σ_CUBA g·scale + Σ_COBA g·(E − V)`
///    (so `i = Σ g·scale + Σ g·E` in mA, `g_cond = Σ_COBA g` in S), evaluated **inside** the
///    neuron's membrane equation (exponential Euler's Jacobian includes `−g_cond`), and every
///    population steps (`s_t` = spikes).
///
/// The output is the spikes (or a state, [`NetReadout`]) of the output population
/// ([`SpikingNetwork::output`]; default: the last population added). As a [`Layer`] (f32) the
/// input is the `n_in`-wide sequence, so that it composes with [`super::Sequential`], readouts,
/// losses, optimizers and checkpoints.
///
/// # Trainable
/// Weights `θ` of every projection (`"W"`; `w = θ`, or `σ·|θ|` under [`Dale`]'s law), the
/// synaptic time constants of projections built with [`NetProj::train_tau`], any parameter of a
/// population marked with [`SpikingNetwork::train`] (`"tau"`, `"V_th"`, ..., shared or per
/// neuron), and the input (`∂L/∂x`).
///
/// # What computes the gradients
/// No backward pass is written per component:
/// * **neurons**: the engine's one-step tapes ([`NeuronLayer::forward_tape_cond`]) and reverse
///   pass ([`NeuronLayer::backward_full`], carrying the state adjoint between steps): the local
///   Jacobians come from the model's own step on dual numbers, surrogate spikes included, and
///   give `∂L/∂i`, `∂L/∂g_cond` and the parameter gradients;
/// * **synapses and outputs**: one generic definition of the synapse step and of the drive (the
///   code that also runs the forward pass), re-evaluated on dual numbers seeded in the synapse
///   state, the input and the time constants: local Jacobians (DualExpon's normalisation
///   included) by forward-mode differentiation;
/// * **chain rule by hand** (generic, not per component): the projection `x = u·W` (its
///   transpose `∂L/∂u = ∂L/∂x·Wᵀ` and `∂L/∂W = uᵀ·∂L/∂x` over the stored synapses), the
///   shift of delays, the sum of the drives, and Dale's `σ·sign(θ)`.
///
/// Reverse order: at step `t`, every population's step is walked back with
/// `∂L/∂s_t` (the loss plus what the later steps' projections sent back), then every
/// projection's synapse and weights, which send `∂L/∂u` to the source at `t − 1 − d`.
///
/// Gradients are checked against central finite differences in f64 for every component type
/// (tests/all/net_bptt.rs). Runs in `f32` (training) or `f64` ([`SpikingNetwork::forward_seq`]).
///
/// ```
/// use somata::nn::{Dale, NetProj, NetReadout, Source, SpikingNetwork, SynKind};
/// use somata::net::Output;
/// use somata::prelude::*;
///
/// // 3 inputs → E (8 LIF) ⇄ I (4 LIF), COBA synapses, E → E recurrent with a 2-step delay
/// let lif = |n| Lif::builder(n).v_rest(-60.0 * mV).v_reset(-60.0 * mV).v_th(-50.0 * mV)
///     .tau(10.0 * ms).init("V", Init::Constant(-60.0)).spk_fun(Sigmoid::default()).build();
/// let mut net = SpikingNetwork::<f32>::new(3);
/// let e = net.add_pop(lif(8)?, "E")?;
/// let i = net.add_pop(lif(4)?, "I")?;
/// net.dale(e, Dale::Excitatory)?;
/// net.dale(i, Dale::Inhibitory)?;
/// let exc = Output::Coba { e: 0.0 };
/// let inh = Output::Coba { e: -80.0 };
/// net.connect(NetProj::new(Source::Input, e, SynKind::Expon { tau: 5.0 }, Output::Cuba { scale: 1.0 }).init(20.0, 1))?;
/// net.connect(NetProj::new(e, e, SynKind::Expon { tau: 5.0 }, exc).prob(0.5, 2).delay_steps(2).train_tau(true))?;
/// net.connect(NetProj::new(e, i, SynKind::Alpha { tau: 5.0 }, exc).init(0.1, 3))?;
/// net.connect(NetProj::new(i, e, SynKind::DUAL_EXPON, inh).init(0.1, 4))?;
/// net.train(e, "tau")?;
/// net.output(e, NetReadout::Spikes)?;
/// // 20 steps of dt = 1 ms, batch 2
/// let x = vec![1.0f32; 20 * 2 * 3];
/// let y = net.forward_seq(&x, 20, 2, 1.0)?;               // [20][2][8] spikes
/// let gx = net.backward_seq(&vec![1.0; y.len()])?;        // ∂(Σ spikes)/∂x
/// assert_eq!(gx.len(), x.len());
/// let names: Vec<&str> = net.params_t().iter().map(|p| p.name).collect();
/// assert_eq!(names, ["tau", "W", "W", "tau_syn", "W", "W"]);
/// # Ok::<(), somata::SomataError>(())
/// ```
pub struct SpikingNetwork<T: Real = f32> {
    n_in: usize,
    pops: Vec<Box<dyn PopDyn<T>>>,
    names: Vec<String>,
    dale: Vec<Option<Dale>>,
    projs: Vec<Proj<T>>,
    out: Option<(usize, NetReadout)>,
    steps: usize,
    batch: usize,
    dt_ms: f64,
    ran: bool,
    x_constant: bool,
    ibuf: Vec<Vec<T>>,
    gbuf: Vec<Vec<T>>,
    /// the input of the last forward pass
    xin: Vec<T>,
}

impl<T: Real> std::fmt::Debug for SpikingNetwork<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl<T: Real> SpikingNetwork<T> {
    /// An empty network reading `n_in` input values per step and batch row.
    pub fn new(n_in: usize) -> SpikingNetwork<T> {
        SpikingNetwork {
            n_in,
            pops: Vec::new(),
            names: Vec::new(),
            dale: Vec::new(),
            projs: Vec::new(),
            out: None,
            steps: 0,
            batch: 0,
            dt_ms: 0.0,
            ran: false,
            x_constant: false,
            ibuf: Vec::new(),
            gbuf: Vec::new(),
            xin: Vec::new(),
        }
    }

    /// Add a population of any neuron model (built with its surrogate and reset; the batch axis
    /// is set at each forward pass). Returns its handle.
    pub fn add_pop<M: NeuronModel>(&mut self, layer: NeuronLayer<M, T>, name: &str) -> Result<NetPop> {
        if layer.num_neurons() == 0 {
            return Err(SomataError::ShapeMismatch { what: format!("population {name}"), expected: vec![1], got: vec![0] });
        }
        self.pops.push(Box::new(PopCell {
            layer,
            clock: Clock::from_ms(1.0)?,
            tapes: Vec::new(),
            grads: Gradients::default(),
            train: Vec::new(),
            lam: Vec::new(),
            have_lam: false,
            gst: Vec::new(),
        }));
        self.names.push(name.to_string());
        self.dale.push(None);
        self.ran = false;
        Ok(NetPop(self.pops.len() - 1))
    }

    fn pop_index(&self, p: NetPop) -> Result<usize> {
        if p.0 < self.pops.len() {
            Ok(p.0)
        } else {
            Err(SomataError::Format(format!("no population {} in this network ({} populations)", p.0, self.pops.len())))
        }
    }

    /// Train a parameter of a population's neuron model (canonical units), e.g. `"tau"` or
    /// `"V_th"`: shared if the layer has one value, per neuron if it has one per neuron.
    pub fn train(&mut self, pop: NetPop, name: &str) -> Result<()> {
        let k = self.pop_index(pop)?;
        self.pops[k].add_train(name)
    }

    /// Dale's law for the projections out of `pop` (see [`Dale`]); applies to the weights of
    /// every pass from now on (connect after it for a nonnegative initial `θ`).
    pub fn dale(&mut self, pop: NetPop, d: Dale) -> Result<()> {
        let k = self.pop_index(pop)?;
        self.dale[k] = Some(d);
        Ok(())
    }

    /// Choose the output: `readout` of population `pop`.
    pub fn output(&mut self, pop: NetPop, readout: NetReadout) -> Result<()> {
        let k = self.pop_index(pop)?;
        if let NetReadout::State(s) = &readout
            && self.pops[k].state_index(s).is_none()
        {
            return Err(SomataError::UnknownState {
                model: self.pops[k].model_name().into(),
                name: s.clone(),
                known: String::from("see the model's STATES"),
            });
        }
        self.out = Some((k, readout));
        Ok(())
    }

    /// Add a projection (see [`NetProj`]). Errors: an unknown population, an input projection
    /// into a network with no input, a probability outside `(0, 1]`, an output other than COBA
    /// or CUBA, invalid time constants, or given weights of the wrong length.
    pub fn connect(&mut self, p: NetProj) -> Result<NetProjId> {
        let dst = self.pop_index(p.dst)?;
        let n_src = match p.src {
            Source::Input => {
                if self.n_in == 0 {
                    return Err(SomataError::Format("an input projection needs n_in > 0".into()));
                }
                self.n_in
            }
            Source::Pop(s) => {
                let s = self.pop_index(s)?;
                self.pops[s].n()
            }
        };
        let n_dst = self.pops[dst].n();
        match p.out {
            Output::Coba { e } if e.is_finite() => {}
            Output::Cuba { scale } if scale.is_finite() => {}
            Output::MgBlock { .. } => return Err(SomataError::Format("SpikingNetwork projections take COBA or CUBA outputs".into())),
            _ => return Err(SomataError::param("output", "E/scale", f64::NAN, "must be finite")),
        }
        let tau = p.syn.taus();
        p.syn.check(&tau)?;
        let mut ptr = vec![0usize; n_src + 1];
        let mut idx = Vec::new();
        match p.conn {
            ConnSpec::Dense => {
                for i in 0..n_src {
                    idx.extend(0..n_dst as u32);
                    ptr[i + 1] = idx.len();
                }
            }
            ConnSpec::Prob { p: prob, seed } => {
                if !(prob > 0.0 && prob <= 1.0) {
                    return Err(SomataError::param("projection", "prob", prob, "must be in (0, 1]"));
                }
                let mut rng = Rng::new(seed);
                for i in 0..n_src {
                    for j in 0..n_dst {
                        if rng.uniform() < prob {
                            idx.push(j as u32);
                        }
                    }
                    ptr[i + 1] = idx.len();
                }
            }
        }
        let nnz = idx.len();
        let dale = match p.src {
            Source::Pop(s) => self.dale[s.0].is_some(),
            Source::Input => false,
        };
        let theta: Vec<f64> = match &p.init {
            WInit::Values(v) => {
                if v.len() != nnz {
                    return Err(SomataError::ShapeMismatch {
                        what: "projection weights (one per synapse)".into(),
                        expected: vec![nnz],
                        got: vec![v.len()],
                    });
                }
                v.clone()
            }
            WInit::Normal { scale, seed } => {
                let fan_in = (nnz as f64 / n_dst.max(1) as f64).max(1.0);
                let s = scale.unwrap_or(1.0 / fan_in.sqrt());
                let mut rng = Rng::new(*seed);
                (0..nnz).map(|_| if dale { s * rng.normal().abs() } else { s * rng.normal() }).collect()
            }
        };
        if let Some(bad) = theta.iter().find(|v| !v.is_finite()) {
            return Err(SomataError::param("projection", "W", *bad, "must be finite"));
        }
        let nt = tau.len();
        self.projs.push(Proj {
            src: p.src,
            dst,
            syn: p.syn,
            out: p.out,
            delay: p.delay,
            train_tau: p.train_tau,
            n_src,
            n_dst,
            ptr,
            idx,
            theta: theta.into_iter().map(T::from_f64).collect(),
            gtheta: vec![T::ZERO; nnz],
            w: Vec::new(),
            gw: Vec::new(),
            sigma: 0.0,
            tau: tau.into_iter().map(T::from_f64).collect(),
            gtau: vec![T::ZERO; nt],
            y: Vec::new(),
            x: Vec::new(),
            lam: Vec::new(),
            gx: Vec::new(),
        });
        self.ran = false;
        Ok(NetProjId(self.projs.len() - 1))
    }

    /// Input width.
    pub fn n_in(&self) -> usize {
        self.n_in
    }
    /// Output width (the output population's size; 0 with no population).
    pub fn n_out(&self) -> usize {
        self.out_index().map_or(0, |k| self.pops[k].n())
    }
    fn out_index(&self) -> Option<usize> {
        match &self.out {
            Some((k, _)) => Some(*k),
            None => self.pops.len().checked_sub(1),
        }
    }
    /// The synapses of a projection as `(pre, post)` pairs in storage order (row by row: the
    /// order of its weights).
    pub fn synapses(&self, p: NetProjId) -> Result<Vec<(usize, usize)>> {
        let pr = self.projs.get(p.0).ok_or_else(|| SomataError::Format(format!("no projection {}", p.0)))?;
        let mut v = Vec::with_capacity(pr.nnz());
        for i in 0..pr.n_src {
            for k in pr.ptr[i]..pr.ptr[i + 1] {
                v.push((i, pr.idx[k] as usize));
            }
        }
        Ok(v)
    }
    /// The effective weights `w` of a projection (after Dale's law), one per synapse.
    pub fn weights(&self, p: NetProjId) -> Result<Vec<T>> {
        let pr = self.projs.get(p.0).ok_or_else(|| SomataError::Format(format!("no projection {}", p.0)))?;
        let sigma = self.sigma_of(pr);
        Ok(pr.theta.iter().map(|&t| if sigma == 0.0 { t } else { T::from_f64(sigma * t.to_f64().abs()) }).collect())
    }
    /// A one-line description per population and projection.
    pub fn describe(&self) -> String {
        let mut s = format!("SpikingNetwork(n_in = {})", self.n_in);
        for (k, p) in self.pops.iter().enumerate() {
            s += &format!(
                "; {} = {}({}){}",
                self.names[k],
                p.model_name(),
                p.n(),
                self.dale[k].map_or(String::new(), |d| format!(" {d:?}"))
            );
        }
        for p in &self.projs {
            let src = match p.src {
                Source::Input => "input".to_string(),
                Source::Pop(q) => self.names[q.0].clone(),
            };
            s += &format!("; {src} → {} [{} syn, {}, {:?}, delay {}]", self.names[p.dst], p.nnz(), p.syn.name(), p.out, p.delay);
        }
        s
    }

    fn sigma_of(&self, p: &Proj<T>) -> f64 {
        match p.src {
            Source::Input => 0.0,
            Source::Pop(s) => match self.dale[s.0] {
                None => 0.0,
                Some(Dale::Excitatory) => 1.0,
                Some(Dale::Inhibitory) => {
                    if matches!(p.out, Output::Coba { .. }) {
                        1.0
                    } else {
                        -1.0
                    }
                }
            },
        }
    }

    /// Every trainable tensor with its gradient: the trained parameters of each population (in
    /// the order of the populations, then of [`SpikingNetwork::train`] calls), then for each
    /// projection its `"W"` (`θ`) and, if trained, its time constants.
    pub fn params_t(&mut self) -> Vec<NetParam<'_, T>> {
        let mut v: Vec<NetParam<'_, T>> = self.pops.iter_mut().flat_map(|p| p.params()).collect();
        for p in self.projs.iter_mut() {
            v.push(NetParam { name: "W", value: &mut p.theta, grad: &mut p.gtheta });
            if p.train_tau {
                let names = p.syn.tau_names();
                for ((name, t), g) in names.iter().zip(p.tau.chunks_mut(1)).zip(p.gtau.chunks_mut(1)) {
                    v.push(NetParam { name, value: t, grad: g });
                }
            }
        }
        v
    }

    /// Zero every accumulated gradient.
    pub fn zero_grad(&mut self) {
        for p in self.params_t() {
            p.grad.fill(T::ZERO);
        }
    }

    /// Run a batch of sequences: `x` is `[steps][batch][n_in]` (time-major), `dt_ms` the step
    /// (ms). Returns the output (`[steps][batch][n_out]`) and keeps what
    /// [`SpikingNetwork::backward_seq`] needs. Every pass starts from the populations' initial
    /// states (their initializers), zero synapse states and no spikes.
    pub fn forward_seq(&mut self, x: &[T], steps: usize, batch: usize, dt_ms: f64) -> Result<Vec<T>> {
        if x.len() != steps * batch * self.n_in {
            return Err(SomataError::ShapeMismatch {
                what: "network input [steps][batch][n_in]".into(),
                expected: vec![steps, batch, self.n_in],
                got: vec![x.len()],
            });
        }
        if !(dt_ms.is_finite() && dt_ms > 0.0) {
            return Err(SomataError::InvalidDt(dt_ms));
        }
        let Some(ko) = self.out_index() else {
            return Err(SomataError::Format("SpikingNetwork: no population".into()));
        };
        if batch == 0 {
            return Err(SomataError::ShapeMismatch { what: "batch size".into(), expected: vec![1], got: vec![0] });
        }
        self.ran = false;
        let readout = self.out.as_ref().map_or(NetReadout::Spikes, |(_, r)| r.clone());
        let out_state = match &readout {
            NetReadout::Spikes => None,
            NetReadout::State(s) => Some(self.pops[ko].state_index(s).ok_or_else(|| SomataError::Format(format!("unknown state {s}")))?),
        };
        for k in 0..self.pops.len() {
            self.pops[k].begin(batch, steps, dt_ms)?;
        }
        let dt = T::from_f64(dt_ms);
        let mut consts = Vec::with_capacity(self.projs.len());
        for pi in 0..self.projs.len() {
            let sigma = self.sigma_of(&self.projs[pi]);
            let p = &mut self.projs[pi];
            let tau: Vec<f64> = p.tau.iter().map(|t| t.to_f64()).collect();
            p.syn.check(&tau)?;
            p.sigma = sigma;
            p.w.clear();
            p.w.extend(p.theta.iter().map(|&t| if sigma == 0.0 { t } else { T::from_f64(sigma * t.to_f64().abs()) }));
            let bn = batch * p.n_dst;
            p.y.clear();
            p.y.resize((steps + 1) * 2 * bn, T::ZERO);
            p.x.clear();
            p.x.resize(steps * bn, T::ZERO);
            let mut k = syn_consts::<T>(&p.syn, &p.tau, dt);
            if let SynKind::DualExpon { amplitude, normalize, .. } = p.syn {
                // the module's scale, computed in f64 (bit for bit DualExpon's in f32)
                k.scale = T::from_f64(if normalize {
                    let (tr, td) = (tau[0], tau[1]);
                    amplitude * td / (td - tr) * (tr / td).powf(tr / (tr - td))
                } else {
                    amplitude
                });
            }
            consts.push(k);
        }
        self.ibuf.resize_with(self.pops.len(), Vec::new);
        self.gbuf.resize_with(self.pops.len(), Vec::new);
        for t in 0..steps {
            for k in 0..self.pops.len() {
                let bn = batch * self.pops[k].n();
                self.ibuf[k].clear();
                self.ibuf[k].resize(bn, T::ZERO);
                self.gbuf[k].clear();
                self.gbuf[k].resize(bn, T::ZERO);
            }
            for (p, kc) in self.projs.iter_mut().zip(&consts) {
                let bn = batch * p.n_dst;
                let u: Option<&[T]> = match p.src {
                    Source::Input => (t >= p.delay).then(|| &x[(t - p.delay) * batch * self.n_in..(t - p.delay + 1) * batch * self.n_in]),
                    Source::Pop(s) => (t > p.delay).then(|| self.pops[s.0].spikes(t - 1 - p.delay)),
                };
                let xs = &mut p.x[t * bn..(t + 1) * bn];
                if let Some(u) = u {
                    propagate(u, p.n_src, p.n_dst, &p.ptr, &p.idx, &p.w, xs);
                }
                let (old, new) = p.y.split_at_mut((t + 1) * 2 * bn);
                let old = &old[t * 2 * bn..];
                let new = &mut new[..2 * bn];
                let (ib, gb) = (&mut self.ibuf[p.dst], &mut self.gbuf[p.dst]);
                for e in 0..bn {
                    let mut s = [old[e], old[bn + e]];
                    let g = syn_step(&p.syn, kc, &mut s, xs[e]);
                    new[e] = s[0];
                    new[bn + e] = s[1];
                    let (di, dg) = drive(&p.out, g);
                    ib[e] += di;
                    gb[e] += dg;
                }
            }
            for k in 0..self.pops.len() {
                self.pops[k].step(t, &self.ibuf[k], &self.gbuf[k])?;
            }
        }
        let bno = batch * self.pops[ko].n();
        let mut y = Vec::with_capacity(steps * bno);
        for t in 0..steps {
            match out_state {
                None => y.extend_from_slice(self.pops[ko].spikes(t)),
                Some(j) => y.extend_from_slice(self.pops[ko].state(t, j)),
            }
        }
        self.xin.clear();
        self.xin.extend_from_slice(x);
        self.steps = steps;
        self.batch = batch;
        self.dt_ms = dt_ms;
        self.ran = true;
        Ok(y)
    }

    /// Given `∂L/∂y` of the last forward pass (`[steps][batch][n_out]`), accumulate every
    /// trainable gradient and return `∂L/∂x` (`[steps][batch][n_in]`).
    pub fn backward_seq(&mut self, gy: &[T]) -> Result<Vec<T>> {
        if !self.ran {
            return Err(SomataError::Format("SpikingNetwork::backward before forward".into()));
        }
        let (steps, batch) = (self.steps, self.batch);
        let ko = self.out_index().expect("ran");
        let bno = batch * self.pops[ko].n();
        if gy.len() != steps * bno {
            return Err(SomataError::ShapeMismatch {
                what: "network output gradient [steps][batch][n_out]".into(),
                expected: vec![steps, batch, self.pops[ko].n()],
                got: vec![gy.len()],
            });
        }
        let out_state = match self.out.as_ref().map(|(_, r)| r) {
            Some(NetReadout::State(s)) => self.pops[ko].state_index(s),
            _ => None,
        };
        // ∂L/∂s per population, [steps][bn]: the loss, then what later projections send back
        let mut gs: Vec<Vec<T>> = self.pops.iter().map(|p| vec![T::ZERO; steps * batch * p.n()]).collect();
        if out_state.is_none() {
            gs[ko].copy_from_slice(gy);
        }
        let mut gx = vec![T::ZERO; steps * batch * self.n_in];
        const D: usize = 5;
        let dt = Dual::<T, D>::constant(T::from_f64(self.dt_ms));
        let mut dconsts = Vec::with_capacity(self.projs.len());
        for p in self.projs.iter_mut() {
            let bn = batch * p.n_dst;
            p.lam.clear();
            p.lam.resize(2 * bn, T::ZERO);
            p.gx.clear();
            p.gx.resize(bn, T::ZERO);
            p.gw.clear();
            p.gw.resize(p.nnz(), T::ZERO);
            let tau: Vec<Dual<T, D>> = p.tau.iter().enumerate().map(|(q, &v)| Dual::var(v, 3 + q)).collect();
            dconsts.push(syn_consts(&p.syn, &tau, dt));
        }
        let mut gtau_run: Vec<[f64; 2]> = vec![[0.0; 2]; self.projs.len()];
        for t in (0..steps).rev() {
            for (k, (pop, gsk)) in self.pops.iter_mut().zip(&gs).enumerate() {
                let bn = batch * pop.n();
                let gstate = match out_state {
                    Some(j) if k == ko => Some((j, &gy[t * bno..(t + 1) * bno])),
                    _ => None,
                };
                pop.back_step(t, &gsk[t * bn..(t + 1) * bn], gstate)?;
            }
            for (pi, p) in self.projs.iter_mut().enumerate() {
                let bn = batch * p.n_dst;
                let (gi, gg) = (self.pops[p.dst].grad_i(), self.pops[p.dst].grad_g());
                let ns = p.syn.n_states();
                let kc = &dconsts[pi];
                let old = &p.y[t * 2 * bn..(t + 1) * 2 * bn];
                let xs = &p.x[t * bn..(t + 1) * bn];
                for e in 0..bn {
                    // ∂L/∂g of the output: the drive's derivative (one tangent)
                    let (di, dg) = drive(&p.out, Dual::<T, 1>::var(T::ZERO, 0));
                    let gout = gi[e] * di.d[0] + gg[e] * dg.d[0];
                    if ns == 0 {
                        p.gx[e] = gout;
                        continue;
                    }
                    let mut s = [Dual::<T, D>::var(old[e], 0), Dual::<T, D>::var(old[bn + e], 1)];
                    let o = syn_step(&p.syn, kc, &mut s, Dual::var(xs[e], 2));
                    let mut acc = [T::ZERO; D];
                    for (a, &od) in acc.iter_mut().zip(&o.d) {
                        *a = gout * od;
                    }
                    for (j, sj) in s.iter().enumerate().take(ns) {
                        let l = p.lam[j * bn + e];
                        for (a, &sd) in acc.iter_mut().zip(&sj.d) {
                            *a += l * sd;
                        }
                    }
                    for (j, &a) in acc.iter().enumerate().take(ns) {
                        p.lam[j * bn + e] = a;
                    }
                    p.gx[e] = acc[2];
                    gtau_run[pi][0] += acc[3].to_f64();
                    gtau_run[pi][1] += acc[4].to_f64();
                }
                // x = u·W: ∂W += uᵀ·∂x, ∂u = ∂x·Wᵀ, sent to the source at t − d (input) or
                // t − 1 − d (spikes)
                let (src_t, nsrc) = match p.src {
                    Source::Input if t >= p.delay => (Some(t - p.delay), self.n_in),
                    Source::Pop(s) if t > p.delay => (Some(t - 1 - p.delay), self.pops[s.0].n()),
                    _ => (None, 0),
                };
                let Some(ts) = src_t else { continue };
                let blk = batch * nsrc;
                let (u, gu): (&[T], &mut [T]) = match p.src {
                    Source::Input => (&self.xin[ts * blk..(ts + 1) * blk], &mut gx[ts * blk..(ts + 1) * blk]),
                    Source::Pop(s) => (self.pops[s.0].spikes(ts), &mut gs[s.0][ts * blk..(ts + 1) * blk]),
                };
                for ((urow, gurow), gxrow) in u.chunks_exact(nsrc).zip(gu.chunks_exact_mut(nsrc)).zip(p.gx.chunks_exact(p.n_dst)) {
                    for (i, (&ui, gui)) in urow.iter().zip(gurow.iter_mut()).enumerate() {
                        let mut acc = T::ZERO;
                        for k in p.ptr[i]..p.ptr[i + 1] {
                            let g = gxrow[p.idx[k] as usize];
                            acc += p.w[k] * g;
                            if ui != T::ZERO {
                                p.gw[k] += ui * g;
                            }
                        }
                        *gui += acc;
                    }
                }
            }
        }
        // θ: w = θ, or σ·|θ| (∂w/∂θ = σ·sign(θ), sign(0) = +1)
        for (p, gt) in self.projs.iter_mut().zip(&gtau_run) {
            for ((d, &g), &th) in p.gtheta.iter_mut().zip(&p.gw).zip(&p.theta) {
                *d += if p.sigma == 0.0 {
                    g
                } else if th >= T::ZERO {
                    T::from_f64(p.sigma) * g
                } else {
                    -T::from_f64(p.sigma) * g
                };
            }
            if p.train_tau {
                for (d, &g) in p.gtau.iter_mut().zip(gt) {
                    *d += T::from_f64(g);
                }
            }
        }
        Ok(gx)
    }
}

/// As a layer of a [`super::Sequential`] (f32): input `[steps][batch][n_in]` (a constant input
/// is repeated at every step and its gradient summed over time), output the readout of the
/// output population; the parameters are [`SpikingNetwork::params_t`].
impl Layer for SpikingNetwork<f32> {
    fn kind(&self) -> String {
        "network".into()
    }
    fn n_in(&self) -> usize {
        self.n_in
    }
    fn n_out(&self) -> usize {
        SpikingNetwork::n_out(self)
    }
    fn forward(&mut self, x: &SeqBuf, dt_ms: f64) -> Result<SeqBuf> {
        super::layers::check_in(x, self.n_in, "network")?;
        let y = if x.constant {
            self.forward_seq(&x.to_dense().data, x.steps, x.batch, dt_ms)?
        } else {
            self.forward_seq(&x.data, x.steps, x.batch, dt_ms)?
        };
        self.x_constant = x.constant;
        Ok(SeqBuf::dense(y, x.steps, x.batch, SpikingNetwork::n_out(self)))
    }
    fn backward(&mut self, gy: &SeqBuf, need_input: bool) -> Result<Option<SeqBuf>> {
        let gy = if gy.constant { gy.to_dense() } else { gy.clone() };
        let gx = self.backward_seq(&gy.data)?;
        if !need_input {
            return Ok(None);
        }
        let (steps, batch, n) = (self.steps, self.batch, self.n_in);
        if self.x_constant {
            let mut s = vec![0.0f32; batch * n];
            for row in gx.chunks_exact(batch * n) {
                for (a, &v) in s.iter_mut().zip(row) {
                    *a += v;
                }
            }
            return Ok(Some(SeqBuf::constant(s, steps, batch, n)));
        }
        Ok(Some(SeqBuf::dense(gx, steps, batch, n)))
    }
    fn params(&mut self) -> Vec<Param<'_>> {
        self.params_t().into_iter().map(|p| Param { name: p.name, value: p.value, grad: p.grad }).collect()
    }
}
