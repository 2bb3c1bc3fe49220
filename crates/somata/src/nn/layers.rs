//! The layers: [`Linear`], [`Neurons`] (any neuron model); the readouts are in `readout.rs`,
//! the recurrent layer in `recurrent.rs`.

use super::mat::sgemm;
use super::{BufPool, Layer, Param, SeqBuf};
use crate::dynamics::{Clock, NeuronModel};
use crate::engine::{Gradients, Input, NeuronLayer, ParamGrad, ParamValue, SeqInput, Tape};
use crate::error::{Result, SomataError};
use crate::init::Rng;

pub(crate) fn check_in(x: &SeqBuf, n_in: usize, what: &str) -> Result<()> {
    x.check(what)?;
    if x.n != n_in {
        return Err(SomataError::ShapeMismatch { what: format!("input width of {what}"), expected: vec![n_in], got: vec![x.n] });
    }
    Ok(())
}

/// brainstate's `KaimingNormal()`: scale 2, fan_in, a normal truncated at ±2σ and rescaled by
/// 1/0.87962566 so that the standard deviation is `sqrt(2 / fan_in)`.
pub(crate) fn kaiming_normal(n_in: usize, n_out: usize, rng: &mut Rng) -> Vec<f32> {
    let std = (2.0 / n_in.max(1) as f64).sqrt() / 0.879_625_66;
    (0..n_in * n_out)
        .map(|_| loop {
            let z = rng.normal();
            if z.abs() <= 2.0 {
                break (z * std) as f32;
            }
        })
        .collect()
}

/// Density under which a binary input takes the event-driven path.
const EVENT_DENSITY: f64 = 0.25;
/// Output width from which a binary input takes the event-driven path.
const EVENT_MIN_OUT: usize = 64;

/// A fully connected layer, `y = x·W + b`, with `W` of shape `[in][out]` (BrainPy/brainstate's
/// `Linear(in, out)`: `W` from `KaimingNormal()`, `b` zero).
///
/// * On a dense input, every time step and batch row is one matrix product.
/// * On a **constant** input (direct current), the product is computed once.
/// * On **spikes** (every value 0 or 1) at most 25% dense, into at least 64 outputs (narrower
///   layers gain nothing over the matrix product), the layer is **event-driven**: the
///   forward pass adds the rows of `W` of the active inputs, and the weight gradient scatters
///   into those rows only. Both paths give the same numbers (tests/all/nn.rs).
#[derive(Debug, Clone)]
pub struct Linear {
    /// Weights, `[in][out]` row-major.
    pub w: Vec<f32>,
    /// Bias, `[out]`, if any.
    pub b: Option<Vec<f32>>,
    n_in: usize,
    n_out: usize,
    gw: Vec<f32>,
    gb: Vec<f32>,
    x: Option<SeqBuf>,
    /// CSR of active inputs per row when the last input was sparse spikes.
    events: Option<(Vec<u32>, Vec<u32>)>,
    /// Spare output and gradient buffers ([`Layer::recycle`]).
    pool: BufPool,
}

