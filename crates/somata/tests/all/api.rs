//! Public API behaviour: step mode equals sequence mode bit for bit; bad input gets typed errors.

use somata::dynamics::NeuronModel;
use somata::engine::{LayerBuilder, NeuronLayer, RunOptions, SeqInput};
use somata::init::Rng;
use somata::prelude::*;
use somata::units::Voltage;

fn step_vs_seq<M: NeuronModel + Default, T: Real>(reset: SpikeReset, per_neuron: bool) {
    let (b, n, steps) = (3usize, 5usize, 300usize);
    let mut rng = Rng::new(42);
    let x: Vec<T> = (0..steps * b * n).map(|_| T::from_f64(3.0 * rng.uniform())).collect();
    let mk = || -> NeuronLayer<M, T> {
        let mut bld = LayerBuilder::<M, T>::new(M::default(), n).spk_reset(reset);
        if per_neuron {
            bld = bld.set_per_neuron("tau", (0..n).map(|i| 4.0 + i as f64).collect());
        }
        let mut l = bld.build().unwrap();
        l.init_state(Some(b)).unwrap();
        l
    };
    let mut a = mk();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let mut spikes_a = Vec::new();
    let mut v_a = Vec::new();
    for k in 0..steps {
        let s = a.update(&clock, &x[k * b * n..(k + 1) * b * n]).unwrap();
        spikes_a.extend(s.iter().map(|v| (*v > T::ZERO) as u8));
        v_a.extend(a.v().unwrap().iter().copied());
        clock.advance();
    }
    let mut bl = mk();
    let mut clock2 = Clock::new(0.1 * ms).unwrap();
    let out = bl
        .run(
            &mut clock2,
            SeqInput::Dense(&x, steps),
            &RunOptions { record_spikes: true, record_states: true, check_finite: true, ..Default::default() },
        )
        .unwrap();
    assert_eq!(clock2.step(), steps as u64);
    assert_eq!(out.spikes.as_ref().unwrap(), &spikes_a, "{} spikes", M::NAME);
    let ns = M::STATES.len();
    let states = out.states.unwrap();
    for k in 0..steps {
        let v = &states[(k * ns) * b * n..(k * ns + 1) * b * n];
        assert_eq!(v, &v_a[k * b * n..(k + 1) * b * n], "{} V at step {k}", M::NAME);
    }
    assert!(out.divergence.is_none());
    assert!(spikes_a.contains(&1), "{} must spike", M::NAME);
    let total: u32 = out.spike_counts.iter().sum();
    assert_eq!(total as usize, spikes_a.iter().filter(|&&s| s == 1).count());
}

#[test]
fn step_mode_equals_sequence_mode() {
    for reset in [SpikeReset::Soft, SpikeReset::Hard] {
        for per in [false, true] {
            step_vs_seq::<If, f32>(reset, per);
            step_vs_seq::<Lif, f32>(reset, per);
            step_vs_seq::<LifRef, f32>(reset, per);
            step_vs_seq::<Alif, f32>(reset, per);
            step_vs_seq::<Lif, f64>(reset, per);
            step_vs_seq::<Alif, f64>(reset, per);
        }
    }
}

#[test]
fn large_layers_run_in_parallel_chunks_identically() {
    // 20,000 elements are split over threads; results equal a per-element serial run.
    let n = 20_000;
    let x: Vec<f32> = (0..n).map(|i| 3.0 * i as f32 / n as f32).collect();
    let mut big = Lif::builder(n).build().unwrap();
    big.init_state(None).unwrap();
    let mut c = Clock::new(0.1 * ms).unwrap();
    let out = big.run(&mut c, SeqInput::Constant(Input::Slice(&x), 500), &RunOptions::default()).unwrap();
    for &i in &[0usize, 1, 7777, 19_999] {
        let mut one = Lif::builder(1).build().unwrap();
        one.init_state(None).unwrap();
        let mut c1 = Clock::new(0.1 * ms).unwrap();
        let o = one.run(&mut c1, SeqInput::Constant(Input::Scalar(x[i]), 500), &RunOptions::default()).unwrap();
        assert_eq!(o.spike_counts[0], out.spike_counts[i]);
        assert_eq!(one.v().unwrap()[[0]], big.v().unwrap()[[i]]);
    }
    assert!(out.spike_counts[19_999] > 10);
}

