//! Spike generators: BrainPy's `PoissonSpike`, `PoissonEncoder`, `SpikeTime`, `PoissonInput` and
//! `poisson_input` (spec §5.13).

use super::{check_dt, check_nonneg, check_out, InputGen};
use crate::error::{Result, SomataError};
use crate::init::Rng;

/// BrainPy's per-step spike probability `p = −expm1(−f·dt) = 1 − e^{−f·dt}` (not `f·dt`), with
/// `f` in Hz and `dt` in ms (so the exponent is `f·dt/1000`).
#[inline]
fn spike_probability(freq_hz: f64, dt_ms: f64) -> f64 {
    -(-(freq_hz * dt_ms / 1000.0)).exp_m1()
}

/// Independent Poisson spike trains with fixed rates (BrainPy's `PoissonSpike(in_size, freqs)`):
/// at every step neuron `i` spikes (1.0, else 0.0) when `u <= p_i`, `u ~ U[0, 1)`, with
///
/// `p_i = 1 − e^{−f_i·dt}` (`f_i` in Hz, `dt` in ms: `f_i·dt/1000`),
///
/// **not** `f_i·dt`: at 1 kHz and dt = 1 ms, `p = 1 − e^{−1} ≈ 0.632`. One uniform is drawn per
/// neuron per step, in neuron order, from the seeded [`Rng`]. No batch axis (as BrainPy).
///
/// ```
/// use somata::input::{InputGen, PoissonSpike};
/// let mut p = PoissonSpike::new(3, &[0.0, 50.0, 1e6], 42)?; // per-neuron rates, Hz
/// let x = p.generate(100, 1.0)?;
/// assert!(x.chunks(3).all(|s| s[0] == 0.0 && s[2] == 1.0)); // 0 Hz never, 1 MHz always
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PoissonSpike {
    n: usize,
    freqs: Vec<f64>,
    seed: u64,
    rng: Rng,
    /// `p` per neuron (or one shared) for `cached_dt`.
    p: Vec<f64>,
    cached_dt: f64,
}

impl PoissonSpike {
    /// `n` neurons firing at `freqs_hz`: one rate shared by all, or one per neuron. Rates must
    /// be finite and >= 0 ([`SomataError::InvalidParameter`]); any other length is a
    /// [`SomataError::ShapeMismatch`].
    pub fn new(n: usize, freqs_hz: &[f64], seed: u64) -> Result<PoissonSpike> {
        if !(freqs_hz.len() == 1 || freqs_hz.len() == n) {
            return Err(SomataError::ShapeMismatch {
                what: "PoissonSpike freqs (one shared rate or one per neuron)".into(),
                expected: vec![n],
                got: vec![freqs_hz.len()],
            });
        }
        for &f in freqs_hz {
            check_nonneg("PoissonSpike", "freqs", f)?;
        }
        Ok(PoissonSpike { n, freqs: freqs_hz.to_vec(), seed, rng: Rng::new(seed), p: vec![0.0; freqs_hz.len()], cached_dt: f64::NAN })
    }

    /// The rates, Hz (one shared, or one per neuron).
    pub fn freqs(&self) -> &[f64] {
        &self.freqs
    }

    /// The spike probability of neuron `i` per step of `dt_ms`: `1 − e^{−f_i·dt/1000}`.
    ///
    /// ```
    /// let p = somata::input::PoissonSpike::new(1, &[1000.0], 0)?;
    /// assert!((p.probability(0, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-15);
    /// # Ok::<(), somata::SomataError>(())
    /// ```
    pub fn probability(&self, i: usize, dt_ms: f64) -> f64 {
        let f = if self.freqs.len() == 1 { self.freqs[0] } else { self.freqs[i] };
        spike_probability(f, dt_ms)
    }
}

impl InputGen for PoissonSpike {
    fn n(&self) -> usize {
        self.n
    }
    fn fill(&mut self, _step: u64, dt_ms: f64, out: &mut [f32]) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("PoissonSpike", self.n, out.len())?;
        if self.cached_dt != dt_ms {
            for (p, &f) in self.p.iter_mut().zip(&self.freqs) {
                *p = spike_probability(f, dt_ms);
            }
            self.cached_dt = dt_ms;
        }
        if self.p.len() == 1 {
            let p = self.p[0];
            for o in out.iter_mut() {
                *o = if self.rng.uniform() <= p { 1.0 } else { 0.0 };
            }
        } else {
            for (o, &p) in out.iter_mut().zip(&self.p) {
                *o = if self.rng.uniform() <= p { 1.0 } else { 0.0 };
            }
        }
        Ok(())
    }
    fn reset(&mut self) {
        self.rng = Rng::new(self.seed);
    }
    fn name(&self) -> &'static str {
        "PoissonSpike"
    }
}

