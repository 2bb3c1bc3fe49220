//! BPTT gradients against central finite differences (f64).
//!
//! * Spiking LIF/ALIF/LIFRef/IF, soft reset, a loss on V and a zero surrogate: the BPTT gradient is
//!   then the exact derivative of the piecewise-smooth trajectory, which finite differences see
//!   wherever no spike flips (entries where one flips are skipped).
//! * A smooth user model (sigmoid spikes, written with the public API) checks the spike path,
//!   parameter seeding, hoisting and the exprel chain on a loss on spikes.

use somata::dynamics::{phi_dt, Check, InitSpec, NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use somata::engine::{Gradients, LayerBuilder, NeuronLayer, SeqInput};
use somata::init::Rng;
use somata::prelude::*;
use somata::units::{dim, Dim};

const T: usize = 60;
const B: usize = 2;
const N: usize = 3;

fn rand_vec(rng: &mut Rng, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len).map(|_| lo + (hi - lo) * rng.uniform()).collect()
}

/// loss = Σ wv·V + Σ ws·spk, returned with the spike raster.
fn loss_of<M: NeuronModel>(layer: &mut NeuronLayer<M, f64>, x: &[f64], wv: &[f64], ws: &[f64]) -> (f64, Vec<f64>) {
    layer.init_state(Some(B)).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let tape = layer.forward_tape(&mut clock, SeqInput::Dense(x, T)).unwrap();
    let bn = B * N;
    let mut l = 0.0;
    for k in 0..T {
        let v = tape.state(k + 1, 0);
        for g in 0..bn {
            l += wv[k * bn + g] * v[g] + ws[k * bn + g] * tape.spikes()[k * bn + g];
        }
    }
    (l, tape.spikes().to_vec())
}

fn check_model<M: NeuronModel + Default>(
    build: impl Fn(&[(&str, f64)]) -> LayerBuilder<M, f64>,
    params: &[(&str, f64)],
    x_range: (f64, f64),
    spike_loss: bool,
    seed: u64,
) -> usize {
    let mut rng = Rng::new(seed);
    let bn = B * N;
    let x = rand_vec(&mut rng, T * bn, x_range.0, x_range.1);
    let wv = if spike_loss { vec![0.0; T * bn] } else { rand_vec(&mut rng, T * bn, -1.0, 1.0) };
    let ws = if spike_loss { rand_vec(&mut rng, T * bn, -1.0, 1.0) } else { vec![0.0; T * bn] };
    let mut layer = build(params).build().unwrap();
    layer.init_state(Some(B)).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let tape = layer.forward_tape(&mut clock, SeqInput::Dense(&x, T)).unwrap();
    let ns = M::STATES.len();
    let mut gst = vec![0.0; T * ns * bn];
    for k in 0..T {
        for g in 0..bn {
            gst[(k * ns) * bn + g] = wv[k * bn + g];
        }
    }
    let names: Vec<&str> = params.iter().map(|p| p.0).collect();
    let mut grads = Gradients::default();
    layer.backward_full(&tape, &ws, Some(&gst), &names, &mut grads).unwrap();
    let total_spikes: f64 = tape.spikes().iter().sum();
    assert!(spike_loss || total_spikes > 5.0, "the test must cross threshold ({total_spikes} spikes)");

    let h = 1e-6;
    let mut checked = 0;
    // inputs
    for _ in 0..25 {
        let i = (rng.uniform() * (T * bn) as f64) as usize;
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += h;
        xm[i] -= h;
        let (lp, sp) = loss_of(&mut build(params).build().unwrap(), &xp, &wv, &ws);
        let (lm, sm) = loss_of(&mut build(params).build().unwrap(), &xm, &wv, &ws);
        if !spike_loss && sp != sm {
            continue; // a spike flipped: not differentiable here
        }
        let fd = (lp - lm) / (2.0 * h);
        let g = grads.input[i];
        assert!((g - fd).abs() <= 1e-6 + 1e-4 * fd.abs(), "{}: d/dx[{i}] bptt {g} vs fd {fd}", M::NAME);
        checked += 1;
    }
    // parameters
    for (pi, (name, v)) in params.iter().enumerate() {
        let mut pp = params.to_vec();
        let mut pm = params.to_vec();
        pp[pi].1 = v + h;
        pm[pi].1 = v - h;
        let (lp, sp) = loss_of(&mut build(&pp).build().unwrap(), &x, &wv, &ws);
        let (lm, sm) = loss_of(&mut build(&pm).build().unwrap(), &x, &wv, &ws);
        assert!(spike_loss || sp == sm, "{} {name}: spike flip under a 1e-6 parameter change", M::NAME);
        let fd = (lp - lm) / (2.0 * h);
        let g = grads.param(name).unwrap().total();
        assert!((g - fd).abs() <= 1e-6 + 1e-4 * fd.abs(), "{}: d/d{name} bptt {g} vs fd {fd}", M::NAME);
        checked += 1;
    }
    checked
}

fn with_params<M: NeuronModel + Default>(ps: &[(&str, f64)]) -> LayerBuilder<M, f64> {
    let zero = LeakyRelu { alpha: 0.0, beta: 0.0 };
    let mut b = LayerBuilder::<M, f64>::new(M::default(), N).spk_fun(zero).spk_reset(SpikeReset::Soft);
    for (n, v) in ps {
        b = b.set_raw(n, *v);
    }
    b
}

