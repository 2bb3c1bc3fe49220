//! Backpropagation through time for any [`NeuronModel`], with no per-model backward.
//!
//! The forward pass ([`NeuronLayer::forward_tape`]) runs the ordinary fused kernel and records
//! every state after every step. The backward pass ([`NeuronLayer::backward`]) walks the tape in
//! reverse; at each step and element it re-evaluates the model's one step function on dual
//! numbers seeded in every state variable, the input and each trainable parameter, which yields
//! the step's whole local Jacobian in one pass, and carries the adjoint:
//!
//! ```text
//! λ_{t−1} = (∂s_t/∂s_{t−1})ᵀ λ_t + (∂spk_t/∂s_{t−1})ᵀ ḡ_t
//! ∂L/∂x_t = (∂s_t/∂x_t)ᵀ λ_t + (∂spk_t/∂x_t)ᵀ ḡ_t
//! ∂L/∂θ  += (∂s_t/∂θ)ᵀ λ_t + (∂spk_t/∂θ)ᵀ ḡ_t
//! ```
//!
//! where `ḡ_t = ∂L/∂spk_t` is the incoming gradient. Surrogate gradients, BrainPy's hard-reset
//! stop-gradient and exponential Euler's `exprel(dt·J)` (including `∂J/∂s` through nested duals)
//! all come from the step definition itself. Hoisted constants are differentiated once per run.

use super::kernel::{self, ParamValue, Prepared, SyncPtr, TapeSink, Xs};
use super::layer::{run_spec, NeuronLayer, SeqInput};
use crate::dynamics::{Clock, Dual, NeuronModel, Real, Step, MAX_STATES};
use crate::error::{Result, SomataError};
use rayon::prelude::*;

/// What the backward pass needs from a forward run.
#[derive(Debug, Clone)]
pub struct Tape<T> {
    steps: usize,
    bn: usize,
    ns: usize,
    clock: Clock,
    /// `[(steps+1)][ns][bn]`
    traj: Vec<T>,
    /// `[steps][bn]`
    spikes: Vec<T>,
    /// inputs, `x(k, g) = x[k·stride + g]`
    x: Vec<T>,
    stride: usize,
}

impl<T: Real> Tape<T> {
    /// Number of steps.
    pub fn steps(&self) -> usize {
        self.steps
    }
    /// Spikes, `[step][element]`.
    pub fn spikes(&self) -> &[T] {
        &self.spikes
    }
    /// State `j` after step `k` (`k = 0` is the initial state, `k = steps` the final one).
    pub fn state(&self, k: usize, j: usize) -> &[T] {
        let o = (k * self.ns + j) * self.bn;
        &self.traj[o..o + self.bn]
    }
}

/// Gradient with respect to one parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamGrad {
    /// A shared parameter: one number.
    Shared(f64),
    /// A per-neuron parameter: one number per neuron.
    PerNeuron(Vec<f64>),
}

impl ParamGrad {
    /// The shared value, or the sum over neurons.
    pub fn total(&self) -> f64 {
        match self {
            ParamGrad::Shared(v) => *v,
            ParamGrad::PerNeuron(v) => v.iter().sum(),
        }
    }
}

/// Gradients of a loss with respect to inputs, parameters and initial state.
#[derive(Debug, Clone)]
pub struct Gradients<T> {
    /// `∂L/∂x`, `[step][element]`, per canonical input unit.
    pub input: Vec<T>,
    /// `(name, ∂L/∂θ)` for each trainable parameter, per canonical unit.
    pub params: Vec<(String, ParamGrad)>,
    /// `∂L/∂s_0`, `[state][element]`.
    pub initial_state: Vec<T>,
}

impl<T> Gradients<T> {
    /// The gradient of a parameter by name.
    pub fn param(&self, name: &str) -> Option<&ParamGrad> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, g)| g)
    }
}

impl<M: NeuronModel, T: Real> NeuronLayer<M, T> {
    /// Run a sequence (like [`NeuronLayer::run`]) and record what [`NeuronLayer::backward`] needs.
    pub fn forward_tape(&mut self, clock: &mut Clock, x: SeqInput<'_, T>) -> Result<Tape<T>> {
        if self.state.is_empty() && self.num_elements() > 0 {
            return Err(SomataError::NotInitialized(self.name().to_string()));
        }
        let (xd, stride, steps) = self.seq_input(&x)?;
        let bn = self.num_elements();
        let ns = M::STATES.len();
        let mut traj = vec![T::ZERO; (steps + 1) * ns * bn];
        traj[..ns * bn].copy_from_slice(&self.state);
        let mut spikes = vec![T::ZERO; steps * bn];
        let prep = self.prepare(clock);
        let start = *clock;
        {
            let spec = run_spec(self, &prep, Xs { data: &xd, stride }, start, steps);
            let sink = TapeSink { bn, ns, traj: SyncPtr(traj.as_mut_ptr()), spikes: SyncPtr(spikes.as_mut_ptr()) };
            kernel::run(&spec, &sink);
        }
        clock.set_step(clock.step() + steps as u64);
        Ok(Tape { steps, bn, ns, clock: start, traj, spikes, x: xd, stride })
    }

