//! `somata::nn`: layers, whole networks, losses and the training loop, checked against naive
//! f64 references and finite differences.
//!
//! * Linear: naive `x·W + b`; event-driven and constant-input paths against the dense path
//!   (outputs and gradients); gradients against central differences.
//! * LeakyRateReadout: a naive recursion, BrainPy's reference numbers (spec §10), gradients
//!   against central differences.
//! * Whole networks (`Linear → LIF → Linear → ALIF → readout`, and the seed's user-defined
//!   `SimpleNeuron`): the BPTT gradients equal a reference chain rule written here (naive f64
//!   linear algebra + the engine's `NeuronLayer::backward_full` on the recorded spikes). Spikes
//!   are piecewise constant, so finite differences see only the readout weights there; a network
//!   of a smooth user-defined neuron checks every weight, bias, input and `tau` against finite
//!   differences of the whole stack.
//! * Step mode (the seed's `SpikingNet` as a user struct) against sequence mode (`Sequential`).
//! * Cross-entropy gradients for every `Reduce`, label errors, `predict`.
//! * Training on the embedded digits: accuracy and determinism.

use somata::dynamics::{NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use somata::engine::{Gradients, LayerBuilder, NeuronLayer, SeqInput};
use somata::init::Rng;
use somata::nn::train::{Data, TrainConfig, Trainer};
use somata::nn::{Layer, LeakyRateReadout, Linear, Loss, Neurons, Reduce, SeqBuf, Sequential};
use somata::prelude::*;
use somata::units::{dim, Dim};
use somata::{param, state};

// ---------------------------------------------------------------------------------------------
// helpers

fn rand_f32(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> Vec<f32> {
    (0..n).map(|_| (lo + (hi - lo) * rng.uniform()) as f32).collect()
}

fn rand_f64(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| lo + (hi - lo) * rng.uniform()).collect()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |a, &b| a.max(b.abs()))
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// `max |got − want| ≤ rtol · max |want|`, and the reference is not all zeros.
fn assert_rel(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = max_abs(want);
    assert!(scale > 0.0, "{what}: the reference gradient is zero, nothing is checked");
    let (k, err) = got.iter().zip(want).map(|(a, b)| (a - b).abs()).enumerate().fold((0, 0.0f64), |a, b| if b.1 > a.1 { b } else { a });
    assert!(
        err <= rtol * scale,
        "{what}: worst element {k}: {} vs {} (max error {err:e}, scale {scale:e}, rtol {rtol:e})",
        got[k],
        want[k]
    );
}

/// Elementwise `|a − b| ≤ tol·max(1, |b|)`.
fn assert_close32(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * y.abs().max(1.0), "{what}[{k}]: {x} vs {y}");
    }
}

/// `Σ c·y` in f64.
fn weighted(y: &[f32], c: &[f64]) -> f64 {
    assert_eq!(y.len(), c.len());
    y.iter().zip(c).map(|(&a, &b)| a as f64 * b).sum()
}

/// Naive f64 `y = x·W + b` over `rows` rows.
fn naive_linear(x: &[f64], w: &[f64], b: Option<&[f64]>, rows: usize, ni: usize, no: usize) -> Vec<f64> {
    let mut y = vec![0.0; rows * no];
    for r in 0..rows {
        for o in 0..no {
            let mut s = b.map_or(0.0, |b| b[o]);
            for i in 0..ni {
                s += x[r * ni + i] * w[i * no + o];
            }
            y[r * no + o] = s;
        }
    }
    y
}

/// Naive f64 backward of `y = x·W + b`: `(∂W, ∂b, ∂x)`.
fn naive_linear_back(x: &[f64], w: &[f64], g: &[f64], rows: usize, ni: usize, no: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut gw, mut gb, mut gx) = (vec![0.0; ni * no], vec![0.0; no], vec![0.0; rows * ni]);
    for r in 0..rows {
        for o in 0..no {
            let gv = g[r * no + o];
            gb[o] += gv;
            for i in 0..ni {
                gw[i * no + o] += x[r * ni + i] * gv;
                gx[r * ni + i] += gv * w[i * no + o];
            }
        }
    }
    (gw, gb, gx)
}

// ---------------------------------------------------------------------------------------------
// 1. Linear

#[test]
fn linear_forward_matches_naive_f64() {
    let (t, b, ni, no) = (4, 3, 7, 5);
    let mut rng = Rng::new(1);
    let w = rand_f32(&mut rng, ni * no, -1.0, 1.0);
    let bias = rand_f32(&mut rng, no, -1.0, 1.0);
    let x = rand_f32(&mut rng, t * b * ni, -2.0, 2.0);
    let want = naive_linear(&to64(&x), &to64(&w), Some(&to64(&bias)), t * b, ni, no);
    let mut lin = Linear::from_weights(w.clone(), Some(bias.clone()), ni, no).unwrap();
    let y = lin.forward(&SeqBuf::dense(x.clone(), t, b, ni), 1.0).unwrap();
    assert_eq!((y.steps, y.batch, y.n, y.constant), (t, b, no, false));
    assert!(!lin.was_event_driven(), "a real-valued input is not events");
    assert_rel("Linear forward", &to64(&y.data), &want, 1e-6);

    // without bias
    let mut nb = Linear::from_weights(w.clone(), None, ni, no).unwrap();
    let y = nb.forward(&SeqBuf::dense(x.clone(), t, b, ni), 1.0).unwrap();
    assert_rel("Linear forward, no bias", &to64(&y.data), &naive_linear(&to64(&x), &to64(&w), None, t * b, ni, no), 1e-6);
    assert!(Linear::new(ni, no, 0).without_bias().b.is_none());

    // shapes are checked
    assert!(Linear::from_weights(vec![0.0; 5], None, 2, 3).is_err());
    assert!(Linear::from_weights(vec![0.0; 6], Some(vec![0.0; 2]), 2, 3).is_err());
    assert!(lin.forward(&SeqBuf::dense(vec![0.0; t * b * 3], t, b, 3), 1.0).is_err());
    assert!(lin.forward(&SeqBuf::dense(vec![0.0; 5], t, b, ni), 1.0).is_err());

    // Linear::new: brainstate's KaimingNormal (std sqrt(2/fan_in), truncated at 2σ of the
    // untruncated normal and rescaled by 1/0.87962566) and zero bias, reproducible from the seed
    let (fi, fo) = (200, 300);
    let l = Linear::new(fi, fo, 7);
    assert_eq!(l.b.as_deref(), Some(&vec![0.0f32; fo][..]));
    assert_eq!(l.w, Linear::new(fi, fo, 7).w);
    assert_ne!(l.w, Linear::new(fi, fo, 8).w);
    let w64 = to64(&l.w);
    let mean = w64.iter().sum::<f64>() / w64.len() as f64;
    let std = (w64.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / w64.len() as f64).sqrt();
    let want_std = (2.0 / fi as f64).sqrt();
    assert!((std / want_std - 1.0).abs() < 0.02, "Kaiming std {std} vs {want_std}");
    assert!(mean.abs() < 0.01 * want_std * 10.0, "Kaiming mean {mean}");
    assert!(max_abs(&w64) <= 2.0 * want_std / 0.879_625_66 * (1.0 + 1e-6), "truncated at 2σ");
}

