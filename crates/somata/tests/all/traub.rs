//! `TraubHh` (the neuron of Brette et al. 2007 benchmark 3) against an independent reference,
//! and the COBA-HH network built from Rust and from its network file.
//!
//! The reference integrates the same equations, written out here from the paper (not from the
//! model's code), by classical RK4 in f64 with dt = 0.001 ms; spike times are the rising
//! crossings of −20 mV, linearly interpolated. The model is exponential Euler in f32 (a layer
//! step at dt 0.01 ms or 0.1 ms); its spike time is the end of the step in which V crosses.

use somata::dynamics::{Cond, NeuronModel, SpikeReset, Step, MAX_HOIST, MAX_PARAMS};
use somata::engine::LayerBuilder;
use somata::net::models::{coba_hh, EiConfig};
use somata::prelude::*;
use somata::surrogate::Surrogate;

// Brette et al. (2007), benchmark 3, on 20,000 µm²: nF, µS, mV, ms, nA (nA/nF = mV/ms)
const C_NF: f64 = 0.2;
const GL_US: f64 = 0.01;
const GNA_US: f64 = 20.0;
const GK_US: f64 = 6.0;
const EL: f64 = -60.0;
const ENA: f64 = 50.0;
const EK: f64 = -90.0;
const VT: f64 = -63.0;

/// `x/(eˣ − 1)`, 1 at 0.
fn xe(x: f64) -> f64 {
    if x.abs() < 1e-9 {
        1.0 - x / 2.0
    } else {
        x / (x.exp() - 1.0)
    }
}

fn rates(v: f64) -> [f64; 6] {
    let am = 0.32 * 4.0 * xe((13.0 - v + VT) / 4.0);
    let bm = 0.28 * 5.0 * xe((v - VT - 40.0) / 5.0);
    let ah = 0.128 * ((17.0 - v + VT) / 18.0).exp();
    let bh = 4.0 / (1.0 + (-(v - VT - 40.0) / 5.0).exp());
    let an = 0.032 * 5.0 * xe((15.0 - v + VT) / 5.0);
    let bn = 0.5 * ((10.0 - v + VT) / 40.0).exp();
    [am, bm, ah, bh, an, bn]
}

/// d/dt of (V, m, h, n) under a drive `i(t, V)` in nA.
fn rhs(t: f64, y: [f64; 4], drive: &dyn Fn(f64, f64) -> f64) -> [f64; 4] {
    let [v, m, h, n] = y;
    let [am, bm, ah, bh, an, bn] = rates(v);
    let i_ion = GL_US * (EL - v) + GNA_US * m * m * m * h * (ENA - v) + GK_US * n.powi(4) * (EK - v);
    [(i_ion + drive(t, v)) / C_NF, am * (1.0 - m) - bm * m, ah * (1.0 - h) - bh * h, an * (1.0 - n) - bn * n]
}

/// Steady-state gates at `v`.
fn rest(v: f64) -> [f64; 4] {
    let r = rates(v);
    [v, r[0] / (r[0] + r[1]), r[2] / (r[2] + r[3]), r[4] / (r[4] + r[5])]
}

/// RK4 at dt = 0.001 ms from `y0` for `t_end` ms: spike times (rising crossings of −20 mV).
fn reference(y0: [f64; 4], t_end: f64, drive: &dyn Fn(f64, f64) -> f64) -> Vec<f64> {
    let dt = 0.001;
    let steps = (t_end / dt).round() as usize;
    let (mut y, mut spikes) = (y0, Vec::new());
    for k in 0..steps {
        let t = k as f64 * dt;
        let add = |a: [f64; 4], b: [f64; 4], s: f64| std::array::from_fn::<f64, 4, _>(|j| a[j] + s * b[j]);
        let k1 = rhs(t, y, drive);
        let k2 = rhs(t + dt / 2.0, add(y, k1, dt / 2.0), drive);
        let k3 = rhs(t + dt / 2.0, add(y, k2, dt / 2.0), drive);
        let k4 = rhs(t + dt, add(y, k3, dt), drive);
        let y1: [f64; 4] = std::array::from_fn(|j| y[j] + dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]));
        if y[0] < -20.0 && y1[0] >= -20.0 {
            spikes.push(t + dt * (-20.0 - y[0]) / (y1[0] - y[0]));
        }
        y = y1;
    }
    spikes
}