/// Poisson spikes with rates given at every call (BrainPy's `PoissonEncoder(in_size)`,
/// `update(freqs)`): neuron `i` spikes when `u <= 1 − e^{−rates[i]·dt/1000}` (rates in Hz,
/// dt in ms), one uniform per neuron in neuron order.
///
/// ```
/// use somata::input::PoissonEncoder;
/// let mut enc = PoissonEncoder::new(2, 0);
/// let mut s = [0.0f32; 2];
/// enc.encode(&[0.0, 1e9], 1.0, &mut s)?;
/// assert_eq!(s, [0.0, 1.0]);
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PoissonEncoder {
    n: usize,
    seed: u64,
    rng: Rng,
}

impl PoissonEncoder {
    /// An encoder of `n` neurons with RNG `seed`.
    pub fn new(n: usize, seed: u64) -> PoissonEncoder {
        PoissonEncoder { n, seed, rng: Rng::new(seed) }
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.n
    }

    /// One step: `out[i] = 1.0` if `u <= 1 − e^{−rates_hz[i]·dt_ms/1000}`, else `0.0`.
    /// Errors: lengths other than `n` ([`SomataError::ShapeMismatch`]), a negative or NaN rate
    /// ([`SomataError::InvalidParameter`], before any draw), a bad `dt_ms`.
    pub fn encode(&mut self, rates_hz: &[f32], dt_ms: f64, out: &mut [f32]) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("PoissonEncoder", self.n, out.len())?;
        if rates_hz.len() != self.n {
            return Err(SomataError::ShapeMismatch {
                what: "PoissonEncoder rates".into(),
                expected: vec![self.n],
                got: vec![rates_hz.len()],
            });
        }
        if let Some(&bad) = rates_hz.iter().find(|r| r.is_nan() || **r < 0.0) {
            return Err(SomataError::param("PoissonEncoder", "freqs", bad as f64, "rates must be >= 0 Hz (and not NaN)"));
        }
        for (o, &f) in out.iter_mut().zip(rates_hz) {
            *o = if self.rng.uniform() <= spike_probability(f as f64, dt_ms) { 1.0 } else { 0.0 };
        }
        Ok(())
    }

    /// Restart the RNG from the seed.
    pub fn reset(&mut self) {
        self.rng = Rng::new(self.seed);
    }
}

/// How [`SpikeTime`] turns an event time into a step: `rounding(time/dt)`, computed in `f32`
/// as BrainPy (`time_as_step`). Default: [`Round`](TimeRounding::Round).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeRounding {
    /// Nearest step, ties to even (`jnp.round`).
    #[default]
    Round,
    /// The step at or before the time.
    Floor,
    /// The step at or after the time.
    Ceil,
}

impl TimeRounding {
    /// `"round"`, `"floor"` or `"ceil"` (BrainPy's spelling).
    ///
    /// ```
    /// use somata::input::TimeRounding;
    /// assert_eq!(TimeRounding::parse("floor")?, TimeRounding::Floor);
    /// assert!(TimeRounding::parse("nearest").is_err());
    /// # Ok::<(), somata::SomataError>(())
    /// ```
    pub fn parse(s: &str) -> Result<TimeRounding> {
        match s {
            "round" => Ok(TimeRounding::Round),
            "floor" => Ok(TimeRounding::Floor),
            "ceil" => Ok(TimeRounding::Ceil),
            _ => Err(SomataError::Format(format!("unknown time_as_step `{s}`; known: round, floor, ceil"))),
        }
    }

