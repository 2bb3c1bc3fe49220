//! BPTT through a network of populations and projections ([`SpikingNetwork`]) against central
//! finite differences in f64, for every component type:
//!
//! * a smooth user model (sigmoid spikes in the forward pass, so that the loss is smooth and the
//!   whole chain is checked: spikes → delayed projections → Expon/DualExpon/Alpha/none synapses →
//!   COBA/CUBA outputs → neurons, recurrent and E ⇄ I, dense and sparse, Dale's law, trained
//!   synaptic and membrane time constants, V_th, the input);
//! * built-in models (LIF, LIFRef, ALIF) with a zero surrogate, soft reset and a loss on V (the
//!   exact derivative of the piecewise-smooth trajectory, entries where a spike flips skipped),
//!   every synapse kind and output onto the readout population;
//! * the f32 forward pass against [`somata::net::Network`] (the same semantics);
//! * use as a `Layer` in a `Sequential`, and typed errors.

use somata::dynamics::{phi_dt, Check, InitSpec, NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use somata::engine::LayerBuilder;
use somata::init::Rng;
use somata::net::Output;
use somata::nn::{Dale, NetProj, NetReadout, Source, SpikingNetwork, SynKind};
use somata::prelude::*;
use somata::units::{dim, Dim};

/// A LIF whose spike is a smooth sigmoid of V (forward too), written as a user would.
#[derive(Debug, Clone, Copy, Default)]
struct SmoothLif;

impl NeuronModel for SmoothLif {
    const NAME: &'static str = "SmoothLif";
    const PARAMS: &'static [ParamSpec] = &[
        ParamSpec::new("tau", Dim::TIME, 8.0, Check::Positive),
        ParamSpec::new("V_th", Dim::VOLTAGE, 1.0, Check::Finite),
        ParamSpec::new("k", Dim::ONE, 6.0, Check::Positive),
    ];
    const STATES: &'static [StateSpec] = &[StateSpec::new("V", Dim::VOLTAGE, "mV", InitSpec::Constant(0.2), Some("V_initializer"))];
    type Input = dim::I;
    const INPUT_UNIT: &'static str = "mA";
    const N_HOIST: usize = 1;
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        h[0] = phi_dt(dt, S::lit(-1.0) / p[0]);
    }
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        let (tau, v_th, k) = (c.p[0], c.p[1], c.p[2]);
        // the logistic function σ(k·(v − V_th)) as ½(1 + tanh(k·(v − V_th)/2)): no overflow
        // of e^x in f32 far below threshold
        let soft = |v: S| S::lit(0.5) * (S::lit(1.0) + (S::lit(0.5) * k * (v - v_th)).tanh());
        let v = s[0] - v_th * soft(s[0]);
        let v = c.ee(v, |v| (-v + x) / tau);
        s[0] = v;
        soft(v)
    }
}

const B: usize = 2;
const DT: f64 = 0.5;

fn rand_vec(rng: &mut Rng, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len).map(|_| lo + (hi - lo) * rng.uniform()).collect()
}

/// `L = Σ c·y` and the outputs.
fn loss(net: &mut SpikingNetwork<f64>, x: &[f64], steps: usize, c: &[f64]) -> (f64, Vec<f64>) {
    let y = net.forward_seq(x, steps, B, DT).unwrap();
    (y.iter().zip(c).map(|(a, b)| a * b).sum(), y)
}

/// How many entries were compared, and the worst relative error among them (entries with
/// `|fd| > 1e-4`; smaller ones are held to the absolute tolerance).
struct Fd {
    checked: usize,
    worst: f64,
}

