//! The traps a new user falls into, checked against real values: BrainPy's goldens, results
//! BrainPy states, or an independent computation in this file (never numbers from the library).
//!
//! * raw numbers are read in the model's input unit (µA for the HH family), typed quantities
//!   carry their own unit;
//! * `update` never advances the clock, and a forgotten `advance()` is an error;
//! * a diverging state is reported (step, neuron) when `check_finite` is on;
//! * monitors give the golden spike trains and the recorded states.

use crate::common::{load, num};
use serde_json::Value;
use somata::dynamics::NeuronModel;
use somata::prelude::*;
use somata::units::Unit;

// ---------------------------------------------------------------------------------------------
// independent references

/// HH rates (1/ms) at `v` (mV) in f64, straight from Hodgkin & Huxley's formulas:
/// (αm, βm, αh, βh, αn, βn).
fn hh_rates_ref(v: f64) -> [f64; 6] {
    let x_over = |x: f64| if x.abs() < 1e-12 { 1.0 } else { x / (1.0 - (-x).exp()) };
    [
        x_over((v + 40.0) / 10.0),
        4.0 * (-(v + 65.0) / 18.0).exp(),
        0.07 * (-(v + 65.0) / 20.0).exp(),
        1.0 / (1.0 + (-(v + 35.0) / 10.0).exp()),
        0.1 * x_over((v + 55.0) / 10.0),
        0.125 * (-(v + 65.0) / 80.0).exp(),
    ]
}

/// One exponential-Euler step of the linear ODE `y' = a − b·y` (exact for fixed a, b).
fn ee_lin(y: f64, a: f64, b: f64, dt: f64) -> f64 {
    let z = -dt * b;
    let exprel = if z.abs() < 1e-12 { 1.0 } else { z.exp_m1() / z };
    y + dt * exprel * (a - b * y)
}

/// An f64 HH with BrainPy's default parameters (mS, mV, µF, µA), BrainPy's update order
/// (conductances from the old gates, every rate at the old V), gates at steady state at `v0`.
/// Returns the rising edges of V through 20 mV at the steps `>= count_from`.
fn hh_reference_spikes(v0: f64, input_ua: impl Fn(usize) -> f64, steps: usize, dt: f64, count_from: usize) -> usize {
    let r = hh_rates_ref(v0);
    let (mut v, mut m, mut h, mut n) = (v0, r[0] / (r[0] + r[1]), r[2] / (r[2] + r[3]), r[4] / (r[4] + r[5]));
    let mut count = 0;
    for k in 0..steps {
        let (g_na, g_k, g_l) = (120.0 * m * m * m * h, 36.0 * n.powi(4), 0.03);
        let b = g_na + g_k + g_l;
        let a = g_na * 50.0 + g_k * (-77.0) + g_l * (-54.387) + input_ua(k);
        let r = hh_rates_ref(v);
        let v_new = ee_lin(v, a, b, dt);
        m = ee_lin(m, r[0], r[0] + r[1], dt);
        h = ee_lin(h, r[2], r[2] + r[3], dt);
        n = ee_lin(n, r[4], r[4] + r[5], dt);
        if k >= count_from && v_new >= 20.0 && v < 20.0 {
            count += 1;
        }
        v = v_new;
    }
    count
}