/// Binary input with `density` ones.
fn spikes(rng: &mut Rng, n: usize, density: f64) -> Vec<f32> {
    (0..n).map(|_| if rng.uniform() < density { 1.0 } else { 0.0 }).collect()
}

#[test]
fn linear_event_path_equals_dense_path() {
    // 300 steps: the weight-gradient scatter runs in parallel over blocks of inputs
    for t in [30usize, 300] {
        event_vs_dense(t);
    }
}

fn event_vs_dense(t: usize) {
    let (b, ni, no) = (4, 40, 70);
    let mut rng = Rng::new(2);
    let w = rand_f32(&mut rng, ni * no, -1.0, 1.0);
    let bias = rand_f32(&mut rng, no, -1.0, 1.0);
    let x = spikes(&mut rng, t * b * ni, 0.15);
    let density = x.iter().sum::<f32>() / x.len() as f32;
    assert!(density > 0.1 && density <= 0.25, "density {density}");
    let xs = SeqBuf::dense(x.clone(), t, b, ni);
    let gy = SeqBuf::dense(rand_f32(&mut rng, t * b * no, -1.0, 1.0), t, b, no);

    let mut ev = Linear::from_weights(w.clone(), Some(bias.clone()), ni, no).unwrap();
    let mut de = ev.clone();
    let ye = ev.forward(&xs, 1.0).unwrap();
    assert!(ev.was_event_driven(), "binary input at {density} density takes the event path");
    let yd = de.forward_dense(&xs).unwrap();
    assert!(!de.was_event_driven());
    assert_close32("event vs dense output", &ye.data, &yd.data, 1e-5);
    // and both are x·W + b
    assert_rel("event output vs naive", &to64(&ye.data), &naive_linear(&to64(&x), &to64(&w), Some(&to64(&bias)), t * b, ni, no), 1e-6);

    let gxe = ev.backward(&gy, true).unwrap().unwrap();
    let gxd = de.backward(&gy, true).unwrap().unwrap();
    assert_close32("event vs dense ∂W", ev.grad_w(), de.grad_w(), 1e-5);
    assert_close32("event vs dense ∂b", ev.grad_b(), de.grad_b(), 1e-5);
    assert_close32("event vs dense ∂x", &gxe.data, &gxd.data, 1e-5);
    let (gw, gb, gx) = naive_linear_back(&to64(&x), &to64(&w), &to64(&gy.data), t * b, ni, no);
    assert_rel("event ∂W vs naive", &to64(ev.grad_w()), &gw, 1e-6);
    assert_rel("event ∂b vs naive", &to64(ev.grad_b()), &gb, 1e-6);
    assert_rel("event ∂x vs naive", &to64(&gxe.data), &gx, 1e-6);
    // gradients accumulate: a second backward doubles them
    ev.backward(&gy, false).unwrap();
    let twice: Vec<f64> = gw.iter().map(|v| 2.0 * v).collect();
    assert_rel("event ∂W accumulates", &to64(ev.grad_w()), &twice, 1e-6);

    // not events: too dense, not binary, or constant
    let mut l = Linear::from_weights(w.clone(), None, ni, no).unwrap();
    l.forward(&SeqBuf::dense(spikes(&mut rng, t * b * ni, 0.4), t, b, ni), 1.0).unwrap();
    assert!(!l.was_event_driven(), "40% dense");
    let mut half = x.clone();
    half[3] = 0.5;
    l.forward(&SeqBuf::dense(half, t, b, ni), 1.0).unwrap();
    assert!(!l.was_event_driven(), "a 0.5 is not a spike");
    l.forward(&SeqBuf::constant(x[..b * ni].to_vec(), t, b, ni), 1.0).unwrap();
    assert!(!l.was_event_driven(), "constant input multiplies once");
    // narrow outputs (under 64) take the matrix product even on sparse spikes
    let mut narrow = Linear::from_weights(w[..ni * 9].to_vec(), None, ni, 9).unwrap();
    narrow.forward(&xs, 1.0).unwrap();
    assert!(!narrow.was_event_driven(), "9 outputs");
}

#[test]
fn linear_constant_input_equals_dense_repeat() {
    let (t, b, ni, no) = (6, 3, 5, 4);
    let mut rng = Rng::new(3);
    let w = rand_f32(&mut rng, ni * no, -1.0, 1.0);
    let bias = rand_f32(&mut rng, no, -1.0, 1.0);
    let xc = SeqBuf::constant(rand_f32(&mut rng, b * ni, -1.0, 2.0), t, b, ni);
    let xd = xc.to_dense();
    assert!(!xd.constant && xd.data.len() == t * b * ni);
    for s in 0..t {
        assert_eq!(&xd.data[s * b * ni..(s + 1) * b * ni], &xc.data[..], "to_dense repeats the block");
    }
    let gy = SeqBuf::dense(rand_f32(&mut rng, t * b * no, -1.0, 1.0), t, b, no);

    let mut lc = Linear::from_weights(w.clone(), Some(bias.clone()), ni, no).unwrap();
    let mut ld = lc.clone();
    let yc = lc.forward(&xc, 1.0).unwrap();
    let yd = ld.forward(&xd, 1.0).unwrap();
    assert!(yc.constant && yc.data.len() == b * no, "a constant input gives a constant output");
    assert_eq!(yc.steps, t);
    for s in 0..t {
        for r in 0..b {
            for o in 0..no {
                let (c, d) = (yc.at(s, r, o), yd.at(s, r, o));
                assert!((c - d).abs() <= 1e-6 * d.abs().max(1.0), "y[{s},{r},{o}]: {c} vs {d}");
            }
        }
    }
    assert_close32("constant to_dense vs dense output", &yc.to_dense().data, &yd.data, 1e-6);

    let gxc = lc.backward(&gy, true).unwrap().unwrap();
    let gxd = ld.backward(&gy, true).unwrap().unwrap();
    assert_close32("constant vs dense ∂W", lc.grad_w(), ld.grad_w(), 1e-5);
    assert_close32("constant vs dense ∂b", lc.grad_b(), ld.grad_b(), 1e-5);
    // the constant input's gradient is the sum over time of the dense one
    assert!(gxc.constant && gxc.data.len() == b * ni);
    let mut summed = vec![0.0f32; b * ni];
    for s in 0..t {
        for (a, &v) in summed.iter_mut().zip(&gxd.data[s * b * ni..(s + 1) * b * ni]) {
            *a += v;
        }
    }
    assert_close32("constant ∂x = Σ_t dense ∂x", &gxc.data, &summed, 1e-5);
}

