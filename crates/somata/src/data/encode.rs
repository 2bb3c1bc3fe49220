//! Encoders from values to input sequences for a spiking network.
//!
//! Every encoder takes `values` row-major `[batch × n_channels]` (e.g. [`Batch::features`]) and
//! returns a **time-major** `f32` buffer `[n_steps × batch × n_channels]`: element
//! `(t, b, c)` is at `(t·batch + b)·n_channels + c`, the layout the training engine consumes.
//!
//! * [`poisson`]: Bernoulli spikes per step with BrainPy's `PoissonEncoder` probability
//!   `p = 1 − exp(−f·dt)` ([`poisson_probability`]), rate `f = value × max_rate`.
//! * [`latency`]: one spike per channel, brighter values earlier.
//! * [`direct`]: the value itself at every step ("direct current" input).
//!
//! ```
//! use somata::data::encode;
//! use somata::units::{ms, Hz};
//! let pixels = [0.0f32, 0.5, 1.0, 0.25, 0.0, 1.0]; // batch 2 × 3 channels
//! let mut rng = somata::init::Rng::new(0);
//! let x = encode::poisson(&pixels, 3, 100, 100.0 * Hz, 1.0 * ms, &mut rng)?;
//! assert_eq!(x.len(), 100 * 2 * 3);
//! let l = encode::latency(&pixels, 3, 10, 0.0)?;
//! assert_eq!(l[(0 * 2 + 0) * 3 + 2], 1.0); // value 1.0 spikes at step 0
//! assert_eq!(l[(9 * 2 + 1) * 3 + 0], 0.0); // value 0.0 never spikes
//! let d = encode::direct(&pixels, 3, 4)?;
//! assert_eq!(&d[6..12], &pixels); // step 1
//! # Ok::<(), somata::SomataError>(())
//! ```
//!
//! [`Batch::features`]: super::Batch::features

use crate::error::{Result, SomataError};
use crate::init::Rng;
use crate::units::{Frequency, Time};

/// BrainPy's spike probability for one step at rate `rate`:
/// `p = −expm1(−rate·dt) = 1 − e^{−rate·dt}` (not `rate·dt`). The units make `rate·dt`
/// dimensionless: 100 Hz at dt = 1 ms gives `1 − e^{−0.1}`.
///
/// ```
/// use somata::units::{ms, Hz};
/// let p = somata::data::encode::poisson_probability(100.0 * Hz, 1.0 * ms);
/// assert!((p - (1.0 - (-0.1f64).exp())).abs() < 1e-15);
/// ```
pub fn poisson_probability(rate: Frequency, dt: Time) -> f64 {
    -(-(rate.canonical() * dt.canonical())).exp_m1()
}

/// Poisson rate coding as BrainPy's `PoissonEncoder`: channel `c` of sample `b` spikes at each
/// step independently when `u <= p`, `u ~ U[0, 1)` from `rng`, with
/// `p = 1 − exp(−value·max_rate·dt)` ([`poisson_probability`]). Values are intensities in
/// units of `max_rate` (pixels in `[0, 1]`); to pass rates in Hz directly, use
/// `max_rate = 1.0 * Hz`. Values ≤ 0 (and NaN) give no spikes (up to `u = 0` exactly at
/// `p = 0`, probability 2⁻⁵³, as BrainPy).
///
/// Returns `[n_steps × batch × n_channels]` of 0.0/1.0; the draws are in that order, so the
/// same `rng` state gives the same spikes.
pub fn poisson(values: &[f32], n_channels: usize, n_steps: usize, max_rate: Frequency, dt: Time, rng: &mut Rng) -> Result<Vec<f32>> {
    check_shape(values, n_channels, "poisson")?;
    let (r, dt_ms) = (max_rate.canonical(), dt.canonical());
    if !(dt_ms.is_finite() && dt_ms > 0.0) {
        return Err(SomataError::InvalidDt(dt_ms));
    }
    if !(r.is_finite() && r >= 0.0) {
        return Err(SomataError::param("poisson", "max_rate", r, "must be finite and >= 0 (kHz)"));
    }
    let p: Vec<f64> = values.iter().map(|&v| -(-(v as f64 * r * dt_ms)).exp_m1()).collect();
    let mut out = vec![0.0f32; n_steps * values.len()];
    for row in out.chunks_exact_mut(values.len().max(1)) {
        for (o, &pi) in row.iter_mut().zip(&p) {
            if rng.uniform() <= pi {
                *o = 1.0;
            }
        }
    }
    Ok(out)
}