/// Compare every parameter tensor (up to `per` entries each) and `n_x` input entries of the
/// network built by `build` with central differences (step `h`); entries where `skip(y+, y−)`
/// holds are skipped. Asserts `|g − fd| ≤ abs + rel·|fd|`.
#[allow(clippy::too_many_arguments)]
fn check_fd(
    build: &dyn Fn() -> SpikingNetwork<f64>,
    x: &[f64],
    steps: usize,
    per: usize,
    n_x: usize,
    (h, abs, rel): (f64, f64, f64),
    skip: &dyn Fn(&[f64], &[f64]) -> bool,
    seed: u64,
) -> (Fd, Vec<(String, usize)>) {
    let mut rng = Rng::new(seed);
    let mut net = build();
    let y = net.forward_seq(x, steps, B, DT).unwrap();
    let c = rand_vec(&mut rng, y.len(), -1.0, 1.0);
    net.zero_grad();
    let gx = net.backward_seq(&c).unwrap();
    let grads: Vec<(String, Vec<f64>, Vec<f64>)> =
        net.params_t().iter().map(|p| (p.name.to_string(), p.value.to_vec(), p.grad.to_vec())).collect();
    let mut fd = Fd { checked: 0, worst: 0.0 };
    let mut per_tensor = Vec::new();
    let cmp = |what: &str, got: f64, lp: (f64, Vec<f64>), lm: (f64, Vec<f64>), fd: &mut Fd| -> bool {
        if skip(&lp.1, &lm.1) {
            return false;
        }
        let d = (lp.0 - lm.0) / (2.0 * h);
        assert!((got - d).abs() <= abs + rel * d.abs(), "{what}: bptt {got} vs fd {d}");
        if d.abs() > 1e-4 {
            fd.worst = fd.worst.max((got - d).abs() / d.abs());
        }
        fd.checked += 1;
        true
    };
    for (pi, (name, vals, g)) in grads.iter().enumerate() {
        let mut n = 0;
        let picks: Vec<usize> = if vals.len() <= per {
            (0..vals.len()).collect()
        } else {
            (0..per).map(|_| (rng.uniform() * vals.len() as f64) as usize).collect()
        };
        for k in picks {
            let v = vals[k];
            net.params_t()[pi].value[k] = v + h;
            let lp = loss(&mut net, x, steps, &c);
            net.params_t()[pi].value[k] = v - h;
            let lm = loss(&mut net, x, steps, &c);
            net.params_t()[pi].value[k] = v;
            if cmp(&format!("d/d{name}#{pi}[{k}]"), g[k], lp, lm, &mut fd) {
                n += 1;
            }
        }
        per_tensor.push((format!("{name}#{pi}"), n));
    }
    let mut n = 0;
    for _ in 0..n_x {
        let k = (rng.uniform() * x.len() as f64) as usize;
        let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
        xp[k] += h;
        xm[k] -= h;
        let lp = loss(&mut net, &xp, steps, &c);
        let lm = loss(&mut net, &xm, steps, &c);
        if cmp(&format!("d/dx[{k}]"), gx[k], lp, lm, &mut fd) {
            n += 1;
        }
    }
    per_tensor.push(("x".into(), n));
    (fd, per_tensor)
}

fn smooth(n: usize, tau: f64, v_th: f64) -> NeuronLayer<SmoothLif, f64> {
    LayerBuilder::<SmoothLif, f64>::new(SmoothLif, n).set_raw("tau", tau).set_raw("V_th", v_th).build().unwrap()
}

