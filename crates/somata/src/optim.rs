//! Optimizers over flat `f32` parameter buffers, gradient clipping and learning-rate schedules.
//!
//! An optimizer sees a network's parameters as a list of buffers (`&mut [&mut [f32]]`) and the
//! gradients as a matching list (`&[&[f32]]`). Its state (moments) is allocated on the first
//! [`step`](Optimizer::step), one buffer per parameter buffer, and reused afterwards: later steps
//! do not allocate, and must pass the same buffers in the same order ([`reset`](Optimizer::reset)
//! forgets the state). Arithmetic is per element in `f32` (as PyTorch and optax on `f32`
//! parameters); scalar factors such as the bias corrections are computed in `f64`.
//!
//! | optimizer | formulas of |
//! |---|---|
//! | [`Sgd`] | `torch.optim.SGD` (momentum, dampening, Nesterov, L2 weight decay); with dampening 0, optax `sgd` |
//! | [`Adam`] | `torch.optim.Adam` and optax `adam` (bias-corrected; optional L2 weight decay as PyTorch's) |
//! | [`AdamW`] | `torch.optim.AdamW` and optax `adamw` (decoupled decay `p ← p − lr·wd·p`) |
//!
//! [`clip_grad_norm`] is `torch.nn.utils.clip_grad_norm_`; [`LrSchedule`] gives PyTorch's
//! `StepLR` and optax's `cosine_decay_schedule` (PyTorch's `CosineAnnealingLR` up to `T`).
//!
//! ```
//! use somata::optim::{clip_grad_norm, Adam, LrSchedule, Optimizer};
//! // minimize f(w, b) = ½|w|² + ½b², gradient (w, b)
//! let (mut w, mut b) = (vec![1.0f32, -2.0], vec![0.5f32]);
//! let mut opt = Adam::new(0.1);
//! let schedule = LrSchedule::Cosine { lr: 0.1, min_lr: 0.001, t_max: 200 };
//! for t in 0..200 {
//!     opt.set_lr(schedule.lr_at(t));
//!     let (mut gw, mut gb) = (w.clone(), b.clone());
//!     let norm = clip_grad_norm(&mut [&mut gw[..], &mut gb[..]], 1.0);
//!     assert!(norm.is_finite());
//!     opt.step(&mut [&mut w[..], &mut b[..]], &[&gw[..], &gb[..]])?;
//! }
//! assert!(w.iter().chain(&b).all(|x| x.abs() < 0.05));
//! # Ok::<(), somata::SomataError>(())
//! ```

use crate::error::{Result, SomataError};

/// A first-order optimizer over a list of flat parameter buffers.
pub trait Optimizer {
    /// One update: `params[i]` moves against `grads[i]` (same lengths). The first call sizes the
    /// state; later calls must pass buffers of the same lengths in the same order.
    fn step(&mut self, params: &mut [&mut [f32]], grads: &[&[f32]]) -> Result<()>;
    /// The current learning rate.
    fn lr(&self) -> f64;
    /// Set the learning rate (e.g. from an [`LrSchedule`]) for the following steps.
    fn set_lr(&mut self, lr: f64);
    /// Forget the state (moments, step count), as a fresh optimizer.
    fn reset(&mut self);
    /// Steps taken since creation or [`reset`](Optimizer::reset).
    fn steps_taken(&self) -> u64;
}

