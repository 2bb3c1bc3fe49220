//! `somata::input`: BrainPy's input generators (spec §5.13) with real values: Poisson rates within
//! a few standard errors, `p = 1 − e^{−f·dt}` at high rate, SpikeTime's rounding in f32, closed
//! forms of the current generators at chosen steps, OU's stationary law and reversion, and the
//! binomial/normal switch of `poisson_input`.

use somata::init::Rng;
use somata::input::*;
use somata::SomataError;

fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (m, x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0))
}

/// `|count − N·p| < k·sqrt(N·p·(1 − p))`.
fn assert_binomial_count(count: usize, trials: usize, p: f64, k: f64, what: &str) {
    let (n, c) = (trials as f64, count as f64);
    let sd = (n * p * (1.0 - p)).sqrt();
    assert!((c - n * p).abs() < k * sd, "{what}: {c} spikes in {n} trials, expected {} ± {k}·{sd}", n * p);
}

#[test]
fn poisson_spike_rate_statistics() {
    // 1000 neurons at 50 Hz, dt = 0.1 ms, 2000 steps: p = 1 − e^{−0.005} = 0.0049875
    let mut g = PoissonSpike::new(1000, &[50.0], 11).unwrap();
    let x = g.generate(2000, 0.1).unwrap();
    assert!(x.iter().all(|v| *v == 0.0 || *v == 1.0));
    let count = x.iter().filter(|v| **v == 1.0).count();
    let p = -(-0.005f64).exp_m1();
    assert_binomial_count(count, x.len(), p, 5.0, "50 Hz");
    // the rate estimate in Hz: count / (neurons · T), T = 0.2 s → close to 50 Hz (1 − e^{−x} ≈ x)
    let rate = count as f64 / (1000.0 * 0.2);
    assert!((rate - 50.0).abs() < 2.5, "rate {rate} Hz");
}

#[test]
fn poisson_spike_per_neuron_rates() {
    let freqs = [0.0, 10.0, 100.0, 400.0];
    let mut g = PoissonSpike::new(4, &freqs, 3).unwrap();
    let steps = 50_000;
    let x = g.generate(steps, 1.0).unwrap();
    for (i, f) in freqs.iter().enumerate() {
        let count = (0..steps).filter(|s| x[s * 4 + i] == 1.0).count();
        let p = -(-f / 1000.0f64).exp_m1();
        if *f == 0.0 {
            assert_eq!(count, 0, "a zero rate never spikes");
        } else {
            assert_binomial_count(count, steps, p, 5.0, &format!("{f} Hz"));
        }
        assert_eq!(g.probability(i, 1.0), p);
    }
}

#[test]
fn poisson_probability_is_one_minus_exp_not_f_dt() {
    // 1 kHz at dt = 1 ms: f·dt = 1, but p = 1 − e^{−1} = 0.632
    let mut g = PoissonSpike::new(10_000, &[1000.0], 5).unwrap();
    let x = g.generate(10, 1.0).unwrap();
    let count = x.iter().filter(|v| **v == 1.0).count();
    let p = 1.0 - (-1.0f64).exp();
    assert_binomial_count(count, x.len(), p, 5.0, "1 kHz");
    assert!(count < 70_000, "f·dt = 1 would spike every time");
    // the encoder: rates given per call, same rule; 2 kHz at 0.5 ms is the same p
    let mut enc = PoissonEncoder::new(10_000, 9);
    let rates = vec![2000.0f32; 10_000];
    let mut out = vec![0.0f32; 10_000];
    let mut count = 0;
    for _ in 0..10 {
        enc.encode(&rates, 0.5, &mut out).unwrap();
        count += out.iter().filter(|v| **v == 1.0).count();
    }
    assert_binomial_count(count, 100_000, p, 5.0, "encoder 2 kHz at 0.5 ms");
    // finite and well-defined when f·dt > 1
    let mut g = PoissonSpike::new(100, &[1e5], 1).unwrap();
    assert!(g.generate(3, 1.0).unwrap().iter().all(|v| *v == 1.0));
}