/// E (smooth, 4) ⇄ I (smooth, 3) with every synapse kind, output, delay, dense and sparse,
/// Dale's law on both, trained time constants, tau and V_th: the whole chain through spikes.
fn smooth_net() -> SpikingNetwork<f64> {
    let mut net = SpikingNetwork::<f64>::new(3);
    let e = net.add_pop(smooth(4, 8.0, 1.0), "E").unwrap();
    let i = net.add_pop(smooth(3, 6.0, 0.8), "I").unwrap();
    net.dale(e, Dale::Excitatory).unwrap();
    net.dale(i, Dale::Inhibitory).unwrap();
    net.train(e, "tau").unwrap();
    net.train(e, "V_th").unwrap();
    net.train(i, "tau").unwrap();
    // input → E: Expon, CUBA, delay 1, tau trained
    net.connect(
        NetProj::new(Source::Input, e, SynKind::Expon { tau: 4.0 }, Output::Cuba { scale: 1.0 })
            .init(1.5, 1)
            .delay_steps(1)
            .train_tau(true),
    )
    .unwrap();
    // E → E: DualExpon (normalised), COBA E = 3, sparse, delay 2, both taus trained
    let de = SynKind::DualExpon { tau_rise: 1.5, tau_decay: 6.0, amplitude: 1.0, normalize: true };
    net.connect(NetProj::new(e, e, de, Output::Coba { e: 3.0 }).prob(0.6, 2).init(0.3, 2).delay_steps(2).train_tau(true)).unwrap();
    // E → I: Alpha, COBA E = 3, dense, tau trained
    net.connect(NetProj::new(e, i, SynKind::Alpha { tau: 3.0 }, Output::Coba { e: 3.0 }).init(0.8, 3).train_tau(true)).unwrap();
    // I → E: Expon, CUBA (Dale: w = −|θ|), tau trained
    net.connect(NetProj::new(i, e, SynKind::Expon { tau: 5.0 }, Output::Cuba { scale: 1.0 }).init(0.6, 4).train_tau(true)).unwrap();
    // I → E: DualExpon unnormalised, COBA E = −1 (Dale: w = |θ|), delay 1
    let de2 = SynKind::DualExpon { tau_rise: 2.0, tau_decay: 4.0, amplitude: 1.3, normalize: false };
    net.connect(NetProj::new(i, e, de2, Output::Coba { e: -1.0 }).init(0.4, 5).delay_steps(1).train_tau(true)).unwrap();
    // I → I: no dynamics (current projection), CUBA, sparse
    net.connect(NetProj::new(i, i, SynKind::None, Output::Cuba { scale: 1.0 }).prob(0.7, 6).init(0.5, 6)).unwrap();
    // input → I: Alpha CUBA
    net.connect(NetProj::new(Source::Input, i, SynKind::Alpha { tau: 2.0 }, Output::Cuba { scale: 2.0 }).init(1.0, 7)).unwrap();
    net.output(e, NetReadout::Spikes).unwrap();
    net
}

#[test]
fn smooth_network_gradients_match_finite_differences_for_every_component() {
    let steps = 30;
    let x = rand_vec(&mut Rng::new(11), steps * B * 3, 0.0, 2.0);
    let (fd, per) = check_fd(&smooth_net, &x, steps, 6, 12, (1e-6, 1e-8, 1e-4), &|_, _| false, 21);
    let names: Vec<&str> = per.iter().map(|(n, _)| n.as_str()).collect();
    // E: tau, V_th; I: tau; then W (and taus) of each projection, and the input
    assert_eq!(
        names,
        [
            "tau#0",
            "V_th#1",
            "tau#2",
            "W#3",
            "tau_syn#4",
            "W#5",
            "tau_rise#6",
            "tau_decay#7",
            "W#8",
            "tau_syn#9",
            "W#10",
            "tau_syn#11",
            "W#12",
            "tau_rise#13",
            "tau_decay#14",
            "W#15",
            "W#16",
            "x"
        ]
    );
    for (n, c) in &per {
        assert!(*c >= 1, "{n}: nothing compared");
    }
    assert!(fd.checked >= 50, "{}", fd.checked);
    println!("smooth network: {} entries, worst relative error {:.2e}", fd.checked, fd.worst);
    assert!(fd.worst < 1e-4);
}

