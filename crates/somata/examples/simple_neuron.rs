//! The seed page's `SimpleNeuron`, written as a user would: state `V`, `V += x` each step, spike
//! via `spk_fun((V − V_th)/V_th)`. No backward is written: simulation and BPTT come from the one
//! step definition.
//!
//! Run: `cargo run --release --example simple_neuron`

use somata::dynamics::{Check, InitSpec, NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use somata::engine::{LayerBuilder, SeqInput};
use somata::prelude::*;
use somata::units::{dim, Dim};

/// `SimpleNeuron(in_size, V_th=1 mV)`: integrates its input (in mV) without leak.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleNeuron;

impl NeuronModel for SimpleNeuron {
    const NAME: &'static str = "SimpleNeuron";
    const PARAMS: &'static [ParamSpec] = &[ParamSpec::new("V_th", Dim::VOLTAGE, 1.0, Check::Finite)];
    const STATES: &'static [StateSpec] = &[StateSpec::new("V", Dim::VOLTAGE, "mV", InitSpec::Constant(0.0), Some("V_initializer"))];
    type Input = dim::V;
    const INPUT_UNIT: &'static str = "mV";
    const VECTOR: bool = true; // compares only via select_*/spike: may run 64 neurons at a time

    /// BrainPy's base-class default surrogate.
    fn default_spk_fun() -> Surrogate {
        InvSquareGrad::default().into()
    }
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        let v_th = c.p[0];
        s[0] += x; // self.V.value += x
        c.spike((s[0] - v_th) / v_th) // self.get_spike()
    }
}

#[allow(dead_code)]
fn main() -> somata::Result<()> {
    let mut layer = LayerBuilder::<SimpleNeuron>::new(SimpleNeuron, 4).set("V_th", 1.0 * mV).build()?;
    layer.init_state(Some(2))?;
    let clock = Clock::new(0.1 * ms)?;
    for step in 0..4 {
        let spikes = layer.update_q(&clock, 0.3 * mV)?;
        println!(
            "step {step}: V = {:?}, spikes = {:?}",
            layer.v()?.iter().take(4).collect::<Vec<_>>(),
            spikes.iter().take(4).collect::<Vec<_>>()
        );
    }
    // Gradients through time with no hand-written backward.
    let mut clock = Clock::new(0.1 * ms)?;
    layer.init_state(Some(1))?;
    let x = vec![0.3f32; 5 * 4];
    let tape = layer.forward_tape(&mut clock, SeqInput::Dense(&x, 5))?;
    let grads = layer.backward(&tape, &[1.0; 5 * 4], &["V_th"])?;
    println!("d(total spikes)/dx at step 0: {:?}", &grads.input[..4]);
    println!("d(total spikes)/dV_th: {:?}", grads.param("V_th").unwrap().total());
    Ok(())
}