/// Stochastic gradient descent with momentum, as `torch.optim.SGD`:
///
/// `g ← g + wd·p`; with momentum `μ > 0`: `buf ← g` at the first step, else
/// `buf ← μ·buf + (1 − dampening)·g`, then `g ← g + μ·buf` (Nesterov) or `g ← buf`;
/// finally `p ← p − lr·g`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sgd {
    /// Learning rate (≥ 0).
    pub lr: f64,
    /// Momentum `μ` (≥ 0; 0 is plain SGD).
    pub momentum: f64,
    /// Dampening of the gradient in the momentum buffer (PyTorch's; 0 by default).
    pub dampening: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening = 0`).
    pub nesterov: bool,
    /// L2 penalty added to the gradient (≥ 0).
    pub weight_decay: f64,
    buf: Vec<Vec<f32>>,
    t: u64,
}

impl Sgd {
    /// Plain SGD at learning rate `lr` (no momentum, no decay).
    pub fn new(lr: f64) -> Sgd {
        Sgd { lr, momentum: 0.0, dampening: 0.0, nesterov: false, weight_decay: 0.0, buf: Vec::new(), t: 0 }
    }
    /// With momentum `μ`.
    pub fn momentum(mut self, momentum: f64) -> Sgd {
        self.momentum = momentum;
        self
    }
    /// With Nesterov momentum on or off.
    pub fn nesterov(mut self, nesterov: bool) -> Sgd {
        self.nesterov = nesterov;
        self
    }
    /// With dampening.
    pub fn dampening(mut self, dampening: f64) -> Sgd {
        self.dampening = dampening;
        self
    }
    /// With L2 weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Sgd {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut [&mut [f32]], grads: &[&[f32]]) -> Result<()> {
        check_nonneg("SGD", "lr", self.lr)?;
        check_nonneg("SGD", "momentum", self.momentum)?;
        check_nonneg("SGD", "weight_decay", self.weight_decay)?;
        if !self.dampening.is_finite() {
            return Err(SomataError::param("SGD", "dampening", self.dampening, "must be finite"));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(SomataError::param("SGD", "nesterov", 1.0, "needs momentum > 0 and dampening = 0"));
        }
        check_shapes("SGD", params, grads)?;
        let use_mom = self.momentum != 0.0;
        if use_mom {
            ensure_state("SGD", &mut self.buf, grads)?;
        }
        let first = self.t == 0;
        self.t += 1;
        let (lr, wd, mu, damp) = (self.lr as f32, self.weight_decay as f32, self.momentum as f32, 1.0 - self.dampening as f32);
        for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            if !use_mom {
                for (p, &g) in p.iter_mut().zip(g.iter()) {
                    let g = g + wd * *p;
                    *p -= lr * g;
                }
                continue;
            }
            let buf = &mut self.buf[k];
            for ((p, &g), b) in p.iter_mut().zip(g.iter()).zip(buf.iter_mut()) {
                let g = g + wd * *p;
                *b = if first { g } else { mu * *b + damp * g };
                let d = if self.nesterov { g + mu * *b } else { *b };
                *p -= lr * d;
            }
        }
        Ok(())
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn reset(&mut self) {
        self.buf.clear();
        self.t = 0;
    }
    fn steps_taken(&self) -> u64 {
        self.t
    }
}

/// Adam (Kingma & Ba), as `torch.optim.Adam` and optax `adam`, with bias correction:
///
/// `g ← g + wd·p` (L2, only if `weight_decay > 0`); `m ← β₁·m + (1 − β₁)·g`;
/// `v ← β₂·v + (1 − β₂)·g²`; `p ← p − lr·m̂ / (√v̂ + ε)` with `m̂ = m/(1 − β₁ᵗ)`,
/// `v̂ = v/(1 − β₂ᵗ)`, `t` counting from 1. (PyTorch writes the same update as
/// `p − (lr/(1 − β₁ᵗ))·m / (√v/√(1 − β₂ᵗ) + ε)`.)
#[derive(Debug, Clone, PartialEq)]
pub struct Adam {
    /// Learning rate (≥ 0).
    pub lr: f64,
    /// β₁ in `[0, 1)` (default 0.9).
    pub beta1: f64,
    /// β₂ in `[0, 1)` (default 0.999).
    pub beta2: f64,
    /// ε > 0 added to `√v̂` (default 1e-8).
    pub eps: f64,
    /// L2 penalty added to the gradient, PyTorch's `Adam(weight_decay=...)` (default 0); for
    /// decoupled decay use [`AdamW`].
    pub weight_decay: f64,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    t: u64,
}

impl Adam {
    /// Adam at learning rate `lr` with β₁ = 0.9, β₂ = 0.999, ε = 1e-8, no weight decay.
    pub fn new(lr: f64) -> Adam {
        Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, m: Vec::new(), v: Vec::new(), t: 0 }
    }
    /// With `(β₁, β₂)`.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Adam {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }
    /// With ε.
    pub fn eps(mut self, eps: f64) -> Adam {
        self.eps = eps;
        self
    }
    /// With L2 weight decay (added to the gradient).
    pub fn weight_decay(mut self, weight_decay: f64) -> Adam {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut [&mut [f32]], grads: &[&[f32]]) -> Result<()> {
        let h = AdamHyper { lr: self.lr, beta1: self.beta1, beta2: self.beta2, eps: self.eps, weight_decay: self.weight_decay };
        adam_step("Adam", h, false, &mut self.m, &mut self.v, &mut self.t, params, grads)
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn reset(&mut self) {
        self.m.clear();
        self.v.clear();
        self.t = 0;
    }
    fn steps_taken(&self) -> u64 {
        self.t
    }
}

/// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, as `torch.optim.AdamW` and
/// optax `adamw`: first `p ← p·(1 − lr·wd)`, then the [`Adam`] update on the raw gradient. The
/// decay follows the current learning rate (as both libraries, when `lr` is scheduled).
#[derive(Debug, Clone, PartialEq)]
pub struct AdamW {
    /// Learning rate (≥ 0).
    pub lr: f64,
    /// β₁ in `[0, 1)` (default 0.9).
    pub beta1: f64,
    /// β₂ in `[0, 1)` (default 0.999).
    pub beta2: f64,
    /// ε > 0 added to `√v̂` (default 1e-8).
    pub eps: f64,
    /// Decoupled weight decay (default 0.01, PyTorch's; optax's default is 1e-4).
    pub weight_decay: f64,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    t: u64,
}

impl AdamW {
    /// AdamW at learning rate `lr` with β₁ = 0.9, β₂ = 0.999, ε = 1e-8, weight decay 0.01.
    pub fn new(lr: f64) -> AdamW {
        AdamW { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, m: Vec::new(), v: Vec::new(), t: 0 }
    }
    /// With `(β₁, β₂)`.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> AdamW {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }
    /// With ε.
    pub fn eps(mut self, eps: f64) -> AdamW {
        self.eps = eps;
        self
    }
    /// With decoupled weight decay `wd`.
    pub fn weight_decay(mut self, weight_decay: f64) -> AdamW {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for AdamW {
    fn step(&mut self, params: &mut [&mut [f32]], grads: &[&[f32]]) -> Result<()> {
        let h = AdamHyper { lr: self.lr, beta1: self.beta1, beta2: self.beta2, eps: self.eps, weight_decay: self.weight_decay };
        adam_step("AdamW", h, true, &mut self.m, &mut self.v, &mut self.t, params, grads)
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn reset(&mut self) {
        self.m.clear();
        self.v.clear();
        self.t = 0;
    }
    fn steps_taken(&self) -> u64 {
        self.t
    }
}

#[derive(Clone, Copy)]
struct AdamHyper {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
}

#[allow(clippy::too_many_arguments)]
fn adam_step(
    name: &str,
    h: AdamHyper,
    decoupled: bool,
    m: &mut Vec<Vec<f32>>,
    v: &mut Vec<Vec<f32>>,
    t: &mut u64,
    params: &mut [&mut [f32]],
    grads: &[&[f32]],
) -> Result<()> {
    check_nonneg(name, "lr", h.lr)?;
    check_nonneg(name, "weight_decay", h.weight_decay)?;
    for (pn, b) in [("beta1", h.beta1), ("beta2", h.beta2)] {
        if !(0.0..1.0).contains(&b) {
            return Err(SomataError::param(name, pn, b, "must be in [0, 1)"));
        }
    }
    if !(h.eps.is_finite() && h.eps > 0.0) {
        return Err(SomataError::param(name, "eps", h.eps, "must be finite and > 0"));
    }
    check_shapes(name, params, grads)?;
    ensure_state(name, m, grads)?;
    ensure_state(name, v, grads)?;
    *t += 1;
    let ti = i32::try_from(*t).unwrap_or(i32::MAX);
    let bc1 = 1.0 - h.beta1.powi(ti);
    let bc2 = 1.0 - h.beta2.powi(ti);
    let step_size = (h.lr / bc1) as f32;
    let bc2_sqrt = bc2.sqrt() as f32;
    let (b1, b2, eps) = (h.beta1 as f32, h.beta2 as f32, h.eps as f32);
    let (c1, c2) = ((1.0 - h.beta1) as f32, (1.0 - h.beta2) as f32);
    let decay = (1.0 - h.lr * h.weight_decay) as f32;
    let l2 = if decoupled { 0.0 } else { h.weight_decay as f32 };
    for ((p, g), (m, v)) in params.iter_mut().zip(grads).zip(m.iter_mut().zip(v.iter_mut())) {
        for (((p, &g), m), v) in p.iter_mut().zip(g.iter()).zip(m.iter_mut()).zip(v.iter_mut()) {
            let g = if l2 != 0.0 { g + l2 * *p } else { g };
            if decoupled {
                *p *= decay;
            }
            *m = b1 * *m + c1 * g;
            *v = b2 * *v + c2 * g * g;
            *p -= step_size * *m / (v.sqrt() / bc2_sqrt + eps);
        }
    }
    Ok(())
}

fn check_nonneg(model: &str, name: &str, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(SomataError::param(model, name, x, "must be finite and >= 0"))
    }
}

fn check_shapes(name: &str, params: &[&mut [f32]], grads: &[&[f32]]) -> Result<()> {
    if params.len() != grads.len() {
        return Err(SomataError::ShapeMismatch {
            what: format!("{name}: number of gradient buffers (one per parameter buffer)"),
            expected: vec![params.len()],
            got: vec![grads.len()],
        });
    }
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        if p.len() != g.len() {
            return Err(SomataError::ShapeMismatch {
                what: format!("{name}: gradient buffer {i}"),
                expected: vec![p.len()],
                got: vec![g.len()],
            });
        }
    }
    Ok(())
}

/// Size the state on first use; afterwards check it still matches.
fn ensure_state(name: &str, state: &mut Vec<Vec<f32>>, grads: &[&[f32]]) -> Result<()> {
    if state.is_empty() {
        state.extend(grads.iter().map(|g| vec![0.0f32; g.len()]));
        return Ok(());
    }
    let want: Vec<usize> = state.iter().map(Vec::len).collect();
    if want.len() != grads.len() || want.iter().zip(grads).any(|(&n, g)| n != g.len()) {
        return Err(SomataError::ShapeMismatch {
            what: format!("{name}: parameter buffers differ from the first step's (call reset() to start over)"),
            expected: want,
            got: grads.iter().map(|g| g.len()).collect(),
        });
    }
    Ok(())
}

/// The global L2 norm of all buffers, `√(Σ x²)`, accumulated in `f64`.
pub fn global_norm(bufs: &[&[f32]]) -> f64 {
    bufs.iter().flat_map(|b| b.iter()).map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt()
}

/// Clip gradients by their global L2 norm, as `torch.nn.utils.clip_grad_norm_`: with `n` the
/// norm over all buffers, every element is multiplied by `max_norm / (n + 1e-6)` when that is
/// below 1. Returns `n`, the norm **before** clipping. A non-finite norm leaves the gradients
/// unchanged (check the returned value to skip such a step).
///
/// ```
/// let mut g = vec![3.0f32, 4.0];
/// let n = somata::optim::clip_grad_norm(&mut [&mut g[..]], 1.0);
/// assert_eq!(n, 5.0);
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// ```
pub fn clip_grad_norm(grads: &mut [&mut [f32]], max_norm: f64) -> f64 {
    let n = grads.iter().flat_map(|b| b.iter()).map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt();
    let coef = max_norm / (n + 1e-6);
    if n.is_finite() && coef < 1.0 {
        let c = coef as f32;
        grads.iter_mut().for_each(|b| b.iter_mut().for_each(|x| *x *= c));
    }
    n
}

