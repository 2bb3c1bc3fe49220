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
use crate::dynamics::{Clock, Cond, Dual, NeuronModel, Real, Step, MAX_STATES};
use crate::error::{Result, SomataError};

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
    /// inputs, `x(k, g) = x[k·stride + g]` (with a conductance drive: the current part `i`)
    x: Vec<T>,
    stride: usize,
    /// with a conductance drive ([`NeuronLayer::forward_tape_cond`]): `g`, `[steps][bn]`; empty
    /// for a plain current input
    g: Vec<T>,
}

impl<T: Real> Default for Tape<T> {
    fn default() -> Self {
        Tape {
            steps: 0,
            bn: 0,
            ns: 0,
            clock: Clock::from_ms(1.0).expect("valid dt"),
            traj: Vec::new(),
            spikes: Vec::new(),
            x: Vec::new(),
            stride: 0,
            g: Vec::new(),
        }
    }
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
#[derive(Debug, Clone, Default)]
pub struct Gradients<T> {
    /// `∂L/∂x`, `[step][element]`, per unit of the model's input unit
    /// ([`NeuronModel::INPUT_UNIT`](crate::dynamics::NeuronModel::INPUT_UNIT): per mA for LIF, per µA for HH).
    pub input: Vec<T>,
    /// `(name, ∂L/∂θ)` for each trainable parameter, per canonical unit.
    pub params: Vec<(String, ParamGrad)>,
    /// `∂L/∂s_0`, `[state][element]`.
    pub initial_state: Vec<T>,
    /// `∂L/∂g`, `[step][element]`, per canonical conductance unit (S), after a
    /// conductance-driven tape ([`NeuronLayer::forward_tape_cond`]); empty otherwise.
    pub conductance: Vec<T>,
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
        let mut tape = Tape::default();
        self.forward_tape_into(clock, x, &mut tape)?;
        Ok(tape)
    }

    /// [`NeuronLayer::forward_tape`] reusing the buffers of an existing tape (no allocation in
    /// a training loop once the sizes are stable).
    pub fn forward_tape_into(&mut self, clock: &mut Clock, x: SeqInput<'_, T>, tape: &mut Tape<T>) -> Result<()> {
        if self.state.is_empty() && self.num_elements() > 0 {
            return Err(SomataError::NotInitialized(self.name().to_string()));
        }
        self.check_clock_pub(clock)?;
        let (stride, steps) = self.seq_input_into(&x, &mut tape.x)?;
        if let Err(e) = self.check_input_finite(&tape.x, clock.step(), "sequence input") {
            // refused before the state is touched; the tape no longer holds a whole pass
            tape.x.clear();
            tape.steps = 0;
            return Err(e);
        }
        tape.g.clear();
        let bn = self.num_elements();
        let ns = M::STATES.len();
        tape.traj.resize((steps + 1) * ns * bn, T::ZERO);
        tape.traj[..ns * bn].copy_from_slice(&self.state);
        tape.spikes.resize(steps * bn, T::ZERO);
        let prep = self.prepare(clock);
        let start = *clock;
        {
            let spec = run_spec(self, &prep, Xs { data: &tape.x, stride }, start, steps);
            let sink = TapeSink { bn, ns, traj: SyncPtr(tape.traj.as_mut_ptr()), spikes: SyncPtr(tape.spikes.as_mut_ptr()) };
            kernel::run(&spec, &sink);
        }
        self.mark_steps(clock.step(), steps);
        clock.set_step(clock.step() + steps as u64);
        tape.steps = steps;
        tape.bn = bn;
        tape.ns = ns;
        tape.clock = start;
        tape.stride = stride;
        Ok(())
    }

