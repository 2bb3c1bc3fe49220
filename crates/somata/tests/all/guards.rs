//! What somata refuses that a new user met as silent acceptances: a NaN or infinite input, a
//! threshold at or below the reset potential, a checkpoint loaded into a network with other
//! hyper-parameters, a misspelt parameter name.

use somata::dynamics::{name_word, NeuronModel, ParamAt, ParamSpec, StateAt, StateSpec};
use somata::engine::{LayerBuilder, RunOptions, SeqInput};
use somata::nn::checkpoint::{self, Checkpoint};
use somata::nn::train::{TrainConfig, Trainer};
use somata::nn::{LeakyRateReadout, Linear, Neurons, SeqBuf, Sequential};
use somata::prelude::*;
use somata::units::Dim;
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------
// 1. Non-finite inputs

fn non_finite(e: &SomataError) -> (String, u64, usize, usize, String) {
    match e {
        SomataError::NonFiniteInput { layer, step, batch, neuron, value, .. } => (layer.clone(), *step, *batch, *neuron, value.clone()),
        e => panic!("expected NonFiniteInput, got {e:?}"),
    }
}

#[test]
fn nan_scalar_input_is_refused_before_the_state_is_touched() {
    let mut lif = Lif::builder(3).name("hidden").build().unwrap();
    lif.init_state(None).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    lif.update(&clock, 2.0f32).unwrap();
    clock.advance();
    let v_before = lif.v().unwrap().to_owned();
    let e = lif.update(&clock, f32::NAN).unwrap_err();
    let (layer, step, batch, neuron, value) = non_finite(&e);
    assert_eq!((layer.as_str(), step, batch, neuron, value.as_str()), ("hidden", 1, 0, 0, "NaN"));
    let msg = e.to_string();
    assert!(msg.contains("`hidden`") && msg.contains("LIF") && msg.contains("NaN"), "{msg}");
    assert!(msg.contains("batch row 0") && msg.contains("neuron 0") && msg.contains("step 1"), "{msg}");
    // the state is untouched and the step was not consumed: the same step runs normally
    assert_eq!(lif.v().unwrap(), v_before);
    lif.update(&clock, 2.0f32).unwrap();
    assert!(lif.v().unwrap().iter().all(|v| v.is_finite() && *v > v_before[[0]]));
}

#[test]
fn infinite_input_names_batch_row_and_neuron() {
    let mut lif = Lif::builder(3).name("L").build().unwrap();
    lif.init_state(Some(2)).unwrap();
    let clock = Clock::new(0.1 * ms).unwrap();
    // batch × N input: element 4 is batch row 1, neuron 1
    let x = [0.0f32, 1.0, 2.0, 3.0, f32::INFINITY, 5.0];
    let e = lif.update(&clock, &x[..]).unwrap_err();
    let (_, _, batch, neuron, value) = non_finite(&e);
    assert_eq!((batch, neuron, value.as_str()), (1, 1, "inf"));
    assert!(e.to_string().contains("batch row 1, neuron 1"), "{e}");
    // N values broadcast over the batch: the first row holding it is named
    let e = lif.update(&clock, &[0.0f32, 0.0, f32::NEG_INFINITY][..]).unwrap_err();
    let (_, _, batch, neuron, value) = non_finite(&e);
    assert_eq!((batch, neuron, value.as_str()), (0, 2, "-inf"));
    // typed input
    let e = lif.update_q(&clock, f64::NAN * mA).unwrap_err();
    assert!(matches!(e, SomataError::NonFiniteInput { .. }), "{e}");
    let e = lif.update_q(&clock, &[1.0 * mA, 1.0 * mA, f64::INFINITY * mA]).unwrap_err();
    let (_, _, batch, neuron, _) = non_finite(&e);
    assert_eq!((batch, neuron), (0, 2));
    // an array of shape in_size
    let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[3]), vec![0.0f32, f32::NAN, 0.0]).unwrap();
    let e = lif.update(&clock, a.view()).unwrap_err();
    assert_eq!(non_finite(&e).3, 1);
    // nothing ran: the layer still accepts step 0
    lif.update(&clock, 1.0f32).unwrap();
}

#[test]
fn nan_in_a_vector_kernel_layer_is_found_at_its_neuron() {
    // 4000 neurons, f32, shared parameters: the AVX-512 / AVX2 path where the CPU has it
    let n = 4000;
    let mut lif = Lif::builder(n).build().unwrap();
    lif.init_state(None).unwrap();
    let mut x = vec![1.0f32; n];
    x[3999] = f32::NAN;
    let e = lif.update(&Clock::new(0.1 * ms).unwrap(), &x).unwrap_err();
    assert_eq!(non_finite(&e).3, 3999, "{e}");
    assert!(lif.v().unwrap().iter().all(|v| *v == 0.0));
}

