//! The vector backward passes (BPTT on `Dual<F32x64, D>` with AVX-512, `Dual<F32x16, D>` with
//! AVX2; f32 layers with shared parameters, models that compare only through selects) perform
//! the same IEEE operations as the scalar backward pass, element by element, on every back end
//! this CPU has (each is checked and named; the scalar back end too). A layer whose parameters
//! are given per neuron (same values) takes the scalar pass; every model, both reset modes,
//! random inputs and incoming gradients, two full 64-lane blocks and a tail of 21 lanes, batch 2.
//! Input and initial-state gradients must have the same bits; a trained shared parameter's
//! gradient (a sum over elements, added in another order by a vector pass) must agree with the
//! sum of the per-neuron gradients to 1e-4 relative.

use somata::dynamics::{NeuronModel, SpikeReset};
use somata::engine::{LayerBuilder, ParamGrad, SeqInput};
use somata::init::Rng;
use somata::neurons::registry::{dispatch, ModelFn, MODEL_NAMES};
use somata::prelude::*;

use somata::dynamics::simd::{self, Backend};

const LANES: usize = 64;

struct SameGrads(Backend, SpikeReset);

impl ModelFn for SameGrads {
    type Out = somata::Result<bool>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        let (n, batch, steps) = (2 * LANES + 21, 2, 60);
        let scale = match M::INPUT_UNIT {
            "mA" => 10.0,
            "uA" => 20.0,
            "mV / ms" => 20.0,
            _ => 2.0,
        };
        let mut rng = Rng::new(11);
        let x: Vec<f32> = (0..steps * batch * n).map(|_| (scale * rng.uniform()) as f32).collect();
        let gs: Vec<f32> = (0..steps * batch * n).map(|_| (rng.uniform() - 0.5) as f32).collect();
        // the first parameter that is not a flag or an integer-like setting: tau where there is one
        let train: Vec<&str> = ["tau", "V_th", "a"].into_iter().filter(|p| M::param_index(p).is_some()).take(1).collect();
        let run = |per_neuron: bool| -> somata::Result<_> {
            let mut b = LayerBuilder::<M, f32>::new(M::default(), n).seed(5).spk_reset(self.1).gate_tables(false).simd(self.0);
            if per_neuron {
                let p = &M::PARAMS[0];
                b = b.set_per_neuron(p.name, vec![p.default; n]);
            }
            let mut layer = b.build()?;
            layer.init_state(Some(batch))?;
            let mut clock = Clock::new(0.1 * ms)?;
            let tape = layer.forward_tape(&mut clock, SeqInput::Dense(&x, steps))?;
            let g = layer.backward(&tape, &gs, &train)?;
            Ok(g)
        };
        let a = run(false)?;
        let b = run(true)?;
        let same = |what: &str, u: &[f32], v: &[f32]| {
            assert_eq!(u.len(), v.len());
            for (i, (p, q)) in u.iter().zip(v).enumerate() {
                assert!(
                    p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()),
                    "{} {:?} on {} {what} [{i}]: {p} vs {q}",
                    M::NAME,
                    self.1,
                    self.0
                );
            }
        };
        same("∂L/∂x", &a.input, &b.input);
        same("∂L/∂s0", &a.initial_state, &b.initial_state);
        for (name, ga) in &a.params {
            let gb = b.param(name).expect("same parameters");
            let (ta, tb) = (ga.total(), gb.total());
            if let ParamGrad::PerNeuron(_) = ga {
                panic!("{}: shared parameter {name} gave per-neuron gradients", M::NAME);
            }
            assert!(
                (ta - tb).abs() <= 1e-4 * ta.abs().max(tb.abs()).max(1e-6) || (ta.is_nan() && tb.is_nan()),
                "{} on {} ∂L/∂{name}: {ta} vs {tb}",
                M::NAME,
                self.0
            );
        }
        // whether the comparison saw a nonzero input gradient (a model that never nears its
        // threshold in 60 steps has none)
        Ok(a.input.iter().any(|&v| v != 0.0))
    }
}

#[test]
fn every_back_end_backward_matches_scalar_backward() {
    let mut checked = Vec::new();
    for b in Backend::ALL {
        if !b.supported() {
            eprintln!("{b}: not supported by this CPU, not checked");
            continue;
        }
        let mut nonzero = 0;
        for reset in [SpikeReset::Soft, SpikeReset::Hard] {
            for name in MODEL_NAMES {
                nonzero += dispatch(name, SameGrads(b, reset)).unwrap() as usize;
            }
        }
        assert!(nonzero >= 2 * 15, "{b}: only {nonzero} model/reset cases had a nonzero input gradient");
        checked.push(b);
    }
    eprintln!("backward passes checked against the scalar pass: {checked:?}");
    assert_eq!(checked, simd::available());
}