impl Linear {
    /// `Linear(n_in, n_out)` with brainstate's initialisation (KaimingNormal weights, zero
    /// bias), from a seed.
    pub fn new(n_in: usize, n_out: usize, seed: u64) -> Linear {
        let mut rng = Rng::new(seed);
        let w = kaiming_normal(n_in, n_out, &mut rng);
        Linear {
            w,
            b: Some(vec![0.0; n_out]),
            n_in,
            n_out,
            gw: vec![0.0; n_in * n_out],
            gb: vec![0.0; n_out],
            x: None,
            events: None,
            pool: BufPool::default(),
        }
    }
    /// A layer with given weights (`[in][out]`) and optional bias.
    pub fn from_weights(w: Vec<f32>, b: Option<Vec<f32>>, n_in: usize, n_out: usize) -> Result<Linear> {
        if w.len() != n_in * n_out {
            return Err(SomataError::ShapeMismatch {
                what: "Linear weights [in][out]".into(),
                expected: vec![n_in, n_out],
                got: vec![w.len()],
            });
        }
        if let Some(b) = &b
            && b.len() != n_out
        {
            return Err(SomataError::ShapeMismatch { what: "Linear bias".into(), expected: vec![n_out], got: vec![b.len()] });
        }
        Ok(Linear { w, b, n_in, n_out, gw: vec![0.0; n_in * n_out], gb: vec![0.0; n_out], x: None, events: None, pool: BufPool::default() })
    }
    /// One step in step mode (BrainPy's `fc(x)`): `x` holds `rows × in` values (a batch of one
    /// time step, e.g. the spikes a neuron layer's `update` returned), the result `rows × out`.
    /// Nothing is recorded for the backward pass.
    pub fn apply(&self, x: &[f32]) -> Result<Vec<f32>> {
        if !x.len().is_multiple_of(self.n_in.max(1)) {
            return Err(SomataError::ShapeMismatch {
                what: "Linear input (rows × in)".into(),
                expected: vec![self.n_in],
                got: vec![x.len()],
            });
        }
        let rows = x.len() / self.n_in.max(1);
        let mut y = vec![0.0f32; rows * self.n_out];
        sgemm(rows, self.n_out, self.n_in, x, false, &self.w, false, &mut y, false);
        if let Some(b) = &self.b {
            for row in y.chunks_exact_mut(self.n_out) {
                for (o, &bv) in row.iter_mut().zip(b) {
                    *o += bv;
                }
            }
        }
        Ok(y)
    }
    /// Drop the bias (`b_init=None`).
    pub fn without_bias(mut self) -> Linear {
        self.b = None;
        self
    }
    /// The weight gradient accumulated so far, `[in][out]`.
    pub fn grad_w(&self) -> &[f32] {
        &self.gw
    }
    /// The bias gradient accumulated so far.
    pub fn grad_b(&self) -> &[f32] {
        &self.gb
    }
    /// Whether the last forward pass took the event-driven path.
    pub fn was_event_driven(&self) -> bool {
        self.events.is_some()
    }
    /// Force the dense path (for comparisons).
    pub fn forward_dense(&mut self, x: &SeqBuf) -> Result<SeqBuf> {
        self.forward_impl(x, false)
    }

    fn forward_impl(&mut self, x: &SeqBuf, allow_events: bool) -> Result<SeqBuf> {
        check_in(x, self.n_in, "Linear")?;
        let rows = x.rows();
        let (n_in, n_out) = (self.n_in, self.n_out);
        let mut y = self.pool.zeros(rows * n_out);
        // Narrow outputs (a few classes) gain nothing from events: one output row is shorter
        // than a vector register's worth of work per event, and the matrix product is cheap.
        self.events = if allow_events && n_out >= EVENT_MIN_OUT && !x.constant && rows > 0 {
            forward_events(&self.w, x, n_out, &mut y)
        } else {
            None
        };
        if self.events.is_none() {
            sgemm(rows, n_out, n_in, &x.data, false, &self.w, false, &mut y, false);
        }
        if let Some(b) = &self.b {
            for row in y.chunks_exact_mut(n_out) {
                for (o, &bv) in row.iter_mut().zip(b) {
                    *o += bv;
                }
            }
        }
        // The backward pass needs the input itself only on the dense path (the event-driven
        // weight gradient reads the event lists); the buffer is reused across passes.
        let mut keep = self.x.take().map(|k| k.data).unwrap_or_default();
        keep.clear();
        if self.events.is_none() {
            keep.extend_from_slice(&x.data);
        }
        self.x = Some(SeqBuf { data: keep, steps: x.steps, batch: x.batch, n: x.n, constant: x.constant });
        Ok(SeqBuf { data: y, steps: x.steps, batch: x.batch, n: n_out, constant: x.constant })
    }
}

const ONE_BITS: u32 = 0x3f80_0000;

/// Rows per task of the event-driven forward pass.
const EVENT_BLOCK_ROWS: usize = 64;