#[test]
fn shapes_batches_and_state_access() {
    let mut l = Lif::builder([2, 3]).build().unwrap();
    assert_eq!(l.num_neurons(), 6);
    assert!(matches!(l.v(), Err(SomataError::NotInitialized(_))));
    l.init_state(None).unwrap();
    assert_eq!(l.v().unwrap().shape(), &[2, 3]);
    l.init_state(Some(4)).unwrap();
    assert_eq!(l.v().unwrap().shape(), &[4, 2, 3]);
    let mut clock = Clock::new(0.1 * ms).unwrap();
    // a per-neuron input (broadcast over the batch), a full input, and an ndarray
    let x6 = vec![2.0f32; 6];
    assert_eq!(l.update(&clock, &x6).unwrap().shape(), &[4, 2, 3]);
    clock.advance();
    let x24 = vec![2.0f32; 24];
    l.update(&clock, &x24).unwrap();
    clock.advance();
    let arr = ndarray::ArrayD::<f32>::from_elem(ndarray::IxDyn(&[4, 2, 3]), 1.0);
    l.update(&clock, arr.view()).unwrap();
    l.set_state("V", &[0.5; 6]).unwrap();
    assert_eq!(l.v().unwrap()[[3, 1, 2]], 0.5);
    assert!(l.name().starts_with("LIF"));
    let named = Lif::builder(3).name("exc").build().unwrap();
    assert_eq!(named.name(), "exc");
    let (a, b) = (Lif::builder(1).build().unwrap(), Lif::builder(1).build().unwrap());
    assert_ne!(a.name(), b.name(), "automatic names are unique");
}

#[test]
fn bad_parameters_are_typed_errors() {
    let e = Lif::builder(3).tau(0.0 * ms).build().unwrap_err();
    assert!(matches!(&e, SomataError::InvalidParameter { name, .. } if name == "tau"), "{e}");
    let e = Lif::builder(3).tau(-1.0 * ms).build().unwrap_err();
    assert!(e.to_string().contains("tau"));
    let e = Lif::builder(3).v_th(f64::NAN * mV).build().unwrap_err();
    assert!(matches!(&e, SomataError::InvalidParameter { name, .. } if name == "V_th"), "{e}");
    let e = Lif::builder(3).v_th(0.5 * mV).v_reset(0.5 * mV).build().unwrap_err();
    assert!(e.to_string().contains("V_reset"), "{e}");
    let e = If::builder(3).v_th(0.0 * mV).build().unwrap_err();
    assert!(matches!(e, SomataError::InvalidParameter { .. }));
    let e = Alif::builder(3).tau_a(0.0 * ms).build().unwrap_err();
    assert!(e.to_string().contains("tau_a"));
    let e = LifRef::builder(3).tau_ref(-1.0 * ms).build().unwrap_err();
    assert!(e.to_string().contains("tau_ref"));
    // names and dimensions checked at run time for the string-keyed setters
    let e = Lif::builder(3).set("tau", 1.0 * mV).build().unwrap_err();
    assert!(matches!(e, SomataError::DimensionMismatch { .. }), "{e}");
    let e = Lif::builder(3).set_raw("taux", 1.0).build().unwrap_err();
    assert!(matches!(e, SomataError::UnknownParameter { .. }));
    let e = Lif::builder(3).set_per_neuron("tau", vec![1.0, 2.0]).build().unwrap_err();
    assert!(matches!(e, SomataError::ShapeMismatch { .. }));
    let e = Lif::builder(3).set_per_neuron("tau", vec![1.0, -2.0, 3.0]).build().unwrap_err();
    assert!(matches!(e, SomataError::InvalidParameter { .. }));
    let e = Lif::builder(3).init("V", Init::Uniform { low: 1.0, high: 0.0 }).build().unwrap_err();
    assert!(matches!(e, SomataError::InvalidInitializer(_)));
    let e = Lif::builder(3).init("w_initializer", Init::Constant(0.0)).build().unwrap_err();
    assert!(matches!(e, SomataError::UnknownState { .. }), "{e}");
    let _typed: Voltage = 1.0 * mV; // typed setters reject wrong dimensions at compile time
}

#[test]
fn bad_inputs_are_typed_errors() {
    let mut l = Lif::builder(4).build().unwrap();
    let clock = Clock::new(0.1 * ms).unwrap();
    assert!(matches!(l.update(&clock, 1.0f32), Err(SomataError::NotInitialized(_))));
    l.init_state(Some(2)).unwrap();
    let bad = vec![1.0f32; 5];
    assert!(matches!(l.update(&clock, &bad), Err(SomataError::ShapeMismatch { .. })));
    let arr = ndarray::ArrayD::<f32>::zeros(ndarray::IxDyn(&[3, 4]));
    assert!(matches!(l.update(&clock, arr.view()), Err(SomataError::ShapeMismatch { .. })));
    let mut c = Clock::new(0.1 * ms).unwrap();
    let seq = vec![1.0f32; 7];
    assert!(matches!(l.run(&mut c, SeqInput::Dense(&seq, 3), &RunOptions::default()), Err(SomataError::ShapeMismatch { .. })));
    assert!(matches!(l.init_state(Some(0)), Err(SomataError::ShapeMismatch { .. })));
    for dt in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert!(matches!(Clock::from_ms(dt), Err(SomataError::InvalidDt(_))), "{dt}");
    }
    // backward with a mismatched gradient
    let mut c = Clock::new(0.1 * ms).unwrap();
    let x = vec![1.0f32; 3 * 8];
    let tape = l.forward_tape(&mut c, SeqInput::Dense(&x, 3)).unwrap();
    assert!(matches!(l.backward(&tape, &[0.0; 5], &[]), Err(SomataError::ShapeMismatch { .. })));
    assert!(matches!(l.backward(&tape, &[0.0; 24], &["nope"]), Err(SomataError::UnknownParameter { .. })));
}

