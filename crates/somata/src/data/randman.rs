//! The random-manifold ("Randman") spike-timing task of Zenke & Vogels (2021).

use super::{shuffle, SpikeDataset};
use crate::error::{Result, SomataError};
use crate::init::Rng;

/// Parameters of [`randman()`]; the defaults are those of the reference `make_spiking_dataset`
/// (10 classes, 100 units, 100 steps, a 2-D manifold, alpha = 2, 1000 samples per class).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandmanConfig {
    /// Number of classes (one random manifold each), ≥ 1.
    pub n_classes: usize,
    /// Input channels (the manifold's embedding dimension), ≥ 1.
    pub n_units: usize,
    /// Time steps per sample, ≥ 1; spike times fall in `[0, n_steps)`.
    pub n_steps: usize,
    /// Intrinsic dimension of each manifold, ≥ 1.
    pub dim_manifold: usize,
    /// Smoothness: Fourier amplitudes fall off as `1/k^alpha` (> 0; larger is smoother).
    pub alpha: f64,
    /// Samples drawn from each class.
    pub samples_per_class: usize,
    /// Seed of everything random (manifolds, points, order).
    pub seed: u64,
}

impl Default for RandmanConfig {
    fn default() -> Self {
        RandmanConfig { n_classes: 10, n_units: 100, n_steps: 100, dim_manifold: 2, alpha: 2.0, samples_per_class: 1000, seed: 0 }
    }
}

