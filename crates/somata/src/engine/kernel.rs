//! Fused, allocation-free simulation kernels, generic over the model.
//!
//! A layer's elements (batch rows × neurons) are independent within one layer, so a sequence
//! run splits them into chunks and runs **all time steps of a chunk** on one thread (no
//! per-step synchronisation). Inside a chunk the loop is time-outer, element-inner over
//! structure-of-arrays state, which the compiler vectorises for models without transcendental
//! calls. On x86-64 the chunk loop is compiled a second time with AVX2 enabled and chosen at run
//! time. Step mode (`update`) calls the same chunk function with one step, so both modes agree
//! bit for bit.

use crate::dynamics::{Clock, NeuronModel, Real, Scalar, SpikeReset, Step, MAX_HOIST, MAX_PARAMS, MAX_STATES};
use crate::surrogate::Surrogate;
use rayon::prelude::*;

/// A parameter value: shared by all neurons, or one per neuron (canonical units).
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// One value for every neuron.
    Shared(f64),
    /// One value per neuron (length = number of neurons).
    PerNeuron(Vec<f64>),
}

impl ParamValue {
    /// Value for neuron `n`.
    #[inline]
    pub fn at(&self, n: usize) -> f64 {
        match self {
            ParamValue::Shared(v) => *v,
            ParamValue::PerNeuron(v) => v[n],
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use crate::dynamics::simd::cpu_avx2;
pub(crate) use crate::dynamics::simd::Backend;

/// Parameters and hoisted constants, lifted to the scalar type of a run.
pub(crate) struct Prepared<S> {
    pub shared: bool,
    /// One row (shared) or one per neuron.
    pub p: Vec<[S; MAX_PARAMS]>,
    /// One row (shared) or one per neuron.
    pub h: Vec<[S; MAX_HOIST]>,
    /// The model's table for this run's `dt` ([`NeuronModel::gate_table`]), if any.
    pub table: Option<std::sync::Arc<crate::dynamics::GateTable>>,
}

impl<S: Scalar> Prepared<S> {
    /// Lift parameters with `lift(param_index, value)` and evaluate the model's hoisted constants.
    pub fn new<M: NeuronModel>(model: &M, params: &[ParamValue], n: usize, dt: S, lift: impl Fn(usize, f64) -> S) -> Self {
        let np = M::PARAMS.len();
        let nh = M::N_HOIST;
        let shared = params.iter().all(|p| matches!(p, ParamValue::Shared(_)));
        let rows = if shared { 1 } else { n };
        let mut p = Vec::with_capacity(rows);
        let mut h = Vec::with_capacity(rows);
        for r in 0..rows {
            let mut pr = [S::lit(0.0); MAX_PARAMS];
            for (i, pv) in params.iter().enumerate() {
                pr[i] = lift(i, pv.at(r));
            }
            let mut hr = [S::lit(0.0); MAX_HOIST];
            model.hoist(&pr[..np], dt, &mut hr[..nh]);
            p.push(pr);
            h.push(hr);
        }
        Prepared { shared, p, h, table: None }
    }
    #[inline(always)]
    pub fn p_of(&self, n: usize) -> &[S; MAX_PARAMS] {
        if self.shared {
            &self.p[0]
        } else {
            &self.p[n]
        }
    }
    #[inline(always)]
    pub fn h_of(&self, n: usize) -> &[S; MAX_HOIST] {
        if self.shared {
            &self.h[0]
        } else {
            &self.h[n]
        }
    }
}

/// A raw pointer that may cross threads; every use writes disjoint index ranges (one chunk of
/// elements per task), which is what makes it sound.
#[derive(Clone, Copy)]
pub(crate) struct SyncPtr<T>(pub *mut T);
unsafe impl<T> Send for SyncPtr<T> {}
unsafe impl<T> Sync for SyncPtr<T> {}
impl<T> SyncPtr<T> {
    /// Pointer to element `i` (method form, so closures capture the whole wrapper).
    #[inline(always)]
    pub fn at(self, i: usize) -> *mut T {
        // SAFETY (of callers): `i` is within the allocation.
        unsafe { self.0.add(i) }
    }
}

/// Inputs of a run: `x(k, g) = data[k·stride + g]` (stride 0 for a constant input).
#[derive(Clone, Copy)]
pub(crate) struct Xs<'a, T> {
    pub data: &'a [T],
    pub stride: usize,
}

/// The states of a block of elements, read where the kernel wrote them back: state `j` of
/// element `g` is `ptr[j·bn + g]`.
#[derive(Clone, Copy)]
pub(crate) struct States<T> {
    pub ptr: *const T,
    pub bn: usize,
    pub ns: usize,
}

impl<T: Copy> States<T> {
    /// State `j` of element `g`.
    ///
    /// # Safety
    /// `j < ns`, `g < bn`.
    #[inline(always)]
    pub unsafe fn get(&self, j: usize, g: usize) -> T {
        unsafe { *self.ptr.add(j * self.bn + g) }
    }
    /// The `ns` states of element `g`.
    ///
    /// # Safety
    /// `g < bn`.
    #[inline(always)]
    pub unsafe fn of(&self, g: usize) -> [T; MAX_STATES]
    where
        T: Default,
    {
        unsafe { std::array::from_fn(|j| if j < self.ns { self.get(j, g) } else { T::default() }) }
    }
}

/// Where a kernel writes what it produces: one call per step and block of at most 512
/// consecutive elements (after their states were written back), from the thread that owns
/// them. A trait object in the kernels: one indirect call per block costs nothing next to the
/// block's steps, and the kernels are compiled once per model instead of once per sink.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // the vector kernels' hooks
pub(crate) trait Sink<T>: Sync {
    /// Elements `g..g + spk.len()` at run step `k`: their spikes, and their states in `st`.
    ///
    /// # Safety
    /// The elements belong to the calling task's chunk, and `k` is within the run.
    unsafe fn put_block(&self, k: usize, g: usize, spk: &[T], st: States<T>);
    /// The count array, when spike counts are all this sink records: the vector kernels then
    /// add each vector's spikes to it in registers instead of calling `put_block` (for a cheap
    /// model such as LIF the call cost as much as the step).
    fn counts_only(&self) -> Option<*mut u32> {
        None
    }
    /// `(traj, spikes)` of a BPTT tape (`[(steps + 1)][ns][bn]`, `[steps][bn]`): the vector
    /// kernels then store each vector there directly instead of calling `put_block` (which
    /// copies what they just stored).
    fn tape(&self) -> Option<(*mut f32, *mut f32)> {
        None
    }
}

/// Spike counts only (the cheapest sink).
pub(crate) struct CountSink(pub SyncPtr<u32>);
impl<T: Real> Sink<T> for CountSink {
    fn counts_only(&self) -> Option<*mut u32> {
        Some(self.0 .0)
    }
    unsafe fn put_block(&self, _k: usize, g: usize, spk: &[T], _st: States<T>) {
        unsafe {
            let c = std::slice::from_raw_parts_mut(self.0 .0.add(g), spk.len());
            for (c, &s) in c.iter_mut().zip(spk) {
                *c += (s > T::ZERO) as u32;
            }
        }
    }
}

/// Full recording: counts, optional raster (u8), optional state trace, optional divergence check.
pub(crate) struct RecSink<T> {
    pub bn: usize,
    pub ns: usize,
    pub counts: SyncPtr<u32>,
    pub raster: Option<SyncPtr<u8>>,
    pub states: Option<SyncPtr<T>>,
    /// per element: first step with a non-finite state (u32::MAX if none), and which variable
    pub bad: Option<(SyncPtr<u32>, SyncPtr<u8>)>,
    /// state monitors (sampled states on a subset of elements)
    pub mon: Option<super::monitor::MonSink<T>>,
}
impl<T: Real> Sink<T> for RecSink<T> {
    unsafe fn put_block(&self, k: usize, g: usize, spk: &[T], st: States<T>) {
        unsafe {
            CountSink(self.counts).put_block(k, g, spk, st);
            let n = spk.len();
            if let Some(r) = self.raster {
                let row = std::slice::from_raw_parts_mut(r.0.add(k * self.bn + g), n);
                for (r, &s) in row.iter_mut().zip(spk) {
                    *r = (s > T::ZERO) as u8;
                }
            }
            if let Some(o) = self.states {
                for j in 0..self.ns {
                    std::ptr::copy_nonoverlapping(st.ptr.add(j * st.bn + g), o.0.add((k * self.ns + j) * self.bn + g), n);
                }
            }
            if let Some(m) = &self.mon {
                for l in 0..n {
                    m.put(k, g + l, &st.of(g + l)[..self.ns]);
                }
            }
            if let Some((first, var)) = self.bad {
                for l in 0..n {
                    if *first.0.add(g + l) == u32::MAX
                        && let Some(j) = (0..self.ns).position(|j| !st.get(j, g + l).finite())
                    {
                        *first.0.add(g + l) = k as u32;
                        *var.0.add(g + l) = j as u8;
                    }
                }
            }
        }
    }
}

/// The BPTT tape: every state after every step, and the spikes.
pub(crate) struct TapeSink<T> {
    pub bn: usize,
    pub ns: usize,
    /// `[(steps + 1)][ns][bn]`; row 0 is the initial state.
    pub traj: SyncPtr<T>,
    /// `[steps][bn]`.
    pub spikes: SyncPtr<T>,
}
impl<T: Real> Sink<T> for TapeSink<T> {
    fn tape(&self) -> Option<(*mut f32, *mut f32)> {
        (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()).then_some((self.traj.0 as *mut f32, self.spikes.0 as *mut f32))
    }
    unsafe fn put_block(&self, k: usize, g: usize, spk: &[T], st: States<T>) {
        unsafe {
            let n = spk.len();
            std::ptr::copy_nonoverlapping(spk.as_ptr(), self.spikes.0.add(k * self.bn + g), n);
            for j in 0..self.ns {
                std::ptr::copy_nonoverlapping(st.ptr.add(j * st.bn + g), self.traj.0.add(((k + 1) * self.ns + j) * self.bn + g), n);
            }
        }
    }
}

/// Everything a chunk needs besides its element range.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // `backend` picks x86 kernels
pub(crate) struct RunSpec<'a, M, T> {
    pub model: &'a M,
    pub prep: &'a Prepared<T>,
    pub n: usize,
    pub bn: usize,
    pub state: SyncPtr<T>,
    pub xs: Xs<'a, T>,
    pub clock: Clock,
    pub steps: usize,
    pub reset: SpikeReset,
    pub sg: &'a Surrogate,
    /// The back end that runs it ([`crate::dynamics::simd`]; checked supported by the layer).
    pub backend: Backend,
}

/// Elements per block of the blocked scalar loop (see `chunk_generic`).
const BLOCK: usize = 64;
/// Elements per call of the sink in the scalar loop: long enough that the compiler's vectorised
/// loop (and its run-time alias checks) runs on long stretches, short enough for the stack.
const SINK_BLOCK: usize = 512;
/// Models with at least this many state variables run the blocked scalar loop. Measured (single
/// thread, `SOMATA_NO_VECTOR=1`): GifRef, six states, is not vectorised unblocked and runs 4×
/// faster blocked (337 → 71–82 ms); models with four states are vectorised unblocked and run
/// 0–40% slower blocked (Gif 37 → 57, HH 231 → 262, IzhikevichRef 67 → 87 ms).
const BLOCKED_STATES: usize = 5;

#[inline(always)]
unsafe fn chunk_generic<M: NeuronModel, T: Real>(r: &RunSpec<'_, M, T>, sink: &dyn Sink<T>, base: usize, len: usize) {
    unsafe {
        let ns = M::STATES.len();
        let dt = T::from_f64(r.clock.dt_ms());
        let t0 = r.clock.step();
        let st = States { ptr: r.state.0 as *const T, bn: r.bn, ns };
        let mut loc = [[T::ZERO; BLOCK]; MAX_STATES];
        let mut spk = [T::ZERO; SINK_BLOCK];
        for k in 0..r.steps {
            let t: T = r.clock.t_at(t0 + k as u64);
            let xrow = &r.xs.data[k * r.xs.stride + base..][..len];
            // blocks of SINK_BLOCK elements: the spikes of a block go to a local buffer, handed to
            // the sink once the block's states are written back
            let mut e0 = 0;
            while e0 < len {
                let n = SINK_BLOCK.min(len - e0);
                let xb = &xrow[e0..e0 + n];
                // the block's state arrays (slices of exactly n: no bounds checks in the loops)
                let vars: [&mut [T]; MAX_STATES] = std::array::from_fn(|j| {
                    if j < ns {
                        std::slice::from_raw_parts_mut(r.state.0.add(j * r.bn + base + e0), n)
                    } else {
                        &mut [][..]
                    }
                });
                let spk = &mut spk[..n];
                if r.prep.shared && ns >= BLOCKED_STATES {
                    // Models with many state arrays: the compiler does not vectorise a loop over that
                    // many separate arrays (its run-time alias checks exceed their budget), so each
                    // block of elements is copied into local arrays, stepped there and copied back.
                    // (The gather-step-scatter body is written out in each of the three loops on
                    // purpose: one shared generic helper, measured 2026-11-26, kept LIF and HH at
                    // their speed but stopped the compiler vectorising this blocked loop, GifRef
                    // 67 → 134 ms.)
                    let c = Step { p: r.prep.p_of(0), h: r.prep.h_of(0), dt, t, reset: r.reset, sg: r.sg, table: r.prep.table.as_deref() };
                    let mut b0 = 0;
                    while b0 < n {
                        let m = BLOCK.min(n - b0);
                        for j in 0..ns {
                            loc[j][..m].copy_from_slice(&vars[j][b0..b0 + m]);
                        }
                        let (xs, sp) = (&xb[b0..b0 + m], &mut spk[b0..b0 + m]);
                        for e in 0..m {
                            let mut s = [T::ZERO; MAX_STATES];
                            for j in 0..ns {
                                s[j] = loc[j][e];
                            }
                            sp[e] = r.model.step(&c, &mut s[..ns], xs[e]);
                            for j in 0..ns {
                                loc[j][e] = s[j];
                            }
                        }
                        for j in 0..ns {
                            vars[j][b0..b0 + m].copy_from_slice(&loc[j][..m]);
                        }
                        b0 += m;
                    }
                } else if r.prep.shared {
                    let c = Step { p: r.prep.p_of(0), h: r.prep.h_of(0), dt, t, reset: r.reset, sg: r.sg, table: r.prep.table.as_deref() };
                    for e in 0..n {
                        let mut s = [T::ZERO; MAX_STATES];
                        for j in 0..ns {
                            s[j] = vars[j][e];
                        }
                        spk[e] = r.model.step(&c, &mut s[..ns], xb[e]);
                        for j in 0..ns {
                            vars[j][e] = s[j];
                        }
                    }
                } else {
                    let mut nidx = (base + e0) % r.n;
                    for e in 0..n {
                        let c = Step {
                            p: r.prep.p_of(nidx),
                            h: r.prep.h_of(nidx),
                            dt,
                            t,
                            reset: r.reset,
                            sg: r.sg,
                            table: r.prep.table.as_deref(),
                        };
                        let mut s = [T::ZERO; MAX_STATES];
                        for j in 0..ns {
                            s[j] = vars[j][e];
                        }
                        spk[e] = r.model.step(&c, &mut s[..ns], xb[e]);
                        for j in 0..ns {
                            vars[j][e] = s[j];
                        }
                        nidx += 1;
                        if nidx == r.n {
                            nidx = 0;
                        }
                    }
                }
                sink.put_block(k, base + e0, spk, st);
                e0 += n;
            }
        }
    }
}

/// The scalar loop compiled with AVX2 + FMA: `mul_add` is one instruction (on the baseline
/// target it is a call to the software `fmaf`) and the compiler vectorises what it can. What
/// the scalar back end runs on a CPU with AVX2, and what the vector back ends run for models
/// without a vector kernel (one copy fewer of every scalar loop to compile than with an
/// AVX-512 copy too; see BENCHMARKS.md, build time). The baseline copy (`chunk_generic`
/// itself) runs on x86-64 CPUs without AVX2 and on other targets.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chunk_avx2<M: NeuronModel, T: Real>(r: &RunSpec<'_, M, T>, sink: &dyn Sink<T>, base: usize, len: usize) {
    unsafe { chunk_generic(r, sink, base, len) }
}