    /// [`NeuronLayer::forward_tape_into`] with a conductance drive: at step `k` the input
    /// current is `I(V) = i_k − g_k·V`, evaluated inside the membrane equation exactly as in a
    /// network ([`NeuronLayer::step_drive`], BrainPy's COBA outputs), so that the backward pass
    /// differentiates through the conductance term of exponential Euler's Jacobian and also
    /// returns `∂L/∂g` ([`Gradients::conductance`]). `i` (mA) and `g` (S) are `[steps][element]`
    /// in canonical units (a COBA output `g_syn·(E − V)` contributes `g_syn·E` to `i`).
    ///
    /// ```
    /// use somata::prelude::*;
    /// let mut lif = Lif::builder(1).build().unwrap();
    /// lif.init_state(None).unwrap();
    /// let mut clock = Clock::new(0.1 * ms).unwrap();
    /// let steps = 200;
    /// // LIF's defaults: V_rest = 0, V_th = 1 mV, R = 1 Ω. A conductance of 1 S with reversal
    /// // potential E = 5 mV (i = g·E) pulls V toward R·g·E/(1 + R·g) = 2.5 mV, over threshold
    /// let (g, e_rev) = (1.0f32, 5.0f32);
    /// let (g, i) = (vec![g; steps], vec![g * e_rev; steps]);
    /// let mut tape = somata::engine::Tape::default();
    /// lif.forward_tape_cond(&mut clock, &i, &g, steps, &mut tape).unwrap();
    /// assert!(tape.spikes().iter().sum::<f32>() >= 1.0);
    /// let grads = lif.backward(&tape, &vec![1.0; steps], &[]).unwrap();
    /// assert_eq!(grads.conductance.len(), steps);
    /// ```
    pub fn forward_tape_cond(&mut self, clock: &mut Clock, i: &[T], g: &[T], steps: usize, tape: &mut Tape<T>) -> Result<()> {
        let bn = self.num_elements();
        for (what, v) in [("current i", i), ("conductance g", g)] {
            if v.len() != steps * bn {
                return Err(SomataError::ShapeMismatch {
                    what: format!("{what} of the conductance tape of layer {}", self.name()),
                    expected: vec![steps, bn],
                    got: vec![v.len()],
                });
            }
        }
        if self.state.is_empty() && bn > 0 {
            return Err(SomataError::NotInitialized(self.name().to_string()));
        }
        self.check_clock_pub(clock)?;
        self.check_input_finite(i, clock.step(), "current i")?;
        self.check_input_finite(g, clock.step(), "conductance g")?;
        let prep = self.prepare_steps(clock)?;
        let ns = M::STATES.len();
        tape.traj.resize((steps + 1) * ns * bn, T::ZERO);
        tape.traj[..ns * bn].copy_from_slice(&self.state);
        tape.spikes.resize(steps * bn, T::ZERO);
        let start = *clock;
        let mut c = start;
        for k in 0..steps {
            let r = k * bn..(k + 1) * bn;
            self.step_drive(&prep, &c, &i[r.clone()], Some(&g[r.clone()]), &mut tape.spikes[r])?;
            tape.traj[(k + 1) * ns * bn..(k + 2) * ns * bn].copy_from_slice(&self.state);
            c.advance();
        }
        clock.set_step(start.step() + steps as u64);
        tape.x.clear();
        tape.x.extend_from_slice(i);
        tape.g.clear();
        tape.g.extend_from_slice(g);
        tape.steps = steps;
        tape.bn = bn;
        tape.ns = ns;
        tape.clock = start;
        tape.stride = bn;
        Ok(())
    }

    /// Reverse pass: given `∂L/∂spk` (`[step][element]`), return the gradients with respect to
    /// the inputs, the named trainable parameters and the initial state.
    pub fn backward(&self, tape: &Tape<T>, grad_spikes: &[T], trainable: &[&str]) -> Result<Gradients<T>> {
        let mut g = Gradients::default();
        self.backward_into(tape, grad_spikes, trainable, &mut g)?;
        Ok(g)
    }

    /// [`NeuronLayer::backward`] writing into existing buffers.
    pub fn backward_into(&self, tape: &Tape<T>, grad_spikes: &[T], trainable: &[&str], out: &mut Gradients<T>) -> Result<()> {
        self.backward_full(tape, grad_spikes, None, trainable, out)
    }

    /// The general reverse pass: `grad_spikes` is `∂L/∂spk` (`[step][element]`) and
    /// `grad_states`, if given, `∂L/∂s` for every state after every step
    /// (`[step][state][element]`), for losses on membrane potentials (e.g. a non-spiking readout).
    pub fn backward_full(
        &self,
        tape: &Tape<T>,
        grad_spikes: &[T],
        grad_states: Option<&[T]>,
        trainable: &[&str],
        out: &mut Gradients<T>,
    ) -> Result<()> {
        if let Some(gst) = grad_states
            && gst.len() != tape.steps * tape.ns * tape.bn
        {
            return Err(SomataError::ShapeMismatch {
                what: "grad_states".into(),
                expected: vec![tape.steps, tape.ns, tape.bn],
                got: vec![gst.len()],
            });
        }
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
        if tape.bn == 0 || tape.steps == 0 {
            *out = Gradients {
                input: Vec::new(),
                params: idx.iter().map(|&i| (M::PARAMS[i].name.to_string(), ParamGrad::Shared(0.0))).collect(),
                initial_state: Vec::new(),
                conductance: Vec::new(),
            };
            return Ok(());
        }
        let cond = !tape.g.is_empty();
        if !(T::kernels_of(M::kernels()).backward)(self, tape, grad_spikes, grad_states, &idx, out) {
            return Err(SomataError::Format(format!("too many trainable parameters ({})", idx.len())));
        }
        // ∂L/∂x per unit of the model's input unit (the unit raw inputs are read in); a
        // conductance tape's current is canonical
        let scale = if cond { 1.0 } else { self.input_scale() };
        if scale != 1.0 {
            for g in out.input.iter_mut() {
                *g = T::from_f64(g.to_f64() * scale);
            }
        }
        Ok(())
    }