/// Dale's law off: free-sign weights (onto CUBA outputs: a negative conductance would be
/// unstable), and f32 agrees with f64.
#[test]
fn free_sign_weights_and_f32_agree_with_f64() {
    let steps = 25;
    let x = rand_vec(&mut Rng::new(12), steps * B * 3, 0.0, 2.0);
    let build = || {
        let mut net = SpikingNetwork::<f64>::new(3);
        let e = net.add_pop(smooth(4, 8.0, 1.0), "E").unwrap();
        net.connect(NetProj::new(Source::Input, e, SynKind::Expon { tau: 4.0 }, Output::Cuba { scale: 1.0 }).init(1.5, 1)).unwrap();
        net.connect(NetProj::new(e, e, SynKind::Alpha { tau: 3.0 }, Output::Cuba { scale: 1.0 }).init(0.5, 2).train_tau(true)).unwrap();
        net
    };
    let (fd, _) = check_fd(&build, &x, steps, 8, 8, (1e-6, 1e-8, 1e-4), &|_, _| false, 3);
    assert!(fd.checked >= 20);
    let w = build().weights(somata::nn::NetProjId(1)).unwrap();
    assert!(w.iter().any(|&v| v < 0.0) && w.iter().any(|&v| v > 0.0), "free signs");

    // f32 run of the same network: outputs and gradients close to f64
    let mut n64 = build();
    let y64 = n64.forward_seq(&x, steps, B, DT).unwrap();
    n64.backward_seq(&vec![1.0; y64.len()]).unwrap();
    let mut n32 = SpikingNetwork::<f32>::new(3);
    let e = n32.add_pop(LayerBuilder::<SmoothLif, f32>::new(SmoothLif, 4).set_raw("tau", 8.0).build().unwrap(), "E").unwrap();
    n32.connect(NetProj::new(Source::Input, e, SynKind::Expon { tau: 4.0 }, Output::Cuba { scale: 1.0 }).init(1.5, 1)).unwrap();
    n32.connect(NetProj::new(e, e, SynKind::Alpha { tau: 3.0 }, Output::Cuba { scale: 1.0 }).init(0.5, 2).train_tau(true)).unwrap();
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let y32 = n32.forward_seq(&x32, steps, B, DT).unwrap();
    n32.backward_seq(&vec![1.0; y32.len()]).unwrap();
    for (a, b) in y64.iter().zip(&y32) {
        assert!((a - *b as f64).abs() < 1e-4, "{a} vs {b}");
    }
    let g64: Vec<Vec<f64>> = n64.params_t().iter().map(|p| p.grad.to_vec()).collect();
    let g32: Vec<Vec<f32>> = n32.params_t().iter().map(|p| p.grad.to_vec()).collect();
    for (a, b) in g64.iter().flatten().zip(g32.iter().flatten()) {
        assert!((a - *b as f64).abs() <= 1e-3 * a.abs() + 1e-4, "{a} vs {b}");
    }
}

fn zero_sg() -> LeakyRelu {
    LeakyRelu { alpha: 0.0, beta: 0.0 }
}

/// Built-in models, zero surrogate, soft reset: a loss on the readout population's V. Every
/// synapse kind and output lands on the readout population (whose V the loss sees), with a
/// recurrent self-projection, delays, sparse connectivity and Dale's law.
fn builtin_net<M: NeuronModel + Default>(out_params: &[(&str, f64)], train: &[&str]) -> SpikingNetwork<f64> {
    let mut net = SpikingNetwork::<f64>::new(3);
    let lif = LayerBuilder::<Lif, f64>::new(Lif, 5).set_raw("tau", 6.0).spk_fun(zero_sg()).spk_reset(SpikeReset::Soft).build().unwrap();
    let e = net.add_pop(lif, "E").unwrap();
    let lifref = LayerBuilder::<LifRef, f64>::new(LifRef, 3)
        .set_raw("tau", 5.0)
        .set_raw("tau_ref", 1.0)
        .spk_fun(zero_sg())
        .spk_reset(SpikeReset::Soft)
        .build()
        .unwrap();
    let i = net.add_pop(lifref, "I").unwrap();
    let mut b = LayerBuilder::<M, f64>::new(M::default(), 4).spk_fun(zero_sg()).spk_reset(SpikeReset::Soft);
    for (n, v) in out_params {
        b = b.set_raw(n, *v);
    }
    let o = net.add_pop(b.build().unwrap(), "O").unwrap();
    net.dale(e, Dale::Excitatory).unwrap();
    net.dale(i, Dale::Inhibitory).unwrap();
    for name in train {
        net.train(o, name).unwrap();
    }
    net.connect(NetProj::new(Source::Input, e, SynKind::Expon { tau: 3.0 }, Output::Cuba { scale: 1.0 }).init(3.0, 1)).unwrap();
    net.connect(NetProj::new(Source::Input, i, SynKind::None, Output::Cuba { scale: 1.0 }).init(3.0, 2)).unwrap();
    // onto the readout: Expon COBA (sparse, delay 1), DualExpon CUBA (Dale −), Alpha COBA (E,
    // delay 2), DualExpon COBA inhibitory, the input through Alpha CUBA, and O → O recurrent
    net.connect(
        NetProj::new(e, o, SynKind::Expon { tau: 4.0 }, Output::Coba { e: 4.0 }).prob(0.7, 3).init(0.4, 3).delay_steps(1).train_tau(true),
    )
    .unwrap();
    net.connect(NetProj::new(i, o, SynKind::DUAL_EXPON, Output::Cuba { scale: 1.0 }).init(0.5, 4).train_tau(true)).unwrap();
    net.connect(NetProj::new(e, o, SynKind::Alpha { tau: 2.5 }, Output::Coba { e: 4.0 }).init(0.3, 5).delay_steps(2).train_tau(true))
        .unwrap();
    let de = SynKind::DualExpon { tau_rise: 1.0, tau_decay: 3.0, amplitude: 1.0, normalize: true };
    net.connect(NetProj::new(i, o, de, Output::Coba { e: -1.0 }).init(0.3, 6).train_tau(true)).unwrap();
    net.connect(NetProj::new(Source::Input, o, SynKind::Alpha { tau: 3.0 }, Output::Cuba { scale: 1.0 }).init(1.0, 7).train_tau(true))
        .unwrap();
    net.connect(NetProj::new(o, o, SynKind::Expon { tau: 2.0 }, Output::Cuba { scale: 1.0 }).init(0.5, 8).delay_steps(1).train_tau(true))
        .unwrap();
    net.output(o, NetReadout::State("V".into())).unwrap();
    net
}

