//! Input generators: BrainPy's `brainpy.state` inputs (`_inputs.py`, spec §5.13), one time step
//! at a time into a caller-provided `f32` slice.
//!
//! Every generator implements [`InputGen`]: `fill(step, dt_ms, out)` writes the input of step
//! `step` into `out` (length [`n`](InputGen::n)) and allocates nothing (the first call of
//! [`SpikeTime`] and [`PoissonSpike`] sizes a cache for the `dt` it is given; later calls with the
//! same `dt` reuse it). "Now" is BrainPy's `t = f32(step)·f32(dt)` in ms, computed in `f32` and
//! compared in `f32` with the window bounds, never an accumulated sum.
//!
//! | Generator | Output at `t` (ms) | Units |
//! |---|---|---|
//! | [`PoissonSpike`] | 1.0 where `u <= p`, `u ~ U[0, 1)`, `p = 1 − e^{−f·dt}` | f in Hz |
//! | [`PoissonEncoder`] | the same, with the rates given at each call | Hz |
//! | [`SpikeTime`] | the weights of the events whose step is `step` | times in ms |
//! | [`PoissonInput`] / [`poisson_input`] | `count·weight`, count ~ Binomial(N, p) or its normal approximation | Hz |
//! | [`SectionInput`] | `values[k]` on `[D_{k−1}, D_k)`, `D_k = Σ_{j≤k} durations[j]`; 0 after | ms |
//! | [`ConstantInput`] | `value` for `t < duration`, else 0 | ms |
//! | [`StepInput`] | the amplitude of the last `step_time <= t`; 0 before the first | ms |
//! | [`RampInput`] | `c_start + (c_end − c_start)·(t − t_start)/duration` on `[t_start, t_start + duration)` | ms |
//! | [`SinusoidalInput`] | `amplitude·sin(2π·f·t/1000) + bias` on `[0, duration)` | f in Hz |
//! | [`WienerProcessInput`] | `sigma·sqrt(dt)·N(0, 1)` for `t < duration` | dt in ms |
//! | [`OUProcessInput`] | `x ← x + (mean − x)·dt/tau + sigma·sqrt(dt)·N(0, 1)` on `[0, duration)` | ms |
//!
//! The values of current generators are raw numbers in the unit of whatever they drive (mA for
//! the LIF family, µA for HH; see `NeuronModel::INPUT_UNIT`). Random generators own a seeded
//! [`Rng`](crate::init::Rng) (no global RNG): the same seed gives the same sequence, and
//! [`reset`](InputGen::reset) restarts it.
//!
//! ```
//! use somata::input::{InputGen, PoissonSpike, StepInput};
//! let mut drive = StepInput::new(3, &[0.5, 2.0], &[0.0, 10.0])?; // 0.5 from 0 ms, 2.0 from 10 ms
//! let mut spikes = PoissonSpike::new(100, &[20.0], 7)?;            // 100 neurons at 20 Hz
//! let (mut i_ext, mut s) = (vec![0.0f32; 3], vec![0.0f32; 100]);
//! for step in 0..200u64 {
//!     drive.fill(step, 0.1, &mut i_ext)?; // dt = 0.1 ms
//!     spikes.fill(step, 0.1, &mut s)?;
//! }
//! assert_eq!(i_ext, [2.0; 3]); // t = 19.9 ms
//! # Ok::<(), somata::SomataError>(())
//! ```

mod currents;
mod spikes;

pub use currents::{ConstantInput, OUProcessInput, RampInput, SectionInput, SinusoidalInput, StepInput, WienerProcessInput};
pub use spikes::{poisson_count, poisson_input, PoissonCounter, PoissonEncoder, PoissonInput, PoissonSpike, SpikeTime, TimeRounding};

use crate::dynamics::Clock;
use crate::error::{Result, SomataError};

