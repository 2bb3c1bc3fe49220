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

/// Lanes of the vector kernel's scalar (`dynamics::simd::LANES`, a constant for every target so
/// that `Sink` has one signature).
#[cfg(target_arch = "x86_64")]
pub(crate) const VL: usize = crate::dynamics::simd::LANES;
#[cfg(not(target_arch = "x86_64"))]
pub(crate) const VL: usize = 32;

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

/// Where a kernel writes what it produces. `put` is called once per element and step, from the
/// thread that owns that element.
pub(crate) trait Sink<T>: Sync {
    /// # Safety
    /// `g` must belong to the calling task's chunk, and `k` be within the run.
    unsafe fn put(&self, k: usize, g: usize, spk: T, s: &[T]);
    /// `put` for elements `g..g + n` (n <= VL) of a vector step: `spk[l]`, `s[j][l]`.
    ///
    /// # Safety
    /// As `put`, for every element.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)]
    unsafe fn put_lanes(&self, k: usize, g: usize, n: usize, spk: &[T; VL], s: &[[T; VL]], ns: usize)
    where
        T: Copy + Default,
    {
        for l in 0..n {
            let st: [T; MAX_STATES] = std::array::from_fn(|j| if j < ns { s[j][l] } else { T::default() });
            self.put(k, g + l, spk[l], &st[..ns]);
        }
    }
}