/// The event-driven forward pass `y += x·W` for binary `x`, fused with the scan that finds the
/// active inputs: blocks of rows run in parallel, each scanning its rows (16 values per vector
/// test) and adding the rows of W of their active inputs while the input is hot in cache.
/// Returns the active inputs of every row (CSR, for the backward pass), or `None`, with `y` set
/// back to zero, when a value is neither 0 nor 1 or the input is denser than [`EVENT_DENSITY`].
fn forward_events(w: &[f32], x: &SeqBuf, n_out: usize, y: &mut [f32]) -> Option<(Vec<u32>, Vec<u32>)> {
    use rayon::prelude::*;
    let (rows, n) = (x.rows(), x.n);
    let block = |(bi, yb): (usize, &mut [f32])| -> Option<(Vec<u32>, Vec<u32>)> {
        let r0 = bi * EVENT_BLOCK_ROWS;
        let nr = yb.len() / n_out;
        let xb = &x.data[r0 * n..(r0 + nr) * n];
        let cap = (EVENT_DENSITY * xb.len() as f64) as usize;
        let mut ptr = Vec::with_capacity(nr + 1);
        let mut idx: Vec<u32> = Vec::with_capacity(cap / 2 + 16);
        ptr.push(0u32);
        for r in 0..nr {
            let ok = scan_row(&xb[r * n..(r + 1) * n], &mut idx);
            if !ok || idx.len() > cap {
                return None;
            }
            ptr.push(idx.len() as u32);
            let act = &idx[ptr[r] as usize..];
            add_rows(w, act, n_out, &mut yb[r * n_out..(r + 1) * n_out]);
        }
        Some((ptr, idx))
    };
    let parts: Vec<Option<(Vec<u32>, Vec<u32>)>> = if rows * n_out >= 1 << 16 {
        y.par_chunks_mut(EVENT_BLOCK_ROWS * n_out).enumerate().map(block).collect()
    } else {
        y.chunks_mut(EVENT_BLOCK_ROWS * n_out).enumerate().map(block).collect()
    };
    if parts.iter().any(|p| p.is_none()) {
        y.fill(0.0);
        return None;
    }
    let total: usize = parts.iter().map(|p| p.as_ref().map_or(0, |p| p.1.len())).sum();
    let (mut ptr, mut idx) = (Vec::with_capacity(rows + 1), Vec::with_capacity(total));
    ptr.push(0u32);
    for (bp, bi) in parts.into_iter().flatten() {
        let off = idx.len() as u32;
        ptr.extend(bp[1..].iter().map(|&p| p + off));
        idx.extend_from_slice(&bi);
    }
    Some((ptr, idx))
}

/// `out += Σ W[i]` over the active inputs `act`: four rows of W per pass over the output row
/// (a quarter of the loads and stores of `out`).
#[inline]
fn add_rows(w: &[f32], act: &[u32], n_out: usize, out: &mut [f32]) {
    let wr = |i: u32| &w[i as usize * n_out..(i as usize + 1) * n_out];
    let out = &mut out[..n_out];
    let mut q = act.chunks_exact(4);
    for c in &mut q {
        let (a, b, cc, d) = (wr(c[0]), wr(c[1]), wr(c[2]), wr(c[3]));
        let (a, b, cc, d) = (&a[..out.len()], &b[..out.len()], &cc[..out.len()], &d[..out.len()]);
        for j in 0..out.len() {
            out[j] += (a[j] + b[j]) + (cc[j] + d[j]);
        }
    }
    for &i in q.remainder() {
        for (o, &v) in out.iter_mut().zip(wr(i)) {
            *o += v;
        }
    }
}

/// Append the indices of the nonzero values of `row` to `idx`; `false` if one is not exactly 1.
#[inline]
fn scan_row(row: &[f32], idx: &mut Vec<u32>) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::dynamics::simd::{active, Backend};
        match active() {
            // SAFETY: `active` is a back end the CPU supports.
            Backend::Avx512 => return unsafe { scan_row_avx512(row, idx) },
            // SAFETY: as above.
            Backend::Avx2 => return unsafe { scan_row_avx2(row, idx) },
            Backend::Scalar => {}
        }
    }
    scan_row_with(row, idx, mask16_scalar)
}

/// Bit `k` set where `c[k] != 0`, and whether some nonzero is not exactly 1.
#[inline(always)]
fn mask16_scalar(c: &[f32]) -> (u32, bool) {
    let (mut m, mut bad) = (0u32, false);
    for (k, &v) in c.iter().enumerate() {
        let b = v.to_bits();
        m |= ((b != 0) as u32) << k;
        bad |= (b != 0) & (b != ONE_BITS);
    }
    (m, bad)
}