/// A generator of one input value per neuron and time step.
///
/// `fill(step, dt_ms, out)` writes the input at step `step` (time `t = f32(step)·f32(dt_ms)` ms)
/// into `out`, whose length must be [`n`](InputGen::n). Stateful generators ([`OUProcessInput`],
/// the random ones) advance their state by one call: call `fill` once per step, in step order.
///
/// ```
/// use somata::input::{ConstantInput, InputGen};
/// let mut g: Box<dyn InputGen> = Box::new(ConstantInput::new(2, 1.5, 1.0)?); // 1.5 for t < 1 ms
/// let x = g.generate(12, 0.1)?; // 12 steps × 2 neurons, row-major
/// assert_eq!(&x[18..20], &[1.5, 1.5]); // step 9, t = 0.9 ms
/// assert_eq!(&x[20..22], &[0.0, 0.0]); // step 10, t = 1.0 ms
/// # Ok::<(), somata::SomataError>(())
/// ```
pub trait InputGen: Send {
    /// Number of neurons (length of `out`).
    fn n(&self) -> usize;

    /// Write the input of step `step` at time step `dt_ms` (ms, finite, > 0) into `out`.
    ///
    /// Errors: [`SomataError::InvalidDt`] for a bad `dt_ms`, [`SomataError::ShapeMismatch`] when
    /// `out.len() != n()`.
    fn fill(&mut self, step: u64, dt_ms: f64, out: &mut [f32]) -> Result<()>;

    /// Back to the state after construction: the random generator restarts from its seed and
    /// [`OUProcessInput`]'s `x` from `mean`. A no-op for stateless generators.
    fn reset(&mut self) {}

    /// BrainPy's class name (`"PoissonSpike"`, `"SectionInput"`, ...).
    fn name(&self) -> &'static str;

    /// [`fill`](InputGen::fill) at the clock's step and dt.
    ///
    /// ```
    /// use somata::dynamics::Clock;
    /// use somata::input::{InputGen, RampInput};
    /// let mut clock = Clock::from_ms(1.0)?;
    /// let mut ramp = RampInput::new(1, 0.0, 10.0, 10.0, 0.0)?; // 0 → 10 over 10 ms
    /// let mut x = [0.0f32];
    /// clock.set_step(5);
    /// ramp.fill_at(&clock, &mut x)?;
    /// assert_eq!(x[0], 5.0);
    /// # Ok::<(), somata::SomataError>(())
    /// ```
    fn fill_at(&mut self, clock: &Clock, out: &mut [f32]) -> Result<()> {
        self.fill(clock.step(), clock.dt_ms(), out)
    }

    /// Steps `0..steps` from the generator's current state, as one `steps × n` row-major buffer
    /// (row `i` is step `i`).
    ///
    /// ```
    /// use somata::input::{InputGen, SectionInput};
    /// let mut s = SectionInput::new(1, &[1.0, 2.0], &[1.0, 1.0])?;
    /// assert_eq!(s.generate(5, 0.5)?, [1.0, 1.0, 2.0, 2.0, 0.0]);
    /// # Ok::<(), somata::SomataError>(())
    /// ```
    fn generate(&mut self, steps: usize, dt_ms: f64) -> Result<Vec<f32>> {
        let n = self.n();
        let mut out = vec![0.0f32; steps * n];
        if n == 0 {
            check_dt(dt_ms)?;
            return Ok(out);
        }
        for (i, row) in out.chunks_exact_mut(n).enumerate() {
            self.fill(i as u64, dt_ms, row)?;
        }
        Ok(out)
    }
}

/// BrainPy's time of step `step`: `f32(step)·f32(dt_ms)`, ms.
///
/// ```
/// assert_eq!(somata::input::time_ms(10, 0.1), 1.0f32);
/// ```
#[inline]
pub fn time_ms(step: u64, dt_ms: f64) -> f32 {
    step as f32 * dt_ms as f32
}

pub(crate) fn check_dt(dt_ms: f64) -> Result<()> {
    if dt_ms.is_finite() && dt_ms > 0.0 {
        Ok(())
    } else {
        Err(SomataError::InvalidDt(dt_ms))
    }
}

pub(crate) fn check_out(what: &str, n: usize, got: usize) -> Result<()> {
    if n == got {
        Ok(())
    } else {
        Err(SomataError::ShapeMismatch { what: format!("{what} output"), expected: vec![n], got: vec![got] })
    }
}

pub(crate) fn check_finite(model: &str, name: &str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(SomataError::param(model, name, v, "must be finite"))
    }
}

pub(crate) fn check_nonneg(model: &str, name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(SomataError::param(model, name, v, "must be finite and >= 0"))
    }
}

pub(crate) fn check_positive(model: &str, name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(SomataError::param(model, name, v, "must be finite and > 0"))
    }
}
