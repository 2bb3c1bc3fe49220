//! Non-spiking readouts: [`LeakyRateReadout`] (BrainPy's) and [`LeakyMembraneReadout`] (a leaky
//! integrator membrane with a bias, exact exponential-Euler step).

use super::layers::{check_in, kaiming_normal};
use super::mat::sgemm;
use super::{Layer, Param, SeqBuf};
use crate::error::{Result, SomataError};
use crate::init::Rng;
use crate::units::Time;

fn check_tau(what: &str, tau: Time) -> Result<()> {
    if !(tau.canonical() > 0.0 && tau.canonical().is_finite()) {
        return Err(SomataError::param(what, "tau", tau.canonical(), "must be > 0"));
    }
    Ok(())
}

fn check_w(what: &str, w: &[f32], n_in: usize, n_out: usize) -> Result<()> {
    if w.len() != n_in * n_out {
        return Err(SomataError::ShapeMismatch {
            what: format!("{what} weights [in][out]"),
            expected: vec![n_in, n_out],
            got: vec![w.len()],
        });
    }
    Ok(())
}

/// The recorded input of the last forward pass and the state it started from.
#[derive(Debug, Clone, Default)]
struct Run {
    x: Option<SeqBuf>,
    /// The value carried over from the previous pass (`batch × out`), if carrying.
    last: Option<Vec<f32>>,
    carry: bool,
}

impl Run {
    /// The starting value for a batch of `blk = batch × out` values, if carried.
    fn start(&self, blk: usize) -> Option<&[f32]> {
        match &self.last {
            Some(v) if self.carry && v.len() == blk => Some(v),
            _ => None,
        }
    }
}

/// `Σ_t g_t` of a dense `[steps][blk]` buffer.
fn time_sum(g: &[f32], steps: usize, blk: usize) -> Vec<f32> {
    let mut s = vec![0.0f32; blk];
    for t in 0..steps {
        for (a, &v) in s.iter_mut().zip(&g[t * blk..(t + 1) * blk]) {
            *a += v;
        }
    }
    s
}

/// `G_t = g_t + a·G_{t+1}` in place over `[steps][blk]`.
fn reverse_leak(g: &mut [f32], steps: usize, blk: usize, a: f32) {
    for t in (0..steps.saturating_sub(1)).rev() {
        let (cur, next) = g.split_at_mut((t + 1) * blk);
        for (c, &nx) in cur[t * blk..].iter_mut().zip(&next[..blk]) {
            *c += a * nx;
        }
    }
}

/// BrainPy's `LeakyRateReadout(in, out, tau)`: `r ← decay·r + x·W` with `decay = exp(−dt/τ)`
/// (computed once per run, in `f32`), `r` starting at 0, `W` `[in][out]` from
/// `KaimingNormal()`, no bias and no `(1 − decay)` factor. Its output is `r` at every step.
/// With [`Layer::set_carry_state`] on, `r` starts from the previous pass's last value.
#[derive(Debug, Clone)]
pub struct LeakyRateReadout {
    /// Weights, `[in][out]`.
    pub w: Vec<f32>,
    gw: Vec<f32>,
    n_in: usize,
    n_out: usize,
    tau_ms: f64,
    decay: f32,
    run: Run,
}

impl LeakyRateReadout {
    /// `LeakyRateReadout(n_in, n_out, tau)` with KaimingNormal weights from a seed.
    pub fn new(n_in: usize, n_out: usize, tau: Time, seed: u64) -> LeakyRateReadout {
        let mut rng = Rng::new(seed);
        let w = kaiming_normal(n_in, n_out, &mut rng);
        LeakyRateReadout { w, gw: vec![0.0; n_in * n_out], n_in, n_out, tau_ms: tau.canonical(), decay: 0.0, run: Run::default() }
    }
    /// With given weights `[in][out]`.
    pub fn from_weights(w: Vec<f32>, n_in: usize, n_out: usize, tau: Time) -> Result<LeakyRateReadout> {
        check_w("readout", &w, n_in, n_out)?;
        check_tau("LeakyRateReadout", tau)?;
        Ok(LeakyRateReadout { w, gw: vec![0.0; n_in * n_out], n_in, n_out, tau_ms: tau.canonical(), decay: 0.0, run: Run::default() })
    }
    /// The weight gradient accumulated so far.
    pub fn grad_w(&self) -> &[f32] {
        &self.gw
    }
    /// The time constant, ms.
    pub fn tau_ms(&self) -> f64 {
        self.tau_ms
    }
}

