//! Every built-in model: BPTT against finite differences, seeded random initial states, typed
//! errors for invalid parameters, divergence reports, f-I curves.

use somata::dynamics::{Check, NeuronModel};
use somata::engine::{Gradients, LayerBuilder, RunOptions, SeqInput};
use somata::init::Rng;
use somata::neurons::registry::{dispatch, ModelFn, MODEL_NAMES};
use somata::prelude::*;

const T: usize = 40;
const B: usize = 2;
const N: usize = 3;

/// Input scale per model (canonical units) that drives activity within T steps.
fn scale<M: NeuronModel>() -> f64 {
    match M::INPUT_UNIT {
        "mA" => 8.0,
        "uA" => 30.0, // raw inputs are in the model's input unit (µA)
        "mV / ms" => 30.0,
        _ => 1.5,
    }
}

fn layer<M: NeuronModel + Default>(over: &[(usize, f64)]) -> somata::engine::NeuronLayer<M, f64> {
    let zero = LeakyRelu { alpha: 0.0, beta: 0.0 };
    let mut b = LayerBuilder::<M, f64>::new(M::default(), N).spk_fun(zero).spk_reset(SpikeReset::Soft).seed(3);
    for &(i, v) in over {
        b = b.set_raw(M::PARAMS[i].name, v);
    }
    b.build().unwrap()
}

fn loss<M: NeuronModel + Default>(over: &[(usize, f64)], x: &[f64], w: &[f64]) -> (f64, Vec<f64>) {
    let mut l = layer::<M>(over);
    l.init_state(Some(B)).unwrap();
    // start from the default parameters' initial state: BPTT's parameter gradient holds the
    // initial state fixed, while a derived initializer may depend on a parameter (TraubHH's
    // gates start at their steady state for its VT)
    let mut l0 = layer::<M>(&[]);
    l0.init_state(Some(B)).unwrap();
    for st in M::STATES {
        if let Ok(v0) = l0.state(st.name) {
            let v0: Vec<f64> = v0.iter().copied().collect();
            l.state_mut(st.name).unwrap().copy_from_slice(&v0);
        }
    }
    let mut c = Clock::new(0.1 * ms).unwrap();
    let tape = l.forward_tape(&mut c, SeqInput::Dense(x, T)).unwrap();
    let ns = M::STATES.len();
    let bn = B * N;
    let mut total = 0.0;
    for k in 0..T {
        for j in 0..ns {
            let s = tape.state(k + 1, j);
            for g in 0..bn {
                total += w[(k * ns + j) * bn + g] * s[g];
            }
        }
    }
    (total, tape.spikes().to_vec())
}

struct FdCheck;
impl ModelFn for FdCheck {
    type Out = somata::Result<usize>;
    fn call<M: NeuronModel + Default>(self) -> somata::Result<usize> {
        let mut rng = Rng::new(17);
        let bn = B * N;
        let ns = M::STATES.len();
        let x: Vec<f64> = (0..T * bn).map(|_| scale::<M>() * rng.uniform()).collect();
        // weights on continuous states only (last_spike_time and refractory are piecewise constant)
        let w: Vec<f64> = (0..T * ns * bn)
            .map(|i| {
                let j = (i / bn) % ns;
                let name = M::STATES[j].name;
                if name == "last_spike_time" || name == "refractory" {
                    0.0
                } else {
                    rng.uniform() - 0.5
                }
            })
            .collect();
        let params: Vec<usize> =
            (0..M::PARAMS.len()).filter(|&i| M::PARAMS[i].check != Check::Flag && M::PARAMS[i].name != "tau_ref").collect();
        let names: Vec<&str> = params.iter().map(|&i| M::PARAMS[i].name).collect();
        let mut l = layer::<M>(&[]);
        l.init_state(Some(B)).unwrap();
        let mut c = Clock::new(0.1 * ms).unwrap();
        let tape = l.forward_tape(&mut c, SeqInput::Dense(&x, T)).unwrap();
        let mut g = Gradients::default();
        l.backward_full(&tape, &vec![0.0; T * bn], Some(&w), &names, &mut g)?;
        let mut checked = 0;
        for _ in 0..12 {
            let i = (rng.uniform() * (T * bn) as f64) as usize;
            let h = 1e-6 * scale::<M>().max(1e-3);
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += h;
            xm[i] -= h;
            let ((lp, sp), (lm, sm)) = (loss::<M>(&[], &xp, &w), loss::<M>(&[], &xm, &w));
            if sp != sm {
                continue;
            }
            let fd = (lp - lm) / (2.0 * h);
            assert!((g.input[i] - fd).abs() <= 1e-5 * (1.0 + fd.abs()), "{} d/dx[{i}]: bptt {} vs fd {fd}", M::NAME, g.input[i]);
            checked += 1;
        }
        for (&pi, name) in params.iter().zip(&names) {
            let v = M::PARAMS[pi].default;
            let h = 1e-6 * v.abs().max(1e-3);
            let ((lp, sp), (lm, sm)) = (loss::<M>(&[(pi, v + h)], &x, &w), loss::<M>(&[(pi, v - h)], &x, &w));
            if sp != sm {
                continue;
            }
            let fd = (lp - lm) / (2.0 * h);
            let got = g.param(name).unwrap().total();
            assert!((got - fd).abs() <= 1e-5 * (1.0 + fd.abs()), "{} d/d{name}: bptt {got} vs fd {fd}", M::NAME);
            checked += 1;
        }
        Ok(checked)
    }
}