    /// The step of `time_ms` at `dt_ms`: `rounding(f32(time)/f32(dt))`.
    ///
    /// ```
    /// use somata::input::TimeRounding;
    /// assert_eq!(TimeRounding::Round.step(0.25, 0.1), 2); // 2.5 → 2 (ties to even)
    /// assert_eq!(TimeRounding::Ceil.step(0.21, 0.1), 3);
    /// assert_eq!(TimeRounding::Floor.step(0.3, 0.1), 3); // f32(0.3)/f32(0.1) is 3.0 exactly
    /// ```
    pub fn step(self, time_ms: f64, dt_ms: f64) -> i64 {
        let q = time_ms as f32 / dt_ms as f32;
        let r = match self {
            TimeRounding::Round => q.round_ties_even(),
            TimeRounding::Floor => q.floor(),
            TimeRounding::Ceil => q.ceil(),
        };
        r as i64
    }
}

/// Spikes at given times (BrainPy's `SpikeTime(in_size, indices, times, weights=1.0,
/// time_as_step='round')`): event `k` puts `weights[k]` on neuron `indices[k]` at step
/// `rounding(times[k]/dt)` (times in ms). Events are sorted by time and, at the first `fill`
/// for a given `dt`, given their steps (BrainPy's CSR table `[n_steps, n]`, stored as the
/// sorted steps, so that a far time costs no memory); a step after the last event (or an event
/// at a negative step) gives zeros. Two events on the same neuron and step add up, in time
/// order (the CSR matrix's dense row).
///
/// ```
/// use somata::input::{InputGen, SpikeTime, TimeRounding};
/// // neuron 0 at 1.0 and 3.0 ms, neuron 1 at 2.0 ms with weight 0.5
/// let mut st = SpikeTime::new(2, &[0, 1, 0], &[1.0, 2.0, 3.0], &[1.0, 0.5, 1.0], TimeRounding::Round)?;
/// let x = st.generate(5, 1.0)?;
/// assert_eq!(x, [0.0, 0.0, 1.0, 0.0, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0]);
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SpikeTime {
    n: usize,
    indices: Vec<usize>,
    times: Vec<f64>,
    weights: Vec<f32>,
    rounding: TimeRounding,
    /// The step of each event for `cached_dt` (non-decreasing: the events are sorted by time
    /// and the rounding is monotone), in place of BrainPy's dense CSR row pointer, whose length
    /// is the last step (a time of 1e30 ms would allocate 10^31 rows).
    steps: Vec<i64>,
    cached_dt: f64,
}

impl SpikeTime {
    /// `n` neurons; events `(indices[k], times_ms[k], weights[k])`. `weights` is empty (all
    /// 1.0, BrainPy's default), one shared weight, or one per event. Errors: `indices` and
    /// `times_ms` of different lengths, another `weights` length ([`SomataError::ShapeMismatch`]),
    /// an index `>= n`, a non-finite time or weight ([`SomataError::InvalidParameter`]).
    pub fn new(n: usize, indices: &[usize], times_ms: &[f64], weights: &[f64], rounding: TimeRounding) -> Result<SpikeTime> {
        let m = times_ms.len();
        if indices.len() != m {
            return Err(SomataError::ShapeMismatch {
                what: "SpikeTime indices (one per time)".into(),
                expected: vec![m],
                got: vec![indices.len()],
            });
        }
        if !(weights.is_empty() || weights.len() == 1 || weights.len() == m) {
            return Err(SomataError::ShapeMismatch {
                what: "SpikeTime weights (none, one shared, or one per time)".into(),
                expected: vec![m],
                got: vec![weights.len()],
            });
        }
        if let Some(&i) = indices.iter().find(|&&i| i >= n) {
            return Err(SomataError::param("SpikeTime", "indices", i as f64, format!("neuron index out of range for {n} neurons")));
        }
        if let Some(&t) = times_ms.iter().find(|t| !t.is_finite()) {
            return Err(SomataError::param("SpikeTime", "times", t, "must be finite"));
        }
        if let Some(&w) = weights.iter().find(|w| !w.is_finite()) {
            return Err(SomataError::param("SpikeTime", "weights", w, "must be finite"));
        }
        let w = |k: usize| match weights.len() {
            0 => 1.0,
            1 => weights[0] as f32,
            _ => weights[k] as f32,
        };
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| times_ms[a].total_cmp(&times_ms[b]));
        Ok(SpikeTime {
            n,
            indices: order.iter().map(|&k| indices[k]).collect(),
            times: order.iter().map(|&k| times_ms[k]).collect(),
            weights: order.iter().map(|&k| w(k)).collect(),
            rounding,
            steps: Vec::new(),
            cached_dt: f64::NAN,
        })
    }

    /// Number of steps of the table at `dt_ms` (the last event's step + 1; 0 without events).
    pub fn n_steps(&mut self, dt_ms: f64) -> Result<usize> {
        check_dt(dt_ms)?;
        self.build(dt_ms);
        Ok(self.steps.last().filter(|&&s| s >= 0).map_or(0, |&s| s as usize + 1))
    }

    fn build(&mut self, dt_ms: f64) {
        if self.cached_dt == dt_ms {
            return;
        }
        self.steps = self.times.iter().map(|&t| self.rounding.step(t, dt_ms)).collect();
        self.cached_dt = dt_ms;
    }
}