#[test]
fn nan_in_a_sequence_names_its_step_and_leaves_the_clock() {
    let (n, steps) = (2, 10);
    let mut lif = Lif::builder(n).name("seq").build().unwrap();
    lif.init_state(None).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    lif.run(&mut clock, SeqInput::Constant(Input::Scalar(1.0), 5), &RunOptions::default()).unwrap();
    assert_eq!(clock.step(), 5);
    let mut x = vec![1.0f32; steps * n];
    x[3 * n + 1] = f32::NAN; // step 3 of this run = clock step 8, neuron 1
    let v_before = lif.v().unwrap().to_owned();
    let e = lif.run(&mut clock, SeqInput::Dense(&x, steps), &RunOptions::default()).unwrap_err();
    let (layer, step, _, neuron, _) = non_finite(&e);
    assert_eq!((layer.as_str(), step, neuron), ("seq", 8, 1), "{e}");
    assert_eq!(clock.step(), 5, "the clock is not advanced by a refused run");
    assert_eq!(lif.v().unwrap(), v_before);
    // forward_tape (training) refuses the same way
    let e = lif.forward_tape(&mut clock, SeqInput::Dense(&x, steps)).unwrap_err();
    assert_eq!(non_finite(&e).1, 8, "{e}");
    // and the conductance tape
    let (i, mut g) = (vec![1.0f32; steps * n], vec![0.0f32; steps * n]);
    g[2 * n] = f32::INFINITY;
    let mut tape = somata::engine::Tape::default();
    let e = lif.forward_tape_cond(&mut clock, &i, &g, steps, &mut tape).unwrap_err();
    match &e {
        SomataError::NonFiniteInput { what, step, neuron, .. } => assert_eq!((what.as_str(), *step, *neuron), ("conductance g", 7, 0)),
        e => panic!("{e:?}"),
    }
    assert_eq!(lif.v().unwrap(), v_before);
    // finite inputs still run
    lif.run(&mut clock, SeqInput::Dense(&vec![1.0f32; steps * n], steps), &RunOptions::default()).unwrap();
    assert_eq!(clock.step(), 15);
}

#[test]
fn nan_input_to_a_sequential_network_is_refused() {
    let lif = Lif::builder(4).build().unwrap();
    let mut net = Sequential::new(1.0 * ms).push(Linear::new(3, 4, 1)).push(Neurons::new(lif));
    let mut x = vec![0.5f32; 2 * 3];
    x[4] = f32::NAN;
    let e = net.forward(&SeqBuf::constant(x, 5, 2, 3)).unwrap_err();
    assert!(matches!(e, SomataError::NonFiniteInput { .. }), "{e}");
}

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

// ---------------------------------------------------------------------------------------------
// 3. Checkpoints compare hyper-parameters

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("somata-guards-{tag}-{}", std::process::id()));
        std::fs::remove_dir_all(&p).ok();
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn mismatch(e: SomataError) -> (String, String, f64, f64, String) {
    let msg = e.to_string();
    match e {
        SomataError::HyperParameterMismatch { layer, name, stored, given, .. } => (layer, name, stored, given, msg),
        e => panic!("expected HyperParameterMismatch, got {e:?}"),
    }
}

fn trainer(tau_ms: f64, dt_ms: f64) -> Trainer {
    let cfg = TrainConfig { epochs: 1, hidden: 16, seed: 3, tau_ms, dt_ms, ..TrainConfig::default() };
    Trainer::new(&cfg, 8, 3).unwrap()
}

fn weights(net: &mut Sequential) -> Vec<Vec<f32>> {
    net.params().iter().map(|p| p.value.to_vec()).collect()
}

#[test]
fn a_checkpoint_refuses_a_network_with_another_tau_or_dt() {
    let dir = TempDir::new("tau");
    let path = dir.file("net.safetensors");
    let mut a = trainer(5.0, 1.0);
    a.save_checkpoint(&path, 1).unwrap();
    let ck = Checkpoint::read(&path).unwrap();
    assert!(ck.stores_hyper_params());
    assert!(ck.meta[checkpoint::HYPERPARAMS_KEY].contains("\"tau\":[5.0]"), "{}", ck.meta[checkpoint::HYPERPARAMS_KEY]);

    // same hyper-parameters: loads
    let mut same = trainer(5.0, 1.0);
    same.resume(&path).unwrap();
    assert_eq!(weights(&mut same.net), weights(&mut a.net));

    // another tau: refused, naming the layer, the parameter and both values; net untouched
    let mut b = trainer(8.0, 1.0);
    let before = weights(&mut b.net);
    let (layer, name, stored, given, msg) = mismatch(b.resume(&path).unwrap_err());
    assert_eq!((layer.as_str(), name.as_str(), stored, given), ("layer 1 (LIF)", "tau", 5.0, 8.0), "{msg}");
    assert!(msg.contains("tau = 5 in the checkpoint but 8 in the network") && msg.contains("net.safetensors"), "{msg}");
    assert_eq!(weights(&mut b.net), before, "a refused load leaves the network untouched");

    // another dt
    let mut c = trainer(5.0, 0.5);
    let (layer, name, stored, given, _) = mismatch(c.resume(&path).unwrap_err());
    assert_eq!((layer.as_str(), name.as_str(), stored, given), ("the network", "dt (ms)", 1.0, 0.5));
    // checkpoint::load compares too
    let mut d = trainer(8.0, 1.0);
    assert!(matches!(checkpoint::load(&path, &mut d.net), Err(SomataError::HyperParameterMismatch { .. })));
}