#[test]
fn lif_family_bptt_matches_finite_differences() {
    let c = check_model::<Lif>(with_params::<Lif>, &[("tau", 8.0), ("V_th", 1.0), ("R", 1.2), ("V_rest", 0.1)], (1.0, 6.0), false, 1);
    assert!(c >= 20);
    let c = check_model::<Alif>(with_params::<Alif>, &[("tau", 8.0), ("V_th", 1.0), ("tau_a", 30.0), ("beta", 0.3)], (1.0, 6.0), false, 2);
    assert!(c >= 20);
    let c = check_model::<If>(with_params::<If>, &[("tau", 6.0), ("V_th", 1.0)], (1.0, 6.0), false, 3);
    assert!(c >= 20);
    let c = check_model::<LifRef>(with_params::<LifRef>, &[("tau", 8.0), ("V_th", 1.0), ("V_reset", -0.2)], (1.0, 6.0), false, 4);
    assert!(c >= 20);
}

/// A LIF whose spike is a smooth sigmoid, written as a user would: the engine's BPTT must be the
/// exact gradient of it.
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
        let soft = |v: S| S::lit(1.0) / (S::lit(1.0) + (-(k * (v - v_th))).exp());
        let v = s[0] - v_th * soft(s[0]);
        // the general EE path (J from a dual number), not the hoisted one
        let v = c.ee(v, |v| (-v + x) / tau);
        let _ = c.h[0];
        s[0] = v;
        soft(v)
    }
}

#[test]
fn smooth_user_model_bptt_matches_finite_differences() {
    let build = |ps: &[(&str, f64)]| {
        let mut b = LayerBuilder::<SmoothLif, f64>::new(SmoothLif, N);
        for (n, v) in ps {
            b = b.set_raw(n, *v);
        }
        b
    };
    let c = check_model::<SmoothLif>(build, &[("tau", 8.0), ("V_th", 1.0), ("k", 6.0)], (0.0, 3.0), true, 5);
    assert!(c >= 25, "{c}");
}

#[test]
fn f32_bptt_agrees_with_f64() {
    let mut rng = Rng::new(9);
    let bn = B * N;
    let x = rand_vec(&mut rng, T * bn, 0.0, 3.0);
    let w = rand_vec(&mut rng, T * bn, 0.0, 1.0);
    let run = |f64mode: bool| -> (Vec<f64>, f64) {
        if f64mode {
            let mut l = Lif::builder(N).tau(8.0 * ms).spk_fun(Sigmoid::default()).precision::<f64>().build().unwrap();
            l.init_state(Some(B)).unwrap();
            let mut c = Clock::new(0.1 * ms).unwrap();
            let tape = l.forward_tape(&mut c, SeqInput::Dense(&x, T)).unwrap();
            let g = l.backward(&tape, &w, &["tau"]).unwrap();
            let t = g.param("tau").unwrap().total();
            (g.input, t)
        } else {
            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let wf: Vec<f32> = w.iter().map(|&v| v as f32).collect();
            let mut l = Lif::builder(N).tau(8.0 * ms).spk_fun(Sigmoid::default()).build().unwrap();
            l.init_state(Some(B)).unwrap();
            let mut c = Clock::new(0.1 * ms).unwrap();
            let tape = l.forward_tape(&mut c, SeqInput::Dense(&xf, T)).unwrap();
            let g = l.backward(&tape, &wf, &["tau"]).unwrap();
            (g.input.iter().map(|&v| v as f64).collect(), g.param("tau").unwrap().total())
        }
    };
    let (g64, t64) = run(true);
    let (g32, t32) = run(false);
    assert!((t64 - t32).abs() <= 1e-3 * t64.abs() + 1e-6, "{t64} {t32}");
    let worst = g64.iter().zip(&g32).map(|(a, b)| (a - b).abs() / (a.abs() + 1e-4)).fold(0.0, f64::max);
    assert!(worst < 1e-2, "{worst}");
}

#[test]
fn per_neuron_parameter_gradients_sum_to_shared() {
    let mut rng = Rng::new(11);
    let bn = B * N;
    let x: Vec<f64> = rand_vec(&mut rng, T * bn, 0.0, 3.0);
    let w = rand_vec(&mut rng, T * bn, 0.0, 1.0);
    let grad = |per: bool| {
        let b = Lif::builder(N).spk_fun(Arctan::default()).precision::<f64>();
        let b = if per { b.set_per_neuron("tau", vec![8.0; N]) } else { b.tau(8.0 * ms) };
        let mut l = b.build().unwrap();
        l.init_state(Some(B)).unwrap();
        let mut c = Clock::new(0.1 * ms).unwrap();
        let tape = l.forward_tape(&mut c, SeqInput::Dense(&x, T)).unwrap();
        l.backward(&tape, &w, &["tau"]).unwrap()
    };
    let (a, b) = (grad(false), grad(true));
    let (sa, pb) = (a.param("tau").unwrap(), b.param("tau").unwrap());
    assert!(matches!(pb, somata::engine::ParamGrad::PerNeuron(v) if v.len() == N));
    assert!((sa.total() - pb.total()).abs() < 1e-9 * sa.total().abs().max(1.0));
    assert_eq!(a.input, b.input);
}