#[test]
fn linear_gradients_match_finite_differences() {
    let (t, b, ni, no) = (5, 2, 4, 3);
    let mut rng = Rng::new(4);
    let w = rand_f64(&mut rng, ni * no, -1.0, 1.0);
    let bias = rand_f64(&mut rng, no, -1.0, 1.0);
    let x = rand_f64(&mut rng, t * b * ni, -1.0, 1.0);
    let c = rand_f64(&mut rng, t * b * no, -1.0, 1.0); // L = Σ c·y
    let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
    let mut lin = Linear::from_weights(f32s(&w), Some(f32s(&bias)), ni, no).unwrap();
    let xs = SeqBuf::dense(f32s(&x), t, b, ni);
    lin.forward(&xs, 1.0).unwrap();
    let gx = lin.backward(&SeqBuf::dense(f32s(&c), t, b, no), true).unwrap().unwrap();

    // central differences of the f64 model L(W, b, x) = Σ c·(x·W + b), in f64
    let loss =
        |w: &[f64], bb: &[f64], x: &[f64]| -> f64 { naive_linear(x, w, Some(bb), t * b, ni, no).iter().zip(&c).map(|(y, c)| y * c).sum() };
    let h = 1e-3;
    let fd = |f: &dyn Fn(f64) -> f64| (f(h) - f(-h)) / (2.0 * h);
    let fw: Vec<f64> = (0..w.len())
        .map(|k| {
            fd(&|d| {
                let mut w2 = w.clone();
                w2[k] += d;
                loss(&w2, &bias, &x)
            })
        })
        .collect();
    let fb: Vec<f64> = (0..no)
        .map(|k| {
            fd(&|d| {
                let mut b2 = bias.clone();
                b2[k] += d;
                loss(&w, &b2, &x)
            })
        })
        .collect();
    let fx: Vec<f64> = (0..x.len())
        .map(|k| {
            fd(&|d| {
                let mut x2 = x.clone();
                x2[k] += d;
                loss(&w, &bias, &x2)
            })
        })
        .collect();
    // linear in each argument: exact up to the f32 rounding of the layer
    assert_rel("Linear ∂W vs fd", &to64(lin.grad_w()), &fw, 1e-6);
    assert_rel("Linear ∂b vs fd", &to64(lin.grad_b()), &fb, 1e-6);
    assert_rel("Linear ∂x vs fd", &to64(&gx.data), &fx, 1e-6);

    // and central differences through the f32 layer itself (loss summed in f64)
    for k in [0, 5, 11] {
        let (mut lp, mut lm) = (lin.clone(), lin.clone());
        let (wp, wm) = (lin.w[k] + 0.25, lin.w[k] - 0.25);
        lp.w[k] = wp;
        lm.w[k] = wm;
        let d = weighted(&lp.forward(&xs, 1.0).unwrap().data, &c) - weighted(&lm.forward(&xs, 1.0).unwrap().data, &c);
        let fdw = d / (wp - wm) as f64;
        assert!((fdw - lin.grad_w()[k] as f64).abs() < 1e-4 * (1.0 + fdw.abs()), "∂W[{k}]: layer fd {fdw} vs {}", lin.grad_w()[k]);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. LeakyRateReadout

#[test]
fn readout_reproduces_brainpy_reference_numbers() {
    // spec §10 "Other modules": LeakyRateReadout(2 → 1, W = 1), dt = 0.1 ms, tau = 5 ms (the
    // default): decay = 0.9801987; outputs 2.0, 3.9603972, 5.8819761 for the input [1, 1]
    let want = [2.0f32, 3.960_397_2, 5.881_976];
    for x in [SeqBuf::constant(vec![1.0, 1.0], 3, 1, 2), SeqBuf::dense(vec![1.0; 6], 3, 1, 2)] {
        let mut ro = LeakyRateReadout::from_weights(vec![1.0, 1.0], 2, 1, 5.0 * ms).unwrap();
        let y = ro.forward(&x, 0.1).unwrap();
        assert_eq!((y.steps, y.batch, y.n, y.constant), (3, 1, 1, false));
        for (k, (&g, &w)) in y.data.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 4.8e-7, "r[{k}] = {g:.9} vs BrainPy's {w:.9} (constant input: {})", x.constant);
        }
    }
    let decay = (-(0.1f32) / 5.0f32).exp();
    assert!((decay - 0.980_198_7).abs() < 1e-7, "decay {decay}");
    // invalid tau and shapes are refused
    assert!(LeakyRateReadout::from_weights(vec![1.0, 1.0], 2, 1, 0.0 * ms).is_err());
    assert!(LeakyRateReadout::from_weights(vec![1.0; 3], 2, 1, 5.0 * ms).is_err());
}