/// Generate the Randman classification task (Zenke & Vogels, *The remarkable robustness of
/// surrogate gradient learning for instilling complex function in spiking neural networks*,
/// Neural Computation 33(4), 2021), following the reference `randman` package:
///
/// * Class `k` is a smooth random manifold `f_k: [0,1)^D → R^U` (`D = dim_manifold`,
///   `U = n_units`). Each output coordinate is a product over the `D` input coordinates of a
///   1-D random function `g(x) = Σ_{i<F} a_i / (i+1)^alpha · sin(2π(i·x·b_i + c_i))` with
///   `a, b, c ~ U[0, 1)` drawn per (unit, dimension, i), `a_0 = 0` (no bias), and the cut-off
///   `F = min(ceil(1e-3^(−1/alpha)), 1000)` (32 for alpha = 2).
/// * A sample is a point `x ~ U[0,1)^D`; its image is standardized per unit over the class's
///   samples to `[0, 1)` (`(y − min)/(max − min + 1e-7)`), and unit `u` spikes once, at time
///   step `floor(y_u · n_steps)`. All information is in the relative spike timing.
/// * The samples of all classes are shuffled. Labels are the class indices.
///
/// The same config gives the same data set (the random numbers are this crate's
/// [`Rng`], so values differ from the Python package's). With `samples_per_class = 1` the
/// standardization makes every spike time 0.
///
/// ```
/// use somata::data::{randman, RandmanConfig};
/// let d = randman(RandmanConfig { n_classes: 2, n_units: 10, n_steps: 20, samples_per_class: 5, seed: 3, ..Default::default() })?;
/// assert_eq!((d.len(), d.n_channels, d.n_steps, d.n_classes), (10, 10, 20, 2));
/// assert!(d.events.iter().all(|e| e.len() == 10)); // one spike per channel
/// # Ok::<(), somata::SomataError>(())
/// ```
pub fn randman(cfg: RandmanConfig) -> Result<SpikeDataset> {
    let bad = |name: &str, v: f64, why: &str| Err(SomataError::param("Randman", name, v, why));
    if cfg.n_classes == 0 {
        return bad("n_classes", 0.0, "must be >= 1");
    }
    if cfg.n_units == 0 {
        return bad("n_units", 0.0, "must be >= 1");
    }
    if cfg.n_steps == 0 || cfg.n_steps > u32::MAX as usize {
        return bad("n_steps", cfg.n_steps as f64, "must be in 1..=u32::MAX");
    }
    if cfg.dim_manifold == 0 {
        return bad("dim_manifold", 0.0, "must be >= 1");
    }
    if !(cfg.alpha.is_finite() && cfg.alpha > 0.0) {
        return bad("alpha", cfg.alpha, "must be finite and > 0");
    }
    let (u_n, d_n, ns) = (cfg.n_units, cfg.dim_manifold, cfg.samples_per_class);
    let f_cut = (1e-3f64.powf(-1.0 / cfg.alpha).ceil()).min(1000.0) as usize;
    let amp: Vec<f64> = (0..f_cut).map(|i| 1.0 / ((i + 1) as f64).powf(cfg.alpha)).collect();
    let tau = 2.0 * std::f64::consts::PI;

    let mut rng = Rng::new(cfg.seed);
    let mut events: Vec<Vec<(u32, u32)>> = Vec::with_capacity(cfg.n_classes * ns);
    let mut labels: Vec<u32> = Vec::with_capacity(cfg.n_classes * ns);
    // params[(u·D + d)·3·F + p·F + i], p = 0: amplitude, 1: frequency scale, 2: phase
    let mut params = vec![0.0f64; u_n * d_n * 3 * f_cut];
    let mut x = vec![0.0f64; ns * d_n];
    let mut y = vec![0.0f64; ns * u_n];
    for k in 0..cfg.n_classes {
        let mut mrng = Rng::new(rng.next_u64());
        params.iter_mut().for_each(|p| *p = mrng.uniform());
        for ud in 0..u_n * d_n {
            params[ud * 3 * f_cut] = 0.0; // no bias: a_0 = 0
        }
        x.iter_mut().for_each(|v| *v = rng.uniform());
        for s in 0..ns {
            for u in 0..u_n {
                let mut prod = 1.0;
                for d in 0..d_n {
                    let th = &params[(u * d_n + d) * 3 * f_cut..][..3 * f_cut];
                    let (a, rest) = th.split_at(f_cut);
                    let (b, c) = rest.split_at(f_cut);
                    let xd = x[s * d_n + d];
                    let mut g = 0.0;
                    for (i, (((ai, bi), ci), si)) in a.iter().zip(b).zip(c).zip(&amp).enumerate() {
                        g += ai * si * (tau * (i as f64 * xd * bi + ci)).sin();
                    }
                    prod *= g;
                }
                y[s * u_n + u] = prod;
            }
        }
        // standardize each unit over the class's samples; one spike per unit
        let mut times = vec![0u32; ns * u_n];
        for u in 0..u_n {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for s in 0..ns {
                lo = lo.min(y[s * u_n + u]);
                hi = hi.max(y[s * u_n + u]);
            }
            for s in 0..ns {
                let z = (y[s * u_n + u] - lo) / (hi - lo + 1e-7);
                times[s * u_n + u] = ((z * cfg.n_steps as f64).floor() as usize).min(cfg.n_steps - 1) as u32;
            }
        }
        for s in 0..ns {
            let mut ev: Vec<(u32, u32)> = (0..u_n).map(|u| (times[s * u_n + u], u as u32)).collect();
            ev.sort_unstable();
            events.push(ev);
            labels.push(k as u32);
        }
    }
    let mut order: Vec<usize> = (0..events.len()).collect();
    shuffle(&mut rng, &mut order);
    let mut slots: Vec<Option<Vec<(u32, u32)>>> = events.into_iter().map(Some).collect();
    let events = order.iter().map(|&i| slots[i].take().expect("a permutation")).collect();
    let labels = order.iter().map(|&i| labels[i]).collect();
    Ok(SpikeDataset { n_steps: cfg.n_steps, n_channels: u_n, n_classes: cfg.n_classes, events, labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> RandmanConfig {
        RandmanConfig { n_classes: 3, n_units: 16, n_steps: 40, dim_manifold: 1, alpha: 2.0, samples_per_class: 30, seed }
    }

    #[test]
    fn deterministic_shapes() {
        let a = randman(small(5)).unwrap();
        let b = randman(small(5)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, randman(small(6)).unwrap());
        assert_eq!((a.len(), a.n_channels, a.n_steps, a.n_classes), (90, 16, 40, 3));
        assert_eq!(a.class_counts(), vec![30, 30, 30]);
        for ev in &a.events {
            assert_eq!(ev.len(), 16);
            let mut ch: Vec<u32> = ev.iter().map(|e| e.1).collect();
            ch.sort();
            assert_eq!(ch, (0..16).collect::<Vec<_>>());
            assert!(ev.iter().all(|&(t, _)| t < 40));
        }
        // shuffled: labels are not in blocks
        assert_ne!(a.labels[..30], [0u32; 30]);
        // spike times span the window (standardized to [0, 1))
        let ts: Vec<u32> = a.events.iter().flatten().map(|e| e.0).collect();
        assert_eq!(*ts.iter().min().unwrap(), 0);
        assert_eq!(*ts.iter().max().unwrap(), 39);
        let d = a.dense(&[0, 1, 2]);
        assert_eq!(d.len(), 40 * 3 * 16);
        assert_eq!(d.iter().sum::<f32>(), 48.0);
    }

    #[test]
    fn classes_differ() {
        let a = randman(small(1)).unwrap();
        // per class, the mean spike time of each channel: the classes' profiles differ
        let mut mean = vec![vec![0.0f64; 16]; 3];
        for (ev, &l) in a.events.iter().zip(&a.labels) {
            for &(t, c) in ev {
                mean[l as usize][c as usize] += t as f64 / 30.0;
            }
        }
        for i in 0..3 {
            for j in i + 1..3 {
                let dist: f64 = mean[i].iter().zip(&mean[j]).map(|(p, q)| (p - q).abs()).sum::<f64>() / 16.0;
                assert!(dist > 1.0, "classes {i} and {j}: mean |Δt| = {dist}");
            }
        }
        // 2-D manifolds work too
        let b = randman(RandmanConfig { dim_manifold: 2, ..small(2) }).unwrap();
        assert_eq!(b.len(), 90);
    }

    #[test]
    fn rejects_bad_config() {
        assert!(randman(RandmanConfig { n_classes: 0, ..small(0) }).is_err());
        assert!(randman(RandmanConfig { alpha: 0.0, ..small(0) }).is_err());
        assert!(randman(RandmanConfig { n_steps: 0, ..small(0) }).is_err());
    }
}
