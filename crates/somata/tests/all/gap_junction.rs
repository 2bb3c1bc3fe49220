//! Gap junctions (BrainPy's SymmetryGapJunction / AsymmetryGapJunction, spec §5.11).
//!
//! Passive LIF neurons (threshold out of reach): `τ dV/dt = −(V − V_rest) + R·I`. With a
//! symmetric junction of conductance g between a (pre) and b (post), `I_b = g(V_a − V_b)` and
//! `I_a = −g(V_a − V_b)`, so `Δ = V_a − V_b` obeys `τ dΔ/dt = −(1 + 2Rg)Δ`:
//! `Δ(t) = Δ₀·exp(−(1 + 2Rg)t/τ)`, while the mean relaxes to rest at 1/τ. The network computes
//! the currents from the voltages at the start of each step and LIF integrates a constant
//! current exactly (`V ← V + c·(V_rest + R I − V)`, `c = 1 − e^{−dt/τ}`), so per step exactly
//! `Δ ← Δ·(1 − c(1 + 2Rg))` and `M ← M·(1 − c)` (M: mean − rest), which tends to the
//! exponential as dt → 0.

use somata::net::{toml_net, GapJunction, GapKind, Network, PopId, Var};
use somata::prelude::*;
use somata::units::Dim;
use std::path::Path;

const DT: f64 = 0.1; // ms
const TAU: f64 = 10.0; // ms
const R: f64 = 1e8; // 100 MΩ
const REST: f64 = -65.0; // mV

fn c() -> f64 {
    1.0 - (-DT / TAU).exp()
}

fn passive(net: &mut Network, v0: &[f64], name: &str) -> PopId {
    let lif = Lif::builder(v0.len())
        .v_rest(REST * mV)
        .v_reset(REST * mV)
        .v_th(0.0 * mV)
        .tau(TAU * ms)
        .r(R * ohm)
        .init("V", Init::Values(v0.to_vec()))
        .build()
        .unwrap();
    net.add(lif, name).unwrap()
}

fn v_trace(net: &mut Network, p: PopId, steps: usize) -> (Vec<f64>, usize) {
    net.add_monitor("V", p, Var::State("V".into()), None, 1).unwrap();
    net.run(steps).unwrap();
    let (v, n) = net.monitor_data("V").unwrap();
    (v.iter().map(|&x| x as f64).collect(), n)
}

#[test]
fn symmetric_pair_equalises_at_the_expected_rate() {
    let mut net = Network::new(DT * ms).unwrap();
    let p = passive(&mut net, &[-50.0, -70.0], "P");
    let g = 5e-9; // 5 nS: R·g = 0.5, so ΔV decays (1 + 2Rg) = 2 times faster than V
    net.gap_junction(GapJunction::symmetric(p, p, vec![(0, 1)], 5.0 * nS)).unwrap();
    let steps = 200;
    let (v, n) = v_trace(&mut net, p, steps);
    assert_eq!(n, 2);
    let (d0, m0) = (20.0, (-50.0 - 70.0) / 2.0 - REST);
    let fd = 1.0 - c() * (1.0 + 2.0 * R * g);
    for k in 0..steps {
        let (a, b) = (v[2 * k], v[2 * k + 1]);
        let want_d = d0 * fd.powi(k as i32 + 1);
        let want_m = m0 * (1.0 - c()).powi(k as i32 + 1);
        assert!((a - b - want_d).abs() < 2e-4 * d0, "step {k}: ΔV {} vs {want_d}", a - b);
        assert!(((a + b) / 2.0 - REST - want_m).abs() < 2e-4 * m0.abs(), "step {k}: mean");
    }
    // the continuous rate: ΔV(t) = ΔV₀·exp(−(1 + 2Rg)t/τ), to O(dt/τ) = 1%
    let t = steps as f64 * DT;
    let d_end = v[2 * steps - 2] - v[2 * steps - 1];
    let rate = -(d_end / d0).ln() / t;
    let want = (1.0 + 2.0 * R * g) / TAU;
    assert!((rate - want).abs() < 0.01 * want, "rate {rate}/ms vs {want}/ms");
    // (per step the exact factor is 1 − c(1 + 2Rg) = e^{−0.0201007} against e^{−0.02}: 2% after
    // 200 steps)
    assert!((d_end - d0 * (-want * t).exp()).abs() < 0.03 * d0 * (-want * t).exp());
    // control: without the junction ΔV decays at 1/τ only
    let mut net = Network::new(DT * ms).unwrap();
    let p = passive(&mut net, &[-50.0, -70.0], "P");
    let (v, _) = v_trace(&mut net, p, steps);
    let rate0 = -((v[2 * steps - 2] - v[2 * steps - 1]) / d0).ln() / t;
    assert!((rate0 - 1.0 / TAU).abs() < 0.01 / TAU, "{rate0}");
}