    fn backward_d<const D: usize>(
        &self,
        tape: &Tape<T>,
        gs: &[T],
        gst: Option<&[T]>,
        train: &[usize],
        out: &mut Gradients<T>,
        vec_fns: Option<VecBack<M, D>>,
    ) {
        let ns = M::STATES.len();
        let (bn, n, steps) = (tape.bn, self.n, tape.steps);
        let ntr = train.len();
        let cond = !tape.g.is_empty();
        // the first parameter tangent (after the states, the input and the conductance)
        let po = ns + 1 + cond as usize;
        let dt = T::from_f64(tape.clock.dt_ms());
        let prep: Prepared<Dual<T, D>> =
            Prepared::new(&self.model, &self.params, n, Dual::constant(dt), |i, v| match train.iter().position(|&t| t == i) {
                Some(q) => Dual::var(T::from_f64(v), po + q),
                None => Dual::constant(T::from_f64(v)),
            });
        let per_neuron: Vec<bool> = train.iter().map(|&i| matches!(self.params[i], ParamValue::PerNeuron(_))).collect();
        out.input.resize(steps * bn, T::ZERO);
        out.initial_state.resize(ns * bn, T::ZERO);
        out.conductance.clear();
        out.conductance.resize(if cond { steps * bn } else { 0 }, T::ZERO);
        let gxp = SyncPtr(out.input.as_mut_ptr());
        let g0p = SyncPtr(out.initial_state.as_mut_ptr());
        let ggp = SyncPtr(out.conductance.as_mut_ptr());
        let cl = kernel::chunk_len(bn);
        let nchunks = bn.div_ceil(cl).max(1);
        let job = BackJob { layer: self, tape, gs, gst, prep: &prep, per_neuron: &per_neuron, ntr, po, dt, cl, gxp, g0p, ggp };
        // (the 64-lane pass takes plain currents only)
        let backend = self.backend();
        // (`vec_fns` is `None` for more than 8 tangents: the scalar pass serves them)
        let vector = !cond && kernel::uses_vector_backward::<M, T>(prep.shared, backend);
        // (elsewhere than x86-64 only the scalar pass exists)
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (vec_fns, vector);
        let chunk_fn = |ci: usize| -> Vec<Vec<f64>> {
            #[cfg(target_arch = "x86_64")]
            {
                use crate::dynamics::simd::Backend;
                // SAFETY: the layer checked that the CPU supports its back end; with `vector`,
                // `uses_vector_backward` checked that T is f32 (the cast only renames the type).
                unsafe {
                    let j32 = || &*(&job as *const BackJob<'_, M, T, D> as *const BackJob<'_, M, f32, D>);
                    match (backend, vec_fns) {
                        (Backend::Avx512, Some(v)) if vector => return (v.avx512)(j32(), ci),
                        (Backend::Avx2, Some(v)) if vector => return (v.avx2)(j32(), ci),
                        _ if kernel::scalar_loop_avx2(backend) => return back_chunk_avx2(&job, ci),
                        _ => {}
                    }
                }
            }
            back_chunk(&job, ci)
        };
        let parts: Vec<Vec<Vec<f64>>> = if nchunks == 1 || bn * steps < 1 << 14 {
            (0..nchunks).map(chunk_fn).collect()
        } else {
            kernel::par_map_grads(nchunks, &chunk_fn)
        };
        let mut totals: Vec<Vec<f64>> = (0..ntr).map(|q| vec![0.0; if per_neuron[q] { n } else { 1 }]).collect();
        for part in parts {
            for (tq, pq) in totals.iter_mut().zip(part) {
                for (a, b) in tq.iter_mut().zip(pq) {
                    *a += b;
                }
            }
        }
        out.params = train
            .iter()
            .zip(totals)
            .zip(&per_neuron)
            .map(|((&i, v), &pn)| (M::PARAMS[i].name.to_string(), if pn { ParamGrad::PerNeuron(v) } else { ParamGrad::Shared(v[0]) }))
            .collect();
    }
}