impl InputGen for SpikeTime {
    fn n(&self) -> usize {
        self.n
    }
    fn fill(&mut self, step: u64, dt_ms: f64, out: &mut [f32]) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("SpikeTime", self.n, out.len())?;
        self.build(dt_ms);
        out.fill(0.0);
        // the events of this step, in time order (the CSR row's order)
        let s = i64::try_from(step).unwrap_or(i64::MAX);
        let lo = self.steps.partition_point(|&x| x < s);
        let hi = lo + self.steps[lo..].partition_point(|&x| x <= s);
        for k in lo..hi {
            out[self.indices[k]] += self.weights[k];
        }
        Ok(())
    }
    fn name(&self) -> &'static str {
        "SpikeTime"
    }
}

/// BrainPy's count of `num_input` independent inputs that spike with probability `p` in one
/// step (as in `poisson_input`):
///
/// * if `N·p > 5` and `N·(1 − p) > 5`: `max(round(N(N·p, sqrt(N·p·(1 − p)))), 0)` (normal
///   approximation, rounded half to even, may exceed `N` in the far tail as BrainPy's);
/// * otherwise an exact `Binomial(N, p)` draw (inversion of the smaller tail, `O(N·min(p, 1 − p))`
///   uniforms).
///
/// Errors: `p` outside `[0, 1]` or NaN ([`SomataError::InvalidParameter`]).
///
/// ```
/// use somata::{init::Rng, input::poisson_count};
/// let mut rng = Rng::new(0);
/// assert_eq!(poisson_count(10, 0.0, &mut rng)?, 0.0);
/// assert_eq!(poisson_count(10, 1.0, &mut rng)?, 10.0);
/// let c = poisson_count(1000, 0.5, &mut rng)?; // normal branch: mean 500, sd 15.8
/// assert!((c - 500.0).abs() < 100.0 && c.fract() == 0.0);
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn poisson_count(num_input: u64, p: f64, rng: &mut Rng) -> Result<f64> {
    Ok(PoissonCounter::new(num_input, p)?.sample(rng))
}

/// [`poisson_count`] for one `(num_input, p)` drawn many times (a background input: the same
/// sources every step): the constants of the draw (`(1 − q)^n`, `q/(1 − q)`, the branch) are
/// computed once; [`poisson_count`] is one draw of a fresh counter.
///
/// ```
/// use somata::{init::Rng, input::PoissonCounter};
/// // Binomial(2000, 8e-4): mean 1.6, variance 1.5987 (the inversion branch)
/// let c = PoissonCounter::new(2000, 8e-4)?;
/// let mut rng = Rng::new(5);
/// let xs: Vec<f64> = (0..100_000).map(|_| c.sample(&mut rng)).collect();
/// let mean = xs.iter().sum::<f64>() / xs.len() as f64;
/// let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
/// assert!((mean - 1.6).abs() < 0.02 && (var - 1.5987).abs() < 0.05, "{mean} {var}");
/// assert!(xs.iter().all(|x| x.fract() == 0.0 && *x >= 0.0));
/// assert!(PoissonCounter::new(10, 1.5).is_err());
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct PoissonCounter {
    n: u64,
    p: f64,
    normal: bool,
    q: f64,
    flip: bool,
    s: f64,
    p0: f64,
}