impl Layer for LeakyRateReadout {
    fn kind(&self) -> String {
        "readout".into()
    }
    fn n_in(&self) -> usize {
        self.n_in
    }
    fn n_out(&self) -> usize {
        self.n_out
    }
    fn forward(&mut self, x: &SeqBuf, dt_ms: f64) -> Result<SeqBuf> {
        check_in(x, self.n_in, "LeakyRateReadout")?;
        // BrainPy: decay = exp(−dt/tau) in float32
        self.decay = (-(dt_ms as f32) / self.tau_ms as f32).exp();
        let (bsz, no) = (x.batch, self.n_out);
        let mut xw = vec![0.0f32; x.rows() * no];
        sgemm(x.rows(), no, self.n_in, &x.data, false, &self.w, false, &mut xw, false);
        let mut r = vec![0.0f32; x.steps * bsz * no];
        let blk = bsz * no;
        let start = self.run.start(blk).map(|v| v.to_vec());
        for t in 0..x.steps {
            let src = if x.constant { &xw[..] } else { &xw[t * blk..(t + 1) * blk] };
            let (prev, cur) = r.split_at_mut(t * blk);
            let prev: Option<&[f32]> = if t == 0 { start.as_deref() } else { Some(&prev[(t - 1) * blk..]) };
            match prev {
                None => cur[..blk].copy_from_slice(src),
                Some(p) => {
                    for ((c, &p), &s) in cur[..blk].iter_mut().zip(p).zip(src) {
                        *c = self.decay * p + s;
                    }
                }
            }
        }
        if x.steps > 0 {
            self.run.last = Some(r[(x.steps - 1) * blk..].to_vec());
        }
        self.run.x = Some(x.clone());
        Ok(SeqBuf::dense(r, x.steps, bsz, no))
    }
    fn backward(&mut self, gy: &SeqBuf, need_input: bool) -> Result<Option<SeqBuf>> {
        let x = self.run.x.as_ref().ok_or_else(|| SomataError::Format("LeakyRateReadout::backward before forward".into()))?;
        let gy = if gy.constant { gy.to_dense() } else { gy.clone() };
        let blk = x.batch * self.n_out;
        if gy.data.len() != x.steps * blk {
            return Err(SomataError::ShapeMismatch {
                what: "readout output gradient".into(),
                expected: vec![x.steps, x.batch, self.n_out],
                got: vec![gy.data.len()],
            });
        }
        // G_t = ∂L/∂r_t + decay·G_{t+1}
        let mut g = gy.data;
        reverse_leak(&mut g, x.steps, blk, self.decay);
        let g = if x.constant { time_sum(&g, x.steps, blk) } else { g };
        let rows = g.len() / self.n_out;
        sgemm(self.n_in, self.n_out, rows, &x.data, true, &g, false, &mut self.gw, true);
        if !need_input {
            return Ok(None);
        }
        let mut gx = vec![0.0f32; rows * self.n_in];
        sgemm(rows, self.n_in, self.n_out, &g, false, &self.w, true, &mut gx, false);
        Ok(Some(SeqBuf { data: gx, steps: x.steps, batch: x.batch, n: self.n_in, constant: x.constant }))
    }
    fn params(&mut self) -> Vec<Param<'_>> {
        vec![Param { name: "W", value: &mut self.w, grad: &mut self.gw }]
    }
    fn hyper_params(&self) -> Vec<(String, Vec<f64>)> {
        vec![("tau".into(), vec![self.tau_ms])]
    }
    fn set_carry_state(&mut self, carry: bool) {
        self.run.carry = carry;
    }
    fn reset_carried_state(&mut self) {
        self.run.last = None;
    }
}