#[test]
fn readout_matches_naive_loop_and_finite_differences() {
    let (t, b, ni, no) = (12, 2, 4, 3);
    let (dt, tau) = (1.0, 7.0);
    let mut rng = Rng::new(5);
    let w = rand_f32(&mut rng, ni * no, -1.0, 1.0);
    let x = rand_f32(&mut rng, t * b * ni, -1.0, 1.0);
    let c = rand_f64(&mut rng, t * b * no, -1.0, 1.0); // L = Σ c·r
    let decay = (-(dt as f32) / tau as f32).exp();

    // naive: r_t = decay·r_{t−1} + x_t·W, r_{−1} = 0, in f64 with the f32 decay
    let naive = |w: &[f64], x: &[f64]| -> Vec<f64> {
        let xw = naive_linear(x, w, None, t * b, ni, no);
        let mut r = vec![0.0; t * b * no];
        for s in 0..t {
            for k in 0..b * no {
                let prev = if s == 0 { 0.0 } else { r[(s - 1) * b * no + k] };
                r[s * b * no + k] = decay as f64 * prev + xw[s * b * no + k];
            }
        }
        r
    };
    let mut ro = LeakyRateReadout::from_weights(w.clone(), ni, no, tau * ms).unwrap();
    let xs = SeqBuf::dense(x.clone(), t, b, ni);
    let y = ro.forward(&xs, dt).unwrap();
    assert_rel("readout vs naive loop", &to64(&y.data), &naive(&to64(&w), &to64(&x)), 1e-6);
    let gx = ro.backward(&SeqBuf::dense(c.iter().map(|&v| v as f32).collect(), t, b, no), true).unwrap().unwrap();

    // central differences of the f64 naive model (linear in W and x: exact)
    let loss = |w: &[f64], x: &[f64]| naive(w, x).iter().zip(&c).map(|(a, b)| a * b).sum::<f64>();
    let (w64, x64) = (to64(&w), to64(&x));
    let h = 1e-3;
    let fw: Vec<f64> = (0..w.len())
        .map(|k| {
            let (mut p, mut m) = (w64.clone(), w64.clone());
            p[k] += h;
            m[k] -= h;
            (loss(&p, &x64) - loss(&m, &x64)) / (2.0 * h)
        })
        .collect();
    let fx: Vec<f64> = (0..x.len())
        .map(|k| {
            let (mut p, mut m) = (x64.clone(), x64.clone());
            p[k] += h;
            m[k] -= h;
            (loss(&w64, &p) - loss(&w64, &m)) / (2.0 * h)
        })
        .collect();
    assert_rel("readout ∂W vs fd", &to64(ro.grad_w()), &fw, 1e-5);
    assert_rel("readout ∂x vs fd", &to64(&gx.data), &fx, 1e-5);

    // a constant input: same output as its dense repeat, input gradient summed over time
    let xc = SeqBuf::constant(x[..b * ni].to_vec(), t, b, ni);
    let mut rc = LeakyRateReadout::from_weights(w.clone(), ni, no, tau * ms).unwrap();
    let mut rd = rc.clone();
    let yc = rc.forward(&xc, dt).unwrap();
    let yd = rd.forward(&xc.to_dense(), dt).unwrap();
    assert_close32("readout constant vs dense", &yc.data, &yd.data, 1e-6);
    let gy = SeqBuf::dense(c.iter().map(|&v| v as f32).collect(), t, b, no);
    let gc = rc.backward(&gy, true).unwrap().unwrap();
    let gd = rd.backward(&gy, true).unwrap().unwrap();
    assert_close32("readout constant vs dense ∂W", rc.grad_w(), rd.grad_w(), 1e-5);
    assert!(gc.constant && gc.data.len() == b * ni);
    let summed: Vec<f32> = (0..b * ni).map(|k| (0..t).map(|s| gd.data[s * b * ni + k]).sum()).collect();
    assert_close32("readout constant ∂x = Σ_t dense ∂x", &gc.data, &summed, 1e-5);
}

// ---------------------------------------------------------------------------------------------
// 3. whole networks

/// The seed's `SimpleNeuron`, copied from examples/simple_neuron.rs.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleNeuron;

impl NeuronModel for SimpleNeuron {
    const NAME: &'static str = "SimpleNeuron";
    // def __init__(self, in_size, V_th=1.0 * u.mV, **kwargs)
    const PARAMS: &'static [ParamSpec] = &[ParamSpec::finite("V_th", Dim::VOLTAGE, 1.0)];
    // init_state / reset_state: self.V = HiddenState(Constant(0 mV))
    const STATES: &'static [StateSpec] = &[StateSpec::of("V", Dim::VOLTAGE).init_const(0.0)];
    // update(x): x is a voltage (said once; raw numbers are read in mV)
    type Input = dim::V;
    // compares only via select_*/spike: may run 64 neurons at a time
    const VECTOR: bool = true;

    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        let v_th = param!(c, "V_th"); // a misspelt name does not compile
        s[state!("V")] += x; // self.V.value += x
        c.spike((s[state!("V")] - v_th) / v_th) // self.get_spike()
    }
}

/// A leaky neuron whose output is a smooth sigmoid of V (no threshold, no reset), written as a
/// user would: a network of it is differentiable everywhere, so finite differences check the
/// whole stack.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmoothNeuron;

impl NeuronModel for SmoothNeuron {
    const NAME: &'static str = "SmoothNeuron";
    const PARAMS: &'static [ParamSpec] = &[ParamSpec::positive("tau", Dim::TIME, 5.0), ParamSpec::finite("V_th", Dim::VOLTAGE, 1.0)];
    const STATES: &'static [StateSpec] = &[StateSpec::of("V", Dim::VOLTAGE).init_const(0.0)];
    type Input = dim::I;

    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        let (tau, v_th) = (param!(c, "tau"), param!(c, "V_th"));
        let v = c.ee(s[state!("V")], |v| (-v + x) / tau);
        s[state!("V")] = v;
        S::lit(1.0) / (S::lit(1.0) + (S::lit(-3.0) * (v - v_th)).exp())
    }
}

const DT_MS: f64 = 1.0;
const T: usize = 20;
const B: usize = 3;
const NI: usize = 6;
const H1: usize = 12;
const H2: usize = 10;
const C: usize = 3;
const LABELS: [u32; B] = [0, 2, 1];

/// The pieces of `Linear(NI, H1) → n1 → Linear(H1, H2) → n2 → LeakyRateReadout(H2, C)`.
struct Parts<M1: NeuronModel, M2: NeuronModel> {
    l1: Linear,
    n1: NeuronLayer<M1>,
    p1: &'static str,
    l2: Linear,
    n2: NeuronLayer<M2>,
    p2: &'static str,
    ro: LeakyRateReadout,
}

impl<M1: NeuronModel, M2: NeuronModel> Parts<M1, M2> {
    fn new(n1: NeuronLayer<M1>, p1: &'static str, n2: NeuronLayer<M2>, p2: &'static str, bias: (f64, f64), seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut l1 = Linear::new(NI, H1, seed);
        l1.b = Some(rand_f32(&mut rng, H1, bias.0 - 0.3, bias.0 + 0.3));
        let mut l2 = Linear::new(H1, H2, seed + 1);
        l2.b = Some(rand_f32(&mut rng, H2, bias.1 - 0.3, bias.1 + 0.3));
        let ro = LeakyRateReadout::new(H2, C, 5.0 * ms, seed + 2);
        Parts { l1, n1, p1, l2, n2, p2, ro }
    }
    fn net(&self) -> Sequential {
        Sequential::new(DT_MS * ms)
            .push(self.l1.clone())
            .push(Neurons::new(self.n1.clone()).train(self.p1).unwrap())
            .push(self.l2.clone())
            .push(Neurons::new(self.n2.clone()).train(self.p2).unwrap())
            .push(self.ro.clone())
    }
}

fn input(seed: u64) -> SeqBuf {
    let mut rng = Rng::new(seed);
    SeqBuf::dense(rand_f32(&mut rng, T * B * NI, 0.0, 1.0), T, B, NI)
}

fn loss_of(net: &mut Sequential, x: &SeqBuf) -> f64 {
    let y = net.forward(x).unwrap();
    Loss::CrossEntropy(Reduce::Mean).eval(&y, &LABELS).unwrap().0
}