/// BrainPy's LIFRef with default parameters (R 1 Ω, tau 5 ms, V_th 1 mV, V_reset = V_rest = 0,
/// tau_ref 5 ms), soft reset, constant input `i_ma`: V in f64 (exponential Euler, exact for the
/// linear LIF), the refractory test in f32 as BrainPy (`t = f32(i)·f32(dt)`, last_spike_time
/// f32). Returns the spike steps.
fn lifref_reference_spikes(i_ma: f64, steps: usize, dt: f64) -> Vec<usize> {
    let (tau, v_th, tau_ref) = (5.0, 1.0, 5.0f32);
    let (mut v, mut last, mut spk) = (0.0f64, -1e7f32, false);
    let mut out = Vec::new();
    for i in 0..steps {
        let t = i as f32 * dt as f32;
        let v_reset = if spk { v - v_th } else { v };
        let cand = ee_lin(v_reset, i_ma / tau, 1.0 / tau, dt);
        v = if t - last < tau_ref { v_reset } else { cand };
        spk = v >= v_th;
        if spk {
            last = t;
            out.push(i);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. HH: raw numbers are µA, typed quantities carry their unit

const HH_DT: f64 = 0.01;
const HH_QUIET: usize = 2000; // 20 ms without input
const HH_STEPS: usize = 12000; // then 100 ms of 10 µA

fn hh_layer() -> NeuronLayer<Hh> {
    // V ~ Uniform(-70, -60) mV (random, seeded), gates at their steady state
    let mut hh = Hh::builder(4).seed(11).build().unwrap();
    hh.init_state(None).unwrap();
    hh
}

/// Spikes per neuron at steps >= HH_QUIET from a `(steps × N)` 0/1 raster.
fn late_counts(raster: &[u8], n: usize) -> Vec<usize> {
    (0..n).map(|g| (HH_QUIET..HH_STEPS).filter(|&k| raster[k * n + g] != 0).count()).collect()
}

#[test]
fn hh_ten_microamps_gives_brainpy_seven_spikes_every_way() {
    let n = 4;
    // the reference, from each neuron's own (random) initial V
    let v0: Vec<f64> = hh_layer().state("V").unwrap().iter().map(|&v| v as f64).collect();
    assert!(v0.iter().all(|v| (-70.0..-60.0).contains(v)), "{v0:?}");
    assert!(v0.windows(2).any(|w| w[0] != w[1]), "random initial V: {v0:?}");
    for &v in &v0 {
        let r = hh_reference_spikes(v, |k| if k < HH_QUIET { 0.0 } else { 10.0 }, HH_STEPS, HH_DT, HH_QUIET);
        assert_eq!(r, 7, "independent HH reference from V0 = {v}");
    }

    // raw numbers, step mode
    let mut hh = hh_layer();
    let mut clock = Clock::new(HH_DT * ms).unwrap();
    let mut raw = Vec::with_capacity(HH_STEPS * n);
    for k in 0..HH_STEPS {
        let s = hh.update(&clock, if k < HH_QUIET { 0.0f32 } else { 10.0f32 }).unwrap();
        raw.extend(s.iter().map(|&x| (x > 0.0) as u8));
        clock.advance();
    }
    assert_eq!(late_counts(&raw, n), vec![7; n], "update(&clock, 10.0) is 10 µA");
    assert!(raw[..HH_QUIET * n].iter().all(|&s| s == 0), "no spike without input");

    // typed, step mode
    let mut hh = hh_layer();
    let mut clock = Clock::new(HH_DT * ms).unwrap();
    let mut typed = Vec::with_capacity(HH_STEPS * n);
    for k in 0..HH_STEPS {
        let s = hh.update_q(&clock, if k < HH_QUIET { 0.0 * uA } else { 10.0 * uA }).unwrap();
        typed.extend(s.iter().map(|&x| (x > 0.0) as u8));
        clock.advance();
    }
    assert_eq!(typed, raw, "update_q(10 µA) equals update(10.0)");

    // sequence runs: raw dense and typed dense
    let level = |k: usize| if k < HH_QUIET { 0.0 } else { 10.0 };
    let x_raw: Vec<f32> = (0..HH_STEPS * n).map(|i| level(i / n) as f32).collect();
    let x_q: Vec<Current> = (0..HH_STEPS * n).map(|i| level(i / n) * uA).collect();
    for (what, seq) in [("Dense", SeqInput::Dense(&x_raw, HH_STEPS)), ("dense_q", SeqInput::dense_q(&x_q, HH_STEPS))] {
        let mut hh = hh_layer();
        let mut clock = Clock::new(HH_DT * ms).unwrap();
        let out = hh.run(&mut clock, seq, &RunOptions::new().spikes()).unwrap();
        assert_eq!(clock.step(), HH_STEPS as u64, "run advances the clock");
        let r = out.spikes.as_ref().unwrap();
        assert_eq!(late_counts(r, n), vec![7; n], "SeqInput::{what}");
        assert_eq!(r, &raw, "SeqInput::{what} equals step mode");
        let trains = out.spike_trains().unwrap();
        for g in 0..n {
            assert_eq!(trains.times(g).iter().filter(|&&t| t >= 20.0 - 1e-9).count(), 7, "{what} train {g}");
        }
    }

    // the old trap: 10 mA is 1000× more and blocks the neuron
    let mut hh = hh_layer();
    let mut clock = Clock::new(HH_DT * ms).unwrap();
    let mut blocked = Vec::with_capacity(HH_STEPS * n);
    for k in 0..HH_STEPS {
        let s = hh.update_q(&clock, if k < HH_QUIET { 0.0 * mA } else { 10.0 * mA }).unwrap();
        blocked.extend(s.iter().map(|&x| (x > 0.0) as u8));
        clock.advance();
    }
    let c = late_counts(&blocked, n);
    for (g, &v) in v0.iter().enumerate() {
        let r = hh_reference_spikes(v, |k| if k < HH_QUIET { 0.0 } else { 10_000.0 }, HH_STEPS, HH_DT, HH_QUIET);
        assert_ne!(r, 7, "reference: 10 mA blocks");
        assert_eq!(c[g], r, "10 mA, neuron {g}: library {} vs reference {r}", c[g]);
    }
    assert!(c.iter().all(|&k| k != 7), "10 mA must not give the 10 µA count: {c:?}");
}

// ---------------------------------------------------------------------------------------------
// 2. MorrisLecar and WangBuzsakiHH: raw x is x µA, bit for bit

fn raw_equals_typed<M: NeuronModel<Input = somata::units::dim::I> + Default>(x: f32) -> usize {
    assert_eq!(M::INPUT_UNIT, "uA", "{}", M::NAME);
    let steps = 20_000; // 200 ms at 0.01 ms
    let mk = || {
        let mut l = M::builder(3).seed(5).build().unwrap();
        l.init_state(None).unwrap();
        l
    };
    let opts = RunOptions::new().spikes().monitor("V");
    let (mut a, mut b) = (mk(), mk());
    let (mut ca, mut cb) = (Clock::new(0.01 * ms).unwrap(), Clock::new(0.01 * ms).unwrap());
    let oa = a.run(&mut ca, SeqInput::Constant(Input::Scalar(x), steps), &opts).unwrap();
    let ob = b.run(&mut cb, SeqInput::constant_q(x as f64 * uA, steps), &opts).unwrap();
    let (ta, tb) = (oa.spike_trains().unwrap(), ob.spike_trains().unwrap());
    assert_eq!(ta, tb, "{}: raw {x} vs {x} µA", M::NAME);
    let (va, vb) = (&oa.monitor("V").unwrap().data, &ob.monitor("V").unwrap().data);
    assert!(va.iter().zip(vb.iter()).all(|(p, q)| p.to_bits() == q.to_bits()), "{}: V bit for bit", M::NAME);
    // step mode, per-neuron raw slice vs typed slice
    let (mut a, mut b) = (mk(), mk());
    let mut clock = Clock::new(0.01 * ms).unwrap();
    let xr = [x, x, x];
    let xq = [x as f64 * uA; 3];
    for _ in 0..2000 {
        let sa = a.update(&clock, &xr[..]).unwrap();
        let sb = b.update_q(&clock, &xq).unwrap();
        assert_eq!(sa, sb);
        clock.advance();
    }
    assert_eq!(a.state("V").unwrap(), b.state("V").unwrap());
    ta.times.iter().map(Vec::len).sum()
}

#[test]
fn morris_lecar_and_wang_buzsaki_raw_is_microamps() {
    // levels from the goldens' ranges (ML 30–240 µA, WB 0.3–2.4 µA) that fire
    let ml = raw_equals_typed::<MorrisLecar>(120.0);
    let wb = raw_equals_typed::<WangBuzsakiHh>(1.5);
    assert!(ml >= 3 * 2, "MorrisLecar at 120 µA fires: {ml}");
    assert!(wb >= 3 * 2, "WangBuzsakiHH at 1.5 µA fires: {wb}");
    // read as mA, the same number is 1000× stronger and the trains differ
    let mut a = MorrisLecar::builder(1).seed(5).build().unwrap();
    a.init_state(None).unwrap();
    let mut c = Clock::new(0.01 * ms).unwrap();
    let o = a.run(&mut c, SeqInput::constant_q(120.0 * mA, 20_000), &RunOptions::new()).unwrap();
    let mut b = MorrisLecar::builder(1).seed(5).build().unwrap();
    b.init_state(None).unwrap();
    let mut c = Clock::new(0.01 * ms).unwrap();
    let p = b.run(&mut c, SeqInput::Constant(Input::Scalar(120.0), 20_000), &RunOptions::new()).unwrap();
    assert_ne!(o.spike_counts, p.spike_counts);
}

// ---------------------------------------------------------------------------------------------
// 3. parameters and states in units

#[test]
fn params_and_states_in_units() {
    let mut hh = Hh::builder(3).seed(2).build().unwrap();
    assert!((hh.param_in("gNa", mS).unwrap() - 120.0).abs() < 1e-9);
    assert!((hh.param_in("gK", mS).unwrap() - 36.0).abs() < 1e-9);
    assert!((hh.param_in("gL", mS).unwrap() - 0.03).abs() < 1e-12);
    assert!((hh.param_in("C", uF).unwrap() - 1.0).abs() < 1e-12);
    assert!((hh.param_in("ENa", mV).unwrap() - 50.0).abs() < 1e-12);
    assert!((hh.param_in("ENa", volt).unwrap() - 0.05).abs() < 1e-15);
    match hh.param_in("gNa", mV) {
        Err(SomataError::DimensionMismatch { what, .. }) => assert!(what.contains("gNa"), "{what}"),
        other => panic!("gNa in mV: {other:?}"),
    }
    assert!(matches!(hh.param_in("gNa", ms), Err(SomataError::DimensionMismatch { .. })));
    assert!(matches!(hh.param_in("gXY", mS), Err(SomataError::UnknownParameter { .. })));

    hh.init_state(Some(2)).unwrap();
    let v = hh.state("V").unwrap().to_owned();
    let v_mv = hh.state_in("V", mV).unwrap();
    assert_eq!(v_mv.shape(), &[2, 3]);
    assert!(v.iter().zip(v_mv.iter()).all(|(a, b)| *a as f64 == *b));
    let v_volt = hh.state_in("V", volt).unwrap();
    assert!(v.iter().zip(v_volt.iter()).all(|(a, b)| ((*a as f64) / 1000.0 - *b).abs() < 1e-15));
    assert!(matches!(hh.state_in("V", mA), Err(SomataError::DimensionMismatch { .. })));
    // gates at their steady state at the initial V (BrainPy's m/h/n_initializer = None)
    for (g, &vi) in v.iter().enumerate() {
        let r = hh_rates_ref(vi as f64);
        let m = hh.state("m").unwrap().iter().nth(g).copied().unwrap() as f64;
        assert!((m - r[0] / (r[0] + r[1])).abs() < 1e-6, "m at V = {vi}");
    }

    let mut lif = Lif::builder(2).build().unwrap();
    lif.init_state(None).unwrap();
    match lif.state("w") {
        Err(e @ SomataError::UnknownState { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("`w`") && msg.contains("V"), "{msg}");
            if let SomataError::UnknownState { known, .. } = e {
                assert_eq!(known, "V");
            }
        }
        other => panic!("state w of LIF: {other:?}"),
    }
    assert!(matches!(lif.state_in("w", mV), Err(SomataError::UnknownState { .. })));
}

// ---------------------------------------------------------------------------------------------
// 4. typed per-neuron inputs

#[test]
fn typed_per_neuron_input_equals_raw_in_input_unit() {
    assert_eq!(Lif::INPUT_UNIT, "mA");
    let mk = |batch| {
        let mut l = Lif::builder(3).build().unwrap();
        l.init_state(batch).unwrap();
        l
    };
    let (mut a, mut b) = (mk(None), mk(None));
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let mut spikes = [0u32; 3];
    for _ in 0..300 {
        let sq = a.update_q(&clock, &[0.5 * mA, 2.0 * mA, 3.0 * mA]).unwrap();
        let sr = b.update(&clock, &[0.5f32, 2.0, 3.0][..]).unwrap();
        assert_eq!(sq, sr);
        for (c, s) in spikes.iter_mut().zip(sq.iter()) {
            *c += (*s > 0.0) as u32;
        }
        let (va, vb) = (a.v().unwrap(), b.v().unwrap());
        assert!(va.iter().zip(vb.iter()).all(|(p, q)| p.to_bits() == q.to_bits()));
        clock.advance();
    }
    // 0.5 mA settles at 0.5 mV < V_th = 1 mV; 2 mA first crosses after 5·ln 2 ≈ 3.47 ms
    assert_eq!(spikes[0], 0);
    assert!(spikes[1] > 0 && spikes[2] > spikes[1], "{spikes:?}");

    // batch × N typed values (batch-major) equal the raw ones
    let (mut a, mut b) = (mk(Some(2)), mk(Some(2)));
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let q = [0.5 * mA, 2.0 * mA, 3.0 * mA, 1500.0 * uA, 0.0 * mA, 4.0 * mA];
    let r: Vec<f32> = q.iter().map(|x| x.value_in(mA) as f32).collect();
    for _ in 0..100 {
        let sq = a.update_q(&clock, &q).unwrap();
        let sr = b.update(&clock, &r).unwrap();
        assert_eq!(sq.shape(), &[2, 3]);
        assert_eq!(sq, sr);
        clock.advance();
    }
    assert_eq!(a.v().unwrap(), b.v().unwrap());
    // Input::quantities is the same path
    let mut c = mk(Some(2));
    let mut c2 = mk(Some(2));
    let mut clock = Clock::new(0.1 * ms).unwrap();
    for _ in 0..10 {
        let s1 = c.update(&clock, Input::quantities(&q)).unwrap();
        let s2 = c2.update_q(&clock, &q).unwrap();
        assert_eq!(s1, s2);
        clock.advance();
    }
    assert_eq!(c.v().unwrap(), c2.v().unwrap());

    // a wrong length is a shape error, and the failed update does not use up the step
    let mut l = mk(None);
    let clock = Clock::new(0.1 * ms).unwrap();
    assert!(matches!(l.update_q(&clock, &[1.0 * mA, 2.0 * mA]), Err(SomataError::ShapeMismatch { .. })));
    assert!(matches!(l.update(&clock, &[1.0f32; 4][..]), Err(SomataError::ShapeMismatch { .. })));
    // a voltage through the run-time typed path is a dimension error
    assert!(matches!(l.update(&clock, Input::quantity(1.0 * mV)), Err(SomataError::DimensionMismatch { .. })));
    l.update_q(&clock, 1.0 * mA).unwrap();

    // SeqInput::dense_q with voltages into a LIF: a dimension error at run time, nothing run
    let mut l = mk(None);
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let volts = vec![1.0 * mV; 10 * 3];
    match l.run(&mut clock, SeqInput::dense_q(&volts, 10), &RunOptions::new()) {
        Err(SomataError::DimensionMismatch { expected, .. }) => assert!(expected.contains("current"), "{expected}"),
        other => panic!("voltages into LIF: {other:?}"),
    }
    assert_eq!(clock.step(), 0, "a failed run does not advance the clock");
    let currents = vec![2.0 * mA; 10 * 3];
    assert!(matches!(l.run(&mut clock, SeqInput::dense_q(&currents, 11), &RunOptions::new()), Err(SomataError::ShapeMismatch { .. })));
    l.run(&mut clock, SeqInput::dense_q(&currents, 10), &RunOptions::new()).unwrap();
    assert_eq!(clock.step(), 10);
}

// ---------------------------------------------------------------------------------------------
// 5. the clock rule

#[test]
fn clock_rule_forgotten_advance_is_an_error() {
    let (steps, dt, i_ma) = (1000usize, 0.1, 2.0f32);
    let mk = || {
        let mut l = LifRef::builder(1).name("ref").build().unwrap();
        l.init_state(None).unwrap();
        l
    };
    assert!((mk().param_in("tau_ref", ms).unwrap() - 5.0).abs() < 1e-12, "BrainPy's default tau_ref");

    // forgetting clock.advance(): the second update at the same step is refused
    let mut l = mk();
    let clock = Clock::new(dt * ms).unwrap();
    l.update(&clock, i_ma).unwrap();
    let v_before = l.v().unwrap().to_owned();
    match l.update(&clock, i_ma) {
        Err(SomataError::ClockNotAdvanced { layer, step, last }) => assert_eq!((layer.as_str(), step, last), ("ref", 0, 0)),
        other => panic!("second update at step 0: {other:?}"),
    }
    assert_eq!(l.v().unwrap(), v_before, "a refused update leaves the state alone");

    // with advance: BrainPy's LIFRef spikes (independent f64/f32 reference)
    let expect = lifref_reference_spikes(i_ma as f64, steps, dt);
    assert!(expect.len() >= 10, "{expect:?}");
    assert_eq!(expect[0], 34, "the first spike of LIF at 2 mA is at step 34 (spec §10)");
    let mut l = mk();
    let mut clock = Clock::new(dt * ms).unwrap();
    let mut mon = SpikeMonitor::new();
    for _ in 0..steps {
        let s = l.update(&clock, i_ma).unwrap();
        mon.record(&clock, &s).unwrap();
        clock.advance();
    }
    let trains = mon.trains();
    let got: Vec<usize> = trains.steps_of(0).iter().map(|&s| s as usize).collect();
    assert_eq!(got, expect, "step mode vs reference");
    assert_eq!(trains.duration().value_in(ms), 100.0);

    // the same input as one run: identical spikes
    let mut r = mk();
    let mut rc = Clock::new(dt * ms).unwrap();
    let out = r.run(&mut rc, SeqInput::Constant(Input::Scalar(i_ma), steps), &RunOptions::new().spikes()).unwrap();
    assert_eq!(out.spike_counts, vec![expect.len() as u32]);
    assert_eq!(out.spike_trains().unwrap(), trains, "run vs SpikeMonitor");
    assert_eq!(rc.step(), steps as u64);
    assert!((out.rates()[[0]] - expect.len() as f64 / 0.1).abs() < 1e-9, "rate in Hz over 100 ms");

    // going back in time is refused, for update and run
    let fresh = Clock::new(dt * ms).unwrap();
    assert!(matches!(l.update(&fresh, i_ma), Err(SomataError::ClockNotAdvanced { step: 0, last: 999, .. })));
    let mut fresh2 = Clock::new(dt * ms).unwrap();
    assert!(matches!(
        l.run(&mut fresh2, SeqInput::Constant(Input::Scalar(i_ma), 5), &RunOptions::new()),
        Err(SomataError::ClockNotAdvanced { .. })
    ));
    assert_eq!(fresh2.step(), 0);
    // a run left the layer at its last step: updating at the run's end step is fine, before it not
    let mut back = rc;
    back.set_step(steps as u64 - 1);
    assert!(matches!(r.update(&back, i_ma), Err(SomataError::ClockNotAdvanced { .. })));
    r.update(&rc, i_ma).unwrap();

    // reset_state starts over: the same spikes again from step 0
    l.reset_state(None).unwrap();
    assert_eq!(l.last_step(), None);
    let mut clock = Clock::new(dt * ms).unwrap();
    let mut again = Vec::new();
    for k in 0..steps {
        if l.update(&clock, i_ma).unwrap()[[0]] > 0.0 {
            again.push(k);
        }
        clock.advance();
    }
    assert_eq!(again, expect);
}

// ---------------------------------------------------------------------------------------------
// 6. divergence in step mode

#[test]
fn divergence_in_step_mode_names_step_and_neuron() {
    // ExpIF with soft reset diverges in BrainPy (spec §11): in the golden "default/constant" case
    // the neuron driven by 19.2 mA (batch row 1, neuron 3) turns NaN. Here only neuron 2 of 4 gets
    // that input; the others get 0. Neurons are independent, so the golden's step is the answer.
    let d = load("neuron_ExpIF_soft.json");
    let case =
        d["outputs"]["cases"].as_array().unwrap().iter().find(|c| c["param_set"] == "default" && c["input_name"] == "constant").unwrap();
    assert_eq!(num(&case["input"]["value"][0][1][3]) as f32, 19.2f32);
    let gv = &case["outputs"]["V"]["value"];
    let golden_bad = (0..200).find(|&k| !num(&gv[k][1][3]).is_finite()).expect("the golden neuron diverges");
    let x = [0.0f32, 0.0, 19.2, 0.0];
    let steps = 200;
    let mk = |check| {
        let mut l = ExpIf::builder(4).spk_reset(SpikeReset::Soft).check_finite(check).build().unwrap();
        l.init_state(None).unwrap();
        l
    };
    // without the check: find the first non-finite step ourselves
    let mut free = mk(false);
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let mut first_bad = None;
    for k in 0..steps {
        free.update(&clock, &x[..]).expect("without check_finite the update is silent");
        let v = free.v().unwrap();
        if first_bad.is_none() && v.iter().any(|v| !v.is_finite()) {
            let bad: Vec<usize> = (0..4).filter(|&i| !v[[i]].is_finite()).collect();
            first_bad = Some((k, bad));
        }
        clock.advance();
    }
    let (k_bad, bad) = first_bad.expect("ExpIF with soft reset diverges (BrainPy)");
    assert_eq!(k_bad, golden_bad, "first non-finite step: library vs BrainPy golden");
    assert_eq!(bad, vec![2], "only the driven neuron diverges");
    let v = free.v().unwrap();
    assert!([0, 1, 3].iter().all(|&i| v[[i]].is_finite() && v[[i]] < -59.9), "undriven neurons stay below V_T");

    // with the check, the update at that step returns Diverged
    let mut chk = mk(true);
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let mut err = None;
    for k in 0..steps {
        match chk.update(&clock, &x[..]) {
            Ok(_) => assert!(k < k_bad, "step {k} passed the check after the divergence at {k_bad}"),
            Err(e) => {
                err = Some((k, e));
                break;
            }
        }
        clock.advance();
    }
    let (k, e) = err.expect("check_finite reports the divergence");
    assert_eq!(k, k_bad);
    match e {
        SomataError::Diverged { model, variable, step, batch, neuron, .. } => {
            assert_eq!((model.as_str(), variable.as_str(), step, batch, neuron), ("ExpIF", "V", k_bad, 0, 2));
        }
        other => panic!("{other:?}"),
    }

    // a run with the layer's check: the same error; RunOptions::check_finite: reported, not raised
    let mut chk = mk(true);
    let mut clock = Clock::new(0.1 * ms).unwrap();
    match chk.run(&mut clock, SeqInput::Constant(Input::Slice(&x[..]), steps), &RunOptions::new()) {
        Err(SomataError::Diverged { step, neuron, batch, .. }) => assert_eq!((step, batch, neuron), (k_bad, 0, 2)),
        other => panic!("run with check_finite: {other:?}"),
    }
    let mut l = mk(false);
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let out = l.run(&mut clock, SeqInput::Constant(Input::Slice(&x[..]), steps), &RunOptions::new().check_finite()).unwrap();
    match out.divergence {
        Some(SomataError::Diverged { step, neuron, .. }) => assert_eq!((step, neuron), (k_bad, 2)),
        other => panic!("RunOptions::check_finite: {other:?}"),
    }
}

#[test]
fn divergence_step_of_the_expif_golden() {
    // BrainPy's own ExpIF/soft run goes non-finite; the first non-finite step and element of the
    // golden are what check_finite must name
    let d = load("neuron_ExpIF_soft.json");
    let case =
        d["outputs"]["cases"].as_array().unwrap().iter().find(|c| c["param_set"] == "default" && c["input_name"] == "constant").unwrap();
    let g = Golden::new(&d, case);
    let gv = &case["outputs"]["V"]["value"];
    let mut first = None;
    'outer: for k in 0..g.steps {
        for b in 0..g.b {
            for i in 0..g.n {
                if !num(&gv[k][b][i]).is_finite() {
                    first = Some((k, b, i));
                    break 'outer;
                }
            }
        }
    }
    let (k0, b0, i0) = first.expect("the golden diverges");
    let mut l = golden_layer::<ExpIf>(&d, case, 4);
    l.set_check_finite(true);
    l.init_state(Some(g.b)).unwrap();
    let mut clock = Clock::from_ms(g.dt).unwrap();
    let mut err = None;
    for k in 0..g.steps {
        if let Err(e) = l.update(&clock, &g.x[k * g.bn..(k + 1) * g.bn]) {
            err = Some(e);
            break;
        }
        clock.advance();
    }
    match err {
        Some(SomataError::Diverged { step, batch, neuron, .. }) => {
            assert_eq!((step, batch, neuron), (k0, b0, i0), "golden first non-finite")
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 7. monitors against the goldens

/// A golden case: raw inputs (in the golden's input unit), shape, and spike steps per element.
struct Golden {
    x: Vec<f32>,
    steps: usize,
    b: usize,
    n: usize,
    bn: usize,
    dt: f64,
    spike_steps: Vec<Vec<u64>>,
}

impl Golden {
    fn new(d: &Value, case: &Value) -> Golden {
        let iv = case["input"]["value"].as_array().unwrap();
        let (steps, b, n) = (iv.len(), iv[0].as_array().unwrap().len(), iv[0][0].as_array().unwrap().len());
        let mut x = Vec::with_capacity(steps * b * n);
        for st in iv {
            for row in st.as_array().unwrap() {
                x.extend(row.as_array().unwrap().iter().map(|v| num(v) as f32));
            }
        }
        let sp = &case["outputs"]["spike"]["value"];
        let spike_steps =
            (0..b * n).map(|g| (0..steps).filter(|&k| num(&sp[k][g / n][g % n]) != 0.0).map(|k| k as u64).collect()).collect();
        Golden { x, steps, b, n, bn: b * n, dt: num(case.get("dt_ms").unwrap_or(&d["dt_ms"])), spike_steps }
    }
}

/// A layer built from a golden case's constructor arguments (fixed overrides, then the case's).
fn golden_layer<M: NeuronModel + Default>(d: &Value, case: &Value, n: usize) -> NeuronLayer<M> {
    let reset = SpikeReset::parse(d["spk_reset"].as_str().unwrap()).unwrap();
    let mut bld = M::builder(n).spk_reset(reset);
    let mut params = d["params"]["fixed_overrides_both_sets"].as_object().cloned().unwrap_or_default();
    for (k, v) in case["param_overrides"].as_object().unwrap() {
        params.insert(k.clone(), v.clone());
    }
    for (name, v) in &params {
        match v {
            Value::Null => {}
            Value::Bool(on) => bld = bld.flag(name, *on),
            Value::Object(o) if o.contains_key("initializer") => {
                assert_eq!(o["initializer"], "Constant", "{name}");
                let u = Unit::parse(o["unit"].as_str().unwrap()).unwrap();
                bld = bld.init(name, Init::Constant(num(&o["value"]) * u.scale));
            }
            Value::Object(o) => {
                let spec = M::PARAMS[M::param_index(name).unwrap_or_else(|| panic!("{} has no {name}", M::NAME))];
                let u = Unit::parse(o["unit"].as_str().unwrap()).unwrap();
                bld = bld.set_raw(name, u.to_canonical(num(&o["value"]), spec.dim, name).unwrap());
            }
            other => panic!("{name}: {other}"),
        }
    }
    bld.build().unwrap()
}

fn check_golden_file<M: NeuronModel + Default>(file: &str) {
    let d = load(&format!("{file}.json"));
    assert_eq!(d["model"].as_str().unwrap().rsplit('.').next().unwrap(), M::NAME);
    let cases = d["outputs"]["cases"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let label = format!("{file} {}/{}", case["param_set"], case["input_name"]);
        // the golden's input unit is the model's input unit: its numbers go in raw
        assert_eq!(case["input"]["unit"].as_str().unwrap(), M::INPUT_UNIT, "{label}");
        let g = Golden::new(&d, case);
        let mk = || {
            let mut l = golden_layer::<M>(&d, case, g.n);
            l.init_state(Some(g.b)).unwrap();
            l
        };
        let jv = M::state_index("V").unwrap();
        let ns = M::STATES.len();

        // sequence run: spike trains against the golden raster (spike at step i ↔ t = i·dt)
        let mut l = mk();
        let mut clock = Clock::from_ms(g.dt).unwrap();
        let opts = RunOptions { record_states: true, ..RunOptions::new().spikes() };
        let out = l.run(&mut clock, SeqInput::Dense(&g.x, g.steps), &opts).unwrap();
        let trains = out.spike_trains().unwrap();
        assert_eq!(trains.len(), g.bn);
        assert_eq!(trains.shape, vec![g.b, g.n]);
        let total: usize = g.spike_steps.iter().map(Vec::len).sum();
        assert_eq!(total as f64, num(&case["total_spikes"]), "{label}");
        assert!(total > 0, "{label}: the golden spikes");
        for e in 0..g.bn {
            assert_eq!(trains.steps_of(e), g.spike_steps[e], "{label}: element {e} spike steps");
            let want: Vec<f64> = g.spike_steps[e].iter().map(|&k| k as f64 * g.dt).collect();
            let got = trains.times(e);
            assert_eq!(got.len(), want.len());
            assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-9), "{label}: element {e} times {got:?} vs {want:?}");
        }
        assert_eq!(out.counts().iter().map(|&c| c as usize).sum::<usize>(), total);
        let states = out.states.as_ref().unwrap();
        let full_v = |k: usize, e: usize| states[(k * ns + jv) * g.bn + e];

        // step mode: SpikeMonitor gives the same trains, StateMonitor the recorded V
        let (every, sel) = (7usize, [1usize, 3]);
        let mut l = mk();
        let mut clock = Clock::from_ms(g.dt).unwrap();
        let mut smon = SpikeMonitor::new();
        let mut vmon = StateMonitor::new(&["V"]).every(every).neurons(&sel);
        for k in 0..g.steps {
            let s = l.update(&clock, &g.x[k * g.bn..(k + 1) * g.bn]).unwrap();
            smon.record(&clock, &s).unwrap();
            vmon.record(&clock, &l).unwrap();
            clock.advance();
        }
        assert_eq!(smon.trains(), trains, "{label}: SpikeMonitor vs run");
        let want_steps: Vec<u64> = (0..g.steps as u64).filter(|i| i % every as u64 == 0).collect();
        let tr = vmon.trace("V").unwrap();
        assert_eq!(tr.steps, want_steps);
        assert_eq!(tr.unit, "mV");
        assert_eq!(tr.data.shape(), &[want_steps.len(), g.b, sel.len()]);
        for (r, &k) in want_steps.iter().enumerate() {
            assert!((tr.times_ms[r] - k as f64 * g.dt).abs() < 1e-9);
            for b in 0..g.b {
                for (c, &i) in sel.iter().enumerate() {
                    assert_eq!(tr.data[[r, b, c]], full_v(k as usize, b * g.n + i) as f64, "{label}: StateMonitor V step {k}");
                }
            }
        }

        // RunOptions::monitor("V").every(k).neurons(..), over two consecutive runs (absolute steps)
        let mut l = mk();
        let mut clock = Clock::from_ms(g.dt).unwrap();
        let mopts = RunOptions::new().spikes().monitor("V").every(every).neurons(&sel);
        let half = g.steps / 2 + 3;
        let o1 = l.run(&mut clock, SeqInput::Dense(&g.x[..half * g.bn], half), &mopts).unwrap();
        let o2 = l.run(&mut clock, SeqInput::Dense(&g.x[half * g.bn..], g.steps - half), &mopts).unwrap();
        let (m1, m2) = (o1.monitor("V").unwrap(), o2.monitor("V").unwrap());
        let steps: Vec<u64> = m1.steps.iter().chain(&m2.steps).copied().collect();
        assert_eq!(steps, want_steps, "{label}: monitor steps");
        let mv = m1.values_in(mV).unwrap();
        assert!(matches!(m1.values_in(ms), Err(SomataError::DimensionMismatch { .. })));
        for (m, vals) in [(m1, mv), (m2, m2.values_in(mV).unwrap())] {
            assert_eq!(m.neurons, sel);
            for (r, &k) in m.steps.iter().enumerate() {
                for b in 0..g.b {
                    for (c, &i) in sel.iter().enumerate() {
                        let want = full_v(k as usize, b * g.n + i);
                        assert_eq!(m.data[[r, b, c]].to_bits(), want.to_bits(), "{label}: monitor V step {k}");
                        assert_eq!(vals[[r, b, c]], want as f64);
                    }
                }
            }
        }
        assert_eq!(o1.spike_counts.iter().zip(&o2.spike_counts).map(|(a, b)| (a + b) as usize).sum::<usize>(), total);
        // the second run's spike trains are at absolute times
        let (t1, t2) = (o1.spike_trains().unwrap(), o2.spike_trains().unwrap());
        assert_eq!(t2.start_step, half as u64);
        for e in 0..g.bn {
            let both: Vec<u64> = t1.steps_of(e).into_iter().chain(t2.steps_of(e)).collect();
            assert_eq!(both, g.spike_steps[e], "{label}: element {e}, two runs");
        }
    }
}

#[test]
fn monitors_match_brainpy_goldens() {
    check_golden_file::<Lif>("neuron_LIF_soft");
    check_golden_file::<LifRef>("neuron_LIFRef_hard");
    check_golden_file::<Hh>("neuron_HH_soft");
    check_golden_file::<MorrisLecar>("neuron_MorrisLecar_soft");
    check_golden_file::<WangBuzsakiHh>("neuron_WangBuzsakiHH_soft");
}