impl PoissonCounter {
    /// The draw of `Binomial(num_input, p)` (`p` in `[0, 1]`).
    pub fn new(num_input: u64, p: f64) -> Result<PoissonCounter> {
        if !(0.0..=1.0).contains(&p) {
            return Err(SomataError::param("poisson_input", "p", p, "spike probability must be in [0, 1]"));
        }
        let nf = num_input as f64;
        let normal = nf * p > 5.0 && nf * (1.0 - p) > 5.0;
        let (q, flip) = if p <= 0.5 { (p, false) } else { (1.0 - p, true) };
        let s = q / (1.0 - q);
        let p0 = (nf * (-q).ln_1p()).exp();
        Ok(PoissonCounter { n: num_input, p, normal, q, flip, s, p0 })
    }
    /// One count (as [`poisson_count`]).
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        if self.normal {
            let a = self.n as f64 * self.p;
            let c = (a + (a * (1.0 - self.p)).sqrt() * rng.normal()).round_ties_even();
            return c.max(0.0);
        }
        let k = binomial_inversion(self.n, self.q, self.s, self.p0, rng);
        if self.flip {
            (self.n - k) as f64
        } else {
            k as f64
        }
    }
}

/// `Binomial(n, q)` for `q <= 0.5` by sequential CDF inversion (expected `n·q + 1` iterations),
/// with `s = q/(1 − q)` and `p0 = (1 − q)^n` given.
#[inline]
fn binomial_inversion(n: u64, q: f64, s: f64, p0: f64, rng: &mut Rng) -> u64 {
    if q <= 0.0 || n == 0 {
        return 0;
    }
    let mut pk = p0;
    let mut u = rng.uniform();
    let mut k = 0u64;
    while u >= pk {
        u -= pk;
        if k >= n || pk == 0.0 {
            // numerical tail: restart (probability ~ rounding error)
            u = rng.uniform();
            k = 0;
            pk = p0;
            continue;
        }
        pk *= s * (n - k) as f64 / (k + 1) as f64;
        k += 1;
    }
    k
}

fn check_targets(n: usize, indices: Option<&[usize]>, refractory: Option<&[bool]>) -> Result<()> {
    if let Some(idx) = indices
        && let Some(&i) = idx.iter().find(|&&i| i >= n)
    {
        return Err(SomataError::param("poisson_input", "indices", i as f64, format!("index out of range for a target of {n}")));
    }
    if let Some(r) = refractory
        && r.len() != n
    {
        return Err(SomataError::ShapeMismatch { what: "poisson_input refractory mask".into(), expected: vec![n], got: vec![r.len()] });
    }
    Ok(())
}

/// BrainPy's `poisson_input(freq, num_input, weight, target, indices=None, refractory=None)`:
/// adds `count·weight` to every element of `target` (or to `target[indices[j]]` for each `j`),
/// with an independent `count` ([`poisson_count`]) per element, `p = 1 − e^{−freq·dt}` (`freq`
/// in Hz, `dt` in ms), keeping the old value where `refractory` is true.
///
/// Errors: negative or non-finite `freq_hz`, non-finite `weight`, an index out of range
/// ([`SomataError::InvalidParameter`]); a refractory mask of another length
/// ([`SomataError::ShapeMismatch`]); a bad `dt_ms`.
///
/// ```
/// use somata::{init::Rng, input::poisson_input};
/// let mut v = vec![0.0f32; 100];
/// let mut rng = Rng::new(1);
/// // 200 inputs at 50 Hz, 0.1 mV each, dt = 0.1 ms: about 200 × 0.005 = 1 input per step
/// poisson_input(50.0, 200, 0.1, 0.1, &mut v, None, None, &mut rng)?;
/// assert!(v.iter().all(|x| *x >= 0.0) && v.iter().any(|x| *x > 0.0));
/// # Ok::<(), somata::SomataError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn poisson_input(
    freq_hz: f64,
    num_input: u64,
    weight: f64,
    dt_ms: f64,
    target: &mut [f32],
    indices: Option<&[usize]>,
    refractory: Option<&[bool]>,
    rng: &mut Rng,
) -> Result<()> {
    check_dt(dt_ms)?;
    check_nonneg("poisson_input", "freq", freq_hz)?;
    super::check_finite("poisson_input", "weight", weight)?;
    check_targets(target.len(), indices, refractory)?;
    add_counts(spike_probability(freq_hz, dt_ms), num_input, weight, target, indices, refractory, rng)
}