fn lif_net(v_th: f64, reset: SpikeReset, readout_tau: f64, train_tau: Option<f64>) -> Sequential {
    let lif = Lif::builder(4).v_th(v_th * mV).tau(10.0 * ms).spk_reset(reset).build().unwrap();
    let neurons = match train_tau {
        Some(_) => Neurons::new(lif).train("tau").unwrap(),
        None => Neurons::new(lif),
    };
    let mut net = Sequential::new(1.0 * ms).push(Linear::new(3, 4, 1)).push(neurons).push(LeakyRateReadout::new(4, 2, readout_tau * ms, 2));
    if let Some(t) = train_tau {
        // as if training had moved tau
        for p in net.params() {
            if p.name == "tau" {
                p.value.fill(t as f32);
            }
        }
    }
    net
}

#[test]
fn every_model_parameter_spk_reset_and_readout_tau_are_compared() {
    let dir = TempDir::new("vth");
    let path = dir.file("net.safetensors");
    let mut a = lif_net(1.0, SpikeReset::Soft, 5.0, None);
    let hp = a.layers()[1].hyper_params();
    let names: Vec<&str> = hp.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["R", "tau", "V_th", "V_reset", "V_rest", "spk_reset"]);
    assert_eq!(hp[1].1, vec![10.0]);
    assert!(a.layers()[0].hyper_params().is_empty(), "a Linear layer has none");
    checkpoint::save(&path, &mut a, &[]).unwrap();
    checkpoint::load(&path, &mut lif_net(1.0, SpikeReset::Soft, 5.0, None)).unwrap();
    let (layer, name, stored, given, msg) = mismatch(checkpoint::load(&path, &mut lif_net(1.5, SpikeReset::Soft, 5.0, None)).unwrap_err());
    assert_eq!((layer.as_str(), name.as_str(), stored, given), ("layer 1 (LIF)", "V_th", 1.0, 1.5), "{msg}");
    let (_, name, stored, given, _) = mismatch(checkpoint::load(&path, &mut lif_net(1.0, SpikeReset::Hard, 5.0, None)).unwrap_err());
    assert_eq!((name.as_str(), stored, given), ("spk_reset", 0.0, 1.0));
    let (layer, name, stored, given, _) = mismatch(checkpoint::load(&path, &mut lif_net(1.0, SpikeReset::Soft, 7.0, None)).unwrap_err());
    assert_eq!((layer.as_str(), name.as_str(), stored, given), ("layer 2 (readout)", "tau", 5.0, 7.0));
}

#[test]
fn per_neuron_hyper_parameters_name_the_neuron() {
    let dir = TempDir::new("pn");
    let path = dir.file("net.safetensors");
    let net = |v_th: Vec<f64>| Sequential::new(1.0 * ms).push(Neurons::new(Lif::builder(3).set_per_neuron("V_th", v_th).build().unwrap()));
    checkpoint::save(&path, &mut net(vec![1.0, 2.0, 3.0]), &[]).unwrap();
    checkpoint::load(&path, &mut net(vec![1.0, 2.0, 3.0])).unwrap();
    let (_, name, stored, given, _) = mismatch(checkpoint::load(&path, &mut net(vec![1.0, 2.0, 4.0])).unwrap_err());
    assert_eq!((name.as_str(), stored, given), ("V_th [neuron 2]", 3.0, 4.0));
}

