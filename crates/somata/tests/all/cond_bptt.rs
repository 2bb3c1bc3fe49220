//! BPTT through a conductance drive (`forward_tape_cond`): the input current `I(V) = i − g·V`
//! is evaluated inside the membrane equation (BrainPy's COBA outputs), so the gradients with
//! respect to `i`, `g` and the parameters must be the derivatives of that trajectory, exponential
//! Euler's `J = (−1 − R·g)/τ` included. Checked against central finite differences in f64, as
//! `tests/gradients.rs` does for plain currents: a loss on V and a zero surrogate, entries where
//! a spike flips skipped.

use somata::engine::{Gradients, LayerBuilder, NeuronLayer, SeqInput, Tape};
use somata::init::Rng;
use somata::prelude::*;

const T: usize = 60;
const B: usize = 2;
const N: usize = 3;
const BN: usize = B * N;

fn rand_vec(rng: &mut Rng, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len).map(|_| lo + (hi - lo) * rng.uniform()).collect()
}

fn build<M: NeuronModel + Default>(ps: &[(&str, f64)]) -> NeuronLayer<M, f64> {
    let zero = LeakyRelu { alpha: 0.0, beta: 0.0 };
    let mut b = LayerBuilder::<M, f64>::new(M::default(), N).spk_fun(zero).spk_reset(SpikeReset::Soft);
    for (n, v) in ps {
        b = b.set_raw(n, *v);
    }
    b.build().unwrap()
}

fn tape_of<M: NeuronModel + Default>(ps: &[(&str, f64)], i: &[f64], g: &[f64]) -> (NeuronLayer<M, f64>, Tape<f64>) {
    let mut layer = build::<M>(ps);
    layer.init_state(Some(B)).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let mut tape = Tape::default();
    layer.forward_tape_cond(&mut clock, i, g, T, &mut tape).unwrap();
    assert_eq!(clock.step(), T as u64);
    (layer, tape)
}

/// loss = Σ wv·V over all steps, with the spike raster.
fn loss_of<M: NeuronModel + Default>(ps: &[(&str, f64)], i: &[f64], g: &[f64], wv: &[f64]) -> (f64, Vec<f64>) {
    let (_, tape) = tape_of::<M>(ps, i, g);
    let mut l = 0.0;
    for k in 0..T {
        let v = tape.state(k + 1, 0);
        for e in 0..BN {
            l += wv[k * BN + e] * v[e];
        }
    }
    (l, tape.spikes().to_vec())
}

/// Compare BPTT's ∂L/∂i, ∂L/∂g and ∂L/∂θ with central differences; returns how many entries
/// were compared (those where no spike flips).
fn check<M: NeuronModel + Default>(
    ps: &[(&str, f64)],
    i_range: (f64, f64),
    g_range: (f64, f64),
    min_spikes: f64,
    (h, abs, rel): (f64, f64, f64),
    seed: u64,
) -> usize {
    let mut rng = Rng::new(seed);
    let i = rand_vec(&mut rng, T * BN, i_range.0, i_range.1);
    let g = rand_vec(&mut rng, T * BN, g_range.0, g_range.1);
    let wv = rand_vec(&mut rng, T * BN, -1.0, 1.0);
    let (layer, tape) = tape_of::<M>(ps, &i, &g);
    let spikes: f64 = tape.spikes().iter().sum();
    assert!(spikes >= min_spikes, "{}: the test must cross threshold ({spikes} spikes)", M::NAME);
    let ns = M::STATES.len();
    let mut gst = vec![0.0; T * ns * BN];
    for k in 0..T {
        gst[k * ns * BN..k * ns * BN + BN].copy_from_slice(&wv[k * BN..(k + 1) * BN]);
    }
    let names: Vec<&str> = ps.iter().map(|p| p.0).collect();
    let mut grads = Gradients::default();
    layer.backward_full(&tape, &vec![0.0; T * BN], Some(&gst), &names, &mut grads).unwrap();
    assert_eq!(grads.input.len(), T * BN);
    assert_eq!(grads.conductance.len(), T * BN);

    let mut checked = 0;
    for which in 0..2 {
        for _ in 0..20 {
            let at = (rng.uniform() * (T * BN) as f64) as usize;
            let (mut ip, mut im, mut gp, mut gm) = (i.clone(), i.clone(), g.clone(), g.clone());
            if which == 0 {
                ip[at] += h;
                im[at] -= h;
            } else {
                gp[at] += h;
                gm[at] -= h;
            }
            let (lp, sp) = loss_of::<M>(ps, &ip, &gp, &wv);
            let (lm, sm) = loss_of::<M>(ps, &im, &gm, &wv);
            if sp != sm {
                continue; // a spike flipped: not differentiable here
            }
            let fd = (lp - lm) / (2.0 * h);
            let got = if which == 0 { grads.input[at] } else { grads.conductance[at] };
            let what = if which == 0 { "i" } else { "g" };
            assert!((got - fd).abs() <= abs + rel * fd.abs(), "{}: dL/d{what}[{at}] bptt {got} vs fd {fd}", M::NAME);
            checked += 1;
        }
    }
    for (pi, (name, v)) in ps.iter().enumerate() {
        let (mut pp, mut pm) = (ps.to_vec(), ps.to_vec());
        pp[pi].1 = v + h;
        pm[pi].1 = v - h;
        let (lp, sp) = loss_of::<M>(&pp, &i, &g, &wv);
        let (lm, sm) = loss_of::<M>(&pm, &i, &g, &wv);
        if sp != sm {
            continue;
        }
        let fd = (lp - lm) / (2.0 * h);
        let got = grads.param(name).unwrap().total();
        assert!((got - fd).abs() <= abs + rel * fd.abs(), "{}: dL/d{name} bptt {got} vs fd {fd}", M::NAME);
        checked += 1;
    }
    checked
}