/// One neuron layer's backward, through the engine directly: the spikes are recomputed from the
/// same input and must equal the network's; returns `(∂x, ∂param)`.
fn neuron_back<M: NeuronModel>(proto: &NeuronLayer<M>, x: &SeqBuf, spk: &SeqBuf, g: &[f64], param: &str) -> (Vec<f64>, f64) {
    let mut l = proto.clone();
    l.init_state(Some(x.batch)).unwrap();
    let mut clock = Clock::new(DT_MS * ms).unwrap();
    let tape = l.forward_tape(&mut clock, SeqInput::Dense(&x.data, x.steps)).unwrap();
    assert_eq!(tape.spikes(), &spk.data[..], "{}: the reference run gives other spikes", M::NAME);
    let gf: Vec<f32> = g.iter().map(|&v| v as f32).collect();
    let mut grads = Gradients::default();
    l.backward_full(&tape, &gf, None, &[param], &mut grads).unwrap();
    (to64(&grads.input), grads.param(param).unwrap().total())
}

/// The network's gradients (as `net.params()` lists them: W1, b1, p1, W2, b2, p2, W_out) and
/// input gradient against a chain rule written here: naive f64 linear algebra for the linear
/// layers and the readout, the engine's BPTT for the neurons.
fn check_against_chain_rule<M1: NeuronModel, M2: NeuronModel>(parts: &Parts<M1, M2>, x: &SeqBuf, rtol: f64) -> Sequential {
    let mut net = parts.net();
    let outs = net.forward_all(x).unwrap();
    assert_eq!(outs.len(), 5);
    let (loss, gy) = Loss::CrossEntropy(Reduce::Mean).eval(&outs[4], &LABELS).unwrap();
    assert!(loss.is_finite());
    net.zero_grad();
    let gx = net.backward(&gy).unwrap();

    // readout: G_t = ∂L/∂r_t + decay·G_{t+1}, then as a linear layer without bias
    let decay = (-(DT_MS as f32) / 5.0f32).exp() as f64;
    let mut g = to64(&gy.data);
    for s in (0..T - 1).rev() {
        for k in 0..B * C {
            g[s * B * C + k] += decay * g[(s + 1) * B * C + k];
        }
    }
    let (gw3, _, gs2) = naive_linear_back(&to64(&outs[3].data), &to64(&parts.ro.w), &g, T * B, H2, C);
    let (ga2, gp2) = neuron_back(&parts.n2, &outs[2], &outs[3], &gs2, parts.p2);
    let (gw2, gb2, gs1) = naive_linear_back(&to64(&outs[1].data), &to64(&parts.l2.w), &ga2, T * B, H1, H2);
    let (ga1, gp1) = neuron_back(&parts.n1, &outs[0], &outs[1], &gs1, parts.p1);
    let (gw1, gb1, gx_ref) = naive_linear_back(&to64(&x.data), &to64(&parts.l1.w), &ga1, T * B, NI, H1);

    let ps = net.params();
    let names: Vec<&str> = ps.iter().map(|p| p.name).collect();
    assert_eq!(names, ["W", "b", parts.p1, "W", "b", parts.p2, "W"]);
    let want = [gw1, gb1, vec![gp1], gw2, gb2, vec![gp2], gw3];
    for ((p, w), label) in ps.iter().zip(&want).zip(["W1", "b1", parts.p1, "W2", "b2", parts.p2, "W_out"]) {
        assert_rel(&format!("{}→{}: ∂{label}", M1::NAME, M2::NAME), &to64(p.grad), w, rtol);
    }
    assert_rel(&format!("{}→{}: ∂x", M1::NAME, M2::NAME), &to64(&gx.data), &gx_ref, rtol);
    drop(ps);
    net
}

/// Central difference of the loss with respect to element `e` of `net.params()[p]`; returns
/// `(fd, spike rasters of the + and − runs)`.
fn fd_param(net: &mut Sequential, x: &SeqBuf, p: usize, e: usize, h: f32) -> (f64, [Vec<Vec<f32>>; 2]) {
    let v0 = net.params()[p].value[e];
    let (vp, vm) = (v0 + h, v0 - h);
    let mut run = |v: f32| {
        net.params()[p].value[e] = v;
        let outs = net.forward_all(x).unwrap();
        let l = Loss::CrossEntropy(Reduce::Mean).eval(&outs[4], &LABELS).unwrap().0;
        (l, vec![outs[1].data.clone(), outs[3].data.clone()])
    };
    let (lp, sp) = run(vp);
    let (lm, sm) = run(vm);
    net.params()[p].value[e] = v0;
    ((lp - lm) / (vp - vm) as f64, [sp, sm])
}

fn spike_fraction(s: &SeqBuf) -> f64 {
    s.data.iter().map(|&v| v as f64).sum::<f64>() / s.data.len() as f64
}

#[test]
fn lif_alif_network_gradients() {
    // Linear → LIF(tau 5 ms, trained) → Linear → ALIF(tau 8 ms, trained) → LeakyRateReadout,
    // smooth surrogate (Sigmoid, α = 4)
    let lif = Lif::builder(H1).tau(5.0 * ms).spk_fun(Sigmoid::default()).build().unwrap();
    let alif = Alif::builder(H2).tau(8.0 * ms).tau_a(50.0 * ms).beta(0.3 * mV).spk_fun(Sigmoid::default()).build().unwrap();
    let parts = Parts::new(lif, "tau", alif, "tau", (1.2, 1.4), 10);
    let x = input(11);
    let mut net = check_against_chain_rule(&parts, &x, 1e-5);

    let outs = net.forward_all(&x).unwrap();
    let (f1, f2) = (spike_fraction(&outs[1]), spike_fraction(&outs[3]));
    assert!((0.05..0.6).contains(&f1) && (0.05..0.6).contains(&f2), "both layers must spike, not saturate: {f1} {f2}");
    let base = [outs[1].data.clone(), outs[3].data.clone()];
    net.zero_grad();
    net.backward(&Loss::CrossEntropy(Reduce::Mean).eval(&outs[4], &LABELS).unwrap().1).unwrap();
    let grads: Vec<Vec<f32>> = net.params().iter().map(|p| p.grad.to_vec()).collect();

    // finite differences: the readout weights come after the last spikes, so the loss is smooth
    // in them and no spike can flip (checked); h = 1e-2, |bptt − fd| ≤ 1e-5 + 1e-4·|fd|
    for e in [0, 4, 13, 29] {
        let (fd, [sp, sm]) = fd_param(&mut net, &x, 6, e, 1e-2);
        assert!(sp == base && sm == base, "W_out[{e}]: a spike flipped");
        let g = grads[6][e] as f64;
        assert!((g - fd).abs() <= 1e-5 + 1e-4 * fd.abs(), "W_out[{e}]: bptt {g} vs fd {fd}");
    }
    // before a spiking layer the loss is piecewise constant: where no spike flips the finite
    // difference is exactly 0, while BPTT gives the surrogate gradient (checked above against the
    // chain rule, not against finite differences)
    let (fd, [sp, sm]) = fd_param(&mut net, &x, 0, 3, 1e-6);
    if sp == base && sm == base {
        assert_eq!(fd, 0.0);
        assert!(grads[0][3] != 0.0, "the surrogate gradient of W1[3] is not zero");
    }
}