/// Spike flips show in V under soft reset as jumps of about V_th: skip those entries.
fn jumped(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).any(|(x, y)| (x - y).abs() > 1e-3)
}

fn check_builtin<M: NeuronModel + Default>(out_params: &[(&str, f64)], train: &[&str], seed: u64) -> (usize, f64) {
    let steps = 60;
    let x = rand_vec(&mut Rng::new(seed), steps * B * 3, 0.0, 1.5);
    // the test must spike: every population crosses threshold
    let mut net = builtin_net::<M>(out_params, train);
    net.forward_seq(&x, steps, B, DT).unwrap();
    let build = || builtin_net::<M>(out_params, train);
    let (fd, per) = check_fd(&build, &x, steps, 5, 10, (1e-6, 1e-7, 1e-4), &jumped, seed + 100);
    for (n, c) in &per {
        assert!(*c >= 1, "{}: {n}: nothing compared", M::NAME);
    }
    (fd.checked, fd.worst)
}

#[test]
fn builtin_models_network_gradients_match_finite_differences() {
    let (c, w) = check_builtin::<Lif>(&[("tau", 7.0), ("V_th", 1.0), ("R", 1.2)], &["tau", "V_th", "R"], 1);
    println!("LIF readout: {c} entries, worst relative error {w:.2e}");
    assert!(c >= 40);
    let (c, w) = check_builtin::<LifRef>(&[("tau", 7.0), ("V_th", 1.0), ("tau_ref", 1.0)], &["tau", "V_th", "V_reset"], 2);
    println!("LIFRef readout: {c} entries, worst relative error {w:.2e}");
    assert!(c >= 40);
    let (c, w) = check_builtin::<Alif>(&[("tau", 7.0), ("V_th", 1.0), ("tau_a", 20.0), ("beta", 0.2)], &["tau", "tau_a", "beta"], 3);
    println!("ALIF readout: {c} entries, worst relative error {w:.2e}");
    assert!(c >= 40);
}

/// The built-in test network spikes in every population (so the projections carry signal).
#[test]
fn builtin_test_network_is_active() {
    let steps = 60;
    let x = rand_vec(&mut Rng::new(1), steps * B * 3, 0.0, 1.5);
    let mut net = builtin_net::<Lif>(&[("tau", 7.0), ("V_th", 1.0), ("R", 1.2)], &[]);
    for k in 0..3 {
        net.output(somata::nn::NetPop(k), NetReadout::Spikes).unwrap();
        let s: f64 = net.forward_seq(&x, steps, B, DT).unwrap().iter().sum();
        assert!(s >= 5.0, "population {k}: {s} spikes");
    }
}

