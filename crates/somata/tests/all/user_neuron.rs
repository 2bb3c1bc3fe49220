//! A user-defined neuron (the seed's SimpleNeuron) simulates and trains like a built-in one.

#[path = "../../examples/simple_neuron.rs"]
mod example;

use example::SimpleNeuron;
use somata::engine::{Gradients, LayerBuilder, SeqInput};
use somata::init::Rng;
use somata::prelude::*;
use somata::surrogate::SurrogateGrad;

#[test]
fn simple_neuron_simulates_as_written() {
    let mut layer = LayerBuilder::<SimpleNeuron>::new(SimpleNeuron, [2, 3]).set("V_th", 1.0 * mV).build().unwrap();
    // BrainPy's base-class default, InvSquareGrad(alpha=100), with no line of the model saying so
    assert_eq!(layer.spk_fun().name(), "InvSquareGrad");
    let isq = InvSquareGrad { alpha: 100.0 };
    for x in [-0.3, 0.0, 0.02, 1.0] {
        assert_eq!(layer.spk_fun().grad(x), isq.grad(x), "alpha = 100 at x = {x}");
    }
    // the input unit comes from the input dimension, said once
    assert_eq!(<SimpleNeuron as somata::dynamics::NeuronModel>::INPUT_UNIT, "mV");
    layer.init_state(Some(4)).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let mut fired = Vec::new();
    for _ in 0..5 {
        let s = layer.update_q(&clock, 0.3 * mV).unwrap();
        assert_eq!(s.shape(), &[4, 2, 3]);
        fired.push(s[[0, 0, 0]]);
        clock.advance();
    }
    // V = 0.3, 0.6, 0.9, 1.2, 1.5: no reset, spikes from the fourth step on
    assert_eq!(fired, vec![0.0, 0.0, 0.0, 1.0, 1.0]);
    assert!((layer.v().unwrap()[[3, 1, 2]] - 1.5).abs() < 1e-6);
}

#[test]
fn simple_neuron_bptt_matches_finite_differences_and_closed_form() {
    let (t, n) = (20usize, 3usize);
    let mut rng = Rng::new(5);
    let x: Vec<f64> = (0..t * n).map(|_| 0.2 * rng.uniform()).collect();
    let a: Vec<f64> = (0..t * n).map(|_| rng.uniform() - 0.5).collect(); // weights on V
    let u: Vec<f64> = (0..t * n).map(|_| rng.uniform()).collect(); // weights on spikes
    let v_th = 1.0;
    let build = |vth: f64| {
        LayerBuilder::<SimpleNeuron, f64>::new(SimpleNeuron, n).set_raw("V_th", vth).spk_fun(Sigmoid::default()).build().unwrap()
    };
    let mut layer = build(v_th);
    layer.init_state(None).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let tape = layer.forward_tape(&mut clock, SeqInput::Dense(&x, t)).unwrap();
    let mut g = Gradients::default();
    layer.backward_full(&tape, &u, Some(&a), &["V_th"], &mut g).unwrap();

    // closed form: V_t = Σ_{s<=t} x_s; dL/dx_s = Σ_{t>=s} (a_t + u_t·g((V_t − θ)/θ)/θ)
    let sg = Sigmoid::default();
    for i in 0..n {
        let vs: Vec<f64> = (0..t)
            .scan(0.0, |acc, k| {
                *acc += x[k * n + i];
                Some(*acc)
            })
            .collect();
        for s in 0..t {
            let expect: f64 = (s..t).map(|k| a[k * n + i] + u[k * n + i] * sg.grad((vs[k] - v_th) / v_th) / v_th).sum();
            let got = g.input[s * n + i];
            assert!((got - expect).abs() < 1e-10 * expect.abs().max(1.0), "x[{s},{i}]: {got} vs {expect}");
        }
    }
    // finite differences of the V part (spikes are piecewise constant)
    let loss_v = |xx: &[f64]| -> f64 {
        let mut l = build(v_th);
        l.init_state(None).unwrap();
        let mut c = Clock::new(0.1 * ms).unwrap();
        let tp = l.forward_tape(&mut c, SeqInput::Dense(xx, t)).unwrap();
        (0..t).map(|k| (0..n).map(|i| a[k * n + i] * tp.state(k + 1, 0)[i]).sum::<f64>()).sum()
    };
    let mut gv = Gradients::default();
    layer.backward_full(&tape, &vec![0.0; t * n], Some(&a), &[], &mut gv).unwrap();
    for idx in [0, 7, 31, 59] {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[idx] += 1e-6;
        xm[idx] -= 1e-6;
        let fd = (loss_v(&xp) - loss_v(&xm)) / 2e-6;
        assert!((gv.input[idx] - fd).abs() < 1e-6, "{} vs {fd}", gv.input[idx]);
    }
}