/// A learning rate as a function of the step (or epoch) `t`, counting from 0.
///
/// ```
/// use somata::optim::LrSchedule;
/// let s = LrSchedule::StepDecay { lr: 0.1, step_size: 10, gamma: 0.5 };
/// assert_eq!((s.lr_at(9), s.lr_at(10), s.lr_at(25)), (0.1, 0.05, 0.025));
/// let c = LrSchedule::Cosine { lr: 1.0, min_lr: 0.0, t_max: 100 };
/// assert!((c.lr_at(50) - 0.5).abs() < 1e-12 && c.lr_at(100) == 0.0 && c.lr_at(500) == 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LrSchedule {
    /// `lr` at every step.
    Constant {
        /// The learning rate.
        lr: f64,
    },
    /// `lr · gammaᶠˡᵒᵒʳ⁽ᵗ ᐟ ˢᵗᵉᵖ_ˢⁱᶻᵉ⁾`: multiplied by `gamma` every `step_size` steps
    /// (PyTorch's `StepLR` with `t` the epoch).
    StepDecay {
        /// Initial learning rate.
        lr: f64,
        /// Steps (epochs) between decays; 0 is treated as 1.
        step_size: u64,
        /// Factor per decay.
        gamma: f64,
    },
    /// Cosine annealing from `lr` to `min_lr` over `t_max` steps:
    /// `min_lr + (lr − min_lr)·(1 + cos(π·min(t, t_max)/t_max))/2`, then `min_lr` (optax's
    /// `cosine_decay_schedule` with `alpha = min_lr/lr`; PyTorch's `CosineAnnealingLR` closed
    /// form for `t ≤ t_max`).
    Cosine {
        /// Initial learning rate.
        lr: f64,
        /// Final learning rate.
        min_lr: f64,
        /// Steps of the decay; 0 gives `min_lr` at once.
        t_max: u64,
    },
}