#[test]
fn asymmetric_weights() {
    // (2,): the post neuron b receives g1·(V_a − V_b), the pre neuron a −g2·(V_a − V_b), so
    // τ dΔ/dt = −(1 + R(g1 + g2))Δ and g1·(V_a − rest) + g2·(V_b − rest) relaxes at 1/τ
    let (g1, g2) = (5e-9, 2e-9);
    let mut net = Network::new(DT * ms).unwrap();
    let p = passive(&mut net, &[-50.0, -70.0], "P");
    net.gap_junction(GapJunction::asymmetric(p, p, vec![(0, 1)], 5.0 * nS, 2.0 * nS)).unwrap();
    let (v, _) = v_trace(&mut net, p, 100);
    // the first step by hand, from the voltages at the start of the step
    let (a0, b0) = (-50.0, -70.0);
    let a1 = a0 + c() * (REST - a0 - R * g2 * (a0 - b0));
    let b1 = b0 + c() * (REST - b0 + R * g1 * (a0 - b0));
    assert!((v[0] - a1).abs() < 1e-4 && (v[1] - b1).abs() < 1e-4, "{:?} vs {a1} {b1}", &v[..2]);
    let fd = 1.0 - c() * (1.0 + R * (g1 + g2));
    let w0 = g1 * (a0 - REST) + g2 * (b0 - REST);
    for k in 0..100 {
        let (a, b) = (v[2 * k], v[2 * k + 1]);
        assert!((a - b - 20.0 * fd.powi(k as i32 + 1)).abs() < 4e-3, "step {k}");
        let w = g1 * (a - REST) + g2 * (b - REST);
        assert!((w - w0 * (1.0 - c()).powi(k as i32 + 1)).abs() < 2e-4 * w0.abs(), "step {k}");
    }

    // (n, 2): two pairs with their own weights in one population
    let mut net = Network::new(DT * ms).unwrap();
    let p = passive(&mut net, &[-50.0, -70.0, -60.0, -66.0], "P");
    net.gap_junction(GapJunction::asymmetric_per_pair(p, p, vec![(0, 1), (2, 3)], &[(5.0 * nS, 2.0 * nS), (1.0 * nS, 4.0 * nS)])).unwrap();
    let (v, _) = v_trace(&mut net, p, 50);
    let k = 49;
    for (pair, d0, gs) in [(0, 20.0, 7e-9), (1, 6.0, 5e-9)] {
        let fd = 1.0 - c() * (1.0 + R * gs);
        let d = v[4 * k + 2 * pair] - v[4 * k + 2 * pair + 1];
        assert!((d - d0 * fd.powi(50)).abs() < 2e-4 * d0, "pair {pair}: {d} vs {}", d0 * fd.powi(50));
    }
}

#[test]
fn junctions_sum_and_couple_two_populations() {
    // a chain 0 — 1 — 2: neuron 1 is post of the first junction and pre of the second, so it
    // receives g(V0 − V1) − g(V1 − V2) in the first step
    let mut net = Network::new(DT * ms).unwrap();
    let v0 = [-50.0, -60.0, -75.0];
    let p = passive(&mut net, &v0, "P");
    net.gap_junction(GapJunction::symmetric(p, p, vec![(0, 1), (1, 2)], 2.0 * nS)).unwrap();
    let (v, _) = v_trace(&mut net, p, 1);
    let g = 2e-9;
    let i = [-g * (v0[0] - v0[1]), g * (v0[0] - v0[1]) - g * (v0[1] - v0[2]), g * (v0[1] - v0[2])];
    for k in 0..3 {
        let want = v0[k] + c() * (REST - v0[k] + R * i[k]);
        assert!((v[k] - want).abs() < 1e-4, "neuron {k}: {} vs {want}", v[k]);
    }
    // two populations, one-to-one, one conductance per pair
    let mut net = Network::new(DT * ms).unwrap();
    let a = passive(&mut net, &[-50.0, -55.0], "A");
    let b = passive(&mut net, &[-70.0, -75.0], "B");
    net.gap_junction(GapJunction::symmetric_per_pair(a, b, vec![(0, 0), (1, 1)], &[5.0 * nS, 10.0 * nS])).unwrap();
    net.add_monitor("A", a, Var::State("V".into()), None, 1).unwrap();
    net.add_monitor("B", b, Var::State("V".into()), None, 1).unwrap();
    net.run(30).unwrap();
    let (va, vb) = (net.monitor_data("A").unwrap().0, net.monitor_data("B").unwrap().0);
    for (j, g) in [(0, 5e-9), (1, 10e-9)] {
        let d = (va[2 * 29 + j] - vb[2 * 29 + j]) as f64;
        let want = 20.0 * (1.0 - c() * (1.0 + 2.0 * R * g)).powi(30);
        assert!((d - want).abs() < 2e-4 * 20.0, "pair {j}: {d} vs {want}");
    }
}