/// [`scan_row`] with one vector test and one masked compare per 16 values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn scan_row_avx512(row: &[f32], idx: &mut Vec<u32>) -> bool {
    use std::arch::x86_64::*;
    scan_row_with(
        row,
        idx,
        #[inline(always)]
        |c: &[f32]| {
            // SAFETY: `c` holds 16 values (the caller's chunks_exact(16)).
            unsafe {
                let v = _mm512_loadu_si512(c.as_ptr() as *const __m512i);
                let nz = _mm512_test_epi32_mask(v, v);
                let bad = _mm512_mask_cmpneq_epi32_mask(nz, v, _mm512_set1_epi32(ONE_BITS as i32));
                (nz as u32, bad != 0)
            }
        },
    )
}

/// [`scan_row`] with two compares per eight values and two `vmovmskps`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_row_avx2(row: &[f32], idx: &mut Vec<u32>) -> bool {
    use std::arch::x86_64::*;
    scan_row_with(
        row,
        idx,
        #[inline(always)]
        |c: &[f32]| {
            // SAFETY: `c` holds 16 values (the caller's chunks_exact(16)).
            unsafe {
                let p = c.as_ptr() as *const __m256i;
                let (a, b) = (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)));
                // bit k set where value k equals `w`
                let eq = |w: __m256i| {
                    let m = |v: __m256i| _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(v, w))) as u32;
                    m(a) | (m(b) << 8)
                };
                let zero = eq(_mm256_setzero_si256());
                let one = eq(_mm256_set1_epi32(ONE_BITS as i32));
                let nz = !zero & 0xFFFF;
                (nz, nz & !one != 0)
            }
        },
    )
}

/// The scan of one row, `mask` reading 16 values at a time.
#[inline(always)]
fn scan_row_with(row: &[f32], idx: &mut Vec<u32>, mask: impl Fn(&[f32]) -> (u32, bool)) -> bool {
    let mut base = 0u32;
    let mut chunks = row.chunks_exact(16);
    for c in &mut chunks {
        let (mut m, bad) = mask(c);
        if bad {
            return false;
        }
        while m != 0 {
            idx.push(base + m.trailing_zeros());
            m &= m - 1;
        }
        base += 16;
    }
    for (k, &v) in chunks.remainder().iter().enumerate() {
        let b = v.to_bits();
        if b != 0 {
            if b != ONE_BITS {
                return false;
            }
            idx.push(base + k as u32);
        }
    }
    true
}

impl Layer for Linear {
    fn kind(&self) -> String {
        "linear".into()
    }
    fn n_in(&self) -> usize {
        self.n_in
    }
    fn n_out(&self) -> usize {
        self.n_out
    }
    fn forward(&mut self, x: &SeqBuf, _dt_ms: f64) -> Result<SeqBuf> {
        self.forward_impl(x, true)
    }
    fn backward(&mut self, gy: &SeqBuf, need_input: bool) -> Result<Option<SeqBuf>> {
        let x = self.x.as_ref().ok_or_else(|| SomataError::Format("Linear::backward before forward".into()))?;
        let (n_in, n_out) = (self.n_in, self.n_out);
        if gy.n != n_out || gy.batch != x.batch || (!gy.constant && gy.steps != x.steps) {
            return Err(SomataError::ShapeMismatch {
                what: "Linear output gradient".into(),
                expected: vec![x.steps, x.batch, n_out],
                got: vec![gy.steps, gy.batch, gy.n],
            });
        }
        // a constant input sees the gradient summed over time ("constant" gradients are sums)
        let summed;
        let g: &[f32] = if x.constant && !gy.constant {
            let mut s = vec![0.0f32; x.batch * n_out];
            for t in 0..gy.steps {
                for (a, &v) in s.iter_mut().zip(&gy.data[t * x.batch * n_out..(t + 1) * x.batch * n_out]) {
                    *a += v;
                }
            }
            summed = s;
            &summed
        } else {
            &gy.data
        };
        let rows = g.len() / n_out;
        if let Some((ptr, idx)) = &self.events {
            // Scatter each row's gradient into the rows of dW of its active inputs. In parallel
            // over blocks of inputs (each task owns a contiguous block of dW and takes, from
            // every row's sorted event list, the events inside its block).
            let tasks = if rows * n_out >= 1 << 16 { rayon::current_num_threads().max(1) } else { 1 };
            let block = n_in.div_ceil(tasks).max(1);
            let scatter = |(bi, gwb): (usize, &mut [f32])| {
                let lo = (bi * block) as u32;
                let hi = lo + (gwb.len() / n_out) as u32;
                for r in 0..rows {
                    let act = &idx[ptr[r] as usize..ptr[r + 1] as usize];
                    let (a, b) = (act.partition_point(|&i| i < lo), act.partition_point(|&i| i < hi));
                    let gr = &g[r * n_out..(r + 1) * n_out];
                    for &i in &act[a..b] {
                        let o = (i - lo) as usize * n_out;
                        for (d, &v) in gwb[o..o + n_out].iter_mut().zip(gr) {
                            *d += v;
                        }
                    }
                }
            };
            if n_out > 0 && n_in > 0 {
                if tasks > 1 {
                    use rayon::prelude::*;
                    self.gw.par_chunks_mut(block * n_out).enumerate().for_each(scatter);
                } else {
                    self.gw.chunks_mut(block * n_out).enumerate().for_each(scatter);
                }
            }
        } else {
            sgemm(n_in, n_out, rows, &x.data, true, g, false, &mut self.gw, true);
        }
        if self.b.is_some() {
            for row in g.chunks_exact(n_out) {
                for (d, &v) in self.gb.iter_mut().zip(row) {
                    *d += v;
                }
            }
        }
        if !need_input {
            return Ok(None);
        }
        let mut gx = self.pool.zeros(rows * n_in);
        sgemm(rows, n_in, n_out, g, false, &self.w, true, &mut gx, false);
        Ok(Some(SeqBuf { data: gx, steps: x.steps, batch: x.batch, n: n_in, constant: x.constant }))
    }
    fn recycle(&mut self, buf: Vec<f32>) {
        self.pool.put(buf);
    }
    fn params(&mut self) -> Vec<Param<'_>> {
        let mut v = vec![Param { name: "W", value: &mut self.w, grad: &mut self.gw }];
        if let Some(b) = self.b.as_mut() {
            v.push(Param { name: "b", value: b, grad: &mut self.gb });
        }
        v
    }
}