/// Spike counts only (the cheapest sink).
pub(crate) struct CountSink(pub SyncPtr<u32>);
impl<T: Real> Sink<T> for CountSink {
    #[inline(always)]
    unsafe fn put(&self, _k: usize, g: usize, spk: T, _s: &[T]) {
        *self.0 .0.add(g) += (spk > T::ZERO) as u32;
    }
    #[inline(always)]
    #[allow(clippy::needless_range_loop)]
    unsafe fn put_lanes(&self, _k: usize, g: usize, n: usize, spk: &[T; VL], _s: &[[T; VL]], _ns: usize) {
        if n == VL {
            // a fixed trip count: vector compares and adds
            let c = &mut *(self.0 .0.add(g) as *mut [u32; VL]);
            for l in 0..VL {
                c[l] += (spk[l] > T::ZERO) as u32;
            }
        } else {
            for l in 0..n {
                *self.0 .0.add(g + l) += (spk[l] > T::ZERO) as u32;
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
    #[inline(always)]
    unsafe fn put(&self, k: usize, g: usize, spk: T, s: &[T]) {
        *self.counts.0.add(g) += (spk > T::ZERO) as u32;
        if let Some(r) = self.raster {
            *r.0.add(k * self.bn + g) = (spk > T::ZERO) as u8;
        }
        if let Some(st) = self.states {
            for (j, v) in s.iter().enumerate() {
                *st.0.add((k * self.ns + j) * self.bn + g) = *v;
            }
        }
        if let Some(m) = &self.mon {
            m.put(k, g, s);
        }
        if let Some((first, var)) = self.bad {
            if *first.0.add(g) == u32::MAX {
                if let Some(j) = s.iter().position(|v| !v.finite()) {
                    *first.0.add(g) = k as u32;
                    *var.0.add(g) = j as u8;
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
    #[inline(always)]
    unsafe fn put(&self, k: usize, g: usize, spk: T, s: &[T]) {
        *self.spikes.0.add(k * self.bn + g) = spk;
        for (j, v) in s.iter().enumerate() {
            *self.traj.0.add(((k + 1) * self.ns + j) * self.bn + g) = *v;
        }
    }
}

/// Everything a chunk needs besides its element range.
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
}

/// Elements per block of the blocked scalar loop (see `chunk_generic`).
const BLOCK: usize = 64;
/// Models with at least this many state variables run the blocked scalar loop. Measured (single
/// thread, `SOMATA_NO_VECTOR=1`): GifRef, six states, is not vectorised unblocked and runs 4×
/// faster blocked (337 → 71–82 ms); models with four states are vectorised unblocked and run
/// 0–40% slower blocked (Gif 37 → 57, HH 231 → 262, IzhikevichRef 67 → 87 ms).
const BLOCKED_STATES: usize = 5;

#[inline(always)]
unsafe fn chunk_generic<M: NeuronModel, T: Real, K: Sink<T>>(r: &RunSpec<'_, M, T>, sink: &K, base: usize, len: usize) {
    let ns = M::STATES.len();
    let vars: [&mut [T]; MAX_STATES] =
        std::array::from_fn(|j| if j < ns { std::slice::from_raw_parts_mut(r.state.0.add(j * r.bn + base), len) } else { &mut [][..] });
    let dt = T::from_f64(r.clock.dt_ms());
    let t0 = r.clock.step();
    let mut loc = [[T::ZERO; BLOCK]; MAX_STATES];
    for k in 0..r.steps {
        let t: T = r.clock.t_at(t0 + k as u64);
        let xrow = &r.xs.data[k * r.xs.stride + base..][..len];
        if r.prep.shared && ns >= BLOCKED_STATES {
            // Models with many state arrays: the compiler does not vectorise a loop over that
            // many separate arrays (its run-time alias checks exceed their budget), so each
            // block of elements is copied into local arrays, stepped there and copied back.
            // (The gather-step-scatter body is written out in each of the three loops on
            // purpose: one shared generic helper, measured 2026-11-26, kept LIF and HH at their
            // speed but stopped the compiler vectorising this blocked loop, GifRef 67 → 134 ms.)
            let c = Step { p: r.prep.p_of(0), h: r.prep.h_of(0), dt, t, reset: r.reset, sg: r.sg, table: r.prep.table.as_deref() };
            let mut e0 = 0;
            while e0 < len {
                let n = BLOCK.min(len - e0);
                for j in 0..ns {
                    loc[j][..n].copy_from_slice(&vars[j][e0..e0 + n]);
                }
                let xb = &xrow[e0..e0 + n];
                for e in 0..n {
                    let mut s = [T::ZERO; MAX_STATES];
                    for j in 0..ns {
                        s[j] = loc[j][e];
                    }
                    let spk = r.model.step(&c, &mut s[..ns], xb[e]);
                    for j in 0..ns {
                        loc[j][e] = s[j];
                    }
                    sink.put(k, base + e0 + e, spk, &s[..ns]);
                }
                for j in 0..ns {
                    vars[j][e0..e0 + n].copy_from_slice(&loc[j][..n]);
                }
                e0 += n;
            }
        } else if r.prep.shared {
            let c = Step { p: r.prep.p_of(0), h: r.prep.h_of(0), dt, t, reset: r.reset, sg: r.sg, table: r.prep.table.as_deref() };
            for e in 0..len {
                let mut s = [T::ZERO; MAX_STATES];
                for j in 0..ns {
                    s[j] = vars[j][e];
                }
                let spk = r.model.step(&c, &mut s[..ns], xrow[e]);
                for j in 0..ns {
                    vars[j][e] = s[j];
                }
                sink.put(k, base + e, spk, &s[..ns]);
            }
        } else {
            let mut nidx = base % r.n;
            for e in 0..len {
                let c =
                    Step { p: r.prep.p_of(nidx), h: r.prep.h_of(nidx), dt, t, reset: r.reset, sg: r.sg, table: r.prep.table.as_deref() };
                let mut s = [T::ZERO; MAX_STATES];
                for j in 0..ns {
                    s[j] = vars[j][e];
                }
                let spk = r.model.step(&c, &mut s[..ns], xrow[e]);
                for j in 0..ns {
                    vars[j][e] = s[j];
                }
                sink.put(k, base + e, spk, &s[..ns]);
                nidx += 1;
                if nidx == r.n {
                    nidx = 0;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chunk_avx2<M: NeuronModel, T: Real, K: Sink<T>>(r: &RunSpec<'_, M, T>, sink: &K, base: usize, len: usize) {
    chunk_generic(r, sink, base, len)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
unsafe fn chunk_avx512<M: NeuronModel, T: Real, K: Sink<T>>(r: &RunSpec<'_, M, T>, sink: &K, base: usize, len: usize) {
    chunk_generic(r, sink, base, len)
}

/// `VL` elements per model evaluation, on [`crate::dynamics::simd::F32x64`] (f32, shared
/// parameters, `M::VECTOR`). The tail of the chunk runs with masked loads and stores, so every
/// element goes through the same code.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
unsafe fn chunk_vector<M: NeuronModel, K: Sink<f32>>(r: &RunSpec<'_, M, f32>, sink: &K, base: usize, len: usize) {
    use crate::dynamics::simd::F32x64;
    let p: [F32x64; MAX_PARAMS] = std::array::from_fn(|i| F32x64::splat(r.prep.p[0][i]));
    let h: [F32x64; MAX_HOIST] = std::array::from_fn(|i| F32x64::splat(r.prep.h[0][i]));
    let dt = F32x64::splat(r.clock.dt_ms() as f32);
    let t0 = r.clock.step();
    let x = r.xs.data.as_ptr();
    let full = len / VL * VL;
    for k in 0..r.steps {
        let t: f32 = r.clock.t_at(t0 + k as u64);
        let c = Step { p: &p, h: &h, dt, t: F32x64::splat(t), reset: r.reset, sg: r.sg, table: r.prep.table.as_deref() };
        let xrow = x.add(k * r.xs.stride + base);
        for e in (0..full).step_by(VL) {
            lanes_block(r, sink, &c, k, base + e, xrow.add(e), VL);
        }
        if full < len {
            lanes_block(r, sink, &c, k, base + full, xrow.add(full), len - full);
        }
    }
}

/// One evaluation of the model on elements `g..g + n` (n <= VL; full blocks pass the constant
/// `VL`, so loads and stores are unmasked).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn lanes_block<M: NeuronModel, K: Sink<f32>>(
    r: &RunSpec<'_, M, f32>,
    sink: &K,
    c: &Step<'_, crate::dynamics::simd::F32x64>,
    k: usize,
    g: usize,
    x: *const f32,
    n: usize,
) {
    use crate::dynamics::simd::F32x64;
    let ns = M::STATES.len();
    let st = r.state.0;
    let mut s = [F32x64::splat(0.0); MAX_STATES];
    for j in 0..ns {
        s[j] = F32x64::load(st.add(j * r.bn + g), n);
    }
    let spk = r.model.step(c, &mut s[..ns], F32x64::load(x, n));
    for j in 0..ns {
        s[j].store(st.add(j * r.bn + g), n);
    }
    // F32x64 is a repr(transparent) [__m512; 4]: the layout of [f32; VL]
    sink.put_lanes(k, g, n, &spk.lanes(), &*(&s[..ns] as *const [F32x64] as *const [[f32; VL]]), ns);
}

/// A `Sink<T>` seen as a `Sink<f32>` when `T` is `f32` (checked by the caller through `TypeId`).
#[cfg(target_arch = "x86_64")]
struct AsF32<'a, K, T>(&'a K, std::marker::PhantomData<T>);
#[cfg(target_arch = "x86_64")]
impl<K: Sink<T>, T: Real> Sink<f32> for AsF32<'_, K, T> {
    #[inline(always)]
    unsafe fn put(&self, k: usize, g: usize, spk: f32, s: &[f32]) {
        // SAFETY: T is f32 (TypeId checked by `chunk`).
        self.0.put(k, g, std::mem::transmute_copy::<f32, T>(&spk), &*(s as *const [f32] as *const [T]))
    }
    #[inline(always)]
    unsafe fn put_lanes(&self, k: usize, g: usize, n: usize, spk: &[f32; VL], s: &[[f32; VL]], ns: usize) {
        // SAFETY: as above.
        self.0.put_lanes(k, g, n, &*(spk as *const [f32; VL] as *const [T; VL]), &*(s as *const [[f32; VL]] as *const [[T; VL]]), ns)
    }
}

/// AVX-512 (F, VL, DQ) and FMA, detected once.
#[cfg(target_arch = "x86_64")]
pub(crate) fn cpu_avx512() -> bool {
    static YES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *YES.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("fma")
    })
}

/// AVX2 and FMA, detected once.
#[cfg(target_arch = "x86_64")]
pub(crate) fn cpu_avx2() -> bool {
    static YES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *YES.get_or_init(|| std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"))
}

/// Whether runs of `M` on `T` with these parameters use the 64-lane vector kernel on this CPU.
pub(crate) fn uses_vector_kernel<M: NeuronModel, T: Real>(shared: bool) -> bool {
    vector_ok::<T>(M::VECTOR, shared)
}

/// Whether the BPTT backward pass of `M` on `T` runs 64 elements at a time
/// (`Dual<F32x64, D>`): the model must compare only through selects, which
/// [`NeuronModel::VECTOR_DRIVE`] declares (set by every vector model and by the LIF family, whose
/// forward step the compiler vectorises by itself but whose dual-number backward it does not).
pub(crate) fn uses_vector_backward<M: NeuronModel, T: Real>(shared: bool) -> bool {
    vector_ok::<T>(M::VECTOR_DRIVE, shared)
}

/// The 64-lane path for a model that allows it (`model`): f32, shared parameters, AVX-512, and
/// not switched off by `SOMATA_NO_VECTOR=1`.
fn vector_ok<T: Real>(model: bool, shared: bool) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        model
            && shared
            && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
            && cpu_avx512()
            && !*OFF.get_or_init(|| std::env::var_os("SOMATA_NO_VECTOR").is_some_and(|v| v == "1"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (model, shared);
        false
    }
}

#[inline]
unsafe fn chunk<M: NeuronModel, T: Real, K: Sink<T>>(r: &RunSpec<'_, M, T>, sink: &K, base: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if uses_vector_kernel::<M, T>(r.prep.shared) {
            // SAFETY: T is f32, so the cast only renames the type.
            let r32 = &*(r as *const RunSpec<'_, M, T> as *const RunSpec<'_, M, f32>);
            return chunk_vector(r32, &AsF32(sink, std::marker::PhantomData), base, len);
        }
        if cpu_avx512() {
            return chunk_avx512(r, sink, base, len);
        }
        if cpu_avx2() {
            return chunk_avx2(r, sink, base, len);
        }
    }
    chunk_generic(r, sink, base, len)
}

/// Chunk length for `bn` elements: at least 256, about four chunks per thread.
pub(crate) fn chunk_len(bn: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let per = bn.div_ceil(threads * 4);
    per.max(256).div_ceil(64) * 64
}

/// Run `r.steps` steps over all elements, in parallel chunks when the layer is large enough.
pub(crate) fn run<M: NeuronModel, T: Real, K: Sink<T>>(r: &RunSpec<'_, M, T>, sink: &K) {
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
        let nchunks = r.bn.div_ceil(cl);
        (0..nchunks).into_par_iter().for_each(|ci| {
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
}

#[inline(always)]
unsafe fn drive_generic<M: NeuronModel, T: Real>(r: &DriveSpec<'_, M, T>, i: &[T], g: Option<&[T]>, spk: &mut [T]) {
    use crate::dynamics::Cond;
    let ns = M::STATES.len();
    let len = r.len;
    let vars: [&mut [T]; MAX_STATES] =
        std::array::from_fn(|j| if j < ns { std::slice::from_raw_parts_mut(r.state.0.add(j * r.bn + r.base), len) } else { &mut [][..] });
    let dt = T::from_f64(r.clock.dt_ms());
    let t: T = r.clock.t_at(r.clock.step());
    let i = &i[..len];
    let spk = &mut spk[..len];
    macro_rules! body {
        ($c:expr, $e:expr, $x:expr) => {{
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn drive_avx2<M: NeuronModel, T: Real>(r: &DriveSpec<'_, M, T>, i: &[T], g: Option<&[T]>, spk: &mut [T]) {
    drive_generic(r, i, g, spk)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
unsafe fn drive_avx512<M: NeuronModel, T: Real>(r: &DriveSpec<'_, M, T>, i: &[T], g: Option<&[T]>, spk: &mut [T]) {
    drive_generic(r, i, g, spk)
}

/// The 64-lane vector form of [`drive_generic`] (models with [`NeuronModel::VECTOR`], shared
/// parameters, f32, AVX-512).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
#[allow(clippy::needless_range_loop)]
unsafe fn drive_vector<M: NeuronModel>(r: &DriveSpec<'_, M, f32>, i: &[f32], g: Option<&[f32]>, spk: &mut [f32]) {
    use crate::dynamics::simd::F32x64;
    use crate::dynamics::Cond;
    let p: [F32x64; MAX_PARAMS] = std::array::from_fn(|k| F32x64::splat(r.prep.p[0][k]));
    let h: [F32x64; MAX_HOIST] = std::array::from_fn(|k| F32x64::splat(r.prep.h[0][k]));
    let t: f32 = r.clock.t_at(r.clock.step());
    let c = Step {
        p: &p,
        h: &h,
        dt: F32x64::splat(r.clock.dt_ms() as f32),
        t: F32x64::splat(t),
        reset: r.reset,
        sg: r.sg,
        table: r.prep.table.as_deref(),
    };
    let ns = M::STATES.len();
    let mut e = 0;
    let st = r.state.0.add(r.base);
    while e < r.len {
        let n = VL.min(r.len - e);
        let mut s = [F32x64::splat(0.0); MAX_STATES];
        for j in 0..ns {
            s[j] = F32x64::load(st.add(j * r.bn + e), n);
        }
        let x = F32x64::load(i.as_ptr().add(e), n);
        let out = match g {
            None => r.model.step_drive(&c, &mut s[..ns], x),
            Some(g) => r.model.step_drive(&c, &mut s[..ns], Cond { i: x, g: F32x64::load(g.as_ptr().add(e), n) }),
        };
        for j in 0..ns {
            s[j].store(st.add(j * r.bn + e), n);
        }
        out.store(spk.as_mut_ptr().add(e), n);
        e += VL;
    }
}

static NO_VECTOR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn uses_drive_vector<M: NeuronModel, T: Real>(shared: bool) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        M::VECTOR_DRIVE
            && shared
            && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
            && cpu_avx512()
            && !*NO_VECTOR.get_or_init(|| std::env::var_os("SOMATA_NO_VECTOR").is_some_and(|v| v == "1"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = shared;
        false
    }
}

/// Dispatch [`DriveSpec`] to the best kernel for this CPU.
pub(crate) fn drive<M: NeuronModel, T: Real>(r: &DriveSpec<'_, M, T>, i: &[T], g: Option<&[T]>, spk: &mut [T]) {
    assert!(r.base + r.len <= r.bn && i.len() >= r.len && spk.len() >= r.len && g.is_none_or(|g| g.len() >= r.len));
    #[cfg(target_arch = "x86_64")]
    {
        if uses_drive_vector::<M, T>(r.prep.shared) {
            // SAFETY: T is f32 (checked by uses_drive_vector), so the casts only rename the type.
            unsafe {
                let r32 = &*(r as *const DriveSpec<'_, M, T> as *const DriveSpec<'_, M, f32>);
                let i32_ = &*(i as *const [T] as *const [f32]);
                let g32 = g.map(|g| &*(g as *const [T] as *const [f32]));
                let s32 = &mut *(spk as *mut [T] as *mut [f32]);
                return drive_vector(r32, i32_, g32, s32);
            }
        }
        if cpu_avx512() {
            // SAFETY: the CPU has the features.
            return unsafe { drive_avx512(r, i, g, spk) };
        }
        if cpu_avx2() {
            // SAFETY: as above.
            return unsafe { drive_avx2(r, i, g, spk) };
        }
    }
    // SAFETY: lengths checked above; `state` holds `ns·bn` values (the caller's layer).
    unsafe { drive_generic(r, i, g, spk) }
}