/// A non-spiking leaky-integrator membrane as a readout: the membrane of a LIF neuron without
/// threshold or reset, `τ·dV/dt = −V + I` with `I_t = x_t·W + b`, integrated exactly over one
/// step of a piecewise-constant input (exponential Euler):
///
/// ```text
/// V_t = V_{t−1} + α·(−V_{t−1} + x_t·W + b),   α = 1 − exp(−dt/τ),   V_{−1} = 0
/// ```
///
/// The output is `V_t` at every step (reduce it with [`Reduce::Max`](super::Reduce::Max),
/// `Mean` or `Last`). `W` is `[in][out]` (KaimingNormal from a seed), `b` `[out]` (zero), both
/// trained; `τ` defaults to 10 ms ([`LeakyMembraneReadout::tau`]) and is fixed. `α` is computed
/// in `f64` from the network's `dt`, then used in `f32`. Units: `V` is in the unit of `x·W`
/// (dimensionless numbers; a 1-step input of `I` raises `V` by `α·I`; a constant one drives it
/// to `I` in a few `τ`). With [`Layer::set_carry_state`] on, `V` starts from the previous
/// pass's last value instead of 0.
///
/// Backward (`G_t = ∂L/∂V_t + (1 − α)·G_{t+1}`): `∂L/∂W = Σ_t x_tᵀ·α·G_t`,
/// `∂L/∂b = Σ_t α·G_t`, `∂L/∂x_t = α·G_t·Wᵀ`.
///
/// ```
/// use somata::nn::{Layer, LeakyMembraneReadout, SeqBuf};
/// use somata::prelude::*;
/// // one input, one output, W = 2, b = 0.5, τ = 10 ms, dt = 1 ms: V → 2·1 + 0.5 = 2.5
/// let mut ro = LeakyMembraneReadout::from_weights(vec![2.0], Some(vec![0.5]), 1, 1)?.tau(10.0 * ms)?;
/// let y = ro.forward(&SeqBuf::constant(vec![1.0], 3, 1, 1), 1.0)?;
/// let a = 1.0 - (-0.1f64).exp();
/// assert!((y.data[0] as f64 - a * 2.5).abs() < 1e-6);
/// assert!((y.data[2] as f64 - 2.5 * (1.0 - (1.0 - a).powi(3))).abs() < 1e-6);
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LeakyMembraneReadout {
    /// Weights, `[in][out]`.
    pub w: Vec<f32>,
    /// Bias, `[out]`.
    pub b: Vec<f32>,
    gw: Vec<f32>,
    gb: Vec<f32>,
    n_in: usize,
    n_out: usize,
    tau_ms: f64,
    alpha: f32,
    run: Run,
}

impl LeakyMembraneReadout {
    /// `n_in → n_out` with KaimingNormal weights from a seed, zero bias, τ = 10 ms.
    pub fn new(n_in: usize, n_out: usize, seed: u64) -> LeakyMembraneReadout {
        let mut rng = Rng::new(seed);
        let w = kaiming_normal(n_in, n_out, &mut rng);
        Self::build(w, vec![0.0; n_out], n_in, n_out)
    }
    /// With given weights `[in][out]` and bias `[out]` (None: zero), τ = 10 ms.
    pub fn from_weights(w: Vec<f32>, b: Option<Vec<f32>>, n_in: usize, n_out: usize) -> Result<LeakyMembraneReadout> {
        check_w("LeakyMembraneReadout", &w, n_in, n_out)?;
        let b = b.unwrap_or_else(|| vec![0.0; n_out]);
        if b.len() != n_out {
            return Err(SomataError::ShapeMismatch { what: "LeakyMembraneReadout bias".into(), expected: vec![n_out], got: vec![b.len()] });
        }
        Ok(Self::build(w, b, n_in, n_out))
    }
    fn build(w: Vec<f32>, b: Vec<f32>, n_in: usize, n_out: usize) -> LeakyMembraneReadout {
        LeakyMembraneReadout {
            gw: vec![0.0; w.len()],
            gb: vec![0.0; n_out],
            w,
            b,
            n_in,
            n_out,
            tau_ms: 10.0,
            alpha: 0.0,
            run: Run::default(),
        }
    }
    /// Set the membrane time constant (> 0; default 10 ms).
    pub fn tau(mut self, tau: Time) -> Result<LeakyMembraneReadout> {
        check_tau("LeakyMembraneReadout", tau)?;
        self.tau_ms = tau.canonical();
        Ok(self)
    }
    /// The time constant, ms.
    pub fn tau_ms(&self) -> f64 {
        self.tau_ms
    }
    /// The weight gradient accumulated so far, `[in][out]`.
    pub fn grad_w(&self) -> &[f32] {
        &self.gw
    }
    /// The bias gradient accumulated so far.
    pub fn grad_b(&self) -> &[f32] {
        &self.gb
    }
}

