//! The seed page's `SimpleNeuron`, written as a user would: state `V`, `V += x` each step, spike
//! via `spk_fun((V − V_th)/V_th)`. No backward is written: simulation and BPTT come from the one
//! step definition. The default surrogate is BrainPy's base-class default,
//! `InvSquareGrad(alpha=100)`.
//!
//! Run: `cargo run --release --example simple_neuron`

use somata::dynamics::{NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use somata::engine::SeqInput;
use somata::prelude::*;
use somata::units::{dim, Dim};
use somata::{param, state};

/// `SimpleNeuron(in_size, V_th=1 mV)`: integrates its input (in mV) without leak.
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

#[allow(dead_code)]
fn main() -> somata::Result<()> {
    // SimpleNeuron(4, V_th=1 mV); spk_fun defaults to InvSquareGrad(alpha=100)
    let mut layer = SimpleNeuron::builder(4).set("V_th", 1.0 * mV).build()?;
    layer.init_state(Some(2))?;
    let mut clock = Clock::new(0.1 * ms)?;
    for step in 0..4 {
        let spikes = layer.update_q(&clock, 0.3 * mV)?;
        println!(
            "step {step}: V = {:?} mV, spikes = {:?}",
            layer.state_in("V", mV)?.iter().take(4).collect::<Vec<_>>(),
            spikes.iter().take(4).collect::<Vec<_>>()
        );
        clock.advance(); // update never advances the clock: one advance per step
    }
    // Gradients through time with no hand-written backward.
    layer.reset_state(Some(1))?;
    let mut clock = Clock::new(0.1 * ms)?;
    let x = vec![0.3f32; 5 * 4]; // 5 steps × 4 neurons, mV
    let tape = layer.forward_tape(&mut clock, SeqInput::Dense(&x, 5))?;
    let grads = layer.backward(&tape, &[1.0; 5 * 4], &["V_th"])?;
    println!("d(total spikes)/dx at step 0 (per mV): {:?}", &grads.input[..4]);
    println!("d(total spikes)/dV_th (per mV): {:?}", grads.param("V_th").unwrap().total());
    Ok(())
}