#[test]
fn poisson_seeding_and_errors() {
    let a = PoissonSpike::new(50, &[100.0], 42).unwrap().generate(100, 0.1).unwrap();
    let mut g = PoissonSpike::new(50, &[100.0], 42).unwrap();
    assert_eq!(g.generate(100, 0.1).unwrap(), a);
    g.reset();
    assert_eq!(g.generate(100, 0.1).unwrap(), a, "reset restarts from the seed");
    assert_ne!(PoissonSpike::new(50, &[100.0], 43).unwrap().generate(100, 0.1).unwrap(), a);

    assert!(matches!(PoissonSpike::new(3, &[1.0, -2.0, 3.0], 0), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(PoissonSpike::new(3, &[f64::NAN], 0), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(PoissonSpike::new(3, &[1.0, 2.0], 0), Err(SomataError::ShapeMismatch { .. })));
    let mut g = PoissonSpike::new(3, &[1.0], 0).unwrap();
    assert!(matches!(g.fill(0, 0.0, &mut [0.0; 3]), Err(SomataError::InvalidDt(_))));
    assert!(matches!(g.fill(0, f64::NAN, &mut [0.0; 3]), Err(SomataError::InvalidDt(_))));
    assert!(matches!(g.fill(0, 0.1, &mut [0.0; 2]), Err(SomataError::ShapeMismatch { .. })));
    let mut enc = PoissonEncoder::new(2, 0);
    assert!(matches!(enc.encode(&[1.0, -1.0], 0.1, &mut [0.0; 2]), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(enc.encode(&[1.0, f32::NAN], 0.1, &mut [0.0; 2]), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(enc.encode(&[1.0], 0.1, &mut [0.0; 2]), Err(SomataError::ShapeMismatch { .. })));
}

/// The step of each neuron's single event (one event per neuron), or None.
fn event_steps(st: &mut SpikeTime, steps: usize, dt: f64) -> Vec<Option<usize>> {
    let n = st.n();
    let x = st.generate(steps, dt).unwrap();
    (0..n).map(|i| (0..steps).find(|s| x[s * n + i] != 0.0)).collect()
}

#[test]
fn spike_time_rounding_modes() {
    // dt = 0.5 ms: time/dt = 0.5, 1.5, 2.5, 3.2, 2.8 (exact in f32)
    let times = [0.25, 0.75, 1.25, 1.6, 1.4];
    let idx = [0, 1, 2, 3, 4];
    let steps = |r| event_steps(&mut SpikeTime::new(5, &idx, &times, &[], r).unwrap(), 8, 0.5);
    // round half to even, as jnp.round
    assert_eq!(steps(TimeRounding::Round), [Some(0), Some(2), Some(2), Some(3), Some(3)]);
    assert_eq!(steps(TimeRounding::Floor), [Some(0), Some(1), Some(2), Some(3), Some(2)]);
    assert_eq!(steps(TimeRounding::Ceil), [Some(1), Some(2), Some(3), Some(4), Some(3)]);
    // the division is f32, as BrainPy: 0.3/0.1 is 3.0 in f32 (2.9999999999999996 in f64)
    assert_eq!(TimeRounding::Floor.step(0.3, 0.1), 3);
    assert_eq!(TimeRounding::parse("ceil").unwrap(), TimeRounding::Ceil);
    assert!(matches!(TimeRounding::parse("trunc"), Err(SomataError::Format(_))));
}

#[test]
fn spike_time_weights_sorting_and_range() {
    // unsorted events; neuron 1 twice at step 2 (weights add), a negative time, a late one
    let mut st =
        SpikeTime::new(3, &[2, 1, 0, 1, 0], &[3.0, 2.0, 1.0, 2.1, -5.0], &[0.5, 1.0, 2.0, 0.25, 9.0], TimeRounding::Round).unwrap();
    assert_eq!(st.n_steps(1.0).unwrap(), 4);
    let x = st.generate(6, 1.0).unwrap();
    #[rustfmt::skip]
    assert_eq!(x, [
        0.0, 0.0, 0.0,  // step 0 (the event at −5 ms is never emitted)
        2.0, 0.0, 0.0,  // 1 ms
        0.0, 1.25, 0.0, // 2.0 and 2.1 ms round to step 2
        0.0, 0.0, 0.5,  // 3 ms
        0.0, 0.0, 0.0,  // beyond the table: zeros
        0.0, 0.0, 0.0,
    ]);
    // one shared weight; a step far beyond the table
    let mut st = SpikeTime::new(2, &[1], &[0.0], &[3.5], TimeRounding::Floor).unwrap();
    let mut out = [7.0f32; 2];
    st.fill(0, 0.1, &mut out).unwrap();
    assert_eq!(out, [0.0, 3.5]);
    st.fill(1_000_000, 0.1, &mut out).unwrap();
    assert_eq!(out, [0.0, 0.0]);
    // the table is rebuilt for another dt: 0.0 ms is step 0 at any dt
    st.fill(0, 0.25, &mut out).unwrap();
    assert_eq!(out, [0.0, 3.5]);

    assert!(matches!(SpikeTime::new(2, &[0, 1], &[1.0], &[], TimeRounding::Round), Err(SomataError::ShapeMismatch { .. })));
    assert!(matches!(SpikeTime::new(2, &[0], &[1.0], &[1.0, 2.0], TimeRounding::Round), Err(SomataError::ShapeMismatch { .. })));
    assert!(matches!(SpikeTime::new(2, &[2], &[1.0], &[], TimeRounding::Round), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(SpikeTime::new(2, &[0], &[f64::NAN], &[], TimeRounding::Round), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(SpikeTime::new(2, &[0], &[1.0], &[f64::INFINITY], TimeRounding::Round), Err(SomataError::InvalidParameter { .. })));
}

fn value_at(g: &mut dyn InputGen, step: u64, dt: f64) -> f32 {
    let mut out = vec![f32::NAN; g.n()];
    g.fill(step, dt, &mut out).unwrap();
    assert!(out.iter().all(|v| v.to_bits() == out[0].to_bits()), "{}: every neuron gets the same value", g.name());
    out[0]
}

#[test]
fn section_input_exact_values() {
    // ends at 1.0, 1.5, 3.5 ms; dt = 0.1 ms, t = f32(i)·f32(0.1)
    let mut s = SectionInput::new(3, &[1.0, 2.0, 3.0], &[1.0, 0.5, 2.0]).unwrap();
    for (step, want) in [(0, 1.0), (9, 1.0), (10, 2.0), (14, 2.0), (15, 3.0), (34, 3.0), (35, 0.0), (1000, 0.0)] {
        assert_eq!(value_at(&mut s, step, 0.1), want, "step {step}");
    }
    assert_eq!(s.name(), "SectionInput");
    assert!(matches!(SectionInput::new(1, &[1.0, 2.0], &[1.0]), Err(SomataError::ShapeMismatch { .. })));
    assert!(matches!(SectionInput::new(1, &[1.0], &[-1.0]), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(SectionInput::new(1, &[f64::NAN], &[1.0]), Err(SomataError::InvalidParameter { .. })));

    let mut c = ConstantInput::new(2, -0.75, 2.0).unwrap();
    assert_eq!((value_at(&mut c, 0, 0.1), value_at(&mut c, 19, 0.1), value_at(&mut c, 20, 0.1)), (-0.75, -0.75, 0.0));
    assert!(ConstantInput::new(1, 1.0, f64::NAN).is_err());
}

#[test]
fn step_input_exact_values() {
    // given unsorted: (1 from 5 ms), (−2 from 1 ms), (5 from 3 ms)
    let mut s = StepInput::new(2, &[1.0, -2.0, 5.0], &[5.0, 1.0, 3.0]).unwrap();
    for (step, want) in [(0, 0.0), (1, -2.0), (2, -2.0), (3, 5.0), (4, 5.0), (5, 1.0), (100, 1.0)] {
        assert_eq!(value_at(&mut s, step, 1.0), want, "t = {step} ms");
    }
    // the step time itself belongs to the new amplitude (step_time <= t); dt = 0.1: 3 ms is step 30
    assert_eq!(value_at(&mut s, 29, 0.1), -2.0);
    assert_eq!(value_at(&mut s, 30, 0.1), 5.0);
    assert!(matches!(StepInput::new(1, &[1.0], &[]), Err(SomataError::ShapeMismatch { .. })));
    assert!(StepInput::new(1, &[1.0], &[f64::NAN]).is_err());
}

#[test]
fn ramp_input_exact_values() {
    // 1 → 3 over [2, 6) ms, dt = 0.5 ms
    let mut r = RampInput::new(4, 1.0, 3.0, 4.0, 2.0).unwrap();
    for (step, want) in [(3, 0.0), (4, 1.0), (6, 1.5), (8, 2.0), (11, 2.75), (12, 0.0), (40, 0.0)] {
        assert_eq!(value_at(&mut r, step, 0.5), want, "step {step}");
    }
    // a decreasing ramp from 0 ms
    let mut r = RampInput::new(1, 10.0, 0.0, 10.0, 0.0).unwrap();
    assert_eq!(r.generate(11, 1.0).unwrap(), [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
    assert!(matches!(RampInput::new(1, 0.0, 1.0, 0.0, 0.0), Err(SomataError::InvalidParameter { .. })));
}

#[test]
fn sinusoidal_input_exact_values() {
    // 2·sin(2π·50 Hz·t) + 1 for t < 100 ms
    let mut s = SinusoidalInput::new(3, 2.0, 50.0, 100.0, 1.0).unwrap();
    let close = |a: f32, b: f64| (a as f64 - b).abs() < 2e-6;
    assert!(close(value_at(&mut s, 0, 0.1), 1.0));
    assert!(close(value_at(&mut s, 25, 0.1), 1.0 + 2.0 * std::f64::consts::FRAC_1_SQRT_2)); // 2.5 ms: π/4
    assert!(close(value_at(&mut s, 50, 0.1), 3.0)); // 5 ms: π/2
    assert!(close(value_at(&mut s, 100, 0.1), 1.0)); // 10 ms: π
    assert!(close(value_at(&mut s, 150, 0.1), -1.0)); // 15 ms: 3π/2
    assert!(close(
        value_at(&mut s, 999, 0.1),
        1.0 + 2.0 * (2.0 * std::f64::consts::PI * 50.0 * ((999.0f32 * 0.1f32) as f64 / 1000.0)).sin()
    ));
    assert_eq!(value_at(&mut s, 1000, 0.1), 0.0, "t = 100 ms is outside [0, duration)");
    assert!(matches!(SinusoidalInput::new(1, 1.0, -5.0, 10.0, 0.0), Err(SomataError::InvalidParameter { .. })));
}

#[test]
fn wiener_process_scale_and_window() {
    // std per step: sigma·sqrt(dt) = 2·sqrt(0.25) = 1
    let mut w = WienerProcessInput::new(20_000, 2.0, 1.0, 8).unwrap();
    let mut x = vec![0.0f32; 20_000];
    w.fill(0, 0.25, &mut x).unwrap();
    let (m, v) = mean_var(&x.iter().map(|v| *v as f64).collect::<Vec<_>>());
    assert!(m.abs() < 5.0 / (20_000f64).sqrt(), "mean {m}");
    assert!((v - 1.0).abs() < 5.0 * (2.0 / 20_000f64).sqrt(), "variance {v}");
    w.fill(4, 0.25, &mut x).unwrap(); // t = 1 ms: outside
    assert!(x.iter().all(|v| *v == 0.0));
    // seeding
    let a = WienerProcessInput::new(10, 1.0, 10.0, 1).unwrap().generate(5, 0.1).unwrap();
    w = WienerProcessInput::new(10, 1.0, 10.0, 1).unwrap();
    assert_eq!(w.generate(5, 0.1).unwrap(), a);
    w.reset();
    assert_eq!(w.generate(5, 0.1).unwrap(), a);
}

#[test]
fn ou_process_stationary_law_and_reversion() {
    // mean 1, sigma 0.5, tau 10 ms, dt 0.1 ms, 2000 independent neurons
    let (n, dt, tau, sigma) = (2000, 0.1, 10.0, 0.5);
    let mut ou = OUProcessInput::new(n, 1.0, sigma, tau, 1000.0, 21).unwrap();
    let mut x = vec![0.0f32; n];
    for step in 0..1000 {
        // 10 tau: stationary
        ou.fill(step, dt, &mut x).unwrap();
    }
    let a: Vec<f64> = x.iter().map(|v| *v as f64).collect();
    // the recursion's stationary variance: sigma²·dt/(1 − (1 − dt/tau)²) = 1.2563 (≈ sigma²·tau/2)
    let want_var = sigma * sigma * dt / (1.0 - (1.0 - dt / tau) * (1.0 - dt / tau));
    let (m, v) = mean_var(&a);
    assert!((m - 1.0).abs() < 5.0 * (want_var / n as f64).sqrt(), "mean {m}");
    assert!((v - want_var).abs() < 5.0 * want_var * (2.0 / n as f64).sqrt(), "variance {v}, want {want_var}");
    // reversion: the correlation after k = 100 steps is (1 − dt/tau)^k = 0.366
    for step in 1000..1100 {
        ou.fill(step, dt, &mut x).unwrap();
    }
    let b: Vec<f64> = x.iter().map(|v| *v as f64).collect();
    let (mb, vb) = mean_var(&b);
    let cov = a.iter().zip(&b).map(|(p, q)| (p - m) * (q - mb)).sum::<f64>() / (n as f64 - 1.0);
    let rho = cov / (v * vb).sqrt();
    let want_rho = (1.0 - dt / tau).powi(100);
    assert!((rho - want_rho).abs() < 0.08, "autocorrelation {rho}, want {want_rho}");
    // outside the window: output 0 and the state frozen
    let frozen = ou.state().to_vec();
    ou.fill(10_000, dt, &mut x).unwrap(); // t = 1000 ms = duration
    assert!(x.iter().all(|v| *v == 0.0));
    assert_eq!(ou.state(), &frozen[..]);
    // reset: back to the mean and the seed
    ou.reset();
    assert!(ou.state().iter().all(|v| *v == 1.0));
    // sigma = 0 from an off-mean start is impossible (x(0) = mean): it stays at the mean
    let mut ou0 = OUProcessInput::new(2, -3.0, 0.0, 5.0, 100.0, 0).unwrap();
    assert_eq!(ou0.generate(50, 0.1).unwrap(), vec![-3.0; 100]);
    assert!(matches!(OUProcessInput::new(1, 0.0, 1.0, 0.0, 1.0, 0), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(OUProcessInput::new(1, 0.0, -1.0, 1.0, 1.0, 0), Err(SomataError::InvalidParameter { .. })));
}

fn count_stats(n: u64, p: f64, draws: usize, seed: u64) -> (f64, f64) {
    let mut rng = Rng::new(seed);
    let c: Vec<f64> = (0..draws).map(|_| poisson_count(n, p, &mut rng).unwrap()).collect();
    assert!(c.iter().all(|v| *v >= 0.0 && v.fract() == 0.0), "counts are non-negative integers");
    mean_var(&c)
}

#[test]
fn poisson_count_binomial_and_gaussian_branches() {
    let draws = 200_000;
    // (N, p): binomial branch (N·p <= 5 or N·(1 − p) <= 5) and normal branch
    for (n, p, branch) in
        [(20u64, 0.1, "binomial"), (20, 0.9, "binomial (mirrored)"), (1_000_000, 2e-6, "binomial, large N"), (1000, 0.3, "normal")]
    {
        let (m, v) = count_stats(n, p, draws, n ^ 77);
        let (mu, var) = (n as f64 * p, n as f64 * p * (1.0 - p));
        // the normal branch rounds: variance + 1/12
        let var = if branch == "normal" { var + 1.0 / 12.0 } else { var };
        assert!((m - mu).abs() < 5.0 * (var / draws as f64).sqrt(), "{branch}: mean {m}, want {mu}");
        assert!((v - var).abs() < 0.03 * var, "{branch}: variance {v}, want {var}");
    }
    // binomial counts never exceed N
    let mut rng = Rng::new(1);
    assert!((0..10_000).all(|_| poisson_count(8, 0.5, &mut rng).unwrap() <= 8.0));
    assert_eq!(poisson_count(50, 0.0, &mut rng).unwrap(), 0.0);
    assert_eq!(poisson_count(50, 1.0, &mut rng).unwrap(), 50.0);
    assert!(matches!(poisson_count(10, 1.5, &mut rng), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(poisson_count(10, -0.1, &mut rng), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(poisson_count(10, f64::NAN, &mut rng), Err(SomataError::InvalidParameter { .. })));
}

#[test]
fn poisson_input_target_indices_and_refractory() {
    let mut rng = Rng::new(4);
    // 1000 inputs at 10 Hz, dt = 1 ms: p = 1 − e^{−0.01}, N·p = 9.95 (normal branch)
    let p = 1.0 - (-0.01f64).exp();
    let mut v = vec![0.0f32; 20_000];
    poisson_input(10.0, 1000, 0.5, 1.0, &mut v, None, None, &mut rng).unwrap();
    let counts: Vec<f64> = v.iter().map(|x| *x as f64 / 0.5).collect();
    assert!(counts.iter().all(|c| c.fract() == 0.0 && *c >= 0.0));
    let (m, var) = mean_var(&counts);
    assert!((m - 1000.0 * p).abs() < 5.0 * (1000.0 * p / 20_000.0f64).sqrt(), "mean count {m}");
    assert!((var - (1000.0 * p * (1.0 - p) + 1.0 / 12.0)).abs() < 0.6, "count variance {var}");

    // indices and a refractory mask: only index 1 and 3 are driven; 3 is refractory (kept)
    let mut v = vec![1.0f32; 5];
    let refractory = [false, false, false, true, false];
    poisson_input(1e6, 10, 2.0, 1.0, &mut v, Some(&[1, 3]), Some(&refractory), &mut rng).unwrap(); // p = 1: count 10
    assert_eq!(v, [1.0, 21.0, 1.0, 1.0, 1.0]);
    // a repeated index gets a count per occurrence
    let mut v = vec![0.0f32; 2];
    poisson_input(1e6, 3, 1.0, 1.0, &mut v, Some(&[0, 0]), None, &mut rng).unwrap();
    assert_eq!(v, [6.0, 0.0]);

    assert!(matches!(poisson_input(-1.0, 10, 1.0, 1.0, &mut v, None, None, &mut rng), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(poisson_input(1.0, 10, f64::NAN, 1.0, &mut v, None, None, &mut rng), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(poisson_input(1.0, 10, 1.0, 1.0, &mut v, Some(&[2]), None, &mut rng), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(poisson_input(1.0, 10, 1.0, 1.0, &mut v, None, Some(&[true]), &mut rng), Err(SomataError::ShapeMismatch { .. })));
    assert!(matches!(poisson_input(1.0, 10, 1.0, 0.0, &mut v, None, None, &mut rng), Err(SomataError::InvalidDt(_))));
}

#[test]
fn poisson_input_generator() {
    // 4 inputs at 50 Hz, dt = 1 ms: N·p ≈ 0.2 (binomial branch), weight 0.1
    let p = 1.0 - (-0.05f64).exp();
    let mut g = PoissonInput::new(1000, 50.0, 4, 0.1, 2).unwrap();
    let x = g.generate(100, 1.0).unwrap();
    let total: f64 = x.iter().map(|v| (*v as f64 / 0.1).round()).sum();
    let trials = 100.0 * 1000.0 * 4.0;
    assert!((total - trials * p).abs() < 5.0 * (trials * p * (1.0 - p)).sqrt(), "{total} input spikes, want {}", trials * p);
    // indices: other elements stay 0 in fill, and add_into keeps refractory elements
    let mut g = PoissonInput::new(3, 1e6, 2, 1.5, 0).unwrap().indices(vec![0, 2]).unwrap();
    let mut out = [9.0f32; 3];
    g.fill(0, 0.1, &mut out).unwrap();
    assert_eq!(out, [3.0, 0.0, 3.0]);
    g.add_into(0.1, &mut out, Some(&[true, false, false])).unwrap();
    assert_eq!(out, [3.0, 0.0, 6.0]);
    assert!(matches!(PoissonInput::new(3, 1.0, 2, 1.0, 0).unwrap().indices(vec![3]), Err(SomataError::InvalidParameter { .. })));
    assert!(matches!(PoissonInput::new(3, f64::NAN, 2, 1.0, 0), Err(SomataError::InvalidParameter { .. })));
}

#[test]
fn generators_as_trait_objects_with_the_clock() {
    let mut gens: Vec<Box<dyn InputGen>> = vec![
        Box::new(SectionInput::new(2, &[1.0], &[1.0]).unwrap()),
        Box::new(ConstantInput::new(2, 1.0, 1.0).unwrap()),
        Box::new(StepInput::new(2, &[1.0], &[0.0]).unwrap()),
        Box::new(RampInput::new(2, 0.0, 1.0, 1.0, 0.0).unwrap()),
        Box::new(SinusoidalInput::new(2, 1.0, 1.0, 1.0, 0.0).unwrap()),
        Box::new(WienerProcessInput::new(2, 1.0, 1.0, 0).unwrap()),
        Box::new(OUProcessInput::new(2, 0.0, 1.0, 1.0, 1.0, 0).unwrap()),
        Box::new(PoissonSpike::new(2, &[1.0], 0).unwrap()),
        Box::new(SpikeTime::new(2, &[0], &[0.0], &[], TimeRounding::Round).unwrap()),
        Box::new(PoissonInput::new(2, 1.0, 1, 1.0, 0).unwrap()),
    ];
    let mut clock = somata::dynamics::Clock::from_ms(0.1).unwrap();
    let mut out = [0.0f32; 2];
    for g in gens.iter_mut() {
        for _ in 0..3 {
            g.fill_at(&clock, &mut out).unwrap();
            assert!(out.iter().all(|v| v.is_finite()), "{}", g.name());
            clock.advance();
        }
        assert!(matches!(g.fill(0, 0.1, &mut [0.0; 3]), Err(SomataError::ShapeMismatch { .. })), "{}", g.name());
        assert!(matches!(g.fill(0, -0.1, &mut out), Err(SomataError::InvalidDt(_))), "{}", g.name());
    }
    assert_eq!(time_ms(35, 0.1), 3.5f32);
}