/// The trainable parameters of a wrapped neuron layer (shared by [`Neurons`] and
/// [`Recurrent`](super::Recurrent)): values and gradients in `f32`, canonical units.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrainParams {
    /// `(name, index in M::PARAMS)`
    pub(crate) names: Vec<(String, usize)>,
    pub(crate) val: Vec<Vec<f32>>,
    pub(crate) grad: Vec<Vec<f32>>,
}

impl TrainParams {
    /// Mark `name` trainable, starting from the layer's value.
    pub(crate) fn add<M: NeuronModel>(&mut self, layer: &NeuronLayer<M, f32>, name: &str) -> Result<()> {
        let i = M::param_index(name).ok_or_else(|| SomataError::UnknownParameter {
            model: M::NAME.into(),
            name: name.into(),
            known: M::PARAMS.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
        })?;
        if self.names.iter().any(|(_, j)| *j == i) {
            return Ok(());
        }
        let vals: Vec<f32> = match &layer.params[i] {
            ParamValue::Shared(v) => vec![*v as f32],
            ParamValue::PerNeuron(v) => v.iter().map(|&x| x as f32).collect(),
        };
        self.grad.push(vec![0.0; vals.len()]);
        self.val.push(vals);
        self.names.push((name.to_string(), i));
        Ok(())
    }
    /// Write the trained values into the layer (checked: finite, and > 0 where the model says).
    pub(crate) fn apply<M: NeuronModel>(&self, layer: &mut NeuronLayer<M, f32>) -> Result<()> {
        for ((_, i), v) in self.names.iter().zip(&self.val) {
            let spec = &M::PARAMS[*i];
            if v.iter().any(|p| !p.is_finite() || (spec.check == crate::dynamics::Check::Positive && *p <= 0.0)) {
                return Err(SomataError::param(M::NAME, spec.name, v[0] as f64, "left its valid range during training"));
            }
            layer.params[*i] =
                if v.len() == 1 { ParamValue::Shared(v[0] as f64) } else { ParamValue::PerNeuron(v.iter().map(|&p| p as f64).collect()) };
        }
        Ok(())
    }
    /// The names, for the engine's backward pass.
    pub(crate) fn name_list(&self) -> Vec<&str> {
        self.names.iter().map(|(n, _)| n.as_str()).collect()
    }
    /// Add the engine's parameter gradients.
    pub(crate) fn accumulate(&mut self, grads: &Gradients<f32>) {
        for (k, (name, _)) in self.names.iter().enumerate() {
            match grads.param(name) {
                Some(ParamGrad::Shared(g)) => self.grad[k][0] += *g as f32,
                Some(ParamGrad::PerNeuron(g)) => {
                    for (d, &v) in self.grad[k].iter_mut().zip(g) {
                        *d += v as f32;
                    }
                }
                None => {}
            }
        }
    }
    /// As [`Param`]s.
    pub(crate) fn params<M: NeuronModel>(&mut self) -> Vec<Param<'_>> {
        self.names
            .iter()
            .zip(self.val.iter_mut().zip(self.grad.iter_mut()))
            .map(|((_, i), (v, g))| Param { name: M::PARAMS[*i].name, value: v, grad: g })
            .collect()
    }
}