/// The f32 forward pass is the simulation of [`somata::net::Network`]: a population driven by
/// a current spikes into a second one through an Expon synapse with a COBA output (and an
/// Alpha CUBA one with a delay); the V traces agree.
#[test]
fn forward_matches_the_simulation_network() {
    use somata::net::{Conn, ExtInput, Network, ProjKind, Projection, Var};
    let (steps, n_pre, n_post) = (400, 6, 4);
    let mut rng = Rng::new(5);
    let drive: Vec<f32> = (0..steps * n_pre).map(|_| (1.0 + rng.uniform() * 4.0) as f32).collect();
    let w1: Vec<f32> = (0..n_pre * n_post).map(|_| (rng.uniform() * 0.3) as f32).collect();
    let w2: Vec<f32> = (0..n_pre * n_post).map(|_| (rng.uniform() * 0.002) as f32).collect();
    let lif = || Lif::builder(n_pre).tau(5.0 * ms).build().unwrap();
    let post = || Lif::builder(n_post).tau(8.0 * ms).v_th(2.0 * mV).build().unwrap();

    let mut sim = Network::new(0.1 * ms).unwrap();
    let a = sim.add(lif(), "A").unwrap();
    let b = sim.add(post(), "B").unwrap();
    sim.input(a, ExtInput::PerStep { data: drive.clone(), steps }).unwrap();
    let mut ex = somata::synapse::by_name("Expon").unwrap();
    ex.set_param("tau", 3.0).unwrap();
    sim.connect(Projection::new(
        a,
        b,
        Conn::dense(n_pre, n_post, w1.clone()).unwrap(),
        ProjKind::AlignPost { syn: ex, out: Output::Coba { e: 5.0 } },
    ))
    .unwrap();
    let mut al = somata::synapse::by_name("Alpha").unwrap();
    al.set_param("tau", 2.0).unwrap();
    sim.connect(
        Projection::new(a, b, Conn::dense(n_pre, n_post, w2.clone()).unwrap(), ProjKind::AlignPost { syn: al, out: Output::CUBA })
            .delay_ms(0.3),
    )
    .unwrap();
    sim.add_monitor("v", b, Var::State("V".into()), None, 1).unwrap();
    sim.add_monitor("s", a, Var::Spike, None, 1).unwrap();
    sim.run(steps).unwrap();
    let v_sim = sim.monitor_data("v").unwrap().0.to_vec();
    let s_sim = sim.monitor_data("s").unwrap().0.to_vec();

    let mut net = SpikingNetwork::<f32>::new(n_pre);
    let a = net.add_pop(lif(), "A").unwrap();
    let b = net.add_pop(post(), "B").unwrap();
    let eye: Vec<f64> = (0..n_pre * n_pre).map(|k| if k / n_pre == k % n_pre { 1.0 } else { 0.0 }).collect();
    net.connect(NetProj::new(Source::Input, a, SynKind::None, Output::Cuba { scale: 1.0 }).weights(eye)).unwrap();
    net.connect(NetProj::new(a, b, SynKind::Expon { tau: 3.0 }, Output::Coba { e: 5.0 }).weights(w1.iter().map(|&v| v as f64).collect()))
        .unwrap();
    net.connect(
        NetProj::new(a, b, SynKind::Alpha { tau: 2.0 }, Output::CUBA).weights(w2.iter().map(|&v| v as f64).collect()).delay_steps(3),
    )
    .unwrap();
    net.output(b, NetReadout::State("V".into())).unwrap();
    let v = net.forward_seq(&drive, steps, 1, 0.1).unwrap();
    net.output(a, NetReadout::Spikes).unwrap();
    let s = net.forward_seq(&drive, steps, 1, 0.1).unwrap();
    assert_eq!(s, s_sim, "presynaptic spikes");
    assert!(s.iter().sum::<f32>() > 20.0);
    let worst = v.iter().zip(&v_sim).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    println!("network vs simulation: max |ΔV| = {worst:e} mV");
    assert!(worst <= 1e-5, "max |ΔV| = {worst}");
}