impl LrSchedule {
    /// The learning rate at step `t`.
    pub fn lr_at(&self, t: u64) -> f64 {
        match *self {
            LrSchedule::Constant { lr } => lr,
            LrSchedule::StepDecay { lr, step_size, gamma } => {
                let k = t / step_size.max(1);
                lr * gamma.powi(i32::try_from(k).unwrap_or(i32::MAX))
            }
            LrSchedule::Cosine { lr, min_lr, t_max } => {
                if t >= t_max {
                    return min_lr;
                }
                let c = 0.5 * (1.0 + (std::f64::consts::PI * t as f64 / t_max as f64).cos());
                min_lr + (lr - min_lr) * c
            }
        }
    }

    /// Set `opt`'s learning rate to [`lr_at(t)`](Self::lr_at).
    pub fn apply(&self, opt: &mut dyn Optimizer, t: u64) {
        opt.set_lr(self.lr_at(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gradient of f(x) = ½|x|² is x.
    fn run(opt: &mut dyn Optimizer, x0: &[f32], steps: usize) -> Vec<Vec<f32>> {
        let mut x = x0.to_vec();
        let mut out = Vec::new();
        for _ in 0..steps {
            let g = x.clone();
            opt.step(&mut [&mut x[..]], &[&g[..]]).unwrap();
            out.push(x.clone());
        }
        out
    }

    fn close(a: &[f32], b: &[f64], tol: f64) {
        for (x, y) in a.iter().zip(b) {
            assert!((*x as f64 - y).abs() < tol, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn adam_first_two_steps_by_hand() {
        // x0 = (1, −2), g = x, lr = 0.1.
        // t=1: m = 0.1g, v = 0.001g², m̂ = g, v̂ = g² → x1 = x0 − 0.1·sign(x0) = (0.9, −1.9).
        // t=2, first coordinate: m = 0.09 + 0.09 = 0.18, m̂ = 0.18/0.19 = 0.947368;
        //   v = 0.000999 + 0.00081 = 0.001809, v̂ = 0.001809/0.001999 = 0.904952, √v̂ = 0.951290;
        //   x2 = 0.9 − 0.1·0.947368/0.951290 = 0.800412.
        // second: m = −0.18 − 0.19 = −0.37, m̂ = −1.947368; v = 0.003996 + 0.00361 = 0.007606,
        //   v̂ = 3.804902, √v̂ = 1.950616; x2 = −1.9 + 0.1·0.998330 = −1.800167.
        let xs = run(&mut Adam::new(0.1), &[1.0, -2.0], 2);
        close(&xs[0], &[0.9, -1.9], 1e-6);
        close(&xs[1], &[0.800_412_23, -1.800_166_49], 2e-6);
    }

    #[test]
    fn adamw_decoupled_decay() {
        // wd = 0.1, lr = 0.1: p ← p·0.99 first. t=1: 0.99 − 0.1 = 0.89; −1.98 + 0.1 = −1.88.
        let mut opt = AdamW::new(0.1).weight_decay(0.1);
        let xs = run(&mut opt, &[1.0, -2.0], 2);
        close(&xs[0], &[0.89, -1.88], 1e-6);
        close(&xs[1], &[0.781_571_86, -1.761_408_95], 2e-6);
        // with a zero gradient only the decay acts: p·(1 − lr·wd)ᵗ
        let mut p = [2.0f32];
        let mut opt = AdamW::new(0.5).weight_decay(0.2);
        for _ in 0..3 {
            opt.step(&mut [&mut p[..]], &[&[0.0][..]]).unwrap();
        }
        assert!((p[0] - 2.0 * 0.9f32.powi(3)).abs() < 1e-6);
        assert_eq!(opt.steps_taken(), 3);
        // Adam's weight decay is L2 instead: with a zero gradient it still moves by ~lr
        let mut q = [2.0f32];
        Adam::new(0.5).weight_decay(0.2).step(&mut [&mut q[..]], &[&[0.0][..]]).unwrap();
        assert!((q[0] - 1.5).abs() < 1e-6);
    }

    #[test]
    fn sgd_momentum_and_nesterov() {
        // plain: x ← x − 0.1x
        close(&run(&mut Sgd::new(0.1), &[1.0], 2)[1], &[0.81], 1e-7);
        // momentum 0.9: buf1 = 1 → x1 = 0.9; buf2 = 0.9 + 0.9 = 1.8 → x2 = 0.72
        close(&run(&mut Sgd::new(0.1).momentum(0.9), &[1.0], 2)[1], &[0.72], 1e-6);
        // Nesterov: d1 = 1 + 0.9 = 1.9 → x1 = 0.81; buf2 = 0.9 + 0.81 = 1.71, d2 = 0.81 + 1.539 = 2.349 → x2 = 0.5751
        let xs = run(&mut Sgd::new(0.1).momentum(0.9).nesterov(true), &[1.0], 2);
        close(&xs[0], &[0.81], 1e-6);
        close(&xs[1], &[0.5751], 1e-6);
        // weight decay: g = x + 0.5x
        close(&run(&mut Sgd::new(0.1).weight_decay(0.5), &[1.0], 1)[0], &[0.85], 1e-7);
        assert!(Sgd::new(0.1).nesterov(true).step(&mut [&mut [1.0][..]], &[&[1.0][..]]).is_err());
    }

    #[test]
    fn shape_checks_and_reset() {
        let mut opt = Adam::new(0.1);
        let (mut a, mut b) = (vec![1.0f32; 3], vec![1.0f32; 2]);
        assert!(opt.step(&mut [&mut a[..]], &[&[1.0, 1.0][..]]).is_err());
        assert!(opt.step(&mut [&mut a[..]], &[]).is_err());
        opt.step(&mut [&mut a[..], &mut b[..]], &[&[1.0; 3][..], &[1.0; 2][..]]).unwrap();
        assert!(opt.step(&mut [&mut b[..]], &[&[1.0; 2][..]]).is_err());
        opt.reset();
        assert_eq!(opt.steps_taken(), 0);
        opt.step(&mut [&mut b[..]], &[&[1.0; 2][..]]).unwrap();
        assert!(Adam::new(0.1).betas(1.0, 0.9).step(&mut [&mut b[..]], &[&[1.0; 2][..]]).is_err());
        assert!(Adam::new(-1.0).step(&mut [&mut b[..]], &[&[1.0; 2][..]]).is_err());
    }

    #[test]
    fn clip_norm() {
        let (mut a, mut b) = (vec![3.0f32, 0.0], vec![4.0f32]);
        let n = clip_grad_norm(&mut [&mut a[..], &mut b[..]], 2.5);
        assert_eq!(n, 5.0);
        let coef = (2.5 / (5.0 + 1e-6)) as f32;
        assert_eq!((a[0], b[0]), (3.0 * coef, 4.0 * coef));
        assert!((global_norm(&[&a, &b]) - 2.5).abs() < 1e-5);
        // below the limit: untouched
        let n = clip_grad_norm(&mut [&mut a[..], &mut b[..]], 10.0);
        assert!((n - 2.5).abs() < 1e-5);
        assert_eq!((a[0], b[0]), (3.0 * coef, 4.0 * coef));
        let mut c = [f32::NAN, 1.0];
        assert!(clip_grad_norm(&mut [&mut c[..]], 1.0).is_nan());
        assert_eq!(c[1], 1.0);
    }

    #[test]
    fn schedules() {
        assert_eq!(LrSchedule::Constant { lr: 0.3 }.lr_at(1000), 0.3);
        let s = LrSchedule::StepDecay { lr: 1.0, step_size: 3, gamma: 0.1 };
        assert_eq!(s.lr_at(0), 1.0);
        assert_eq!(s.lr_at(2), 1.0);
        assert!((s.lr_at(3) - 0.1).abs() < 1e-15);
        assert!((s.lr_at(7) - 0.01).abs() < 1e-15);
        let c = LrSchedule::Cosine { lr: 0.1, min_lr: 0.01, t_max: 10 };
        assert_eq!(c.lr_at(0), 0.1);
        assert!((c.lr_at(5) - 0.055).abs() < 1e-15);
        // t = 2: 0.01 + 0.09·(1 + cos(π/5))/2 = 0.01 + 0.09·0.904508 = 0.0914058
        assert!((c.lr_at(2) - 0.091_405_764_746_872_6).abs() < 1e-12);
        assert_eq!(c.lr_at(10), 0.01);
        assert_eq!(c.lr_at(11), 0.01);
        let mut opt = Sgd::new(1.0);
        c.apply(&mut opt, 5);
        assert!((opt.lr() - 0.055).abs() < 1e-15);
    }
}