/// Latency coding: one spike per channel whose value exceeds `threshold`, at step
/// `round((1 − clamp(value, 0, 1))·(n_steps − 1))`, so 1.0 spikes at step 0 and values near 0
/// at the last step; values `<= threshold` never spike. Values are expected in `[0, 1]` (e.g.
/// [`digits`](super::digits)).
///
/// Returns `[n_steps × batch × n_channels]` of 0.0/1.0.
pub fn latency(values: &[f32], n_channels: usize, n_steps: usize, threshold: f32) -> Result<Vec<f32>> {
    check_shape(values, n_channels, "latency")?;
    let mut out = vec![0.0f32; n_steps * values.len()];
    if n_steps == 0 {
        return Ok(out);
    }
    let last = (n_steps - 1) as f64;
    for (i, &v) in values.iter().enumerate() {
        if v > threshold {
            let x = (v as f64).clamp(0.0, 1.0);
            let t = ((1.0 - x) * last).round() as usize;
            out[t * values.len() + i] = 1.0;
        }
    }
    Ok(out)
}

/// Direct-current coding: `values` repeated at each of `n_steps` steps,
/// `[n_steps × batch × n_channels]`.
pub fn direct(values: &[f32], n_channels: usize, n_steps: usize) -> Result<Vec<f32>> {
    check_shape(values, n_channels, "direct")?;
    let mut out = Vec::with_capacity(n_steps * values.len());
    for _ in 0..n_steps {
        out.extend_from_slice(values);
    }
    Ok(out)
}

fn check_shape(values: &[f32], n_channels: usize, what: &str) -> Result<()> {
    if n_channels == 0 || !values.len().is_multiple_of(n_channels) {
        return Err(SomataError::ShapeMismatch {
            what: format!("{what} encoder input (batch × n_channels, n_channels = {n_channels})"),
            expected: vec![values.len().checked_div(n_channels).unwrap_or(0), n_channels],
            got: vec![values.len()],
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{ms, Hz};

    #[test]
    fn poisson_empirical_rate() {
        // rate·dt = 0.2: p = 1 − e^{−0.2} = 0.18127, clearly not 0.2
        let mut rng = Rng::new(11);
        let vals = vec![1.0f32; 1000];
        let x = poisson(&vals, 500, 200, 200.0 * Hz, 1.0 * ms, &mut rng).unwrap();
        assert_eq!(x.len(), 200 * 2 * 500);
        let rate = x.iter().sum::<f32>() as f64 / x.len() as f64;
        let p = 1.0 - (-0.2f64).exp();
        assert!((rate - p).abs() < 0.004, "{rate} vs {p}");
        assert!((rate - 0.2).abs() > 0.01);
        // value scales the rate; zero gives nothing; dt in ms
        let x = poisson(&[0.5, 0.0], 2, 20000, 100.0 * Hz, 0.5 * ms, &mut rng).unwrap();
        let (a, b): (Vec<f32>, Vec<f32>) = x.chunks(2).map(|r| (r[0], r[1])).unzip();
        let ra = a.iter().sum::<f32>() as f64 / a.len() as f64;
        let pa = 1.0 - (-0.025f64).exp();
        assert!((ra - pa).abs() < 0.004, "{ra} vs {pa}");
        assert_eq!(b.iter().sum::<f32>(), 0.0);
        // deterministic
        let y1 = poisson(&vals, 500, 3, 200.0 * Hz, 1.0 * ms, &mut Rng::new(2)).unwrap();
        let y2 = poisson(&vals, 500, 3, 200.0 * Hz, 1.0 * ms, &mut Rng::new(2)).unwrap();
        assert_eq!(y1, y2);
    }

    #[test]
    fn poisson_rejects_bad_input() {
        let mut rng = Rng::new(0);
        assert!(matches!(poisson(&[1.0; 3], 2, 1, 1.0 * Hz, 1.0 * ms, &mut rng), Err(SomataError::ShapeMismatch { .. })));
        assert!(matches!(poisson(&[1.0; 2], 2, 1, 1.0 * Hz, 0.0 * ms, &mut rng), Err(SomataError::InvalidDt(_))));
        assert!(poisson(&[1.0; 2], 2, 1, -1.0 * Hz, 1.0 * ms, &mut rng).is_err());
        assert!(direct(&[1.0; 2], 0, 1).is_err());
    }

    #[test]
    fn latency_and_direct() {
        let v = [1.0f32, 0.5, 0.0, 0.9];
        let x = latency(&v, 2, 11, 0.0).unwrap();
        // [11 steps × 2 batch × 2 channels]; one spike per channel above threshold
        assert_eq!(x.iter().sum::<f32>(), 3.0);
        let at = |t: usize, i: usize| x[t * 4 + i];
        assert_eq!(at(0, 0), 1.0);
        assert_eq!(at(5, 1), 1.0);
        assert_eq!(at(1, 3), 1.0);
        assert!((0..11).all(|t| at(t, 2) == 0.0));
        assert_eq!(latency(&[0.3], 1, 5, 0.5).unwrap().iter().sum::<f32>(), 0.0);
        assert_eq!(latency(&[2.0], 1, 5, 0.0).unwrap()[0], 1.0);
        let d = direct(&v, 2, 3).unwrap();
        assert_eq!(d, [v, v, v].concat());
    }
}