#[test]
fn every_model_bptt_matches_finite_differences() {
    let mut report = Vec::new();
    for name in MODEL_NAMES {
        let checked = dispatch(name, FdCheck).unwrap();
        assert!(checked >= 12, "{name}: only {checked} derivatives checked");
        report.push(format!("{name}:{checked}"));
    }
    assert_eq!(report.len(), 23, "{report:?}"); // brainpy.state's 22 and TraubHH
}

#[test]
fn random_initial_states_are_seeded() {
    let v = |seed: u64| {
        let mut l = Hh::builder(50).seed(seed).build().unwrap();
        l.init_state(Some(2)).unwrap();
        (l.v().unwrap().iter().copied().collect::<Vec<f32>>(), l.state("m").unwrap().iter().copied().collect::<Vec<f32>>())
    };
    let (a, ma) = v(7);
    let (b, mb) = v(7);
    let (c, _) = v(8);
    assert_eq!(a, b);
    assert_eq!(ma, mb);
    assert_ne!(a, c);
    assert!(a.iter().all(|&x| (-70.0..-60.0).contains(&x)), "Uniform(-70, -60) mV");
    // gates at steady state for their own V: m_inf(-65) = 0.0529...
    let mut l = LayerBuilder::<Hh>::new(Hh, 1).init("V", Init::Constant(-65.0)).build().unwrap();
    l.init_state(None).unwrap();
    assert!((l.state("m").unwrap()[[0]] - 0.052_932_5).abs() < 1e-5, "{}", l.state("m").unwrap()[[0]]);
    assert!((l.state("h").unwrap()[[0]] - 0.596_120_7).abs() < 1e-5);
    assert!((l.state("n").unwrap()[[0]] - 0.317_676_7).abs() < 1e-5);
    // an explicit gate initializer is kept
    let mut e = LayerBuilder::<Hh>::new(Hh, 1).init("m_initializer", Init::Constant(0.1)).build().unwrap();
    e.init_state(None).unwrap();
    assert_eq!(e.state("m").unwrap()[[0]], 0.1);
    let mut ml = MorrisLecar::builder(20).seed(1).build().unwrap();
    ml.init_state(None).unwrap();
    assert!(ml.v().unwrap().iter().all(|&x| (-70.0..-60.0).contains(&x)));
}