/// [`chunk_vector`] on [`crate::dynamics::simd::F32x64`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
unsafe fn chunk_vector_avx512<M: NeuronModel>(r: &RunSpec<'_, M, f32>, sink: &dyn Sink<f32>, base: usize, len: usize) {
    unsafe { chunk_vector::<M, crate::dynamics::simd::F32x64>(r, sink, base, len) }
}

/// [`chunk_vector`] on [`crate::dynamics::simd::F32x16`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chunk_vector_avx2<M: NeuronModel>(r: &RunSpec<'_, M, f32>, sink: &dyn Sink<f32>, base: usize, len: usize) {
    unsafe { chunk_vector::<M, crate::dynamics::simd::F32x16>(r, sink, base, len) }
}

/// `V::LANES` elements per model evaluation, on a vector type of [`crate::dynamics::simd`]
/// (f32, shared parameters, `M::VECTOR`). The tail of the chunk runs with masked loads and
/// stores, so every element goes through the same code.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn chunk_vector<M: NeuronModel, V: VecF32>(r: &RunSpec<'_, M, f32>, sink: &dyn Sink<f32>, base: usize, len: usize) {
    unsafe {
        let p: [V; MAX_PARAMS] = std::array::from_fn(|i| V::splat(r.prep.p[0][i]));
        let h: [V; MAX_HOIST] = std::array::from_fn(|i| V::splat(r.prep.h[0][i]));
        let dt = V::splat(r.clock.dt_ms() as f32);
        let t0 = r.clock.step();
        let x = r.xs.data.as_ptr();
        let full = len / V::LANES * V::LANES;
        let counts = sink.counts_only();
        // (a tape sink of an f32 run: the vector kernels are f32 only)
        let tape = sink.tape();
        for k in 0..r.steps {
            let t: f32 = r.clock.t_at(t0 + k as u64);
            let c = Step { p: &p, h: &h, dt, t: V::splat(t), reset: r.reset, sg: r.sg, table: r.prep.table.as_deref() };
            let xrow = x.add(k * r.xs.stride + base);
            for e in (0..full).step_by(V::LANES) {
                lanes_block(r, sink, (counts, tape), &c, k, base + e, xrow.add(e), V::LANES);
            }
            if full < len {
                lanes_block(r, sink, (counts, tape), &c, k, base + full, xrow.add(full), len - full);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
use crate::dynamics::simd::VecF32;

/// One evaluation of the model on elements `g..g + n` (n <= V::LANES; full blocks pass the
/// constant `V::LANES`, so loads and stores are unmasked).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
unsafe fn lanes_block<M: NeuronModel, V: VecF32>(
    r: &RunSpec<'_, M, f32>,
    sink: &dyn Sink<f32>,
    (counts, tape): (Option<*mut u32>, Option<(*mut f32, *mut f32)>),
    c: &Step<'_, V>,
    k: usize,
    g: usize,
    x: *const f32,
    n: usize,
) {
    unsafe {
        let ns = M::STATES.len();
        let st = r.state.0;
        let mut s = [V::splat(0.0); MAX_STATES];
        for j in 0..ns {
            s[j] = V::load(st.add(j * r.bn + g), n);
        }
        let spk = r.model.step(c, &mut s[..ns], V::load(x, n));
        for j in 0..ns {
            s[j].store(st.add(j * r.bn + g), n);
        }
        match (counts, tape) {
            (Some(cnt), _) => spk.add_counts(cnt.add(g), n),
            (None, Some((traj, spikes))) => {
                for j in 0..ns {
                    s[j].store(traj.add(((k + 1) * ns + j) * r.bn + g), n);
                }
                spk.store(spikes.add(k * r.bn + g), n);
            }
            (None, None) => sink.put_block(k, g, &spk.lanes()[..n], States { ptr: st as *const f32, bn: r.bn, ns }),
        }
    }
}

/// Whether runs of `M` on `T` with these parameters use a vector kernel on back end `b`.
pub(crate) fn uses_vector_kernel<M: NeuronModel, T: Real>(shared: bool, b: Backend) -> bool {
    vector_ok::<T>(M::VECTOR, shared, b)
}

/// Whether the BPTT backward pass of `M` on `T` runs a vector's lanes at a time
/// (`Dual<F32x64, D>` or `Dual<F32x16, D>`): the model must compare only through selects, which
/// [`NeuronModel::VECTOR_DRIVE`] declares (by default `VECTOR`).
pub(crate) fn uses_vector_backward<M: NeuronModel, T: Real>(shared: bool, b: Backend) -> bool {
    vector_ok::<T>(M::VECTOR_DRIVE, shared, b)
}

/// The vector path for a model that allows it (`model`): f32, shared parameters, a vector back
/// end.
fn vector_ok<T: Real>(model: bool, shared: bool, b: Backend) -> bool {
    model && shared && b != Backend::Scalar && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
}

#[inline]
unsafe fn chunk<M: NeuronModel, T: Real>(r: &RunSpec<'_, M, T>, sink: &dyn Sink<T>, base: usize, len: usize) {
    unsafe {
        #[cfg(target_arch = "x86_64")]
        {
            if uses_vector_kernel::<M, T>(r.prep.shared, r.backend) {
                // SAFETY: T is f32 (checked by `uses_vector_kernel`), so the casts only rename the type.
                let r32 = &*(r as *const RunSpec<'_, M, T> as *const RunSpec<'_, M, f32>);
                let sink32 = std::mem::transmute::<&dyn Sink<T>, &dyn Sink<f32>>(sink);
                match r.backend {
                    Backend::Avx512 => return chunk_vector_avx512(r32, sink32, base, len),
                    Backend::Avx2 => return chunk_vector_avx2(r32, sink32, base, len),
                    Backend::Scalar => {}
                }
            }
            if scalar_loop_avx2(r.backend) {
                return chunk_avx2(r, sink, base, len);
            }
        }
        chunk_generic(r, sink, base, len)
    }
}

/// Whether back end `b` runs the scalar loops in their AVX2 + FMA copy (the vector back ends,
/// for what has no vector kernel, and the scalar back end on a CPU with AVX2) rather than the
/// baseline copy.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn scalar_loop_avx2(b: Backend) -> bool {
    b != Backend::Scalar || cpu_avx2()
}

/// `f(0..n)` on rayon's pool. Not generic, so rayon's machinery is compiled once rather than
/// once per model, float type and tangent count (it was the largest item of the crate's
/// generated code: 1527 copies of rayon's job type).
pub(crate) fn par_for(n: usize, f: &(dyn Fn(usize) + Sync)) {
    (0..n).into_par_iter().for_each(f);
}

/// `[f(0), …, f(n − 1)]` on rayon's pool (see [`par_for`]).
pub(crate) fn par_map_grads(n: usize, f: &(dyn Fn(usize) -> Vec<Vec<f64>> + Sync)) -> Vec<Vec<Vec<f64>>> {
    (0..n).into_par_iter().map(f).collect()
}

/// Chunk length for `bn` elements: at least 256, about four chunks per thread.
pub(crate) fn chunk_len(bn: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let per = bn.div_ceil(threads * 4);
    per.max(256).div_ceil(64) * 64
}

/// Run `r.steps` steps over all elements, in parallel chunks when the layer is large enough.
fn run_impl<M: NeuronModel, T: Real>(r: &RunSpec<'_, M, T>, sink: &dyn Sink<T>) {
    debug_assert!(M::STATES.len() <= MAX_STATES && M::PARAMS.len() <= MAX_PARAMS);
    if r.bn == 0 || r.steps == 0 {
        return;
    }
    let cl = chunk_len(r.bn);
    // Parallelism pays once a task has enough work (elements × steps).
    if r.bn <= cl || r.bn * r.steps < 1 << 15 {
        // SAFETY: one task owns every element.
        unsafe { chunk(r, sink, 0, r.bn) }
    } else {
        par_for(r.bn.div_ceil(cl), &|ci| {
            let base = ci * cl;
            let len = cl.min(r.bn - base);
            // SAFETY: chunks are disjoint element ranges.
            unsafe { chunk(r, sink, base, len) }
        });
    }
}

/// One step of a layer driven by per-element currents `i` and, when `g` is given, conductances
/// (`I(V) = i − g·V` evaluated inside the membrane equation, [`crate::dynamics::Cond`]); the
/// spikes go to `spk`. Single-threaded and allocation-free: the network runner calls it once per
/// population and step.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // `backend` picks x86 kernels
pub(crate) struct DriveSpec<'a, M, T> {
    pub model: &'a M,
    pub prep: &'a Prepared<T>,
    pub n: usize,
    pub bn: usize,
    pub state: SyncPtr<T>,
    /// The elements `base..base + len` of this call (`i`, `g` and `spk` hold exactly these).
    pub base: usize,
    pub len: usize,
    pub clock: Clock,
    pub reset: SpikeReset,
    pub sg: &'a Surrogate,
    /// The back end that runs it ([`crate::dynamics::simd`]; checked supported by the layer).
    pub backend: Backend,
}

#[inline(always)]
unsafe fn drive_generic<M: NeuronModel, T: Real>(r: &DriveSpec<'_, M, T>, i: &[T], g: Option<&[T]>, spk: &mut [T]) {
    unsafe {
        use crate::dynamics::Cond;
        let ns = M::STATES.len();
        let len = r.len;
        let vars: [&mut [T]; MAX_STATES] =
            std::array::from_fn(
                |j| if j < ns { std::slice::from_raw_parts_mut(r.state.0.add(j * r.bn + r.base), len) } else { &mut [][..] },
            );
        let dt = T::from_f64(r.clock.dt_ms());
        let t: T = r.clock.t_at(r.clock.step());
        let i = &i[..len];
        let spk = &mut spk[..len];
        macro_rules! body {
            ($c:expr_2021, $e:expr_2021, $x:expr_2021) => {{
                let mut s = [T::ZERO; MAX_STATES];
                for j in 0..ns {
                    s[j] = vars[j][$e];
                }
                spk[$e] = r.model.step_drive($c, &mut s[..ns], $x);
                for j in 0..ns {
                    vars[j][$e] = s[j];
                }
            }};
        }
        let table = r.prep.table.as_deref();
        if r.prep.shared {
            let c = Step { p: r.prep.p_of(0), h: r.prep.h_of(0), dt, t, reset: r.reset, sg: r.sg, table };
            match g {
                None => {
                    for e in 0..len {
                        body!(&c, e, i[e]);
                    }
                }
                Some(g) => {
                    let g = &g[..len];
                    for e in 0..len {
                        body!(&c, e, Cond { i: i[e], g: g[e] });
                    }
                }
            }
        } else {
            for e in 0..len {
                let nidx = (r.base + e) % r.n;
                let c = Step { p: r.prep.p_of(nidx), h: r.prep.h_of(nidx), dt, t, reset: r.reset, sg: r.sg, table };
                match g {
                    None => body!(&c, e, i[e]),
                    Some(g) => body!(&c, e, Cond { i: i[e], g: g[e] }),
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn drive_avx2<M: NeuronModel, T: Real>(r: &DriveSpec<'_, M, T>, i: &[T], g: Option<&[T]>, spk: &mut [T]) {
    unsafe { drive_generic(r, i, g, spk) }
}

/// [`drive_vector`] on [`crate::dynamics::simd::F32x64`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
unsafe fn drive_vector_avx512<M: NeuronModel>(r: &DriveSpec<'_, M, f32>, i: &[f32], g: Option<&[f32]>, spk: &mut [f32]) {
    unsafe { drive_vector::<M, crate::dynamics::simd::F32x64>(r, i, g, spk) }
}

/// [`drive_vector`] on [`crate::dynamics::simd::F32x16`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn drive_vector_avx2<M: NeuronModel>(r: &DriveSpec<'_, M, f32>, i: &[f32], g: Option<&[f32]>, spk: &mut [f32]) {
    unsafe { drive_vector::<M, crate::dynamics::simd::F32x16>(r, i, g, spk) }
}

/// The vector form of [`drive_generic`] (models with [`NeuronModel::VECTOR_DRIVE`], shared
/// parameters, f32, a vector back end).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn drive_vector<M: NeuronModel, V: VecF32>(r: &DriveSpec<'_, M, f32>, i: &[f32], g: Option<&[f32]>, spk: &mut [f32]) {
    unsafe {
        use crate::dynamics::Cond;
        let p: [V; MAX_PARAMS] = std::array::from_fn(|k| V::splat(r.prep.p[0][k]));
        let h: [V; MAX_HOIST] = std::array::from_fn(|k| V::splat(r.prep.h[0][k]));
        let t: f32 = r.clock.t_at(r.clock.step());
        let c = Step {
            p: &p,
            h: &h,
            dt: V::splat(r.clock.dt_ms() as f32),
            t: V::splat(t),
            reset: r.reset,
            sg: r.sg,
            table: r.prep.table.as_deref(),
        };
        let ns = M::STATES.len();
        let mut e = 0;
        let st = r.state.0.add(r.base);
        while e < r.len {
            let n = V::LANES.min(r.len - e);
            let mut s = [V::splat(0.0); MAX_STATES];
            for j in 0..ns {
                s[j] = V::load(st.add(j * r.bn + e), n);
            }
            let x = V::load(i.as_ptr().add(e), n);
            let out = match g {
                None => r.model.step_drive(&c, &mut s[..ns], x),
                Some(g) => r.model.step_drive(&c, &mut s[..ns], Cond { i: x, g: V::load(g.as_ptr().add(e), n) }),
            };
            for j in 0..ns {
                s[j].store(st.add(j * r.bn + e), n);
            }
            out.store(spk.as_mut_ptr().add(e), n);
            e += V::LANES;
        }
    }
}

/// Dispatch [`DriveSpec`] to the kernel of its back end.
fn drive_impl<M: NeuronModel, T: Real>(r: &DriveSpec<'_, M, T>, i: &[T], g: Option<&[T]>, spk: &mut [T]) {
    assert!(r.base + r.len <= r.bn && i.len() >= r.len && spk.len() >= r.len && g.is_none_or(|g| g.len() >= r.len));
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: the layer checked that the CPU supports its back end.
        unsafe {
            if vector_ok::<T>(M::VECTOR_DRIVE, r.prep.shared, r.backend) {
                // SAFETY: T is f32 (checked by `vector_ok`), so the casts only rename the type.
                let r32 = &*(r as *const DriveSpec<'_, M, T> as *const DriveSpec<'_, M, f32>);
                let (i32_, g32) = (&*(i as *const [T] as *const [f32]), g.map(|g| &*(g as *const [T] as *const [f32])));
                let s32 = &mut *(spk as *mut [T] as *mut [f32]);
                match r.backend {
                    Backend::Avx512 => return drive_vector_avx512(r32, i32_, g32, s32),
                    Backend::Avx2 => return drive_vector_avx2(r32, i32_, g32, s32),
                    Backend::Scalar => {}
                }
            }
            if scalar_loop_avx2(r.backend) {
                return drive_avx2(r, i, g, spk);
            }
        }
    }
    // SAFETY: lengths checked above; `state` holds `ns·bn` values (the caller's layer).
    unsafe { drive_generic(r, i, g, spk) }
}

/// A model's kernels behind function pointers, so that they are compiled once, in the crate
/// that defines the model.
///
/// Rust compiles a generic function in every crate that uses it (optimised builds share no
/// instantiations across crates), so without this table the CLI, every test binary, every
/// example and a user's program would each compile all 23 models' kernels again. The engine
/// reaches the kernels only through [`NeuronModel::kernels`]: the built-in models return a
/// `static` of this crate (whose function pointers point at this crate's copies), a user model
/// gets the default, which builds the table in the user's crate (where its kernels must be
/// compiled anyway).
pub struct Kernels<M: NeuronModel> {
    k32: KernelsFor<M, f32>,
    k64: KernelsFor<M, f64>,
}

/// The entry points of [`Kernels`] for one float type.
#[allow(clippy::type_complexity)]
pub struct KernelsFor<M: NeuronModel, T: Real> {
    pub(crate) run: fn(&RunSpec<'_, M, T>, &dyn Sink<T>),
    pub(crate) drive: fn(&DriveSpec<'_, M, T>, &[T], Option<&[T]>, &mut [T]),
    pub(crate) backward: fn(&super::NeuronLayer<M, T>, &super::Tape<T>, &[T], Option<&[T]>, &[usize], &mut super::Gradients<T>) -> bool,
}

impl<M: NeuronModel> Kernels<M> {
    /// The table of `M`'s kernels (instantiates them in the crate that evaluates it).
    pub const NEW: Self = Kernels {
        k32: KernelsFor { run: run_impl::<M, f32>, drive: drive_impl::<M, f32>, backward: super::bptt::backward_dispatch_f32::<M> },
        k64: KernelsFor { run: run_impl::<M, f64>, drive: drive_impl::<M, f64>, backward: super::bptt::backward_dispatch::<M, f64> },
    };
    /// The `f32` entries.
    pub fn f32(&self) -> &KernelsFor<M, f32> {
        &self.k32
    }
    /// The `f64` entries.
    pub fn f64(&self) -> &KernelsFor<M, f64> {
        &self.k64
    }
}

/// `fn kernels()` for a model of this crate: a `static` table, so that other crates link this
/// crate's kernels instead of compiling their own.
macro_rules! builtin_kernels {
    ($t:ty) => {
        #[inline(never)]
        fn kernels() -> &'static $crate::engine::Kernels<$t> {
            static K: $crate::engine::Kernels<$t> = $crate::engine::Kernels::NEW;
            &K
        }
    };
}
pub(crate) use builtin_kernels;

/// Run `r.steps` steps over all elements, in parallel chunks when the layer is large enough
/// (through `M`'s kernel table).
#[inline]
pub(crate) fn run<M: NeuronModel, T: Real>(r: &RunSpec<'_, M, T>, sink: &dyn Sink<T>) {
    (T::kernels_of(M::kernels()).run)(r, sink)
}

/// One step of [`DriveSpec`]'s elements on the kernel of its back end (through `M`'s kernel
/// table).
#[inline]
pub(crate) fn drive<M: NeuronModel, T: Real>(r: &DriveSpec<'_, M, T>, i: &[T], g: Option<&[T]>, spk: &mut [T]) {
    (T::kernels_of(M::kernels()).drive)(r, i, g, spk)
}
