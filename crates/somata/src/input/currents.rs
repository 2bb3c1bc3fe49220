//! Current generators: BrainPy's `SectionInput`, `ConstantInput`, `StepInput`, `RampInput`,
//! `SinusoidalInput`, `WienerProcessInput` and `OUProcessInput` (spec §5.13).

use super::{check_dt, check_finite, check_nonneg, check_out, check_positive, time_ms, InputGen};
use crate::error::{Result, SomataError};
use crate::init::Rng;

fn check_all_finite(model: &str, name: &str, v: &[f64]) -> Result<()> {
    for &x in v {
        check_finite(model, name, x)?;
    }
    Ok(())
}

/// Piecewise-constant input over consecutive sections (BrainPy's `SectionInput(values,
/// durations)`): with `D_k = durations[0] + … + durations[k]` (ms),
///
/// `I(t) = values[k]` for `D_{k−1} <= t < D_k` (`D_{−1} = 0`), and `0` for `t >= D_last`.
///
/// Every neuron gets the same value. Errors: `values` and `durations` of different lengths
/// ([`SomataError::ShapeMismatch`]), a non-finite value, a negative or non-finite duration
/// ([`SomataError::InvalidParameter`]).
///
/// ```
/// use somata::input::{InputGen, SectionInput};
/// // 0 for 10 ms, 1 for 5 ms, 0 for 5 ms, then 0 (the 0-20-ms window of BrainPy's docs)
/// let mut s = SectionInput::new(2, &[0.0, 1.0, 0.0], &[10.0, 5.0, 5.0])?;
/// let mut x = [0.0f32; 2];
/// s.fill(120, 0.1, &mut x)?; // t = 12 ms
/// assert_eq!(x, [1.0, 1.0]);
/// s.fill(150, 0.1, &mut x)?; // t = 15 ms: the next section starts
/// assert_eq!(x, [0.0, 0.0]);
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SectionInput {
    n: usize,
    values: Vec<f32>,
    /// Cumulative section ends, ms (f32, as BrainPy's float32 times).
    ends: Vec<f32>,
}

impl SectionInput {
    /// `n` neurons; `values[k]` for `durations[k]` ms, one section after another from `t = 0`.
    pub fn new(n: usize, values: &[f64], durations_ms: &[f64]) -> Result<SectionInput> {
        if values.len() != durations_ms.len() {
            return Err(SomataError::ShapeMismatch {
                what: "SectionInput durations (one per value)".into(),
                expected: vec![values.len()],
                got: vec![durations_ms.len()],
            });
        }
        check_all_finite("SectionInput", "values", values)?;
        let mut ends = Vec::with_capacity(durations_ms.len());
        let mut acc = 0.0f64;
        for &d in durations_ms {
            check_nonneg("SectionInput", "durations", d)?;
            acc += d;
            ends.push(acc as f32);
        }
        Ok(SectionInput { n, values: values.iter().map(|&v| v as f32).collect(), ends })
    }

    /// The value at `t_ms` (the section containing it, or 0 after the last).
    pub fn value_at(&self, t_ms: f32) -> f32 {
        if t_ms < 0.0 {
            return 0.0;
        }
        let k = self.ends.partition_point(|&e| e <= t_ms);
        self.values.get(k).copied().unwrap_or(0.0)
    }
}

impl InputGen for SectionInput {
    fn n(&self) -> usize {
        self.n
    }
    fn fill(&mut self, step: u64, dt_ms: f64, out: &mut [f32]) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("SectionInput", self.n, out.len())?;
        out.fill(self.value_at(time_ms(step, dt_ms)));
        Ok(())
    }
    fn name(&self) -> &'static str {
        "SectionInput"
    }
}

/// A constant input for a while (BrainPy's `ConstantInput(value, duration)`):
///
/// `I(t) = value` for `t < duration` (ms), else `0`.
///
/// ```
/// use somata::input::{ConstantInput, InputGen};
/// let mut c = ConstantInput::new(1, 2.0, 5.0)?; // 2.0 (e.g. mA) for 5 ms
/// let mut x = [0.0f32];
/// c.fill(49, 0.1, &mut x)?;
/// assert_eq!(x[0], 2.0);
/// c.fill(50, 0.1, &mut x)?;
/// assert_eq!(x[0], 0.0);
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConstantInput {
    n: usize,
    value: f32,
    duration: f32,
}