/// As a layer of a Sequential: forward, backward, parameter list, constant input.
#[test]
fn spiking_network_is_a_layer() {
    use somata::nn::{LeakyMembraneReadout, Loss, Reduce, SeqBuf, Sequential};
    let mut net = SpikingNetwork::<f32>::new(4);
    let lif = Lif::builder(6).tau(5.0 * ms).spk_fun(Sigmoid::default()).build().unwrap();
    let e = net.add_pop(lif, "E").unwrap();
    net.connect(NetProj::new(Source::Input, e, SynKind::Expon { tau: 3.0 }, Output::Cuba { scale: 1.0 }).init(3.0, 1)).unwrap();
    net.connect(NetProj::new(e, e, SynKind::Expon { tau: 3.0 }, Output::Cuba { scale: 1.0 }).prob(0.5, 2)).unwrap();
    net.train(e, "tau").unwrap();
    let mut seq = Sequential::new(1.0 * ms).push(net).push(LeakyMembraneReadout::new(6, 2, 3));
    let x = SeqBuf::constant(vec![1.0; 2 * 4], 20, 2, 4);
    let y = seq.forward(&x).unwrap();
    assert_eq!((y.steps, y.batch, y.n), (20, 2, 2));
    let (l, g) = Loss::CrossEntropy(Reduce::Mean).eval(&y, &[0, 1]).unwrap();
    seq.zero_grad();
    seq.backward(&g).unwrap();
    assert!(l.is_finite() && seq.grad_norm() > 0.0);
    let names: Vec<&str> = seq.params().iter().map(|p| p.name).collect();
    assert_eq!(&names[..3], ["tau", "W", "W"]);
    // the input gradient of a constant input is constant (summed over time)
    let layer = &mut seq.layers_mut()[0];
    layer.forward(&x, 1.0).unwrap();
    let gx = layer.backward(&SeqBuf::dense(vec![1.0; 20 * 2 * 6], 20, 2, 6), true).unwrap().unwrap();
    assert!(gx.constant && gx.data.len() == 8);
}

#[test]
fn spiking_network_errors_are_typed() {
    let mut net = SpikingNetwork::<f32>::new(2);
    assert!(net.forward_seq(&[], 0, 1, 1.0).is_err(), "no population");
    let e = net.add_pop(Lif::builder(3).build().unwrap(), "E").unwrap();
    let bad = somata::nn::NetPop(7);
    assert!(net.connect(NetProj::new(e, bad, SynKind::None, Output::CUBA)).is_err());
    assert!(matches!(
        net.connect(NetProj::new(e, e, SynKind::Expon { tau: -1.0 }, Output::CUBA)),
        Err(SomataError::InvalidParameter { .. })
    ));
    assert!(net
        .connect(NetProj::new(e, e, SynKind::DualExpon { tau_rise: 2.0, tau_decay: 2.0, amplitude: 1.0, normalize: true }, Output::CUBA))
        .is_err());
    assert!(net.connect(NetProj::new(e, e, SynKind::None, Output::MG_BLOCK)).is_err());
    assert!(net.connect(NetProj::new(e, e, SynKind::None, Output::CUBA).prob(0.0, 1)).is_err());
    assert!(matches!(
        net.connect(NetProj::new(e, e, SynKind::None, Output::CUBA).weights(vec![1.0; 4])),
        Err(SomataError::ShapeMismatch { .. })
    ));
    assert!(matches!(net.train(e, "nope"), Err(SomataError::UnknownParameter { .. })));
    assert!(matches!(net.output(e, NetReadout::State("nope".into())), Err(SomataError::UnknownState { .. })));
    assert!(net.backward_seq(&[]).is_err(), "backward before forward");
    assert!(matches!(net.forward_seq(&[0.0; 3], 1, 1, 1.0), Err(SomataError::ShapeMismatch { .. })));
    assert!(matches!(net.forward_seq(&[0.0; 2], 1, 1, 0.0), Err(SomataError::InvalidDt(_))));
    let p = net.connect(NetProj::new(Source::Input, e, SynKind::None, Output::CUBA).prob(0.5, 3)).unwrap();
    assert_eq!(net.synapses(p).unwrap().len(), net.weights(p).unwrap().len());
    net.forward_seq(&[0.0; 4], 2, 1, 1.0).unwrap();
    assert!(matches!(net.backward_seq(&[0.0; 5]), Err(SomataError::ShapeMismatch { .. })));
}