#[test]
fn trace_documents_with_errors_are_rejected() {
    use somata::io::trace::run_str;
    let good = r#"{"kind":"neuron","model":"LIF","spk_reset":"soft","dt_ms":0.1,"params":{},"input":{"unit":"mA","value":[[[1.0]]]}}"#;
    assert!(run_str(good).is_ok());
    let cases = [
        (good.replace("\"LIF\"", "\"LIFF\""), "unknown model"),
        (good.replace("\"mA\"", "\"mQ\""), "unknown unit"),
        (good.replace("\"mA\"", "\"mV\""), "wrong dimension"),
        (good.replace("\"dt_ms\":0.1,", ""), "dt"),
        (good.replace("0.1", "-0.1"), "dt"),
        (good.replace("\"soft\"", "\"medium\""), "spk_reset"),
        (good.replace("{}", r#"{"taux":{"value":1,"unit":"ms"}}"#), "unknown parameter"),
        (good.replace("{}", r#"{"tau":{"value":1,"unit":"mV"}}"#), "wrong dimension"),
        (good.replace("{}", r#"{"tau":{"value":0,"unit":"ms"}}"#), "tau"),
        (good.replace("[[[1.0]]]", "[[[1.0]],[[1.0, 2.0]]]"), "malformed"),
        (good.replace("\"neuron\"", "\"grad\""), "surrogate"),
        ("{not json".to_string(), "JSON"),
    ];
    for (doc, what) in cases {
        let e = run_str(&doc).unwrap_err().to_string();
        assert!(e.contains(what), "expected `{what}` in: {e}");
    }
}

#[test]
fn divergence_is_reported_not_hidden() {
    // A LIF driven by a finite input whose R·I overflows f32 goes non-finite; the run reports
    // where. (An infinite input itself is refused up front: tests/all/guards.rs.)
    let mut l = Lif::builder(3).r(10.0 * ohm).build().unwrap();
    l.init_state(Some(2)).unwrap();
    let mut x = vec![1.0f32; 10 * 6];
    x[4 * 6 + 5] = f32::MAX; // step 4, batch row 1, neuron 2
    let mut c = Clock::new(0.1 * ms).unwrap();
    let out = l.run(&mut c, SeqInput::Dense(&x, 10), &RunOptions { check_finite: true, ..Default::default() }).unwrap();
    match out.divergence {
        Some(SomataError::Diverged { step, batch, neuron, variable, .. }) => {
            assert_eq!((step, batch, neuron, variable.as_str()), (4, 1, 2, "V"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_layers_and_empty_runs_do_not_panic() {
    let mut l = Lif::builder(0).set_per_neuron("tau", vec![]).build().unwrap();
    l.init_state(Some(2)).unwrap();
    let mut c = Clock::new(0.1 * ms).unwrap();
    let out = l.run(&mut c, SeqInput::Constant(Input::Scalar(1.0), 10), &RunOptions::default()).unwrap();
    assert!(out.spike_counts.is_empty());
    let tape = l.forward_tape(&mut c, SeqInput::Constant(Input::Scalar(1.0), 3)).unwrap();
    let g = l.backward(&tape, &[], &["tau"]).unwrap();
    assert!(g.input.is_empty());
    let mut m = Lif::builder(2).build().unwrap();
    m.init_state(None).unwrap();
    let out = m.run(&mut c, SeqInput::Constant(Input::Scalar(1.0), 0), &RunOptions::default()).unwrap();
    assert_eq!(out.steps, 0);
}

#[test]
fn trace_gradients_are_per_unit_given() {
    use somata::io::trace::run_str;
    let doc = |tau: &str| {
        format!(
            r#"{{"kind":"grad","model":"LIF","spk_reset":"soft","dt_ms":0.1,"surrogate":{{"name":"Sigmoid","params":{{}}}},
            "params":{{"tau":{tau},"V_th":{{"value":1.0,"unit":"mV"}}}},
            "input":{{"unit":"mA","value":[[[2.5]],[[2.5]],[[2.5]],[[2.5]]]}},"loss_weight":[[[1.0]],[[1.0]],[[1.0]],[[1.0]]]}}"#
        )
    };
    let ms_doc = run_str(&doc(r#"{"value":8.0,"unit":"ms"}"#)).unwrap();
    let s_doc = run_str(&doc(r#"{"value":0.008,"unit":"s"}"#)).unwrap();
    let (g_ms, g_s) = (ms_doc["grad_tau"].as_f64().unwrap(), s_doc["grad_tau"].as_f64().unwrap());
    assert!(g_ms != 0.0);
    assert!((g_s - 1000.0 * g_ms).abs() <= 1e-6 * g_s.abs(), "{g_s} vs 1000 x {g_ms}");
    assert_eq!(ms_doc["grad_input"], s_doc["grad_input"]);
}