/// The vector backward passes of `M` with `D` tangents (f32): named only for D <= 8, so that the
/// larger forms, rare (many trained parameters) and by far the largest functions of the crate
/// to compile, are not compiled; the scalar pass serves them.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct VecBack<M: NeuronModel, const D: usize> {
    avx512: VecBackFn<M, D>,
    avx2: VecBackFn<M, D>,
}
type VecBackFn<M, const D: usize> = unsafe fn(&BackJob<'_, M, f32, D>, usize) -> Vec<Vec<f64>>;
impl<M: NeuronModel, const D: usize> Clone for VecBack<M, D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M: NeuronModel, const D: usize> Copy for VecBack<M, D> {}
impl<M: NeuronModel, const D: usize> VecBack<M, D> {
    #[cfg(target_arch = "x86_64")]
    const SOME: Option<Self> = Some(VecBack { avx512: back_chunk_vector_avx512::<M, D>, avx2: back_chunk_vector_avx2::<M, D> });
    #[cfg(not(target_arch = "x86_64"))]
    const SOME: Option<Self> = None;
}

/// The tangents a backward pass carries: the states, the input (and the conductance of a
/// conductance tape), the trained parameters.
fn tangents<M: NeuronModel, T: Real>(tape: &Tape<T>, idx: &[usize]) -> usize {
    M::STATES.len() + 1 + !tape.g.is_empty() as usize + idx.len()
}

/// The backward pass with the smallest number of tangents `D` of 4, 8 and 32 that holds the
/// states, the input (and the conductance) and the trained parameters; `false` if more than 32
/// are needed. The f64 entry of [`super::KernelsFor`] (f32 adds 2: [`backward_dispatch_f32`]).
/// Every `D` is a copy of every model's backward pass to compile (the largest functions of the
/// crate): 16 tangents, rare (many trained parameters), run as 32.
pub(crate) fn backward_dispatch<M: NeuronModel, T: Real>(
    layer: &NeuronLayer<M, T>,
    tape: &Tape<T>,
    gs: &[T],
    gst: Option<&[T]>,
    idx: &[usize],
    out: &mut Gradients<T>,
) -> bool {
    match tangents::<M, T>(tape, idx) {
        0..=4 => layer.backward_d::<4>(tape, gs, gst, idx, out, VecBack::SOME),
        5..=8 => layer.backward_d::<8>(tape, gs, gst, idx, out, VecBack::SOME),
        9..=32 => layer.backward_d::<32>(tape, gs, gst, idx, out, None),
        _ => return false,
    }
    true
}

/// [`backward_dispatch`] with `D = 2` for up to two tangents, the common case of training (a
/// LIF with no trained parameter): the f32 entry of [`super::KernelsFor`].
pub(crate) fn backward_dispatch_f32<M: NeuronModel>(
    layer: &NeuronLayer<M, f32>,
    tape: &Tape<f32>,
    gs: &[f32],
    gst: Option<&[f32]>,
    idx: &[usize],
    out: &mut Gradients<f32>,
) -> bool {
    if tangents::<M, f32>(tape, idx) <= 2 {
        layer.backward_d::<2>(tape, gs, gst, idx, out, VecBack::SOME);
        return true;
    }
    backward_dispatch(layer, tape, gs, gst, idx, out)
}

struct BackJob<'a, M: NeuronModel, T: Real, const D: usize> {
    layer: &'a NeuronLayer<M, T>,
    tape: &'a Tape<T>,
    gs: &'a [T],
    gst: Option<&'a [T]>,
    prep: &'a Prepared<Dual<T, D>>,
    per_neuron: &'a [bool],
    ntr: usize,
    /// the tangent of the first trained parameter
    po: usize,
    dt: T,
    cl: usize,
    gxp: SyncPtr<T>,
    g0p: SyncPtr<T>,
    /// `∂L/∂g` of a conductance tape
    ggp: SyncPtr<T>,
}

// SAFETY: the raw pointers are only written at the chunk's own elements.
unsafe impl<M: NeuronModel, T: Real, const D: usize> Sync for BackJob<'_, M, T, D> {}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn back_chunk_avx2<M: NeuronModel, T: Real, const D: usize>(j: &BackJob<'_, M, T, D>, ci: usize) -> Vec<Vec<f64>> {
    back_chunk(j, ci)
}