#[test]
fn trained_parameters_are_loaded_not_compared() {
    let dir = TempDir::new("trained");
    let path = dir.file("net.safetensors");
    // trained tau moved from the builder's 10 ms to 12.5 ms
    let mut a = lif_net(1.0, SpikeReset::Soft, 5.0, Some(12.5));
    let x = SeqBuf::constant(vec![0.5; 2 * 3], 5, 2, 3);
    let ya = a.forward(&x).unwrap();
    checkpoint::save(&path, &mut a, &[]).unwrap();
    // a fresh network built with the builder's tau (10 ms) loads it: tau is the stored tensor
    let mut b = lif_net(1.0, SpikeReset::Soft, 5.0, Some(10.0));
    checkpoint::load(&path, &mut b).unwrap();
    let tau: Vec<f32> = b.params().into_iter().find(|p| p.name == "tau").unwrap().value.to_vec();
    assert_eq!(tau, vec![12.5]);
    assert_eq!(b.forward(&x).unwrap().data, ya.data, "the loaded trained tau is the one used");
    // an untrained V_th still has to match
    assert!(matches!(
        checkpoint::load(&path, &mut lif_net(2.0, SpikeReset::Soft, 5.0, Some(10.0))),
        Err(SomataError::HyperParameterMismatch { .. })
    ));
}

#[test]
fn an_old_checkpoint_without_hyper_parameters_still_loads() {
    let dir = TempDir::new("old");
    let path = dir.file("net.safetensors");
    let mut a = lif_net(1.0, SpikeReset::Soft, 5.0, None);
    checkpoint::save(&path, &mut a, &[]).unwrap();
    // rewrite it as an older somata did: the same tensors and metadata, no `hyperparams`
    let buf = std::fs::read(&path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&buf).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    meta.remove(checkpoint::HYPERPARAMS_KEY).unwrap();
    let st = safetensors::SafeTensors::deserialize(&buf).unwrap();
    let old = safetensors::serialize(st.tensors(), Some(meta)).unwrap();
    std::fs::write(&path, old).unwrap();
    let ck = Checkpoint::read(&path).unwrap();
    assert!(!ck.stores_hyper_params());
    // loads (with a warning on stderr) even into a network with another V_th: nothing to compare
    let mut b = lif_net(1.5, SpikeReset::Soft, 5.0, None);
    ck.apply(&mut b).unwrap();
    assert_eq!(weights(&mut b), weights(&mut a));
}

// ---------------------------------------------------------------------------------------------
// 4. Misspelt parameter names

/// A user model as the guide writes one: `V += x`, a spike over `V_th`.
#[derive(Debug, Clone, Copy, Default)]
struct Integrator;

impl NeuronModel for Integrator {
    const NAME: &'static str = "Integrator";
    const PARAMS: &'static [ParamSpec] = &[ParamSpec::finite("V_th", Dim::VOLTAGE, 1.0), ParamSpec::positive("tau", Dim::TIME, 10.0)];
    const STATES: &'static [StateSpec] = &[StateSpec::of("V", Dim::VOLTAGE)];
    type Input = dim::V;
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        let v_th = somata::param!(c, "V_th"); // param!(c, "Vth") would not compile, once, naming `Vth`
        s[somata::state!("V")] += x;
        c.spike((s[somata::state!("V")] - v_th) / v_th)
    }
}

#[test]
fn a_misspelt_parameter_name_at_build_names_the_key_and_the_known_ones() {
    let e = Integrator::builder(2).set("Vth", 1.0 * mV).build().unwrap_err();
    match &e {
        SomataError::UnknownParameter { model, name, known } => {
            assert_eq!((model.as_str(), name.as_str(), known.as_str()), ("Integrator", "Vth", "V_th, tau"))
        }
        e => panic!("{e:?}"),
    }
    assert!(e.to_string().contains("unknown parameter `Vth`") && e.to_string().contains("known: V_th, tau"), "{e}");
    // spelt right, the model runs (param! and state! resolved at compile time)
    let mut l = Integrator::builder(2).set("V_th", 1.0 * mV).build().unwrap();
    l.init_state(None).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let s1 = l.update(&clock, 0.6f32).unwrap();
    clock.advance();
    let s2 = l.update(&clock, 0.6f32).unwrap();
    assert_eq!((s1[[0]], s2[[0]]), (0.0, 1.0));
    let e = Lif::builder(1).set_raw("tua", 1.0).build().unwrap_err();
    assert!(e.to_string().contains("`tua`") && e.to_string().contains("tau"), "{e}");
}

#[test]
fn param_and_state_positions_resolve_at_compile_time() {
    // what `param!(c, "V_reset")` / `state!("V")` expand to (a misspelt name is one compile
    // error naming it: the `compile_fail` doc tests of `somata::param!` and `somata::state!`)
    const I: usize = ParamAt::<Lif, { name_word("V_reset", 0) }, { name_word("V_reset", 1) }, { name_word("V_reset", 2) }>::INDEX;
    assert_eq!(I, Lif::param_index("V_reset").unwrap());
    const J: usize = StateAt::<AdExIf, { name_word("w", 0) }, { name_word("w", 1) }, { name_word("w", 2) }>::INDEX;
    assert_eq!(J, AdExIf::state_index("w").unwrap());
    // names up to 48 bytes
    assert_eq!(name_word("abcdefghijklmnopq", 1), b'q' as u128);
}