impl Layer for LeakyMembraneReadout {
    fn kind(&self) -> String {
        "membrane".into()
    }
    fn n_in(&self) -> usize {
        self.n_in
    }
    fn n_out(&self) -> usize {
        self.n_out
    }
    fn forward(&mut self, x: &SeqBuf, dt_ms: f64) -> Result<SeqBuf> {
        check_in(x, self.n_in, "LeakyMembraneReadout")?;
        if !(dt_ms.is_finite() && dt_ms > 0.0) {
            return Err(SomataError::InvalidDt(dt_ms));
        }
        self.alpha = (-(-dt_ms / self.tau_ms).exp_m1()) as f32;
        let a = self.alpha;
        let (bsz, no) = (x.batch, self.n_out);
        let blk = bsz * no;
        let mut u = vec![0.0f32; x.rows() * no];
        sgemm(x.rows(), no, self.n_in, &x.data, false, &self.w, false, &mut u, false);
        for row in u.chunks_exact_mut(no) {
            for (o, &bv) in row.iter_mut().zip(&self.b) {
                *o += bv;
            }
        }
        let mut v = vec![0.0f32; x.steps * blk];
        let zero = vec![0.0f32; blk];
        let start = self.run.start(blk).map(|s| s.to_vec()).unwrap_or(zero);
        for t in 0..x.steps {
            let src = if x.constant { &u[..] } else { &u[t * blk..(t + 1) * blk] };
            let (prev, cur) = v.split_at_mut(t * blk);
            let prev: &[f32] = if t == 0 { &start } else { &prev[(t - 1) * blk..] };
            for ((c, &p), &s) in cur[..blk].iter_mut().zip(prev).zip(src) {
                *c = p + a * (s - p);
            }
        }
        if x.steps > 0 {
            self.run.last = Some(v[(x.steps - 1) * blk..].to_vec());
        }
        self.run.x = Some(x.clone());
        Ok(SeqBuf::dense(v, x.steps, bsz, no))
    }
    fn backward(&mut self, gy: &SeqBuf, need_input: bool) -> Result<Option<SeqBuf>> {
        let x = self.run.x.as_ref().ok_or_else(|| SomataError::Format("LeakyMembraneReadout::backward before forward".into()))?;
        let gy = if gy.constant { gy.to_dense() } else { gy.clone() };
        let blk = x.batch * self.n_out;
        if gy.data.len() != x.steps * blk {
            return Err(SomataError::ShapeMismatch {
                what: "membrane readout output gradient".into(),
                expected: vec![x.steps, x.batch, self.n_out],
                got: vec![gy.data.len()],
            });
        }
        let a = self.alpha;
        // G_t = ∂L/∂V_t + (1 − α)·G_{t+1};  ∂L/∂I_t = α·G_t
        let mut g = gy.data;
        reverse_leak(&mut g, x.steps, blk, 1.0 - a);
        g.iter_mut().for_each(|v| *v *= a);
        let g = if x.constant { time_sum(&g, x.steps, blk) } else { g };
        let rows = g.len() / self.n_out;
        sgemm(self.n_in, self.n_out, rows, &x.data, true, &g, false, &mut self.gw, true);
        for row in g.chunks_exact(self.n_out) {
            for (d, &v) in self.gb.iter_mut().zip(row) {
                *d += v;
            }
        }
        if !need_input {
            return Ok(None);
        }
        let mut gx = vec![0.0f32; rows * self.n_in];
        sgemm(rows, self.n_in, self.n_out, &g, false, &self.w, true, &mut gx, false);
        Ok(Some(SeqBuf { data: gx, steps: x.steps, batch: x.batch, n: self.n_in, constant: x.constant }))
    }
    fn params(&mut self) -> Vec<Param<'_>> {
        vec![Param { name: "W", value: &mut self.w, grad: &mut self.gw }, Param { name: "b", value: &mut self.b, grad: &mut self.gb }]
    }
    fn hyper_params(&self) -> Vec<(String, Vec<f64>)> {
        vec![("tau".into(), vec![self.tau_ms])]
    }
    fn set_carry_state(&mut self, carry: bool) {
        self.run.carry = carry;
    }
    fn reset_carried_state(&mut self) {
        self.run.last = None;
    }
}