#[test]
fn invalid_parameters_are_typed_errors() {
    use somata::units::*;
    let bad = |r: somata::Result<()>, name: &str| match r {
        Err(SomataError::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
        other => panic!("{name}: {other:?}"),
    };
    bad(Hh::builder(1).c(0.0 * uF).build().map(|_| ()), "C");
    bad(Hh::builder(1).c(-1.0 * uF).build().map(|_| ()), "C");
    bad(MorrisLecar::builder(1).c(0.0 * uF).build().map(|_| ()), "C");
    bad(ExpIf::builder(1).delta_t(0.0 * mV).build().map(|_| ()), "delta_T");
    bad(AdExIf::builder(1).delta_t(-1.0 * mV).build().map(|_| ()), "delta_T");
    bad(AdExIf::builder(1).tau_w(0.0 * ms).build().map(|_| ()), "tau_w");
    bad(AdQuaIf::builder(1).tau(0.0 * ms).build().map(|_| ()), "tau");
    bad(CubaLif::builder(1).tau_syn(-2.0 * ms).build().map(|_| ()), "tau_syn");
    bad(Gif::builder(1).tau(0.0 * ms).build().map(|_| ()), "tau");
    bad(FitzHughNagumo::builder(1).tau_w(0.0 * ms).build().map(|_| ()), "tau_w");
    bad(HindmarshRose::builder(1).tau(f64::NAN * ms).build().map(|_| ()), "tau");
    bad(ExpIfRef::builder(1).tau_ref(-1.0 * ms).build().map(|_| ()), "tau_ref");
    bad(Izhikevich::builder(1).v_th(0.0 * mV).build().map(|_| ()), "V_th");
    bad(QuaIf::builder(1).v_th(-68.0 * mV).build().map(|_| ()), "V_th");
    let e = LayerBuilder::<GifRef>::new(GifRef, 1).set_raw("ref_var", 0.5).build().unwrap_err();
    assert!(matches!(e, SomataError::InvalidParameter { .. }));
}

#[test]
fn expif_soft_divergence_is_reported_with_its_location() {
    // ExpIF with soft reset runs away past V_T and (in float32, as in BrainPy) ends in inf/NaN.
    let mut l = ExpIf::builder(4).build().unwrap();
    l.init_state(Some(1)).unwrap();
    let x: Vec<f32> = vec![0.0, 0.0, 0.0, 19.2]; // the golden case whose V becomes NaN at step 74
    let mut c = Clock::new(0.1 * ms).unwrap();
    let out = l.run(&mut c, SeqInput::Constant(Input::Slice(&x), 400), &RunOptions { check_finite: true, ..Default::default() }).unwrap();
    match out.divergence {
        Some(SomataError::Diverged { model, variable, neuron, batch, step, .. }) => {
            assert_eq!((model.as_str(), variable.as_str(), neuron, batch), ("ExpIF", "V", 3, 0));
            assert!(step > 0 && step < 400);
        }
        other => panic!("expected a divergence report, got {other:?}"),
    }
    // the other neurons stayed finite
    assert!(l.v().unwrap().iter().take(3).all(|v| v.is_finite()));
}

#[test]
fn fi_curves_are_monotone_where_expected() {
    use somata::sim::{fi_curve_by_name, FiOptions};
    let o = FiOptions { duration_ms: 500.0, ..Default::default() };
    for (model, levels) in [
        ("LIF", vec![0.5, 1.5, 3.0, 6.0]),
        ("HH", vec![0.0, 8.0, 14.0, 20.0]),
        ("Izhikevich", vec![0.0, 5.0, 10.0, 20.0]),
        ("LIFRef", vec![0.5, 1.5, 3.0, 6.0]),
    ] {
        let (pts, _) = fi_curve_by_name(model, &levels, &o).unwrap();
        let rates: Vec<f64> = pts.iter().map(|p| p.rate_hz.unwrap()).collect();
        assert_eq!(rates[0], 0.0, "{model} silent at the lowest level: {rates:?}");
        assert!(rates.windows(2).all(|w| w[1] >= w[0]), "{model}: {rates:?}");
        assert!(rates[3] > rates[1], "{model}: {rates:?}");
    }
    // LIF closed form: T = tau·ln(RI/(RI − V_th)) (+ one step for the lazy soft reset)
    let (pts, unit) = fi_curve_by_name("LIF", &[3.0], &FiOptions { duration_ms: 2000.0, ..Default::default() }).unwrap();
    assert_eq!(unit, "mA");
    let period = 5.0 * (3.0f64 / 2.0).ln();
    let expect = 1e3 / period;
    assert!((pts[0].rate_hz.unwrap() - expect).abs() / expect < 0.05, "{} vs {expect}", pts[0].rate_hz.unwrap());
    assert!(fi_curve_by_name("Nope", &[1.0], &o).is_err());
}