/// [`back_chunk_vector`] on [`crate::dynamics::simd::F32x64`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
unsafe fn back_chunk_vector_avx512<M: NeuronModel, const D: usize>(j: &BackJob<'_, M, f32, D>, ci: usize) -> Vec<Vec<f64>> {
    unsafe { back_chunk_vector::<M, D, crate::dynamics::simd::F32x64>(j, ci) }
}

/// [`back_chunk_vector`] on [`crate::dynamics::simd::F32x16`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn back_chunk_vector_avx2<M: NeuronModel, const D: usize>(j: &BackJob<'_, M, f32, D>, ci: usize) -> Vec<Vec<f64>> {
    unsafe { back_chunk_vector::<M, D, crate::dynamics::simd::F32x16>(j, ci) }
}

/// [`back_chunk`] on a vector's lanes at a time: the model's step evaluated once on
/// `Dual<V, D>` (the forward kernel's vector type carrying the tangents), for `f32` layers
/// with shared parameters on a vector back end. The same operations in the same order as the
/// scalar pass, element by element; only the sums of shared-parameter gradients over elements
/// are added in another order.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn back_chunk_vector<M: NeuronModel, const D: usize, V: crate::dynamics::simd::VecF32>(
    j: &BackJob<'_, M, f32, D>,
    ci: usize,
) -> Vec<Vec<f64>> {
    unsafe {
        use crate::dynamics::{MAX_HOIST, MAX_PARAMS};
        let vl = V::LANES;
        let ns = M::STATES.len();
        let (tape, layer) = (j.tape, j.layer);
        let bn = tape.bn;
        let base = ci * j.cl;
        let len = j.cl.min(bn - base);
        let lift = |x: &Dual<f32, D>| Dual::<V, D> { v: V::splat(x.v), d: std::array::from_fn(|k| V::splat(x.d[k])) };
        let p: [Dual<V, D>; MAX_PARAMS] = std::array::from_fn(|i| lift(&j.prep.p_of(0)[i]));
        let h: [Dual<V, D>; MAX_HOIST] = std::array::from_fn(|i| lift(&j.prep.h_of(0)[i]));
        let mut lam = vec![0.0f32; ns * len];
        let mut gp: Vec<Vec<f64>> = (0..j.ntr).map(|_| vec![0.0; 1]).collect();
        let zero = V::splat(0.0);
        let traj = tape.traj.as_ptr();
        let lp = lam.as_mut_ptr();
        for k in (0..tape.steps).rev() {
            let t: f32 = tape.clock.t_at(tape.clock.step() + k as u64);
            let c = Step {
                p: &p,
                h: &h,
                dt: Dual::constant(V::splat(j.dt)),
                t: Dual::constant(V::splat(t)),
                reset: layer.spk_reset,
                sg: &layer.spk_fun,
                table: None,
            };
            let xrow = tape.x.as_ptr().add(k * tape.stride + base);
            let grow = j.gs.as_ptr().add(k * bn + base);
            let mut row = [zero; D];
            let mut row_tail = [0.0f64; D];
            let mut e = 0;
            while e < len {
                let n = vl.min(len - e);
                let g = base + e;
                let mut s = [Dual::<V, D>::constant(zero); MAX_STATES];
                for i in 0..ns {
                    s[i] = Dual::var(V::load(traj.add((k * ns + i) * bn + g), n), i);
                }
                let xd = Dual::var(V::load(xrow.add(e), n), ns);
                let spk = layer.model.step(&c, &mut s[..ns], xd);
                let gsk = V::load(grow.add(e), n);
                let mut acc: [V; D] = std::array::from_fn(|d| gsk * spk.d[d]);
                for i in 0..ns {
                    let li = lp.add(i * len + e);
                    let mut l = V::load(li, n);
                    if let Some(gst) = j.gst {
                        l += V::load(gst.as_ptr().add((k * ns + i) * bn + g), n);
                    }
                    for d in 0..D {
                        acc[d] += l * s[i].d[d];
                    }
                }
                for i in 0..ns {
                    acc[i].store(lp.add(i * len + e), n);
                }
                acc[ns].store(j.gxp.at(k * bn + g), n);
                if n == vl {
                    for q in 0..j.ntr {
                        row[q] += acc[j.po + q];
                    }
                } else {
                    for q in 0..j.ntr {
                        row_tail[q] += acc[j.po + q].lanes()[..n].iter().map(|&v| v as f64).sum::<f64>();
                    }
                }
                e += n;
            }
            for q in 0..j.ntr {
                gp[q][0] += row[q].lanes().iter().map(|&v| v as f64).sum::<f64>() + row_tail[q];
            }
        }
        for i in 0..ns {
            for e in 0..len {
                // SAFETY: disjoint per chunk.
                *j.g0p.at(i * bn + base + e) = lam[i * len + e];
            }
        }
        gp
    }
}