#[test]
fn lif_family_conductance_gradients_match_finite_differences() {
    // V in mV, i in mA, g in S: R·g = 1.2·g is the conductance term of J = (−1 − R·g)/τ
    let lif = [("tau", 8.0), ("V_th", 1.0), ("R", 1.2), ("V_rest", 0.1)];
    assert!(check::<Lif>(&lif, (1.0, 6.0), (0.0, 2.0), 6.0, (1e-6, 1e-6, 1e-4), 1) >= 25);
    let lifref = [("tau", 8.0), ("V_th", 1.0), ("V_reset", -0.2), ("R", 1.0)];
    assert!(check::<LifRef>(&lifref, (1.0, 6.0), (0.0, 2.0), 6.0, (1e-6, 1e-6, 1e-4), 2) >= 25);
    let alif = [("tau", 8.0), ("V_th", 1.0), ("tau_a", 30.0), ("beta", 0.3)];
    assert!(check::<Alif>(&alif, (1.0, 6.0), (0.0, 2.0), 6.0, (1e-6, 1e-6, 1e-4), 3) >= 25);
}

/// With g = 0 the conductance tape is the plain-current tape: the same spikes, states and
/// gradients (LIF's input unit is the canonical mA, so no rescaling).
#[test]
fn zero_conductance_is_the_plain_current_path() {
    let mut rng = Rng::new(7);
    let ps = [("tau", 8.0), ("V_th", 1.0), ("R", 1.0)];
    let x = rand_vec(&mut rng, T * BN, 1.0, 6.0);
    let gs = rand_vec(&mut rng, T * BN, -1.0, 1.0);
    let (layer, cond) = tape_of::<Lif>(&ps, &x, &vec![0.0; T * BN]);
    let mut plain_layer = build::<Lif>(&ps);
    plain_layer.init_state(Some(B)).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let plain = plain_layer.forward_tape(&mut clock, SeqInput::Dense(&x, T)).unwrap();
    assert_eq!(cond.spikes(), plain.spikes());
    assert!(plain.spikes().iter().sum::<f64>() > 5.0);
    for k in 0..=T {
        for (a, b) in cond.state(k, 0).iter().zip(plain.state(k, 0)) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "step {k}: {a} vs {b}");
        }
    }
    let a = layer.backward(&cond, &gs, &["tau"]).unwrap();
    let b = plain_layer.backward(&plain, &gs, &["tau"]).unwrap();
    for (x, y) in a.input.iter().zip(&b.input) {
        assert!((x - y).abs() <= 1e-10 * y.abs().max(1.0), "{x} vs {y}");
    }
    let (ta, tb) = (a.param("tau").unwrap().total(), b.param("tau").unwrap().total());
    assert!((ta - tb).abs() <= 1e-10 * tb.abs().max(1.0), "{ta} vs {tb}");
    assert!(b.conductance.is_empty() && a.conductance.len() == T * BN);
}

/// Bad shapes are typed errors.
#[test]
fn conductance_tape_rejects_mismatched_lengths() {
    let mut layer = build::<Lif>(&[]);
    layer.init_state(Some(B)).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let mut tape = Tape::default();
    let e = layer.forward_tape_cond(&mut clock, &[0.0; T * BN], &[0.0; T * BN - 1], T, &mut tape).unwrap_err();
    assert!(e.to_string().contains("conductance"), "{e}");
    let mut fresh = build::<Lif>(&[]);
    let e = fresh.forward_tape_cond(&mut clock, &[0.0; N], &[0.0; N], 1, &mut tape).unwrap_err();
    assert!(matches!(e, SomataError::NotInitialized(_)), "{e}");
}