impl ConstantInput {
    /// `n` neurons, `value` (finite) for `duration_ms` (finite, >= 0) ms.
    pub fn new(n: usize, value: f64, duration_ms: f64) -> Result<ConstantInput> {
        check_finite("ConstantInput", "value", value)?;
        check_nonneg("ConstantInput", "duration", duration_ms)?;
        Ok(ConstantInput { n, value: value as f32, duration: duration_ms as f32 })
    }
}

impl InputGen for ConstantInput {
    fn n(&self) -> usize {
        self.n
    }
    fn fill(&mut self, step: u64, dt_ms: f64, out: &mut [f32]) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("ConstantInput", self.n, out.len())?;
        out.fill(if time_ms(step, dt_ms) < self.duration { self.value } else { 0.0 });
        Ok(())
    }
    fn name(&self) -> &'static str {
        "ConstantInput"
    }
}

/// A staircase (BrainPy's `StepInput(amplitudes, step_times)`): the amplitude of the last step
/// time `<= t`, holding it forever; `0` before the first step time. Step times (ms) are sorted
/// at construction (stably, so of equal times the later-listed amplitude wins).
///
/// ```
/// use somata::input::{InputGen, StepInput};
/// let mut s = StepInput::new(1, &[1.0, 3.0, -1.0], &[2.0, 4.0, 6.0])?;
/// let x = s.generate(8, 1.0)?;
/// assert_eq!(x, [0.0, 0.0, 1.0, 1.0, 3.0, 3.0, -1.0, -1.0]);
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StepInput {
    n: usize,
    amplitudes: Vec<f32>,
    times: Vec<f32>,
}

impl StepInput {
    /// `n` neurons; `amplitudes[k]` from `step_times_ms[k]` on. Errors: lengths differ, a
    /// non-finite amplitude or time.
    pub fn new(n: usize, amplitudes: &[f64], step_times_ms: &[f64]) -> Result<StepInput> {
        if amplitudes.len() != step_times_ms.len() {
            return Err(SomataError::ShapeMismatch {
                what: "StepInput step_times (one per amplitude)".into(),
                expected: vec![amplitudes.len()],
                got: vec![step_times_ms.len()],
            });
        }
        check_all_finite("StepInput", "amplitudes", amplitudes)?;
        check_all_finite("StepInput", "step_times", step_times_ms)?;
        let mut order: Vec<usize> = (0..amplitudes.len()).collect();
        order.sort_by(|&a, &b| step_times_ms[a].total_cmp(&step_times_ms[b]));
        Ok(StepInput {
            n,
            amplitudes: order.iter().map(|&k| amplitudes[k] as f32).collect(),
            times: order.iter().map(|&k| step_times_ms[k] as f32).collect(),
        })
    }

    /// The value at `t_ms`.
    pub fn value_at(&self, t_ms: f32) -> f32 {
        match self.times.partition_point(|&s| s <= t_ms) {
            0 => 0.0,
            k => self.amplitudes[k - 1],
        }
    }
}

impl InputGen for StepInput {
    fn n(&self) -> usize {
        self.n
    }
    fn fill(&mut self, step: u64, dt_ms: f64, out: &mut [f32]) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("StepInput", self.n, out.len())?;
        out.fill(self.value_at(time_ms(step, dt_ms)));
        Ok(())
    }
    fn name(&self) -> &'static str {
        "StepInput"
    }
}

/// A linear ramp (BrainPy's `RampInput(c_start, c_end, duration, t_start=0)`):
///
/// `I(t) = c_start + (c_end − c_start)·(t − t_start)/duration` for
/// `t_start <= t < t_start + duration` (ms), else `0`.
///
/// ```
/// use somata::input::{InputGen, RampInput};
/// let mut r = RampInput::new(1, 0.0, 1.0, 4.0, 2.0)?; // 0 → 1 over [2, 6) ms
/// assert_eq!(r.generate(7, 1.0)?, [0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 0.0]);
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RampInput {
    n: usize,
    c_start: f64,
    c_end: f64,
    duration: f32,
    t_start: f32,
}

impl RampInput {
    /// `n` neurons; from `c_start` at `t_start_ms` towards `c_end` over `duration_ms` (> 0) ms.
    /// BrainPy's default `t_start` is 0.
    pub fn new(n: usize, c_start: f64, c_end: f64, duration_ms: f64, t_start_ms: f64) -> Result<RampInput> {
        check_finite("RampInput", "c_start", c_start)?;
        check_finite("RampInput", "c_end", c_end)?;
        check_positive("RampInput", "duration", duration_ms)?;
        check_finite("RampInput", "t_start", t_start_ms)?;
        Ok(RampInput { n, c_start, c_end, duration: duration_ms as f32, t_start: t_start_ms as f32 })
    }