/// Spike times of a one-neuron f32 layer (V₀ = −65 mV, gates at steady state: the model's
/// default) under the current `i(t)` (nA), at `dt`: the end of each step that spiked.
fn layer_spikes(dt: f64, t_end: f64, i: &dyn Fn(f64) -> f64) -> Vec<f64> {
    let mut n = TraubHh::builder(1).build().unwrap();
    n.init_state(None).unwrap();
    let mut clock = Clock::new(dt * ms).unwrap();
    let mut out = Vec::new();
    for k in 0..(t_end / dt).round() as usize {
        let t = k as f64 * dt;
        if n.update_q(&clock, i(t) * nA).unwrap()[[0]] > 0.0 {
            out.push(t + dt);
        }
        clock.advance();
    }
    out
}

/// Exponential Euler is first order: its spike times drift from the exact ones by a phase
/// error that grows with the time spent firing and with dt. The check: the same spikes, each
/// within `0.05 ms + 2.5·dt·(t − onset)/ms` of the reference (measured: up to 1.2·dt per ms at
/// dt = 0.001 ms and 1.7·dt per ms at 0.01 ms; the period comes out 0.15% and 1.1% long);
/// returns the worst error.
fn assert_spikes_agree(what: &str, got: &[f64], want: &[f64], dt: f64, onset: f64) -> f64 {
    assert!(want.len() >= 5, "{what}: the reference fires only {} spikes", want.len());
    assert_eq!(got.len(), want.len(), "{what}: spike counts\n got {got:?}\nwant {want:?}");
    let mut worst = 0.0f64;
    for (a, b) in got.iter().zip(want) {
        let tol = 0.05 + 2.5 * dt * (b - onset);
        assert!((a - b).abs() <= tol, "{what}: spike at {a} ms vs {b} ms (tolerance {tol} ms)\n got {got:?}\nwant {want:?}");
        worst = worst.max((a - b).abs());
    }
    eprintln!("{what}: {} spikes, worst spike-time error {worst:.4} ms", got.len());
    worst
}

/// A current step: 0 until 10 ms, 0.5 nA until 110 ms, 0 until 150 ms, from the model's
/// default initial state (V = −65 mV, gates at steady state), as the reference. At dt 0.001 and
/// 0.01 ms every spike agrees (9 spikes; worst errors 0.11 and 1.7 ms, at the last spike), the
/// error shrinks in proportion to dt (first order), and at the networks' dt of 0.1 ms the rate
/// is within 15% (measured: the period is 9.4% long, 8 spikes instead of 9).
#[test]
fn current_step_spike_times_match_rk4_reference() {
    let step = |t: f64| if (10.0..110.0).contains(&t) { 0.5 } else { 0.0 };
    let mut worst = Vec::new();
    for dt in [0.001, 0.01, 0.1] {
        // the reference sees the step as the layer does: constant over each layer step
        let i_ref = move |t: f64, _v: f64| step((t / dt + 1e-9).floor() * dt);
        let want = reference(rest(-65.0), 150.0, &i_ref);
        assert!(want.iter().all(|&t| (10.0..115.0).contains(&t)), "{want:?}");
        let got = layer_spikes(dt, 150.0, &step);
        if dt < 0.05 {
            worst.push(assert_spikes_agree(&format!("current step, dt {dt} ms"), &got, &want, dt, 10.0));
        } else {
            let isi = |s: &[f64]| (s[s.len() - 1] - s[0]) / (s.len() - 1) as f64;
            let rel = isi(&got) / isi(&want) - 1.0;
            eprintln!("current step, dt {dt} ms: {} vs {} spikes, period {rel:+.3} relative", got.len(), want.len());
            assert!(rel.abs() < 0.15 && (got[0] - want[0]).abs() < 1.0, "{got:?} vs {want:?}");
        }
    }
    // first order: ten times the step, about ten times the error
    let ratio = worst[1] / worst[0];
    assert!((5.0..20.0).contains(&ratio), "{worst:?}");
}