#[test]
fn simple_neuron_network_gradients() {
    // the seed's SimpleNeuron (user-defined, V_th trained) with a smooth surrogate, in both hidden
    // layers; inputs in mV
    let build = |n| LayerBuilder::<SimpleNeuron>::new(SimpleNeuron, n).set("V_th", 2.0 * mV).spk_fun(Sigmoid::default()).build().unwrap();
    let parts = Parts::new(build(H1), "V_th", build(H2), "V_th", (0.1, -0.2), 20);
    let x = input(21);
    let mut net = check_against_chain_rule(&parts, &x, 1e-5);
    let outs = net.forward_all(&x).unwrap();
    let (f1, f2) = (spike_fraction(&outs[1]), spike_fraction(&outs[3]));
    assert!((0.05..0.95).contains(&f1) && (0.05..0.95).contains(&f2), "both layers must spike, not saturate: {f1} {f2}");
    let base = [outs[1].data.clone(), outs[3].data.clone()];
    net.zero_grad();
    net.backward(&Loss::CrossEntropy(Reduce::Mean).eval(&outs[4], &LABELS).unwrap().1).unwrap();
    let g: Vec<f32> = net.params()[6].grad.to_vec();
    for e in [1, 7, 22] {
        let (fd, [sp, sm]) = fd_param(&mut net, &x, 6, e, 1e-2);
        assert!(sp == base && sm == base, "W_out[{e}]: a spike flipped");
        assert!((g[e] as f64 - fd).abs() <= 1e-5 + 1e-4 * fd.abs(), "W_out[{e}]: bptt {} vs fd {fd}", g[e]);
    }
}