/// The reverse pass over one chunk of elements, all steps, time-outer and element-inner.
#[inline(always)]
fn back_chunk<M: NeuronModel, T: Real, const D: usize>(j: &BackJob<'_, M, T, D>, ci: usize) -> Vec<Vec<f64>> {
    let ns = M::STATES.len();
    let (tape, layer, n) = (j.tape, j.layer, j.layer.n);
    let bn = tape.bn;
    let base = ci * j.cl;
    let len = j.cl.min(bn - base);
    let mut lam = vec![T::ZERO; ns * len];
    let mut gp: Vec<Vec<f64>> = (0..j.ntr).map(|q| vec![0.0; if j.per_neuron[q] { n } else { 1 }]).collect();
    let mut s = [Dual::<T, D>::constant(T::ZERO); MAX_STATES];
    // shared-parameter gradients of this step, summed over the chunk in registers
    let mut row = [T::ZERO; D];
    let any_per_neuron = j.per_neuron.iter().any(|&p| p);
    let cond = !tape.g.is_empty();
    for k in (0..tape.steps).rev() {
        let t: T = tape.clock.t_at(tape.clock.step() + k as u64);
        let mut nidx = base % n;
        let xrow = &tape.x[k * tape.stride + base..][..len];
        let grow = &j.gs[k * bn + base..][..len];
        // shared parameters: a local copy the compiler can keep in registers
        let (pl, hl) = (*j.prep.p_of(0), *j.prep.h_of(0));
        for e in 0..len {
            let g = base + e;
            let (p, h) = if j.prep.shared { (&pl, &hl) } else { (j.prep.p_of(nidx), j.prep.h_of(nidx)) };
            let c = Step { p, h, dt: Dual::constant(j.dt), t: Dual::constant(t), reset: layer.spk_reset, sg: &layer.spk_fun, table: None };
            for (i, si) in s.iter_mut().enumerate().take(ns) {
                *si = Dual::var(tape.traj[(k * ns + i) * bn + g], i);
            }
            let spk = if cond {
                let d = Cond { i: Dual::var(xrow[e], ns), g: Dual::var(tape.g[k * bn + g], ns + 1) };
                layer.model.step_drive(&c, &mut s[..ns], d)
            } else {
                layer.model.step(&c, &mut s[..ns], Dual::var(xrow[e], ns))
            };
            let gsk = grow[e];
            let mut acc = [T::ZERO; D];
            for (dd, sd) in acc.iter_mut().zip(spk.d.iter()) {
                *dd = gsk * *sd;
            }
            if let Some(gst) = j.gst {
                for i in 0..ns {
                    lam[i * len + e] += gst[(k * ns + i) * bn + g];
                }
            }
            for (i, si) in s.iter().enumerate().take(ns) {
                let l = lam[i * len + e];
                for (dd, sd) in acc.iter_mut().zip(si.d.iter()) {
                    *dd += l * *sd;
                }
            }
            for i in 0..ns {
                lam[i * len + e] = acc[i];
            }
            // SAFETY: element g belongs to this chunk only.
            unsafe { *j.gxp.at(k * bn + g) = acc[ns] };
            if cond {
                // SAFETY: as above.
                unsafe { *j.ggp.at(k * bn + g) = acc[ns + 1] };
            }
            for q in 0..j.ntr {
                row[q] += acc[j.po + q];
            }
            if any_per_neuron {
                for q in 0..j.ntr {
                    if j.per_neuron[q] {
                        gp[q][nidx] += acc[j.po + q].to_f64();
                    }
                }
            }
            nidx += 1;
            if nidx == n {
                nidx = 0;
            }
        }
        for q in 0..j.ntr {
            if !j.per_neuron[q] {
                gp[q][0] += row[q].to_f64();
            }
            row[q] = T::ZERO;
        }
    }
    for i in 0..ns {
        for e in 0..len {
            // SAFETY: disjoint per chunk.
            unsafe { *j.g0p.at(i * bn + base + e) = lam[i * len + e] };
        }
    }
    gp
}