/// [`Layer::hyper_params`] of a wrapped neuron layer: every model parameter, then `spk_reset`.
pub(crate) fn neuron_hyper_params<M: NeuronModel>(layer: &NeuronLayer<M, f32>) -> Vec<(String, Vec<f64>)> {
    let mut out: Vec<(String, Vec<f64>)> = M::PARAMS
        .iter()
        .map(|spec| {
            let v = match layer.param(spec.name) {
                Some(ParamValue::Shared(v)) => vec![*v],
                Some(ParamValue::PerNeuron(v)) => v.clone(),
                None => Vec::new(),
            };
            (spec.name.to_string(), v)
        })
        .collect();
    let reset = match layer.spk_reset() {
        crate::dynamics::SpikeReset::Soft => 0.0,
        crate::dynamics::SpikeReset::Hard => 1.0,
    };
    out.push(("spk_reset".into(), vec![reset]));
    out
}

/// `[state][batch × N]` of `∂L/∂s_0` as one state's slice.
pub(crate) fn initial_state_slice<'a, M: NeuronModel>(g: &'a [f32], bn: usize, state: &str) -> Result<&'a [f32]> {
    let j = M::state_index(state).ok_or_else(|| SomataError::UnknownState {
        model: M::NAME.into(),
        name: state.into(),
        known: M::STATES.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
    })?;
    if g.len() < (j + 1) * bn || bn == 0 {
        return Err(SomataError::Format(format!("no initial-state gradient of {}: run backward first", M::NAME)));
    }
    Ok(&g[j * bn..(j + 1) * bn])
}

/// What a layer carries from one forward pass to the next (truncated BPTT).
#[derive(Debug, Clone)]
pub(crate) struct Carried {
    pub(crate) batch: usize,
    pub(crate) clock: Clock,
}

/// A population of any neuron model as a network layer: its input is read in the model's input
/// unit (raw numbers, e.g. mA for LIF, as BrainPy's `Linear → ×mA → LIF`), its output is the
/// spikes. Each forward pass starts from the model's initial state (`init_state(batch)`) at
/// step 0 and records the BPTT tape (or, with [`Layer::set_carry_state`] on, continues from
/// the state and step the previous pass ended at). Parameters marked with [`Neurons::train`]
/// (e.g. `tau`, `V_th`; shared or per neuron) are trained with the weights.
///
/// After a backward pass, [`Neurons::grad_initial_state`] gives `∂L/∂s_0`, the gradient with
/// respect to the state the forward pass started from (e.g. the initial `V`).
#[derive(Debug, Clone)]
pub struct Neurons<M: NeuronModel> {
    layer: NeuronLayer<M, f32>,
    tape: Tape<f32>,
    grads: Gradients<f32>,
    train: TrainParams,
    carry: bool,
    carried: Option<Carried>,
    /// Spare output and gradient buffers ([`Layer::recycle`]).
    pool: BufPool,
}