    /// The value at `t_ms`.
    pub fn value_at(&self, t_ms: f32) -> f32 {
        if t_ms >= self.t_start && t_ms < self.t_start + self.duration {
            let f = (t_ms as f64 - self.t_start as f64) / self.duration as f64;
            (self.c_start + (self.c_end - self.c_start) * f) as f32
        } else {
            0.0
        }
    }
}

impl InputGen for RampInput {
    fn n(&self) -> usize {
        self.n
    }
    fn fill(&mut self, step: u64, dt_ms: f64, out: &mut [f32]) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("RampInput", self.n, out.len())?;
        out.fill(self.value_at(time_ms(step, dt_ms)));
        Ok(())
    }
    fn name(&self) -> &'static str {
        "RampInput"
    }
}

/// A sinusoid (BrainPy's `SinusoidalInput(amplitude, frequency, duration, bias=0)`):
///
/// `I(t) = amplitude·sin(2π·f·t/1000) + bias` for `0 <= t < duration`, else `0`, with `f` in Hz
/// and `t` in ms (the sine's argument is `2π·f·t` with `t` in seconds).
///
/// ```
/// use somata::input::{InputGen, SinusoidalInput};
/// let mut s = SinusoidalInput::new(1, 2.0, 10.0, 1000.0, 0.5)?; // 10 Hz, period 100 ms
/// let mut x = [0.0f32];
/// s.fill(25, 1.0, &mut x)?; // t = 25 ms: a quarter period
/// assert!((x[0] - 2.5).abs() < 1e-6);
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SinusoidalInput {
    n: usize,
    amplitude: f64,
    frequency_hz: f64,
    duration: f32,
    bias: f64,
}

impl SinusoidalInput {
    /// `n` neurons; `amplitude`, `frequency_hz` (finite, >= 0, Hz), `duration_ms` (>= 0) and
    /// `bias` (BrainPy's default 0).
    pub fn new(n: usize, amplitude: f64, frequency_hz: f64, duration_ms: f64, bias: f64) -> Result<SinusoidalInput> {
        check_finite("SinusoidalInput", "amplitude", amplitude)?;
        check_nonneg("SinusoidalInput", "frequency", frequency_hz)?;
        check_nonneg("SinusoidalInput", "duration", duration_ms)?;
        check_finite("SinusoidalInput", "bias", bias)?;
        Ok(SinusoidalInput { n, amplitude, frequency_hz, duration: duration_ms as f32, bias })
    }

    /// The value at `t_ms`.
    pub fn value_at(&self, t_ms: f32) -> f32 {
        if t_ms >= 0.0 && t_ms < self.duration {
            let phase = 2.0 * std::f64::consts::PI * self.frequency_hz * (t_ms as f64 / 1000.0);
            (self.amplitude * phase.sin() + self.bias) as f32
        } else {
            0.0
        }
    }
}

impl InputGen for SinusoidalInput {
    fn n(&self) -> usize {
        self.n
    }
    fn fill(&mut self, step: u64, dt_ms: f64, out: &mut [f32]) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("SinusoidalInput", self.n, out.len())?;
        out.fill(self.value_at(time_ms(step, dt_ms)));
        Ok(())
    }
    fn name(&self) -> &'static str {
        "SinusoidalInput"
    }
}

/// Increments of a Wiener process (BrainPy's `WienerProcessInput(sigma, duration)`): each
/// neuron independently gets
///
/// `I = sigma·sqrt(dt)·N(0, 1)` for `t < duration`, else `0`,
///
/// with `dt` the mantissa of the time step in ms (the standard deviation per step is
/// `sigma·sqrt(dt_ms)`). Draws come from the generator's seeded [`Rng`] in neuron order.
///
/// ```
/// use somata::input::{InputGen, WienerProcessInput};
/// let mut w = WienerProcessInput::new(1000, 2.0, 100.0, 1)?;
/// let mut x = vec![0.0f32; 1000];
/// w.fill(0, 0.25, &mut x)?;
/// let var = x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / 1000.0;
/// assert!((var - 1.0).abs() < 0.2); // sigma² dt = 4 × 0.25
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct WienerProcessInput {
    n: usize,
    sigma: f64,
    duration: f32,
    seed: u64,
    rng: Rng,
}