/// A constant conductance drive `g_e(0 − V) + g_i(−80 − V)` (10 nS excitatory, 2 nS
/// inhibitory) through `step_drive`: in f64 directly on the model (exact rates), and through an
/// f32 layer's network step (`NeuronLayer::step_drive`, the path `somata::net` takes: 150
/// neurons, vector kernel and gate tables where the CPU has AVX-512).
#[test]
fn conductance_drive_matches_rk4_reference() {
    let (ge_ns, gi_ns) = (10.0, 2.0);
    // nS·mV = pA: ×1e-3 for nA
    let drive = move |_t: f64, v: f64| 1e-3 * (ge_ns * (0.0 - v) + gi_ns * (-80.0 - v));
    let want = reference(rest(-65.0), 100.0, &drive);
    // canonical: S and mA (S·mV = mA)
    let (g_s, i_ma) = ((ge_ns + gi_ns) * 1e-9, (ge_ns * 0.0 + gi_ns * -80.0) * 1e-9);
    for dt in [0.001, 0.01] {
        // (1) the model's step_drive in f64
        let p: [f64; MAX_PARAMS] = std::array::from_fn(|k| TraubHh::PARAMS.get(k).map_or(0.0, |s| s.default));
        let mut h = [0.0f64; MAX_HOIST];
        TraubHh.hoist(&p, dt, &mut h);
        let sg = Surrogate::default();
        let mut s = rest(-65.0);
        let mut got = Vec::new();
        for k in 0..(100.0 / dt).round() as usize {
            let c = Step { p: &p, h: &h, dt, t: k as f64 * dt, reset: SpikeReset::Soft, sg: &sg, table: None };
            if TraubHh.step_drive(&c, &mut s, Cond { i: i_ma, g: g_s }) > 0.0 {
                got.push((k + 1) as f64 * dt);
            }
        }
        assert_spikes_agree(&format!("conductance drive, f64 step_drive, dt {dt} ms"), &got, &want, dt, 0.0);

        // (2) a layer's network step in f32, 150 identical neurons
        let n = 150;
        let mut layer = LayerBuilder::<TraubHh, f32>::new(TraubHh, n).build().unwrap();
        layer.init_state(None).unwrap();
        let mut clock = Clock::new(dt * ms).unwrap();
        let prep = layer.prepare_steps(&clock).unwrap();
        let (iv, gv, mut spk) = (vec![i_ma as f32; n], vec![g_s as f32; n], vec![0.0f32; n]);
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); n];
        for k in 0..(100.0 / dt).round() as usize {
            layer.step_drive(&prep, &clock, &iv, Some(&gv), &mut spk).unwrap();
            for (j, &x) in spk.iter().enumerate() {
                if x > 0.0 {
                    times[j].push((k + 1) as f64 * dt);
                }
            }
            clock.advance();
        }
        assert!(times.iter().all(|t| *t == times[0]), "identical neurons spike identically");
        assert_spikes_agree(&format!("conductance drive, f32 layer step_drive, dt {dt} ms"), &times[0], &want, dt, 0.0);
    }
}

/// The drive enters exponential Euler's Jacobian: under a large conductance (5 µS, E = −80 mV:
/// the membrane time constant drops to 0.04 ms) steps of 0.1 ms stay on the reference's
/// relaxation, where the same drive evaluated as a current at the old V (explicit in the
/// conductance: dt/τ = 2.5) oscillates away from it.
#[test]
fn large_conductance_is_integrated_stably() {
    let (g_us, e) = (5.0, -80.0);
    let p: [f64; MAX_PARAMS] = std::array::from_fn(|k| TraubHh::PARAMS.get(k).map_or(0.0, |s| s.default));
    let dt = 0.1;
    let mut h = [0.0f64; MAX_HOIST];
    TraubHh.hoist(&p, dt, &mut h);
    let sg = Surrogate::default();
    let (mut inside, mut outside, mut y) = (rest(-50.0), rest(-50.0), rest(-50.0));
    let drive = move |_t: f64, v: f64| g_us * (e - v); // µS·mV = nA
    let (g_s, mut worst_in, mut worst_out) = (g_us * 1e-6, 0.0f64, 0.0f64);
    for k in 0..10 {
        let c = Step { p: &p, h: &h, dt, t: k as f64 * dt, reset: SpikeReset::Soft, sg: &sg, table: None };
        TraubHh.step_drive(&c, &mut inside, Cond { i: g_s * e, g: g_s });
        let v0 = outside[0];
        TraubHh.step(&c, &mut outside, g_s * (e - v0));
        // the reference over the same 0.1 ms: RK2 at 0.001 ms (dt/τ = 0.025)
        for _ in 0..100 {
            let r = rhs(0.0, y, &drive);
            let yh: [f64; 4] = std::array::from_fn(|q| y[q] + 0.0005 * r[q]);
            let r2 = rhs(0.0, yh, &drive);
            y = std::array::from_fn(|q| y[q] + 0.001 * r2[q]);
        }
        worst_in = worst_in.max((inside[0] - y[0]).abs());
        worst_out = worst_out.max((outside[0] - y[0]).abs());
    }
    eprintln!("5 µS at dt 0.1 ms: worst |V − V_ref| {worst_in:.4} mV (drive inside), {worst_out:.1} mV (current at the old V)");
    assert!(worst_in < 2.0, "{worst_in}");
    assert!(worst_out > 10.0, "{worst_out}");
}