impl<M: NeuronModel> Neurons<M> {
    /// Wrap a built layer (`Lif::builder(128).tau(5.0 * ms).build()?`).
    pub fn new(layer: NeuronLayer<M, f32>) -> Neurons<M> {
        Neurons {
            layer,
            tape: Tape::default(),
            grads: Gradients::default(),
            train: TrainParams::default(),
            carry: false,
            carried: None,
            pool: BufPool::default(),
        }
    }
    /// Train a parameter of the model (canonical units, see [`crate::units`]).
    pub fn train(mut self, name: &str) -> Result<Neurons<M>> {
        self.train.add(&self.layer, name)?;
        Ok(self)
    }
    /// The wrapped layer.
    pub fn layer(&self) -> &NeuronLayer<M, f32> {
        &self.layer
    }
    /// The tape of the last forward pass.
    pub fn tape(&self) -> &Tape<f32> {
        &self.tape
    }
    /// `∂L/∂s_0` of the last backward pass for state `state` (`"V"`, ...): the gradient with
    /// respect to that state's value before the first step, `batch × N` values (batch-major), in
    /// per canonical unit of the state (per mV for a voltage). Not accumulated: each backward
    /// pass overwrites it. Errors: an unknown state name, or no backward pass yet.
    ///
    /// ```
    /// use somata::nn::{Layer, Neurons, SeqBuf};
    /// use somata::prelude::*;
    /// let mut n = Neurons::new(Lif::builder(2).tau(5.0 * ms).build()?);
    /// let x = SeqBuf::constant(vec![0.5; 2], 4, 1, 2);
    /// n.forward(&x, 1.0)?;
    /// n.backward(&SeqBuf::dense(vec![1.0; 8], 4, 1, 2), false)?;
    /// assert_eq!(n.grad_initial_state("V")?.len(), 2);
    /// # Ok::<(), somata::SomataError>(())
    /// ```
    pub fn grad_initial_state(&self, state: &str) -> Result<&[f32]> {
        initial_state_slice::<M>(&self.grads.initial_state, self.layer.num_elements(), state)
    }
}

impl<M: NeuronModel> Layer for Neurons<M> {
    fn kind(&self) -> String {
        M::NAME.into()
    }
    fn n_in(&self) -> usize {
        self.layer.num_neurons()
    }
    fn n_out(&self) -> usize {
        self.layer.num_neurons()
    }
    fn forward(&mut self, x: &SeqBuf, dt_ms: f64) -> Result<SeqBuf> {
        check_in(x, self.n_in(), M::NAME)?;
        self.train.apply(&mut self.layer)?;
        let mut clock = match &self.carried {
            Some(c) if self.carry && c.batch == x.batch && c.clock.dt_ms() == dt_ms => c.clock,
            _ => {
                self.layer.init_state(Some(x.batch))?;
                Clock::from_ms(dt_ms)?
            }
        };
        let input = if x.constant { SeqInput::Constant(Input::Slice(&x.data), x.steps) } else { SeqInput::Dense(&x.data, x.steps) };
        self.layer.forward_tape_into(&mut clock, input, &mut self.tape)?;
        self.carried = Some(Carried { batch: x.batch, clock });
        let mut y = self.pool.take(self.tape.spikes().len());
        y.extend_from_slice(self.tape.spikes());
        Ok(SeqBuf::dense(y, x.steps, x.batch, self.n_out()))
    }
    fn backward(&mut self, gy: &SeqBuf, need_input: bool) -> Result<Option<SeqBuf>> {
        let dense;
        let gy = if gy.constant {
            dense = gy.to_dense();
            &dense
        } else {
            gy
        };
        let names = self.train.name_list();
        if self.grads.input.is_empty() {
            // (the last input gradient was handed out: reuse a recycled buffer)
            self.grads.input = self.pool.take(gy.data.len());
        }
        self.layer.backward_full(&self.tape, &gy.data, None, &names, &mut self.grads)?;
        self.train.accumulate(&self.grads);
        if !need_input {
            return Ok(None);
        }
        Ok(Some(SeqBuf::dense(std::mem::take(&mut self.grads.input), gy.steps, gy.batch, self.n_in())))
    }
    fn recycle(&mut self, buf: Vec<f32>) {
        self.pool.put(buf);
    }
    fn params(&mut self) -> Vec<Param<'_>> {
        self.train.params::<M>()
    }
    fn hyper_params(&self) -> Vec<(String, Vec<f64>)> {
        neuron_hyper_params(&self.layer)
    }
    fn states(&self) -> Vec<(String, &'static str, Vec<f32>)> {
        let ns = M::STATES.len();
        let steps = self.tape.steps();
        (0..ns)
            // states behind a flag (`refractory` with `ref_var=True`) when the flag is on, as BrainPy
            .filter(|&j| M::STATES[j].visible_if.is_none_or(|f| self.layer.param(f).is_some_and(|p| p.at(0) != 0.0)))
            .map(|j| {
                let mut v = Vec::new();
                for k in 1..=steps {
                    v.extend_from_slice(self.tape.state(k, j));
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