    /// Reverse pass: given `∂L/∂spk` (`[step][element]`), return the gradients with respect to
    /// the inputs, the named trainable parameters and the initial state.
    pub fn backward(&self, tape: &Tape<T>, grad_spikes: &[T], trainable: &[&str]) -> Result<Gradients<T>> {
        if tape.bn != self.num_elements() || tape.ns != M::STATES.len() {
            return Err(SomataError::ShapeMismatch {
                what: "tape (recorded with another layer or batch)".into(),
                expected: vec![self.num_elements()],
                got: vec![tape.bn],
            });
        }
        if grad_spikes.len() != tape.steps * tape.bn {
            return Err(SomataError::ShapeMismatch {
                what: "grad_spikes".into(),
                expected: vec![tape.steps, tape.bn],
                got: vec![grad_spikes.len()],
            });
        }
        let mut idx = Vec::with_capacity(trainable.len());
        for name in trainable {
            idx.push(M::param_index(name).ok_or_else(|| SomataError::UnknownParameter {
                model: M::NAME.into(),
                name: name.to_string(),
                known: M::PARAMS.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
            })?);
        }
        let need = M::STATES.len() + 1 + idx.len();
        match need {
            0..=4 => Ok(self.backward_d::<4>(tape, grad_spikes, &idx)),
            5..=8 => Ok(self.backward_d::<8>(tape, grad_spikes, &idx)),
            9..=16 => Ok(self.backward_d::<16>(tape, grad_spikes, &idx)),
            17..=32 => Ok(self.backward_d::<32>(tape, grad_spikes, &idx)),
            _ => Err(SomataError::Format(format!("too many trainable parameters ({})", idx.len()))),
        }
    }

    fn backward_d<const D: usize>(&self, tape: &Tape<T>, gs: &[T], train: &[usize]) -> Gradients<T> {
        let ns = M::STATES.len();
        let (bn, n, steps) = (tape.bn, self.n, tape.steps);
        let ntr = train.len();
        let dt = T::from_f64(tape.clock.dt_ms());
        let prep: Prepared<Dual<T, D>> = Prepared::new(&self.model, &self.params, n, Dual::constant(dt), |i, v| {
            match train.iter().position(|&t| t == i) {
                Some(q) => Dual::var(T::from_f64(v), ns + 1 + q),
                None => Dual::constant(T::from_f64(v)),
            }
        });
        let per_neuron: Vec<bool> = train.iter().map(|&i| matches!(self.params[i], ParamValue::PerNeuron(_))).collect();
        let gp_len = |q: usize| if per_neuron[q] { n } else { 1 };
        let mut gx = vec![T::ZERO; steps * bn];
        let mut g0 = vec![T::ZERO; ns * bn];
        let gxp = SyncPtr(gx.as_mut_ptr());
        let g0p = SyncPtr(g0.as_mut_ptr());
        let cl = kernel::chunk_len(bn);
        let nchunks = bn.div_ceil(cl).max(1);
        let chunk_fn = |ci: usize| -> Vec<Vec<f64>> {
            let base = ci * cl;
            let len = cl.min(bn - base);
            let mut lam = vec![T::ZERO; ns * len];
            let mut gp: Vec<Vec<f64>> = (0..ntr).map(|q| vec![0.0; gp_len(q)]).collect();
            for k in (0..steps).rev() {
                let t: T = tape.clock.t_at(tape.clock.step() + k as u64);
                for e in 0..len {
                    let g = base + e;
                    let nidx = g % n;
                    let c = Step {
                        p: prep.p_of(nidx),
                        h: prep.h_of(nidx),
                        dt: Dual::constant(dt),
                        t: Dual::constant(t),
                        reset: self.spk_reset,
                        sg: &self.spk_fun,
                    };
                    let mut s = [Dual::<T, D>::constant(T::ZERO); MAX_STATES];
                    for (j, sj) in s.iter_mut().enumerate().take(ns) {
                        *sj = Dual::var(tape.traj[(k * ns + j) * bn + g], j);
                    }
                    let xd = Dual::var(tape.x[k * tape.stride + g], ns);
                    let spk = self.model.step(&c, &mut s[..ns], xd);
                    let gsk = gs[k * bn + g];
                    let mut acc = [T::ZERO; D];
                    for (dd, sd) in acc.iter_mut().zip(spk.d.iter()) {
                        *dd = gsk * *sd;
                    }
                    for (i, si) in s.iter().enumerate().take(ns) {
                        let l = lam[i * len + e];
                        if l != T::ZERO {
                            for (dd, sd) in acc.iter_mut().zip(si.d.iter()) {
                                *dd += l * *sd;
                            }
                        }
                    }
                    for j in 0..ns {
                        lam[j * len + e] = acc[j];
                    }
                    // SAFETY: element g belongs to this chunk only.
                    unsafe { *gxp.at(k * bn + g) = acc[ns] };
                    for q in 0..ntr {
                        let slot = if per_neuron[q] { nidx } else { 0 };
                        gp[q][slot] += acc[ns + 1 + q].to_f64();
                    }
                }
            }
            for j in 0..ns {
                for e in 0..len {
                    // SAFETY: disjoint per chunk.
                    unsafe { *g0p.at(j * bn + base + e) = lam[j * len + e] };
                }
            }
            gp
        };
        let parts: Vec<Vec<Vec<f64>>> = if nchunks == 1 || bn * steps < 1 << 14 {
            (0..nchunks).map(chunk_fn).collect()
        } else {
            (0..nchunks).into_par_iter().map(chunk_fn).collect()
        };
        let mut totals: Vec<Vec<f64>> = (0..ntr).map(|q| vec![0.0; gp_len(q)]).collect();
        for part in parts {
            for (tq, pq) in totals.iter_mut().zip(part) {
                for (a, b) in tq.iter_mut().zip(pq) {
                    *a += b;
                }
            }
        }
        let params = train
            .iter()
            .zip(totals)
            .zip(&per_neuron)
            .map(|((&i, v), &pn)| (M::PARAMS[i].name.to_string(), if pn { ParamGrad::PerNeuron(v) } else { ParamGrad::Shared(v[0]) }))
            .collect();
        Gradients { input: gx, params, initial_state: g0 }
    }
}