fn add_counts(
    p: f64,
    num_input: u64,
    weight: f64,
    target: &mut [f32],
    indices: Option<&[usize]>,
    refractory: Option<&[bool]>,
    rng: &mut Rng,
) -> Result<()> {
    let keep = |i: usize| refractory.is_some_and(|r| r[i]);
    match indices {
        None => {
            for (i, t) in target.iter_mut().enumerate() {
                let c = poisson_count(num_input, p, rng)?;
                if !keep(i) {
                    *t += (c * weight) as f32;
                }
            }
        }
        Some(idx) => {
            for &i in idx {
                let c = poisson_count(num_input, p, rng)?;
                if !keep(i) {
                    target[i] += (c * weight) as f32;
                }
            }
        }
    }
    Ok(())
}

/// Poisson input onto a state (BrainPy's `PoissonInput(target, indices, num_input, freq,
/// weight)`): each step adds `count·weight` ([`poisson_input`]) to the target's elements (all,
/// or those of [`indices`](PoissonInput::indices)). As an [`InputGen`] it writes that increment
/// into `out` (zeros elsewhere), i.e. the input current of a `target` that is reset each step;
/// [`add_into`](PoissonInput::add_into) adds to an existing state instead, with an optional
/// refractory mask.
///
/// ```
/// use somata::input::{InputGen, PoissonInput};
/// // 1000 inputs at 10 Hz with weight 0.5 on 4 neurons; dt = 1 ms: N·p ≈ 9.95 > 5 → normal branch
/// let mut pi = PoissonInput::new(4, 10.0, 1000, 0.5, 7)?;
/// let mut v = [0.0f32; 4];
/// pi.add_into(1.0, &mut v, None)?;
/// assert!(v.iter().all(|x| *x >= 0.0 && (x / 0.5).fract() == 0.0));
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PoissonInput {
    n: usize,
    freq_hz: f64,
    num_input: u64,
    weight: f64,
    indices: Option<Vec<usize>>,
    seed: u64,
    rng: Rng,
}

impl PoissonInput {
    /// A target of `n` elements; `num_input` independent sources at `freq_hz` (>= 0, Hz), each
    /// spike adding `weight` (finite; in the target's unit); RNG `seed`.
    pub fn new(n: usize, freq_hz: f64, num_input: u64, weight: f64, seed: u64) -> Result<PoissonInput> {
        check_nonneg("PoissonInput", "freq", freq_hz)?;
        super::check_finite("PoissonInput", "weight", weight)?;
        Ok(PoissonInput { n, freq_hz, num_input, weight, indices: None, seed, rng: Rng::new(seed) })
    }

    /// Drive only the target elements `indices` (each `< n`; a repeated index gets one count
    /// per occurrence, as `target.at[indices].add`).
    ///
    /// ```
    /// use somata::input::{InputGen, PoissonInput};
    /// let mut pi = PoissonInput::new(3, 1e6, 10, 1.0, 0)?.indices(vec![2])?; // p ≈ 1: count 10
    /// let mut out = [0.0f32; 3];
    /// pi.fill(0, 1.0, &mut out)?;
    /// assert_eq!(out, [0.0, 0.0, 10.0]);
    /// # Ok::<(), somata::SomataError>(())
    /// ```
    pub fn indices(mut self, indices: Vec<usize>) -> Result<PoissonInput> {
        check_targets(self.n, Some(&indices), None)?;
        self.indices = Some(indices);
        Ok(self)
    }

    /// Add one step's input to `target` (length `n`), keeping elements whose `refractory` flag
    /// is true.
    pub fn add_into(&mut self, dt_ms: f64, target: &mut [f32], refractory: Option<&[bool]>) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("PoissonInput", self.n, target.len())?;
        check_targets(self.n, None, refractory)?;
        let p = spike_probability(self.freq_hz, dt_ms);
        add_counts(p, self.num_input, self.weight, target, self.indices.as_deref(), refractory, &mut self.rng)
    }
}

impl InputGen for PoissonInput {
    fn n(&self) -> usize {
        self.n
    }
    fn fill(&mut self, _step: u64, dt_ms: f64, out: &mut [f32]) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("PoissonInput", self.n, out.len())?;
        out.fill(0.0);
        self.add_into(dt_ms, out, None)
    }
    fn reset(&mut self) {
        self.rng = Rng::new(self.seed);
    }
    fn name(&self) -> &'static str {
        "PoissonInput"
    }
}