#[test]
fn smooth_network_gradients_match_finite_differences() {
    // a network of a smooth user-defined neuron is differentiable end to end: every weight, bias,
    // neuron tau (Neurons::train) and input checked against central differences of the f32
    // network (loss in f64); h = 1e-2 (tau: 2e-2 ms), |bptt − fd| ≤ 2e-5 + 2e-3·|fd| (the
    // gradients are 1e-4..5e-2; observed errors ≤ 7e-6)
    let build = |n, tau: f64| LayerBuilder::<SmoothNeuron>::new(SmoothNeuron, n).set("tau", tau * ms).build().unwrap();
    let parts = Parts::new(build(H1, 4.0), "tau", build(H2, 8.0), "tau", (0.5, 0.0), 30);
    let x = input(31);
    let mut net = check_against_chain_rule(&parts, &x, 1e-5);
    let (_, gy) = Loss::CrossEntropy(Reduce::Mean).eval(&net.forward(&x).unwrap(), &LABELS).unwrap();
    net.zero_grad();
    let gx = net.backward(&gy).unwrap();
    let grads: Vec<Vec<f32>> = net.params().iter().map(|p| p.grad.to_vec()).collect();
    let check = |what: String, g: f64, fd: f64| {
        assert!((g - fd).abs() <= 2e-5 + 2e-3 * fd.abs(), "{what}: bptt {g} vs fd {fd}");
    };
    let mut nonzero = 0;
    for (p, elems, h) in [
        (0usize, vec![0usize, 17, 40, 71], 1e-2f32), // W1
        (1, vec![2, 9], 1e-2),                       // b1
        (2, vec![0], 2e-2),                          // tau of layer 1
        (3, vec![5, 60, 119], 1e-2),                 // W2
        (4, vec![0, 7], 1e-2),                       // b2
        (5, vec![0], 2e-2),                          // tau of layer 2
        (6, vec![3, 25], 1e-2),                      // W_out
    ] {
        for e in elems {
            let (fd, _) = fd_param(&mut net, &x, p, e, h);
            let g = grads[p][e] as f64;
            nonzero += (g.abs() > 1e-3) as usize;
            check(format!("param {p}[{e}]"), g, fd);
        }
    }
    assert!(nonzero >= 10, "the checked gradients must not be tiny ({nonzero} above 1e-3)");
    for e in [0, 13, 100, T * B * NI - 1] {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp.data[e] += 1e-2;
        xm.data[e] -= 1e-2;
        let fd = (loss_of(&mut net, &xp) - loss_of(&mut net, &xm)) / (xp.data[e] - xm.data[e]) as f64;
        check(format!("x[{e}]"), gx.data[e] as f64, fd);
    }

    // a constant input: the input gradient is the time sum of the dense one, and the parameter
    // gradients are those of the repeated input
    let xc = SeqBuf::constant(x.data[..B * NI].to_vec(), T, B, NI);
    let mut nc = parts.net();
    let (_, gc) = Loss::CrossEntropy(Reduce::Mean).eval(&nc.forward(&xc).unwrap(), &LABELS).unwrap();
    nc.zero_grad();
    let gxc = nc.backward(&gc).unwrap();
    let mut nd = parts.net();
    let (_, gd) = Loss::CrossEntropy(Reduce::Mean).eval(&nd.forward(&xc.to_dense()).unwrap(), &LABELS).unwrap();
    nd.zero_grad();
    let gxd = nd.backward(&gd).unwrap();
    assert!(gxc.constant);
    let summed: Vec<f64> = (0..B * NI).map(|k| (0..T).map(|s| gxd.data[s * B * NI + k] as f64).sum()).collect();
    assert_rel("constant-input ∂x", &to64(&gxc.data), &summed, 1e-5);
    for (a, b) in nc.params().iter().zip(nd.params().iter()) {
        assert_rel(&format!("constant-input ∂{}", a.name), &to64(a.grad), &to64(b.grad), 1e-5);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. step mode (a user struct of layers) vs sequence mode (Sequential)

/// The seed's `SpikingNet` (LIF → Linear → ALIF → Linear → LIF), smaller, as a user struct whose
/// fields are layers, run one step at a time.
struct SpikingNet {
    layer1: NeuronLayer<Lif>,
    fc1: Linear,
    layer2: NeuronLayer<Alif>,
    fc2: Linear,
    layer3: NeuronLayer<Lif>,
}

/// `x·W + b` for one step's `batch × n_in` values.
fn fc_step(fc: &Linear, s: &[f32], n_in: usize, n_out: usize) -> Vec<f32> {
    let batch = s.len() / n_in;
    let mut y = vec![0.0f32; batch * n_out];
    for r in 0..batch {
        for i in 0..n_in {
            for o in 0..n_out {
                y[r * n_out + o] += s[r * n_in + i] * fc.w[i * n_out + o];
            }
        }
        if let Some(b) = &fc.b {
            for o in 0..n_out {
                y[r * n_out + o] += b[o];
            }
        }
    }
    y
}

impl SpikingNet {
    /// `__call__(x)` for one step; returns every layer's output.
    fn call(&mut self, clock: &Clock, x: &[f32]) -> [Vec<f32>; 5] {
        let (n0, n1, n2) = (self.layer1.num_neurons(), self.layer2.num_neurons(), self.layer3.num_neurons());
        let spikes1 = self.layer1.update(clock, x).unwrap().iter().copied().collect::<Vec<f32>>();
        let x1 = fc_step(&self.fc1, &spikes1, n0, n1);
        let spikes2 = self.layer2.update(clock, &x1).unwrap().iter().copied().collect::<Vec<f32>>();
        let x2 = fc_step(&self.fc2, &spikes2, n1, n2);
        let spikes3 = self.layer3.update(clock, &x2).unwrap().iter().copied().collect::<Vec<f32>>();
        [spikes1, x1, spikes2, x2, spikes3]
    }
}

#[test]
fn step_mode_equals_sequence_mode() {
    let (t, b, n0, n1, n2) = (40, 2, 24, 16, 6);
    let mut fc1 = Linear::new(n0, n1, 41);
    fc1.w.iter_mut().for_each(|w| *w *= 2.0);
    fc1.b = Some(vec![1.2; n1]);
    let mut fc2 = Linear::new(n1, n2, 42);
    fc2.w.iter_mut().for_each(|w| *w *= 3.0);
    fc2.b = Some(vec![1.2; n2]);
    let mut user = SpikingNet {
        layer1: Lif::builder(n0).tau(5.0 * ms).build().unwrap(),
        fc1,
        layer2: Alif::builder(n1).tau(10.0 * ms).tau_a(200.0 * ms).build().unwrap(),
        fc2,
        layer3: Lif::builder(n2).tau(8.0 * ms).build().unwrap(),
    };
    let mut seq = Sequential::new(DT_MS * ms)
        .push(Neurons::new(user.layer1.clone()))
        .push(user.fc1.clone())
        .push(Neurons::new(user.layer2.clone()))
        .push(user.fc2.clone())
        .push(Neurons::new(user.layer3.clone()));
    let mut rng = Rng::new(43);
    let x = SeqBuf::dense(rand_f32(&mut rng, t * b * n0, 0.0, 2.5), t, b, n0);

    // step mode: init_state, then update at each step and advance the clock (update never does)
    user.layer1.init_state(Some(b)).unwrap();
    user.layer2.init_state(Some(b)).unwrap();
    user.layer3.init_state(Some(b)).unwrap();
    let mut clock = Clock::new(DT_MS * ms).unwrap();
    let widths = [n0, n1, n1, n2, n2];
    let mut step_outs: Vec<Vec<f32>> = vec![Vec::new(); 5];
    for s in 0..t {
        let outs = user.call(&clock, &x.data[s * b * n0..(s + 1) * b * n0]);
        for (acc, o) in step_outs.iter_mut().zip(outs) {
            acc.extend(o);
        }
        clock.advance();
    }
    // forgetting the advance is an error, not a repeated step
    assert!(user.layer1.update(&clock, &x.data[..b * n0]).is_ok());
    assert!(matches!(user.layer1.update(&clock, &x.data[..b * n0]), Err(SomataError::ClockNotAdvanced { .. })));

    // sequence mode (every Neurons layer starts from init_state at step 0), twice
    let seq_outs = seq.forward_all(&x).unwrap();
    assert_eq!(seq.forward_all(&x).unwrap(), seq_outs, "a second forward starts again from the initial state");
    for (k, ((so, qo), w)) in step_outs.iter().zip(&seq_outs).zip(widths).enumerate() {
        assert_eq!((qo.steps, qo.batch, qo.n), (t, b, w));
        if k % 2 == 0 {
            assert_eq!(so, &qo.data, "layer {k}: spikes differ between step and sequence mode");
        } else {
            assert_close32(&format!("layer {k} currents"), so, &qo.data, 1e-6);
        }
    }
    for k in [0, 2, 4] {
        let f = spike_fraction(&seq_outs[k]);
        assert!(f > 0.02 && f < 0.8, "layer {k} spike fraction {f}");
    }
    // the recorded membrane potentials equal the step-mode layer's final state
    let v3 = &seq.layers()[4].states()[0];
    assert_eq!(v3.0, "V");
    let last: Vec<f32> = user.layer3.v().unwrap().iter().copied().collect();
    assert_eq!(&v3.2[(t - 1) * b * n2..], &last[..], "final V of layer 3");
}

// ---------------------------------------------------------------------------------------------
// 5. losses

/// f64 reference of `Reduce::apply`.
fn reduce64(y: &SeqBuf, r: Reduce) -> Vec<f64> {
    let mut z = vec![0.0f64; y.batch * y.n];
    for b in 0..y.batch {
        for c in 0..y.n {
            let col: Vec<f64> = (0..y.steps).map(|t| y.at(t, b, c) as f64).collect();
            z[b * y.n + c] = match r {
                Reduce::Mean => col.iter().sum::<f64>() / y.steps as f64,
                Reduce::Sum => col.iter().sum(),
                Reduce::Last => col[y.steps - 1],
                Reduce::Max => col.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            };
        }
    }
    z
}

fn ce64(y: &SeqBuf, r: Reduce, labels: &[u32]) -> f64 {
    let z = reduce64(y, r);
    let mut l = 0.0;
    for b in 0..y.batch {
        let row = &z[b * y.n..(b + 1) * y.n];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        l += lse - row[labels[b] as usize];
    }
    l / y.batch as f64
}

#[test]
fn cross_entropy_gradients_match_finite_differences() {
    let (t, b, c) = (6, 3, 4);
    let labels = [0u32, 3, 1];
    let mut rng = Rng::new(50);
    let y = SeqBuf::dense(rand_f32(&mut rng, t * b * c, -2.0, 2.0), t, b, c);
    for r in [Reduce::Mean, Reduce::Sum, Reduce::Last, Reduce::Max] {
        let loss = Loss::CrossEntropy(r);
        let (l, g) = loss.eval(&y, &labels).unwrap();
        let want = ce64(&y, r, &labels);
        assert!((l - want).abs() < 1e-6 * want.abs().max(1.0), "{r:?}: loss {l} vs {want}");
        assert_eq!((g.steps, g.batch, g.n, g.constant), (t, b, c, false));
        // central differences of the f64 reference, h = 1e-4 (for Max, only where the maximum
        // does not move to another step)
        let h = 1e-4f32;
        let mut checked = 0;
        let fd: Vec<f64> = (0..t * b * c)
            .map(|k| {
                let (mut yp, mut ym) = (y.clone(), y.clone());
                yp.data[k] += h;
                ym.data[k] -= h;
                if r == Reduce::Max && (r.apply(&yp).1 != r.apply(&y).1 || r.apply(&ym).1 != r.apply(&y).1) {
                    return g.data[k] as f64; // not differentiable here: skipped
                }
                checked += 1;
                (ce64(&yp, r, &labels) - ce64(&ym, r, &labels)) / (yp.data[k] - ym.data[k]) as f64
            })
            .collect();
        assert!(checked >= t * b * c - 2, "{r:?}: {checked} checked");
        assert_rel(&format!("CE {r:?} ∂y"), &to64(&g.data), &fd, 1e-5);
        // where the gradient goes: Last only the last step, Max one step per (row, class)
        let nz = g.data.iter().filter(|&&v| v != 0.0).count();
        match r {
            Reduce::Mean | Reduce::Sum => assert_eq!(nz, t * b * c),
            Reduce::Last => assert!(g.data[..(t - 1) * b * c].iter().all(|&v| v == 0.0) && nz == b * c),
            Reduce::Max => assert_eq!(nz, b * c),
        }
        // the softmax gradient of each row sums to 0
        for bb in 0..b {
            let s: f64 = (0..t).flat_map(|tt| (0..c).map(move |cc| (tt, cc))).map(|(tt, cc)| g.at(tt, bb, cc) as f64).sum();
            assert!(s.abs() < 1e-6, "{r:?}: row {bb} sums to {s}");
        }
    }
    // MSE against a scaled one-hot target, Sum over time
    let (l, g) = Loss::Mse(Reduce::Sum, 2.0).eval(&y, &labels).unwrap();
    let z = reduce64(&y, Reduce::Sum);
    let mse = |z: &[f64]| -> f64 {
        (0..b * c).map(|k| (z[k] - if k % c == labels[k / c] as usize { 2.0 } else { 0.0 }).powi(2)).sum::<f64>() / (b * c) as f64
    };
    assert!((l - mse(&z)).abs() < 1e-6 * mse(&z), "MSE {l} vs {}", mse(&z));
    for k in [0, 5, 30, 71] {
        let (mut yp, mut ym) = (y.clone(), y.clone());
        yp.data[k] += 1e-3;
        ym.data[k] -= 1e-3;
        let fd = (mse(&reduce64(&yp, Reduce::Sum)) - mse(&reduce64(&ym, Reduce::Sum))) / (yp.data[k] - ym.data[k]) as f64;
        assert!((g.data[k] as f64 - fd).abs() < 1e-4 * fd.abs().max(1.0), "MSE ∂y[{k}]: {} vs {fd}", g.data[k]);
    }
}

#[test]
fn loss_errors_and_predict() {
    let (t, b, c) = (5, 4, 3);
    let mut rng = Rng::new(51);
    let y = SeqBuf::dense(rand_f32(&mut rng, t * b * c, -1.0, 1.0), t, b, c);
    let ce = Loss::CrossEntropy(Reduce::Mean);
    // a label ≥ the number of outputs, or one label per row missing
    let e = ce.eval(&y, &[0, 1, 3, 2]).unwrap_err();
    assert!(e.to_string().contains("label 3 out of range"), "{e}");
    assert!(Loss::Mse(Reduce::Last, 1.0).eval(&y, &[0, 1, 2, 99]).is_err());
    assert!(ce.eval(&y, &[0, 1, 2]).is_err());
    assert!(ce.eval(&SeqBuf::dense(vec![0.0; 7], t, b, c), &[0, 1, 2, 0]).is_err());
    assert!(ce.eval(&y, &[0, 1, 2, 2]).is_ok());

    // predict = argmax of the reduced output, for each reduction
    for r in [Reduce::Mean, Reduce::Sum, Reduce::Last, Reduce::Max] {
        let z = reduce64(&y, r);
        let want: Vec<u32> = z.chunks(c).map(|row| (0..c).fold(0, |best, k| if row[k] > row[best] { k } else { best }) as u32).collect();
        assert_eq!(Loss::CrossEntropy(r).predict(&y), want, "{r:?}");
        assert_eq!(Loss::Mse(r, 1.0).predict(&y), want, "{r:?}");
    }
    // a hand-made case where the reductions disagree: class 0 leads early and on average,
    // class 1 at the last step, class 2 has the highest peak
    let rows = [[3.0f32, 0.0, 0.0], [3.0, 0.0, 5.0], [0.0, 2.0, 0.0]];
    let y = SeqBuf::dense(rows.concat(), 3, 1, 3);
    assert_eq!(Loss::CrossEntropy(Reduce::Mean).predict(&y), vec![0]);
    assert_eq!(Loss::CrossEntropy(Reduce::Sum).predict(&y), vec![0]);
    assert_eq!(Loss::CrossEntropy(Reduce::Last).predict(&y), vec![1]);
    assert_eq!(Loss::CrossEntropy(Reduce::Max).predict(&y), vec![2]);
}

// ---------------------------------------------------------------------------------------------
// 6. training

#[test]
fn trainer_learns_digits_deterministically() {
    let data = somata::data::digits();
    let (train, test) = data.split(0.2, 0);
    let (n_in, n_cls) = (train.n_features, train.n_classes);
    assert_eq!((n_in, n_cls), (64, 10));
    let (train, test): (Data, Data) = (train.into(), test.into());
    let cfg = TrainConfig { epochs: 3, ..TrainConfig::default() };
    let run = || {
        let mut t = Trainer::new(&cfg, n_in, n_cls).unwrap();
        let reports: Vec<_> = (0..cfg.epochs).map(|e| t.epoch(&train, &test, e).unwrap()).collect();
        let weights: Vec<Vec<f32>> = t.net.params().iter().map(|p| p.value.to_vec()).collect();
        (reports, weights)
    };
    let (r1, w1) = run();
    let (r2, w2) = run();
    let last = r1.last().unwrap();
    assert!(last.test_accuracy > 0.9, "test accuracy after 3 epochs: {}", last.test_accuracy);
    assert!(r1[2].train_loss < r1[0].train_loss, "the loss decreases: {r1:?}");
    // the same seed gives the same run (timings aside)
    let key = |r: &somata::nn::train::EpochReport| (r.epoch, r.train_loss.to_bits(), r.train_accuracy.to_bits(), r.test_accuracy.to_bits());
    assert_eq!(r1.iter().map(key).collect::<Vec<_>>(), r2.iter().map(key).collect::<Vec<_>>());
    assert!(w1 == w2, "the trained weights are bit-identical");
}