fn counts(net: &mut somata::net::Network, steps: usize) -> (Vec<u64>, Vec<f64>) {
    let s = net.run(steps).unwrap();
    (s.spikes, s.rates_hz)
}

/// `coba_hh` from Rust and `examples/networks/coba_hh.toml` are the same network: identical
/// spike counts per population (and spike rasters) over 200 ms.
#[test]
fn coba_hh_rust_and_toml_are_identical() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/networks/coba_hh.toml");
    let mut f = somata::net::toml_net::load(&path).unwrap();
    assert_eq!(f.steps, 10_000);
    assert_eq!(f.net.names(), ["E", "I"]);
    let mut rust = coba_hh(&EiConfig::default()).unwrap();
    for p in ["E", "I"] {
        let id = rust.pop_id(p).unwrap();
        rust.monitor_spikes(&format!("{p}_spike"), id, None, 1).unwrap();
    }
    assert_eq!(rust.synapse_stats(), f.net.synapse_stats());
    let (a, ra) = counts(&mut rust, 2000);
    let (b, _) = counts(&mut f.net, 2000);
    assert_eq!(a, b, "spike counts per population, Rust vs TOML");
    assert!(a.iter().all(|&c| c > 0), "{a:?} ({ra:?} Hz)");
    for m in ["E_spike", "I_spike"] {
        assert_eq!(rust.monitor_data(m).unwrap(), f.net.monitor_data(m).unwrap(), "{m}");
    }
}

/// Over 1 s the default network (4000 neurons, seed 42) fires asynchronously at plausible
/// rates: both populations between 15 and 80 Hz (measured: E 41.9 Hz, I 38.2 Hz; unconnected,
/// these neurons fire at 13 Hz on their own), most neurons active (91%), and no
/// population-wide synchrony (the largest 1 ms bin holds 330 spikes of 3200 neurons, 2.3 times
/// the mean, against a bound of 25% of the neurons).
#[test]
fn coba_hh_rates_are_plausible() {
    let mut net = coba_hh(&EiConfig::default()).unwrap();
    net.check_finite(true);
    let e = net.pop_id("E").unwrap();
    net.monitor_spikes("E", e, None, 1).unwrap();
    let s = net.run(10_000).unwrap();
    eprintln!("COBA-HH 1 s: E {:.2} Hz, I {:.2} Hz, {} synaptic events", s.rates_hz[0], s.rates_hz[1], s.synaptic_events);
    for (name, r) in s.names.iter().zip(&s.rates_hz) {
        assert!((15.0..80.0).contains(r), "{name}: {r} Hz");
    }
    let (spk, n) = net.monitor_data("E").unwrap();
    let mut active = vec![false; n];
    let mut worst_bin = 0usize;
    for bin in spk.chunks(10 * n) {
        let mut c = 0;
        for row in bin.chunks(n) {
            for (j, &x) in row.iter().enumerate() {
                if x > 0.0 {
                    active[j] = true;
                    c += 1;
                }
            }
        }
        worst_bin = worst_bin.max(c);
    }
    let frac_active = active.iter().filter(|&&a| a).count() as f64 / n as f64;
    eprintln!("active E neurons: {:.1}%, largest 1 ms bin: {worst_bin} spikes of {n} neurons", 100.0 * frac_active);
    assert!(frac_active > 0.5, "{frac_active}");
    assert!((worst_bin as f64) < 0.25 * n as f64, "{worst_bin}");
}
