//! `somata::nn`, training extras: the recurrent layer, the membrane readout, the firing-rate
//! regulariser, truncated BPTT, initial-state gradients, and step mode against sequence mode.
//!
//! Gradient checks: the layers are `f32`; a network of a smooth user-defined neuron is written
//! again here as a naive `f64` reference (its forward pass must equal the layers' to 1e-5), and
//! the layers' BPTT gradients are compared with central differences of the reference's loss in
//! `f64` (h = 1e-6): `|bptt − fd| ≤ 1e-6 + 1e-4·|fd|` per element (the f32 BPTT error, observed
//! ≤ 1e-6 relative). Direct `f32` finite differences of the layers themselves (h = 1e-2,
//! `|bptt − fd| ≤ 2e-5 + 2e-3·|fd|`) check that the layers compute the reference.

use somata::dynamics::{NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use somata::engine::{LayerBuilder, NeuronLayer};
use somata::init::Rng;
use somata::nn::{Layer, LeakyMembraneReadout, LeakyRateReadout, Linear, Loss, Neurons, RateReg, Recurrent, Reduce, SeqBuf, Sequential};
use somata::prelude::*;
use somata::units::{dim, Dim};
use somata::{param, state};

// ---------------------------------------------------------------------------------------------
// helpers

fn rand_f32(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> Vec<f32> {
    (0..n).map(|_| (lo + (hi - lo) * rng.uniform()) as f32).collect()
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |a, &b| a.max(b.abs()))
}

/// `max |got − want| ≤ rtol · max |want|`, and the reference is not all zeros.
fn assert_rel(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = max_abs(want);
    assert!(scale > 0.0, "{what}: the reference is zero, nothing is checked");
    let (k, err) = got.iter().zip(want).map(|(a, b)| (a - b).abs()).enumerate().fold((0, 0.0f64), |a, b| if b.1 > a.1 { b } else { a });
    assert!(err <= rtol * scale, "{what}: worst element {k}: {} vs {} (max error {err:e}, scale {scale:e})", got[k], want[k]);
}

fn spike_fraction(s: &SeqBuf) -> f64 {
    s.data.iter().map(|&v| v as f64).sum::<f64>() / s.data.len().max(1) as f64
}

/// A leaky neuron whose output is a smooth sigmoid of V (no threshold, no reset): networks of it
/// are differentiable everywhere, so finite differences check every gradient.
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

const DT: f64 = 1.0;
const T: usize = 16;
const B: usize = 2;
const NI: usize = 5;
const H: usize = 7;
const C: usize = 3;
const LABELS: [u32; B] = [2, 0];

/// The naive f64 reference of `Linear(NI, H) → smooth neurons (recurrent when W_rec is given) →
/// LeakyMembraneReadout(H, C)`, with cross-entropy of the mean over time, plus an optional
/// rate regulariser on the hidden outputs.
#[derive(Debug, Clone)]
struct RefNet {
    w1: Vec<f64>,
    b1: Vec<f64>,
    wrec: Vec<f64>,
    brec: Vec<f64>,
    tau: f64,
    vth: f64,
    /// canonical value of one raw input number of the smooth neuron
    scale: f64,
    v0: Vec<f64>,
    wo: Vec<f64>,
    bo: Vec<f64>,
    tau_o: f64,
}

impl RefNet {
    /// `(hidden outputs [T][B][H], readout [T][B][C])`.
    fn forward(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let a_n = 1.0 - (-DT / self.tau).exp();
        let a_o = 1.0 - (-DT / self.tau_o).exp();
        let mut v = self.v0.clone();
        let mut s_prev = vec![0.0; B * H];
        let mut vo = vec![0.0; B * C];
        let (mut hs, mut ys) = (Vec::new(), Vec::new());
        for t in 0..T {
            let mut s = vec![0.0; B * H];
            for b in 0..B {
                for j in 0..H {
                    let mut i_in = self.b1[j] + self.brec[j];
                    for i in 0..NI {
                        i_in += x[(t * B + b) * NI + i] * self.w1[i * H + j];
                    }
                    for i in 0..H {
                        i_in += s_prev[b * H + i] * self.wrec[i * H + j];
                    }
                    let k = b * H + j;
                    v[k] += a_n * (i_in * self.scale - v[k]);
                    s[k] = 1.0 / (1.0 + (-3.0 * (v[k] - self.vth)).exp());
                }
            }
            for b in 0..B {
                for o in 0..C {
                    let mut u = self.bo[o];
                    for j in 0..H {
                        u += s[b * H + j] * self.wo[j * C + o];
                    }
                    vo[b * C + o] += a_o * (u - vo[b * C + o]);
                }
            }
            hs.extend_from_slice(&s);
            ys.extend_from_slice(&vo);
            s_prev = s;
        }
        (hs, ys)
    }

    /// Cross-entropy of the mean over time (mean over the batch) + the regulariser on the
    /// hidden layer (layer index 1).
    fn loss(&self, x: &[f64], reg: Option<&RateReg>) -> f64 {
        let (hs, ys) = self.forward(x);
        let mut loss = 0.0;
        for b in 0..B {
            let z: Vec<f64> = (0..C).map(|o| (0..T).map(|t| ys[(t * B + b) * C + o]).sum::<f64>() / T as f64).collect();
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            loss += lse - z[LABELS[b] as usize];
        }
        loss /= B as f64;
        match reg {
            Some(RateReg::Mean { lambda, .. }) => loss += lambda * hs.iter().sum::<f64>() / hs.len() as f64,
            Some(RateReg::Target { lambda, target, .. }) => {
                let mut s = 0.0;
                for k in 0..B * H {
                    let r = (0..T).map(|t| hs[t * B * H + k]).sum::<f64>() / T as f64;
                    s += (r - target) * (r - target);
                }
                loss += lambda * s / (B * H) as f64;
            }
            None => {}
        }
        loss
    }
}

/// The pieces of the f32 network matching a [`RefNet`].
struct Smooth {
    l1: Linear,
    rec: Recurrent<SmoothNeuron>,
    ro: LeakyMembraneReadout,
    x: SeqBuf,
    r: RefNet,
}

fn smooth_net(seed: u64, recurrent: bool) -> Smooth {
    let mut rng = Rng::new(seed);
    let mut l1 = Linear::new(NI, H, seed);
    l1.b = Some(rand_f32(&mut rng, H, 0.2, 0.8));
    let v0 = rand_f32(&mut rng, B * H, -0.5, 1.0);
    let layer = LayerBuilder::<SmoothNeuron>::new(SmoothNeuron, H)
        .set("tau", 4.0 * ms)
        .set("V_th", 1.0 * mV)
        .init("V", Init::Values(to64(&v0)))
        .build()
        .unwrap();
    let scale = layer.input_scale();
    let wrec = if recurrent { rand_f32(&mut rng, H * H, -0.8, 0.8) } else { vec![0.0; H * H] };
    let mut rec = Recurrent::from_weights(layer, wrec.clone()).unwrap().with_bias().train("tau").unwrap();
    let brec = rand_f32(&mut rng, H, -0.3, 0.3);
    rec.b = Some(brec.clone());
    let bo = rand_f32(&mut rng, C, -0.2, 0.2);
    let wo: Vec<f32> = Linear::new(H, C, seed + 1).w.iter().map(|w| w * 2.0).collect();
    let ro = LeakyMembraneReadout::from_weights(wo.clone(), Some(bo.clone()), H, C).unwrap().tau(3.0 * ms).unwrap();
    let x = SeqBuf::dense(rand_f32(&mut rng, T * B * NI, 0.0, 1.0), T, B, NI);
    let r = RefNet {
        w1: to64(&l1.w),
        b1: to64(l1.b.as_ref().unwrap()),
        wrec: to64(&wrec),
        brec: to64(&brec),
        tau: 4.0,
        vth: 1.0,
        scale,
        v0: to64(&v0),
        wo: to64(&wo),
        bo: to64(&bo),
        tau_o: 3.0,
    };
    Smooth { l1, rec, ro, x, r }
}

/// `|bptt − fd| ≤ 1e-6 + 1e-4·|fd|`.
fn check_fd(what: &str, g: f64, fd: f64) {
    assert!((g - fd).abs() <= 1e-6 + 1e-4 * fd.abs(), "{what}: bptt {g:e} vs f64 fd {fd:e}");
}

/// Central difference (f64, h = 1e-6) of the reference loss in one value of the reference.
fn fd64(r: &RefNet, x: &[f64], reg: Option<&RateReg>, poke: impl Fn(&mut RefNet, &mut Vec<f64>, f64)) -> f64 {
    let h = 1e-6;
    let (mut rp, mut xp) = (r.clone(), x.to_vec());
    poke(&mut rp, &mut xp, h);
    let (mut rm, mut xm) = (r.clone(), x.to_vec());
    poke(&mut rm, &mut xm, -h);
    (rp.loss(&xp, reg) - rm.loss(&xm, reg)) / (2.0 * h)
}

// ---------------------------------------------------------------------------------------------
// 1. the recurrent layer

#[test]
fn recurrent_gradients_match_f64_finite_differences() {
    let Smooth { mut l1, mut rec, mut ro, x, r } = smooth_net(1, true);
    // forward through the layers, by hand (typed access to every layer)
    let a = l1.forward(&x, DT).unwrap();
    let s = rec.forward(&a, DT).unwrap();
    let y = ro.forward(&s, DT).unwrap();
    let (hs_ref, y_ref) = r.forward(&to64(&x.data));
    assert_rel("hidden outputs vs f64 reference", &to64(&s.data), &hs_ref, 1e-5);
    assert_rel("readout vs f64 reference", &to64(&y.data), &y_ref, 1e-5);
    let (loss, gy) = Loss::CrossEntropy(Reduce::Mean).eval(&y, &LABELS).unwrap();
    assert!((loss - r.loss(&to64(&x.data), None)).abs() < 1e-5, "loss {loss} vs {}", r.loss(&to64(&x.data), None));
    let gs = ro.backward(&gy, true).unwrap().unwrap();
    let ga = rec.backward(&gs, true).unwrap().unwrap();
    let gx = l1.backward(&ga, true).unwrap().unwrap();

    let x64 = to64(&x.data);
    let mut big = 0;
    let mut chk = |what: String, g: f32, fd: f64| {
        big += (fd.abs() > 1e-3) as usize;
        check_fd(&what, g as f64, fd);
    };
    // W_rec, b_rec, tau of the recurrent layer
    for e in [0, 8, 17, 30, H * H - 1] {
        let fd = fd64(&r, &x64, None, |r, _, h| r.wrec[e] += h);
        chk(format!("W_rec[{e}]"), rec.grad_w_rec()[e], fd);
    }
    for e in [0, 3, H - 1] {
        let fd = fd64(&r, &x64, None, |r, _, h| r.brec[e] += h);
        chk(format!("b_rec[{e}]"), rec.grad_b()[e], fd);
    }
    let gtau = rec.params().iter().find(|p| p.name == "tau").unwrap().grad[0];
    chk("tau".into(), gtau, fd64(&r, &x64, None, |r, _, h| r.tau += h));
    // the input of the recurrent layer (through the Linear before it), the network input
    for e in [0, 6, 21, NI * H - 1] {
        chk(format!("W1[{e}]"), l1.grad_w()[e], fd64(&r, &x64, None, |r, _, h| r.w1[e] += h));
    }
    for e in [1, 5] {
        chk(format!("b1[{e}]"), l1.grad_b()[e], fd64(&r, &x64, None, |r, _, h| r.b1[e] += h));
    }
    for e in [0, 7, 33, T * B * NI - 1] {
        chk(format!("x[{e}]"), gx.data[e], fd64(&r, &x64, None, |_, x, h| x[e] += h));
    }
    // the readout's weights and bias
    for e in [0, 4, 11, H * C - 1] {
        chk(format!("W_o[{e}]"), ro.grad_w()[e], fd64(&r, &x64, None, |r, _, h| r.wo[e] += h));
    }
    for e in 0..C {
        chk(format!("b_o[{e}]"), ro.grad_b()[e], fd64(&r, &x64, None, |r, _, h| r.bo[e] += h));
    }
    // the initial membrane potential (∂L/∂V_0)
    let gv0 = rec.grad_initial_state("V").unwrap().to_vec();
    assert_eq!(gv0.len(), B * H);
    for e in [0, 5, B * H - 1] {
        chk(format!("V0[{e}]"), gv0[e], fd64(&r, &x64, None, |r, _, h| r.v0[e] += h));
    }
    assert!(big >= 15, "most checked gradients must not be tiny ({big} above 1e-3)");
    assert!(rec.grad_initial_state("nope").is_err());
    assert_eq!(ga.data.len(), T * B * H);
}

#[test]
fn recurrent_f32_finite_differences_of_the_layer_itself() {
    // the layer itself (not the reference): central differences of the f32 network's loss in
    // W_rec and tau, h = 1e-2 (tau: 2e-2 ms), |bptt − fd| ≤ 2e-5 + 2e-3·|fd|
    let Smooth { l1, rec, ro, x, .. } = smooth_net(2, true);
    let mut net = Sequential::new(DT * ms).push(l1).push(rec).push(ro);
    let loss = |net: &mut Sequential| Loss::CrossEntropy(Reduce::Mean).eval(&net.forward(&x).unwrap(), &LABELS).unwrap().0;
    let (_, g) = Loss::CrossEntropy(Reduce::Mean).eval(&net.forward(&x).unwrap(), &LABELS).unwrap();
    net.zero_grad();
    net.backward(&g).unwrap();
    let names: Vec<&str> = net.params().iter().map(|p| p.name).collect();
    assert_eq!(names, ["W", "b", "W_rec", "b", "tau", "W", "b"]);
    let grads: Vec<Vec<f32>> = net.params().iter().map(|p| p.grad.to_vec()).collect();
    for (p, e, h) in [(2usize, 3usize, 1e-2f32), (2, 20, 1e-2), (2, 41, 1e-2), (4, 0, 2e-2)] {
        let v0 = net.params()[p].value[e];
        net.params()[p].value[e] = v0 + h;
        let lp = loss(&mut net);
        net.params()[p].value[e] = v0 - h;
        let lm = loss(&mut net);
        net.params()[p].value[e] = v0;
        let fd = (lp - lm) / (2.0 * h as f64);
        let g = grads[p][e] as f64;
        assert!((g - fd).abs() <= 2e-5 + 2e-3 * fd.abs(), "param {p}[{e}]: bptt {g} vs f32 fd {fd}");
    }
}

#[test]
fn recurrent_with_zero_weights_equals_neurons() {
    // W_rec = 0: the same spikes and gradients as a Neurons layer of the same LIF (Sigmoid
    // surrogate, tau trained), dense and constant input
    let lif = Lif::builder(H).tau(5.0 * ms).spk_fun(Sigmoid::default()).build().unwrap();
    let mut rng = Rng::new(3);
    for constant in [false, true] {
        let x = if constant {
            SeqBuf::constant(rand_f32(&mut rng, B * H, 0.5, 2.0), T, B, H)
        } else {
            SeqBuf::dense(rand_f32(&mut rng, T * B * H, 0.0, 3.0), T, B, H)
        };
        let mut rec = Recurrent::from_weights(lif.clone(), vec![0.0; H * H]).unwrap().train("tau").unwrap();
        let mut neu = Neurons::new(lif.clone()).train("tau").unwrap();
        let sr = rec.forward(&x, DT).unwrap();
        let sn = neu.forward(&x, DT).unwrap();
        assert_eq!(sr, sn, "spikes (constant input: {constant})");
        let f = spike_fraction(&sr);
        assert!((0.05..0.8).contains(&f), "spike fraction {f}");
        let gy = SeqBuf::dense(rand_f32(&mut rng, T * B * H, -1.0, 1.0), T, B, H);
        let gr = rec.backward(&gy, true).unwrap().unwrap();
        let gn = neu.backward(&gy, true).unwrap().unwrap();
        if constant {
            // the Neurons layer returns a dense input gradient; the recurrent one sums it
            assert!(gr.constant && gr.data.len() == B * H);
            let summed: Vec<f64> = (0..B * H).map(|k| (0..T).map(|t| gn.data[t * B * H + k] as f64).sum()).collect();
            assert_rel("∂x (constant)", &to64(&gr.data), &summed, 1e-6);
        } else {
            assert_rel("∂x", &to64(&gr.data), &to64(&gn.data), 1e-6);
        }
        let tr = rec.params().iter().find(|p| p.name == "tau").unwrap().grad[0] as f64;
        let tn = neu.params()[0].grad[0] as f64;
        assert!((tr - tn).abs() <= 1e-5 * tn.abs() && tn != 0.0, "∂tau {tr} vs {tn}");
        assert_rel("∂V0", &to64(rec.grad_initial_state("V").unwrap()), &to64(neu.grad_initial_state("V").unwrap()), 1e-6);
        // the recorded V trace is that of the Neurons layer
        assert_eq!(rec.states()[0].2, neu.states()[0].2);
    }
}

#[test]
fn recurrent_forward_equals_step_mode_loop() {
    // a spiking recurrent LIF layer against a loop of NeuronLayer::update with
    // I_t = x_t + b + Σ_i s_{t−1,i}·W_rec[i] (same order of additions: bit-identical spikes)
    let n = 12;
    let lif = Lif::builder(n).tau(8.0 * ms).build().unwrap();
    let mut rng = Rng::new(4);
    let mut rec = Recurrent::new(lif.clone(), 5).with_bias();
    rec.w_rec.iter_mut().for_each(|w| *w *= 1.5);
    rec.b = Some(rand_f32(&mut rng, n, 0.0, 0.2));
    let x = SeqBuf::dense(rand_f32(&mut rng, 60 * B * n, 0.0, 2.4), 60, B, n);
    let y = rec.forward(&x, DT).unwrap();

    let mut l = lif.clone();
    l.init_state(Some(B)).unwrap();
    let mut clock = Clock::new(DT * ms).unwrap();
    let mut prev = vec![0.0f32; B * n];
    let mut all = Vec::new();
    for t in 0..60 {
        let mut i_in: Vec<f32> = x.data[t * B * n..(t + 1) * B * n].to_vec();
        for b in 0..B {
            for j in 0..n {
                i_in[b * n + j] += rec.b.as_ref().unwrap()[j];
            }
            for i in 0..n {
                if prev[b * n + i] == 1.0 {
                    for j in 0..n {
                        i_in[b * n + j] += rec.w_rec[i * n + j];
                    }
                }
            }
        }
        let s: Vec<f32> = l.update(&clock, &i_in).unwrap().iter().copied().collect();
        clock.advance();
        all.extend_from_slice(&s);
        prev = s;
    }
    assert_eq!(y.data, all, "recurrent layer vs step-mode loop");
    let v: Vec<f32> = l.v().unwrap().iter().copied().collect();
    assert_eq!(&rec.states()[0].2[59 * B * n..], &v[..], "final V");
    let f = spike_fraction(&y);
    assert!((0.05..0.7).contains(&f), "spike fraction {f}");
    // the recurrence matters: without W_rec the spikes differ
    let mut ff = Recurrent::from_weights(lif, vec![0.0; n * n]).unwrap().with_bias();
    ff.b = rec.b.clone();
    assert_ne!(ff.forward(&x, DT).unwrap(), y);
    // reproducible initialisation (KaimingNormal, fan-in n)
    assert_eq!(Recurrent::new(Lif::builder(n).build().unwrap(), 5).w_rec.len(), n * n);
    assert_eq!(Recurrent::new(Lif::builder(n).build().unwrap(), 5).w_rec, Recurrent::new(Lif::builder(n).build().unwrap(), 5).w_rec);
    assert!(Recurrent::from_weights(Lif::builder(n).build().unwrap(), vec![0.0; 3]).is_err());
    assert_eq!(rec.kind(), "recurrent-LIF");
}

// ---------------------------------------------------------------------------------------------
// 2. the membrane readout

#[test]
fn membrane_readout_matches_naive_f64_and_finite_differences() {
    let (t, b, ni, no) = (9, 2, 4, 3);
    let mut rng = Rng::new(6);
    let w = rand_f32(&mut rng, ni * no, -1.0, 1.0);
    let bias = rand_f32(&mut rng, no, -0.5, 0.5);
    let x = rand_f32(&mut rng, t * b * ni, -1.0, 2.0);
    let c: Vec<f64> = (0..t * b * no).map(|k| ((k * 37) % 11) as f64 / 11.0 - 0.4).collect();
    let tau = 7.0;
    let naive = |w: &[f64], bias: &[f64], x: &[f64]| -> Vec<f64> {
        let a = 1.0 - (-DT / tau).exp();
        let mut v = vec![0.0; b * no];
        let mut out = Vec::new();
        for s in 0..t {
            for r in 0..b {
                for o in 0..no {
                    let mut u = bias[o];
                    for i in 0..ni {
                        u += x[(s * b + r) * ni + i] * w[i * no + o];
                    }
                    v[r * no + o] += a * (u - v[r * no + o]);
                }
            }
            out.extend_from_slice(&v);
        }
        out
    };
    let obj = |w: &[f64], bias: &[f64], x: &[f64]| naive(w, bias, x).iter().zip(&c).map(|(a, b)| a * b).sum::<f64>();
    let mut ro = LeakyMembraneReadout::from_weights(w.clone(), Some(bias.clone()), ni, no).unwrap().tau(tau * ms).unwrap();
    assert_eq!(ro.tau_ms(), tau);
    assert_eq!(LeakyMembraneReadout::new(ni, no, 0).tau_ms(), 10.0, "default tau 10 ms");
    let xs = SeqBuf::dense(x.clone(), t, b, ni);
    let y = ro.forward(&xs, DT).unwrap();
    assert_rel("membrane forward", &to64(&y.data), &naive(&to64(&w), &to64(&bias), &to64(&x)), 1e-6);
    // a known value: one input, W = 1, b = 0, x = 1 from step 0: V_t = 1 − (1 − α)^{t+1}
    let mut one = LeakyMembraneReadout::from_weights(vec![1.0], None, 1, 1).unwrap();
    let yo = one.forward(&SeqBuf::constant(vec![1.0], 5, 1, 1), 1.0).unwrap();
    for (k, v) in yo.data.iter().enumerate() {
        let want = 1.0 - (-0.1f64 * (k as f64 + 1.0)).exp();
        assert!((*v as f64 - want).abs() < 1e-6, "step {k}: {v} vs {want}");
    }

    let gy = SeqBuf::dense(c.iter().map(|&v| v as f32).collect(), t, b, no);
    let gx = ro.backward(&gy, true).unwrap().unwrap();
    let (w64, b64, x64) = (to64(&w), to64(&bias), to64(&x));
    let h = 1e-6;
    let fd = |f: &dyn Fn(f64) -> f64| (f(h) - f(-h)) / (2.0 * h);
    let fw: Vec<f64> = (0..ni * no)
        .map(|e| {
            fd(&|d| {
                let mut ww = w64.clone();
                ww[e] += d;
                obj(&ww, &b64, &x64)
            })
        })
        .collect();
    let fb: Vec<f64> = (0..no)
        .map(|e| {
            fd(&|d| {
                let mut bb = b64.clone();
                bb[e] += d;
                obj(&w64, &bb, &x64)
            })
        })
        .collect();
    let fx: Vec<f64> = (0..t * b * ni)
        .map(|e| {
            fd(&|d| {
                let mut xx = x64.clone();
                xx[e] += d;
                obj(&w64, &b64, &xx)
            })
        })
        .collect();
    assert_rel("membrane ∂W vs f64 fd", &to64(ro.grad_w()), &fw, 1e-5);
    assert_rel("membrane ∂b vs f64 fd", &to64(ro.grad_b()), &fb, 1e-5);
    assert_rel("membrane ∂x vs f64 fd", &to64(&gx.data), &fx, 1e-5);

    // constant input: same output as its dense repeat, input gradient summed over time
    let xc = SeqBuf::constant(x[..b * ni].to_vec(), t, b, ni);
    let mut rc = ro.clone();
    let mut rd = ro.clone();
    assert_eq!(rc.forward(&xc, DT).unwrap(), rd.forward(&xc.to_dense(), DT).unwrap());
    let gc = rc.backward(&gy, true).unwrap().unwrap();
    let gd = rd.backward(&gy, true).unwrap().unwrap();
    assert!(gc.constant);
    let summed: Vec<f64> = (0..b * ni).map(|k| (0..t).map(|s| gd.data[s * b * ni + k] as f64).sum()).collect();
    assert_rel("membrane constant ∂x", &to64(&gc.data), &summed, 1e-6);
    // errors
    assert!(LeakyMembraneReadout::from_weights(vec![0.0; 5], None, 2, 3).is_err());
    assert!(LeakyMembraneReadout::from_weights(vec![0.0; 6], Some(vec![0.0; 2]), 2, 3).is_err());
    assert!(LeakyMembraneReadout::new(2, 3, 0).tau(0.0 * ms).is_err());
    assert!(LeakyMembraneReadout::new(2, 3, 0).backward(&gy, true).is_err());
}

// ---------------------------------------------------------------------------------------------
// 3. the firing-rate regulariser

#[test]
fn rate_regularizer_values_and_gradients() {
    // direct: a hand-computed value and central differences on the outputs
    let (t, b, n) = (4, 2, 3);
    let s: Vec<f32> = (0..t * b * n).map(|k| ((k * 7) % 3 == 0) as u8 as f32).collect();
    let outs = vec![SeqBuf::zeros(t, b, 5), SeqBuf::dense(s.clone(), t, b, n)];
    let mean = RateReg::Mean { layers: vec![1], lambda: 0.5 };
    let (r, extra) = mean.eval(&outs).unwrap();
    let want = 0.5 * s.iter().map(|&v| v as f64).sum::<f64>() / (t * b * n) as f64;
    assert!((r - want).abs() < 1e-12, "{r} vs {want}");
    assert!(extra[0].is_none());
    assert!(extra[1].as_ref().unwrap().data.iter().all(|&g| (g as f64 - 0.5 / 24.0).abs() < 1e-9));
    let target = RateReg::Target { layers: vec![1, 1], lambda: 2.0, target: 0.25 };
    let (r, extra) = target.eval(&outs).unwrap();
    let mut want = 0.0;
    for k in 0..b * n {
        let rate = (0..t).map(|s_| s[s_ * b * n + k] as f64).sum::<f64>() / t as f64;
        want += 2.0 * 2.0 * (rate - 0.25).powi(2) / (b * n) as f64; // layer listed twice
    }
    assert!((r - want).abs() < 1e-12, "{r} vs {want}");
    let g = &extra[1].as_ref().unwrap().data;
    for e in [0, 5, 13, 23] {
        let h = 1e-3;
        let mut up = outs.clone();
        up[1].data[e] += h as f32;
        let mut dn = outs.clone();
        dn[1].data[e] -= h as f32;
        let fd = (target.eval(&up).unwrap().0 - target.eval(&dn).unwrap().0) / (up[1].data[e] - dn[1].data[e]) as f64;
        assert!((g[e] as f64 - fd).abs() < 1e-5, "∂R/∂s[{e}]: {} vs {fd}", g[e]);
    }
    assert!((RateReg::per_step(50.0, 1.0 * ms) - 0.05).abs() < 1e-12);
    assert!(RateReg::Mean { layers: vec![2], lambda: 1.0 }.eval(&outs).is_err());

    // end to end: CE + regulariser of the smooth recurrent layer, BPTT against f64 central
    // differences of the reference
    for reg in [RateReg::Mean { layers: vec![1], lambda: 0.7 }, RateReg::Target { layers: vec![1], lambda: 3.0, target: 0.3 }] {
        let Smooth { l1, rec, ro, x, r } = smooth_net(7, true);
        let mut net = Sequential::new(DT * ms).push(l1).push(rec).push(ro);
        let outs = net.forward_all(&x).unwrap();
        let (loss, g, extra) = Loss::CrossEntropy(Reduce::Mean).eval_regularized(&outs, &LABELS, std::slice::from_ref(&reg)).unwrap();
        let x64 = to64(&x.data);
        assert!((loss - r.loss(&x64, Some(&reg))).abs() < 1e-5, "{loss} vs {}", r.loss(&x64, Some(&reg)));
        assert!(extra[1].is_some() && extra[0].is_none() && extra[2].is_none());
        net.zero_grad();
        let gx = net.backward_all(&g, extra).unwrap();
        let grads: Vec<Vec<f32>> = net.params().iter().map(|p| p.grad.to_vec()).collect();
        for e in [2, 19, 40] {
            check_fd(&format!("{reg:?}: W_rec[{e}]"), grads[2][e] as f64, fd64(&r, &x64, Some(&reg), |r, _, h| r.wrec[e] += h));
        }
        check_fd(&format!("{reg:?}: tau"), grads[4][0] as f64, fd64(&r, &x64, Some(&reg), |r, _, h| r.tau += h));
        for e in [1, 30] {
            check_fd(&format!("{reg:?}: W1[{e}]"), grads[0][e] as f64, fd64(&r, &x64, Some(&reg), |r, _, h| r.w1[e] += h));
        }
        check_fd(&format!("{reg:?}: x[9]"), gx.data[9] as f64, fd64(&r, &x64, Some(&reg), |_, x, h| x[9] += h));
        // the regulariser changes the gradient (it is not silently dropped)
        net.zero_grad();
        net.backward(&g).unwrap();
        assert!((net.params()[2].grad[2] - grads[2][2]).abs() > 1e-6);
    }
}

#[test]
fn rate_regularizer_lowers_the_firing_rate_in_training() {
    // only the regulariser (λ·mean spikes of the LIF layer) under SGD: the rate falls
    use somata::optim::{Optimizer, Sgd};
    let mut rng = Rng::new(8);
    let mut l1 = Linear::new(6, 20, 8);
    l1.b = Some(vec![0.6; 20]);
    let mut net = Sequential::new(DT * ms)
        .push(l1)
        .push(Neurons::new(Lif::builder(20).tau(5.0 * ms).spk_fun(Sigmoid::default()).build().unwrap()))
        .push(LeakyRateReadout::new(20, 2, 5.0 * ms, 9));
    let x = SeqBuf::dense(rand_f32(&mut rng, 30 * 4 * 6, 0.0, 1.5), 30, 4, 6);
    let reg = RateReg::Mean { layers: vec![1], lambda: 1.0 };
    let mut opt = Sgd::new(2.0);
    let mut rates = Vec::new();
    for _ in 0..15 {
        let outs = net.forward_all(&x).unwrap();
        rates.push(spike_fraction(&outs[1]));
        let (_, extra) = reg.eval(&outs).unwrap();
        net.zero_grad();
        net.backward_all(&SeqBuf::zeros(30, 4, 2), extra).unwrap();
        let mut ps = net.params();
        let (mut vals, grads): (Vec<&mut [f32]>, Vec<&[f32]>) = ps.iter_mut().map(|p| (&mut *p.value, &*p.grad)).unzip();
        opt.step(&mut vals, &grads).unwrap();
    }
    assert!(rates[0] > 0.1, "starts active: {}", rates[0]);
    assert!(*rates.last().unwrap() < 0.5 * rates[0], "rates {rates:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. truncated BPTT

/// `Linear → ALIF → Linear → recurrent LIF → membrane readout`, spiking, Sigmoid surrogates.
fn spiking_net(seed: u64) -> Sequential {
    let mut l1 = Linear::new(5, 10, seed);
    l1.b = Some(vec![1.4; 10]);
    let mut l2 = Linear::new(10, 8, seed + 1);
    l2.w.iter_mut().for_each(|w| *w *= 2.0);
    l2.b = Some(vec![1.0; 8]);
    let alif = Alif::builder(10).tau(8.0 * ms).tau_a(50.0 * ms).beta(0.3 * mV).spk_fun(Sigmoid::default()).build().unwrap();
    let lif = Lif::builder(8).tau(5.0 * ms).spk_fun(Sigmoid::default()).build().unwrap();
    Sequential::new(DT * ms)
        .push(l1)
        .push(Neurons::new(alif).train("tau").unwrap())
        .push(l2)
        .push(Recurrent::new(lif, seed + 2).with_bias().train("tau").unwrap())
        .push(LeakyMembraneReadout::new(8, 3, seed + 3))
}

fn grads(net: &mut Sequential) -> Vec<Vec<f32>> {
    net.params().iter().map(|p| p.grad.to_vec()).collect()
}

#[test]
fn tbptt_with_long_chunks_is_full_bptt_and_short_chunks_keep_the_forward() {
    let mut rng = Rng::new(10);
    let (t, b) = (50, 3);
    let x = SeqBuf::dense(rand_f32(&mut rng, t * b * 5, 0.0, 1.5), t, b, 5);
    let labels = [0u32, 2, 1];
    let reg = RateReg::Target { layers: vec![1, 3], lambda: 0.5, target: 0.1 };

    // full BPTT
    let mut full = spiking_net(11);
    let outs = full.forward_all(&x).unwrap();
    for k in [1, 3] {
        let f = spike_fraction(&outs[k]);
        assert!((0.03..0.7).contains(&f), "layer {k} spike fraction {f}");
    }
    let (_, g, extra) = Loss::CrossEntropy(Reduce::Max).eval_regularized(&outs, &labels, std::slice::from_ref(&reg)).unwrap();
    full.zero_grad();
    full.backward_all(&g, extra).unwrap();
    let g_full = grads(&mut full);

    // K ≥ T: one chunk, exactly full BPTT
    for k in [t, t + 7] {
        let mut net = spiking_net(11);
        net.zero_grad();
        let mut calls = 0;
        let y = net
            .tbptt(&x, k, |r, outs| {
                calls += 1;
                assert_eq!(r, 0..t);
                let (_, g, e) = Loss::CrossEntropy(Reduce::Max).eval_regularized(outs, &labels, std::slice::from_ref(&reg))?;
                Ok((g, e))
            })
            .unwrap();
        assert_eq!(calls, 1);
        assert_eq!(y, outs[4], "K = {k}: output");
        assert_eq!(grads(&mut net), g_full, "K = {k}: gradients equal full BPTT exactly");
    }

    // K < T: the same forward pass (every layer), chunk by chunk
    for k in [1, 7, 25] {
        let mut net = spiking_net(11);
        net.zero_grad();
        let mut hidden: Vec<Vec<SeqBuf>> = vec![Vec::new(); 5];
        let mut ranges = Vec::new();
        let y = net
            .tbptt(&x, k, |r, o| {
                ranges.push(r);
                for (acc, out) in hidden.iter_mut().zip(o) {
                    acc.push(out.clone());
                }
                let (_, g, e) = Loss::CrossEntropy(Reduce::Mean).eval_regularized(o, &labels, std::slice::from_ref(&reg))?;
                Ok((g, e))
            })
            .unwrap();
        assert_eq!(ranges.len(), t.div_ceil(k));
        assert_eq!(ranges.last().unwrap().end, t);
        assert_eq!(y, outs[4], "K = {k}: output differs from the full forward");
        for (layer, parts) in hidden.iter().enumerate() {
            assert_eq!(SeqBuf::concat_steps(parts).unwrap(), outs[layer].to_dense(), "K = {k}: layer {layer}");
        }
        let gk = grads(&mut net);
        assert!(gk.iter().flatten().all(|v| v.is_finite()));
        assert_ne!(gk, g_full, "K = {k}: the truncated gradient differs from the full one");
        // carrying is off afterwards: a plain forward starts from the initial state again
        assert_eq!(net.forward(&x).unwrap(), outs[4]);
    }
    assert!(spiking_net(11).tbptt(&x, 0, |_, o| Ok((o.last().unwrap().clone(), vec![None; 5]))).is_err());
}

#[test]
fn tbptt_cuts_the_gradient_at_chunk_boundaries() {
    // Linear → LIF → Linear, loss Σ c·y per chunk, K = T/2. The second chunk's gradient must be
    // that of a fresh network whose LIF starts from the V the first chunk ended with (the
    // carried state, a constant), run on the second half.
    let (t, b, ni, n, no) = (30, 2, 4, 9, 3);
    let k = 15;
    let mut rng = Rng::new(12);
    let x = SeqBuf::dense(rand_f32(&mut rng, t * b * ni, 0.0, 1.0), t, b, ni);
    let c: Vec<f32> = rand_f32(&mut rng, t * b * no, -1.0, 1.0);
    let mut l1 = Linear::new(ni, n, 13);
    l1.b = Some(vec![1.1; n]);
    let l2 = Linear::new(n, no, 14);
    let lif = Lif::builder(n).tau(6.0 * ms).spk_fun(Sigmoid::default()).build().unwrap();
    let make =
        |lif: NeuronLayer<Lif>| Sequential::new(DT * ms).push(l1.clone()).push(Neurons::new(lif).train("tau").unwrap()).push(l2.clone());
    let cg = |r: std::ops::Range<usize>| SeqBuf::dense(c[r.start * b * no..r.end * b * no].to_vec(), r.len(), b, no);

    let mut net = make(lif.clone());
    net.zero_grad();
    net.tbptt(&x, k, |r, _| Ok((cg(r), vec![None; 3]))).unwrap();
    let g_tb = grads(&mut net);

    // chunk 1: a fresh network on x[0..k]
    let mut n1 = make(lif.clone());
    let o1 = n1.forward_all(&x.slice_steps(0..k)).unwrap();
    n1.zero_grad();
    n1.backward(&cg(0..k)).unwrap();
    // V at the end of chunk 1, from the LIF layer's recorded trace
    let v_end = n1.layers()[1].states()[0].2[(k - 1) * b * n..].to_vec();
    assert!(spike_fraction(&o1[1]) > 0.05);
    // chunk 2: a fresh network whose LIF starts at v_end (the clock's step does not matter to
    // LIF: no refractory period)
    let lif2 = Lif::builder(n).tau(6.0 * ms).spk_fun(Sigmoid::default()).init("V", Init::Values(to64(&v_end))).build().unwrap();
    let mut n2 = make(lif2);
    let o2 = n2.forward_all(&x.slice_steps(k..t)).unwrap();
    n2.zero_grad();
    n2.backward(&cg(k..t)).unwrap();
    let want: Vec<Vec<f32>> =
        grads(&mut n1).iter().zip(grads(&mut n2)).map(|(a, b)| a.iter().zip(b).map(|(x, y)| x + y).collect()).collect();
    for (p, (got, w)) in g_tb.iter().zip(&want).enumerate() {
        assert_rel(&format!("TBPTT param {p}"), &to64(got), &to64(w), 1e-6);
    }
    // and the carried forward pass equals these two pieces
    let mut full = make(lif);
    let y = full.forward(&x).unwrap();
    assert_eq!(SeqBuf::concat_steps(&[o1[2].clone(), o2[2].clone()]).unwrap(), y);
}

#[test]
fn carried_state_continues_every_stateful_layer() {
    // chunked forward passes with carrying on equal one pass, for every layer kind
    let mut rng = Rng::new(15);
    let (t, b) = (24, 2);
    let x = SeqBuf::dense(rand_f32(&mut rng, t * b * 5, 0.0, 1.5), t, b, 5);
    let mut net = spiking_net(16).push(LeakyRateReadout::new(3, 2, 5.0 * ms, 17));
    let full = net.forward_all(&x).unwrap();
    net.set_carry_state(true);
    net.reset_carried_state();
    let mut parts: Vec<Vec<SeqBuf>> = vec![Vec::new(); 6];
    for (a, e) in [(0, 5), (5, 6), (6, 17), (17, 24)] {
        for (acc, o) in parts.iter_mut().zip(net.forward_all(&x.slice_steps(a..e)).unwrap()) {
            acc.push(o);
        }
    }
    for (k, p) in parts.iter().enumerate() {
        let joined = SeqBuf::concat_steps(p).unwrap();
        if k == 4 || k == 5 {
            assert_rel(&format!("layer {k}"), &to64(&joined.data), &to64(&full[k].data), 1e-6);
        } else {
            assert_eq!(joined, full[k].to_dense(), "layer {k}");
        }
    }
    // a different batch size restarts from the initial state
    let x1 = x.slice_steps(0..5);
    let x1b = SeqBuf::dense(x1.data[..5 * 5].to_vec(), 5, 1, 5);
    let y1 = net.forward(&x1b).unwrap();
    net.set_carry_state(false);
    assert_eq!(y1, net.forward(&x1b).unwrap());
}

// ---------------------------------------------------------------------------------------------
// 5. initial-state gradients

#[test]
fn initial_state_gradient_of_neurons_matches_f64_finite_differences() {
    // Neurons<SmoothNeuron> (the recurrent reference with W_rec = 0, no recurrent bias)
    let Smooth { mut l1, rec, mut ro, x, mut r } = smooth_net(18, false);
    r.brec = vec![0.0; H];
    let mut neu = Neurons::new(rec.layer().clone());
    let a = l1.forward(&x, DT).unwrap();
    let s = neu.forward(&a, DT).unwrap();
    let y = ro.forward(&s, DT).unwrap();
    let x64 = to64(&x.data);
    assert_rel("readout vs reference", &to64(&y.data), &r.forward(&x64).1, 1e-5);
    let (_, gy) = Loss::CrossEntropy(Reduce::Mean).eval(&y, &LABELS).unwrap();
    let gs = ro.backward(&gy, true).unwrap().unwrap();
    neu.backward(&gs, false).unwrap();
    let gv0 = neu.grad_initial_state("V").unwrap();
    let mut big = 0;
    assert_eq!(gv0.len(), B * H);
    for (e, &g) in gv0.iter().enumerate() {
        let fd = fd64(&r, &x64, None, |r, _, h| r.v0[e] += h);
        big += (fd.abs() > 1e-3) as usize;
        check_fd(&format!("V0[{e}]"), g as f64, fd);
    }
    assert!(big >= B * H / 2, "{big}");
    assert!(neu.grad_initial_state("W").is_err());
    assert!(Neurons::new(Lif::builder(3).build().unwrap()).grad_initial_state("V").is_err(), "no backward yet");
}

// ---------------------------------------------------------------------------------------------
// 6. step mode vs sequence mode

#[test]
fn step_mode_with_linear_apply_equals_sequential_forward() {
    // Linear → LIF → Linear → ALIF: NeuronLayer::update + Linear::apply, one step at a time,
    // against Sequential::forward_all over the whole sequence
    let (t, b, ni, n1, n2) = (50, 3, 8, 16, 6);
    let mut fc1 = Linear::new(ni, n1, 19);
    fc1.b = Some(vec![0.8; n1]);
    let mut fc2 = Linear::new(n1, n2, 20);
    fc2.w.iter_mut().for_each(|w| *w *= 3.0);
    fc2.b = Some(vec![2.0; n2]);
    let mut lif = Lif::builder(n1).tau(5.0 * ms).build().unwrap();
    let mut alif = Alif::builder(n2).tau(10.0 * ms).tau_a(30.0 * ms).beta(0.05 * mV).build().unwrap();
    let mut seq =
        Sequential::new(DT * ms).push(fc1.clone()).push(Neurons::new(lif.clone())).push(fc2.clone()).push(Neurons::new(alif.clone()));
    let mut rng = Rng::new(21);
    let x = SeqBuf::dense(rand_f32(&mut rng, t * b * ni, 0.0, 1.5), t, b, ni);
    let outs = seq.forward_all(&x).unwrap();

    lif.init_state(Some(b)).unwrap();
    alif.init_state(Some(b)).unwrap();
    let mut clock = Clock::new(DT * ms).unwrap();
    let mut step: Vec<Vec<f32>> = vec![Vec::new(); 4];
    for s in 0..t {
        let i1 = fc1.apply(&x.data[s * b * ni..(s + 1) * b * ni]).unwrap();
        let s1: Vec<f32> = lif.update(&clock, &i1).unwrap().iter().copied().collect();
        let i2 = fc2.apply(&s1).unwrap();
        let s2: Vec<f32> = alif.update(&clock, &i2).unwrap().iter().copied().collect();
        clock.advance();
        for (acc, v) in step.iter_mut().zip([i1, s1, i2, s2]) {
            acc.extend(v);
        }
    }
    for k in 0..4 {
        if k % 2 == 1 {
            assert_eq!(step[k], outs[k].data, "layer {k}: spikes differ between step and sequence mode");
            let f = spike_fraction(&outs[k]);
            assert!((0.05..0.8).contains(&f), "layer {k} spike fraction {f}");
        } else {
            assert_rel(&format!("layer {k} currents"), &to64(&step[k]), &to64(&outs[k].data), 1e-6);
        }
    }
    // final states: the sequence's last recorded V and adaptation equal the step-mode layer's
    let st = seq.layers()[3].states();
    let v: Vec<f32> = alif.v().unwrap().iter().copied().collect();
    let a: Vec<f32> = alif.state("a").unwrap().iter().copied().collect();
    assert_eq!(&st[0].2[(t - 1) * b * n2..], &v[..]);
    assert_eq!(st[1].0, "a");
    assert_eq!(&st[1].2[(t - 1) * b * n2..], &a[..]);
}
