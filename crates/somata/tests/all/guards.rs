//! What somata refuses that a new user met as silent acceptances: a NaN or infinite input, a
//! threshold at or below the reset potential, a checkpoint loaded into a network with other
//! hyper-parameters, a misspelt parameter name.


use somata::dynamics::NeuronModel;
use somata::engine::LayerBuilder;
use somata::prelude::*;

// ---------------------------------------------------------------------------------------------
// 2. V_th <= V_reset

fn invalid(e: SomataError) -> (String, String, f64, String) {
    match e {
        SomataError::InvalidParameter { model, name, value, reason } => (model, name, value, reason),
        e => panic!("expected InvalidParameter, got {e:?}"),
    }
}

/// `V_th` at and below `V_reset` (given as `reset`) is refused naming both values; above it builds.
fn threshold_vs_reset<M: NeuronModel + Default + std::fmt::Debug>(th: &str, reset: &str, reset_value: f64) {
    let build = |v_th: f64| LayerBuilder::<M>::new(M::default(), 2).set_raw(reset, reset_value).set_raw(th, v_th).build();
    for v_th in [reset_value, reset_value - 7.5] {
        let e = build(v_th).unwrap_err();
        let msg = e.to_string();
        let (model, name, value, _) = invalid(e);
        assert_eq!((model.as_str(), name.as_str(), value), (M::NAME, th, v_th), "{msg}");
        assert!(msg.contains(&format!("{th} = {v_th} mV")) && msg.contains(&format!("{reset} = {reset_value} mV")), "{}: {msg}", M::NAME);
        assert!(msg.contains("never fires or fires at every step"), "{msg}");
    }
    build(reset_value + 10.0).unwrap_or_else(|e| panic!("{}: {e}", M::NAME));
}

#[test]
fn threshold_at_or_below_reset_is_refused_for_every_model_with_both() {
    threshold_vs_reset::<Lif>("V_th", "V_reset", -0.5);
    threshold_vs_reset::<LifRef>("V_th", "V_reset", -0.5);
    threshold_vs_reset::<Alif>("V_th", "V_reset", -0.5);
    threshold_vs_reset::<ExpIf>("V_th", "V_reset", -68.0);
    threshold_vs_reset::<ExpIfRef>("V_th", "V_reset", -68.0);
    threshold_vs_reset::<AdExIf>("V_th", "V_reset", -68.0);
    threshold_vs_reset::<AdExIfRef>("V_th", "V_reset", -68.0);
    threshold_vs_reset::<QuaIf>("V_th", "V_reset", -68.0);
    threshold_vs_reset::<AdQuaIf>("V_th", "V_reset", -68.0);
    threshold_vs_reset::<AdQuaIfRef>("V_th", "V_reset", -68.0);
    threshold_vs_reset::<CubaLif>("V_th", "V_reset", -0.5);
    threshold_vs_reset::<CobaLif>("V_th", "V_reset", -0.5);
    // Gif's threshold is a state relaxing to V_th_inf
    threshold_vs_reset::<Gif>("V_th_inf", "V_reset", -70.0);
    threshold_vs_reset::<GifRef>("V_th_inf", "V_reset", -70.0);
    // Izhikevich's reset potential is `c`
    threshold_vs_reset::<Izhikevich>("V_th", "c", -65.0);
    threshold_vs_reset::<IzhikevichRef>("V_th", "c", -65.0);
}

#[test]
fn if_threshold_must_be_above_its_reset_potential_zero() {
    let e = If::builder(1).v_th(-1.0 * mV).build().unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("V_th = -1 mV") && msg.contains("IF's reset potential = 0 mV"), "{msg}");
    If::builder(1).v_th(0.5 * mV).build().unwrap();
}

#[test]
fn per_neuron_thresholds_are_checked_element_wise() {
    let e = Lif::builder(4).v_reset(0.0 * mV).set_per_neuron("V_th", vec![1.0, 2.0, 0.0, 1.0]).build().unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("V_th = 0 mV") && msg.contains("V_reset = 0 mV") && msg.contains("(neuron 2)"), "{msg}");
    // per-neuron resets against a shared threshold
    let e = LifRef::builder(3).v_th(1.0 * mV).set_per_neuron("V_reset", vec![0.0, 0.0, 1.5]).build().unwrap_err();
    assert!(e.to_string().contains("V_reset = 1.5 mV") && e.to_string().contains("(neuron 2)"), "{e}");
    Lif::builder(3).set_per_neuron("V_th", vec![0.5, 1.0, 2.0]).build().unwrap();
}

#[test]
fn the_shipped_defaults_and_networks_still_build() {
    // BrainPy's defaults all have V_th above the reset
    Lif::builder(1).build().unwrap();
    ExpIf::builder(1).build().unwrap();
    AdExIf::builder(1).build().unwrap();
    QuaIf::builder(1).build().unwrap();
    Gif::builder(1).build().unwrap();
    Izhikevich::builder(1).build().unwrap();
    // the COBA/CUBA population of the examples (V_rest above V_th is allowed: tonic firing)
    LifRef::builder(1).v_rest(-49.0 * mV).v_th(-50.0 * mV).v_reset(-60.0 * mV).build().unwrap();
}