#[test]
fn conductance_times_voltage_is_the_models_current() {
    // HH reads raw numbers in µA; in a network the drive is canonical (mA) for every model, and
    // g·ΔV with g = 0.1 mS and ΔV = 20 mV is 2 µA: the same first step as that current given
    // as an explicit input
    let hh = |net: &mut Network| {
        let l = somata::neurons::Hh::builder(2).init("V", Init::Values(vec![-50.0, -70.0])).build().unwrap();
        net.add(l, "H").unwrap()
    };
    let step1 = |gj: bool, input: Option<Vec<f32>>| -> Vec<f32> {
        let mut net = Network::new(DT * ms).unwrap();
        let p = hh(&mut net);
        if gj {
            net.gap_junction(GapJunction::symmetric(p, p, vec![(0, 1)], 0.1 * mS)).unwrap();
        }
        if let Some(x) = input {
            net.input(p, somata::net::ExtInput::Constant(x)).unwrap();
        }
        net.run(1).unwrap();
        net.population(p).state("V").unwrap().to_vec()
    };
    let i = (2.0 * uA).canonical() as f32;
    let with_gj = step1(true, None);
    let with_input = step1(false, Some(vec![-i, i]));
    let free = step1(false, None);
    for k in 0..2 {
        assert!((with_gj[k] - with_input[k]).abs() < 1e-5, "junction {with_gj:?} vs explicit input {with_input:?}");
        // 2 µA into 1 µF for 0.1 ms moves V by at most 0.2 mV (less where the open channels
        // pull back: exponential Euler's Jacobian includes them)
        let moved = (with_gj[k] - free[k]).abs();
        assert!((0.12..0.205).contains(&moved), "junction {with_gj:?} vs uncoupled {free:?}");
    }
}

#[test]
fn gap_junction_errors() {
    let mut net = Network::new(DT * ms).unwrap();
    let p = passive(&mut net, &[-50.0, -70.0], "P");
    let q = net.add(LifRef::builder(3).build().unwrap(), "Q").unwrap();
    // index out of range, on either side
    for pairs in [vec![(0, 1), (2, 0)], vec![(0, 3)]] {
        let e = net.gap_junction(GapJunction::symmetric(p, q, pairs, 1.0 * nS)).unwrap_err();
        assert!(matches!(e, SomataError::ShapeMismatch { .. }), "{e}");
    }
    // a weight of the wrong dimension: a conductance coupling last_spike_time (ms) would give
    // S·ms, not a current; a voltage coupling V would give mV²
    let e = net.gap_junction(GapJunction::symmetric(q, q, vec![(0, 1)], 1.0 * nS).state("last_spike_time")).unwrap_err();
    assert!(matches!(e, SomataError::DimensionMismatch { .. }), "{e}");
    let e = net.gap_junction(GapJunction::new(GapKind::Symmetric, p, p, vec![(0, 1)], vec![1.0], Dim::VOLTAGE)).unwrap_err();
    assert!(matches!(e, SomataError::DimensionMismatch { ref expected, .. } if expected.contains("conductance")), "{e}");
    // the right dimension for another state is accepted: mA per ms on last_spike_time
    let per_ms = Dim([-1, 0, 1, 0]);
    net.gap_junction(GapJunction::new(GapKind::Symmetric, q, q, vec![(0, 1)], vec![0.0], per_ms).state("last_spike_time")).unwrap();
    // unknown state
    let e = net.gap_junction(GapJunction::symmetric(p, p, vec![(0, 1)], 1.0 * nS).state("w")).unwrap_err();
    assert!(matches!(e, SomataError::UnknownState { .. }), "{e}");
    // weight counts: symmetric 1 or n; asymmetric 2 or 2n
    let e = net.gap_junction(GapJunction::symmetric_per_pair(p, p, vec![(0, 1)], &[1.0 * nS, 2.0 * nS])).unwrap_err();
    assert!(matches!(e, SomataError::ShapeMismatch { .. }), "{e}");
    let e =
        net.gap_junction(GapJunction::new(GapKind::Asymmetric, p, p, vec![(0, 1), (1, 0)], vec![1e-9; 3], Dim::CONDUCTANCE)).unwrap_err();
    assert!(matches!(e, SomataError::ShapeMismatch { .. }), "{e}");
    let e = net.gap_junction(GapJunction::symmetric(p, p, vec![(0, 1)], f64::NAN * nS)).unwrap_err();
    assert!(e.to_string().contains("finite"), "{e}");
    let e = net.gap_junction(GapJunction::symmetric(PopId(7), p, vec![], 1.0 * nS)).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
}

const TOML_HEAD: &str = r#"
dt = "0.1 ms"
steps = 40