impl WienerProcessInput {
    /// `n` neurons, `sigma` (finite, >= 0), `duration_ms` (>= 0), RNG `seed`.
    pub fn new(n: usize, sigma: f64, duration_ms: f64, seed: u64) -> Result<WienerProcessInput> {
        check_nonneg("WienerProcessInput", "sigma", sigma)?;
        check_nonneg("WienerProcessInput", "duration", duration_ms)?;
        Ok(WienerProcessInput { n, sigma, duration: duration_ms as f32, seed, rng: Rng::new(seed) })
    }
}

impl InputGen for WienerProcessInput {
    fn n(&self) -> usize {
        self.n
    }
    fn fill(&mut self, step: u64, dt_ms: f64, out: &mut [f32]) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("WienerProcessInput", self.n, out.len())?;
        if time_ms(step, dt_ms) < self.duration {
            let s = self.sigma * dt_ms.sqrt();
            for x in out.iter_mut() {
                *x = (s * self.rng.normal()) as f32;
            }
        } else {
            out.fill(0.0);
        }
        Ok(())
    }
    fn reset(&mut self) {
        self.rng = Rng::new(self.seed);
    }
    fn name(&self) -> &'static str {
        "WienerProcessInput"
    }
}

/// An Ornstein–Uhlenbeck process per neuron (BrainPy's `OUProcessInput(mean, sigma, tau,
/// duration)`), integrated by Euler–Maruyama in dt's unit (ms):
///
/// `x ← x + (mean − x)·dt/tau + sigma·sqrt(dt)·N(0, 1)`, `x(0) = mean`,
///
/// updated only for `0 <= t < duration` (frozen outside); the output is the updated `x` inside
/// the window and `0` outside. The stationary law is `N(mean, sigma²·tau/2)` (for `dt ≪ tau`;
/// exactly `sigma²·dt/(1 − (1 − dt/tau)²)` for this recursion).
///
/// ```
/// use somata::input::{InputGen, OUProcessInput};
/// let mut ou = OUProcessInput::new(4, 1.0, 0.0, 10.0, 100.0, 3)?; // sigma = 0: x stays at mean
/// let mut x = [0.0f32; 4];
/// ou.fill(0, 0.1, &mut x)?;
/// assert_eq!(x, [1.0; 4]);
/// ou.fill(1000, 0.1, &mut x)?; // t = 100 ms: outside the window
/// assert_eq!(x, [0.0; 4]);
/// # Ok::<(), somata::SomataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OUProcessInput {
    n: usize,
    mean: f64,
    sigma: f64,
    tau: f64,
    duration: f32,
    seed: u64,
    rng: Rng,
    x: Vec<f64>,
}

impl OUProcessInput {
    /// `n` neurons; `mean` (finite), `sigma` (>= 0), `tau_ms` (> 0), `duration_ms` (>= 0), RNG
    /// `seed`.
    pub fn new(n: usize, mean: f64, sigma: f64, tau_ms: f64, duration_ms: f64, seed: u64) -> Result<OUProcessInput> {
        check_finite("OUProcessInput", "mean", mean)?;
        check_nonneg("OUProcessInput", "sigma", sigma)?;
        check_positive("OUProcessInput", "tau", tau_ms)?;
        check_nonneg("OUProcessInput", "duration", duration_ms)?;
        Ok(OUProcessInput { n, mean, sigma, tau: tau_ms, duration: duration_ms as f32, seed, rng: Rng::new(seed), x: vec![mean; n] })
    }

    /// The current state `x` of every neuron.
    pub fn state(&self) -> &[f64] {
        &self.x
    }
}

impl InputGen for OUProcessInput {
    fn n(&self) -> usize {
        self.n
    }
    fn fill(&mut self, step: u64, dt_ms: f64, out: &mut [f32]) -> Result<()> {
        check_dt(dt_ms)?;
        check_out("OUProcessInput", self.n, out.len())?;
        let t = time_ms(step, dt_ms);
        if t >= 0.0 && t < self.duration {
            let (a, s) = (dt_ms / self.tau, self.sigma * dt_ms.sqrt());
            for (x, o) in self.x.iter_mut().zip(out.iter_mut()) {
                *x += (self.mean - *x) * a + s * self.rng.normal();
                *o = *x as f32;
            }
        } else {
            out.fill(0.0);
        }
        Ok(())
    }
    fn reset(&mut self) {
        self.rng = Rng::new(self.seed);
        self.x.fill(self.mean);
    }
    fn name(&self) -> &'static str {
        "OUProcessInput"
    }
}