[[population]]
name = "P"
model = "LIF"
size = 4
params = { V_rest = "-65 mV", V_reset = "-65 mV", V_th = "0 mV", tau = "10 ms", R = "100 Mohm" }
init.V = { unit = "mV", values = [-50, -70, -60, -66] }

[[monitor]]
name = "V"
population = "P"
var = "V"
"#;

fn toml_v(gap: &str) -> Result<Vec<f32>> {
    let mut f = toml_net::parse(&format!("{TOML_HEAD}\n[[gap_junction]]\n{gap}\n"), Path::new("."), "gj")?;
    f.net.run(f.steps)?;
    Ok(f.net.monitor_data("V")?.0.to_vec())
}

fn rust_v(gj: impl FnOnce(PopId) -> GapJunction) -> Vec<f32> {
    let mut net = Network::new(DT * ms).unwrap();
    let p = passive(&mut net, &[-50.0, -70.0, -60.0, -66.0], "P");
    net.gap_junction(gj(p)).unwrap();
    let (v, _) = v_trace(&mut net, p, 40);
    v.iter().map(|&x| x as f32).collect()
}

#[test]
fn toml_round_trip() {
    let v = toml_v("pre = \"P\"\npost = \"P\"\npairs = [[0, 1], [2, 3]]\nweight = \"5 nS\"").unwrap();
    assert_eq!(v, rust_v(|p| GapJunction::symmetric(p, p, vec![(0, 1), (2, 3)], 5.0 * nS)));
    let v = toml_v("pre = \"P\"\npost = \"P\"\npairs = [[0, 1], [2, 3]]\nweight = { unit = \"nS\", values = [5, 1] }").unwrap();
    assert_eq!(v, rust_v(|p| GapJunction::symmetric_per_pair(p, p, vec![(0, 1), (2, 3)], &[5.0 * nS, 1.0 * nS])));
    let v =
        toml_v("kind = \"asymmetric\"\npre = \"P\"\npost = \"P\"\nstate = \"V\"\npairs = [[0, 1], [2, 3]]\nweight = [\"5 nS\", \"2 nS\"]")
            .unwrap();
    assert_eq!(v, rust_v(|p| GapJunction::asymmetric(p, p, vec![(0, 1), (2, 3)], 5.0 * nS, 2.0 * nS)));
    let v = toml_v(
        "kind = \"asymmetric\"\npre = \"P\"\npost = \"P\"\npairs = [[0, 1], [2, 3]]\nweight = [[\"5 nS\", \"2 nS\"], [\"1 nS\", \"4 nS\"]]",
    )
    .unwrap();
    assert_eq!(v, rust_v(|p| GapJunction::asymmetric_per_pair(p, p, vec![(0, 1), (2, 3)], &[(5.0 * nS, 2.0 * nS), (1.0 * nS, 4.0 * nS)])));
    let v = toml_v("pre = \"P\"\npost = \"P\"\npairs = \"one_to_one\"\nweight = \"5 nS\"").unwrap();
    assert_eq!(v, rust_v(|p| GapJunction::symmetric(p, p, (0..4).map(|i| (i, i)).collect(), 5.0 * nS)));
    // a self-junction has no effect
    assert_eq!(v, toml_v("pre = \"P\"\npost = \"P\"\npairs = [[0, 0]]\nweight = \"0 nS\"").unwrap());
}

#[test]
fn toml_errors() {
    let e = toml_v("pre = \"P\"\npost = \"P\"\npairs = [[0, 1]]\nweight = \"5 mV\"").unwrap_err();
    assert!(matches!(e, SomataError::DimensionMismatch { ref what, .. } if what.contains("weight")), "{e}");
    let e = toml_v("pre = \"P\"\npost = \"P\"\npairs = [[0, 4]]\nweight = \"5 nS\"").unwrap_err();
    assert!(matches!(e, SomataError::ShapeMismatch { .. }), "{e}");
    let e = toml_v("pre = \"P\"\npost = \"P\"\npairs = [[0, -1]]\nweight = \"5 nS\"").unwrap_err();
    assert!(e.to_string().contains("pairs"), "{e}");
    let e = toml_v("kind = \"asymmetric\"\npre = \"P\"\npost = \"P\"\npairs = [[0, 1]]\nweight = \"5 nS\"").unwrap_err();
    assert!(matches!(e, SomataError::ShapeMismatch { .. }), "{e}");
    let e = toml_v("kind = \"sym\"\npre = \"P\"\npost = \"P\"\npairs = [[0, 1]]\nweight = \"5 nS\"").unwrap_err();
    assert!(e.to_string().contains("unknown kind"), "{e}");
    let e = toml_v("pre = \"P\"\npost = \"P\"\npairs = [[0, 1]]\nweight = \"5 nS\"\nconductance = 1").unwrap_err();
    assert!(e.to_string().contains("unknown key"), "{e}");
}
