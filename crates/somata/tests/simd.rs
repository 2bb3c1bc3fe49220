//! The 64-lane vector kernel (f32 layers with shared parameters on AVX-512 CPUs, models with
//! `NeuronModel::VECTOR`) performs the same IEEE operations as the scalar kernel, so both give
//! the same bits. A layer whose parameters are given per neuron (same values) takes the scalar
//! kernel; every model, both reset modes, random inputs, two full vector blocks and a tail of 21 lanes
//! (which spans two registers), states compared after every step. Gate tables are switched off
//! here: the vector kernel's table path (HH) is compared with the scalar table evaluation in
//! `dynamics::table`'s tests and with the exact path in tests/gate_tables.rs.

use somata::dynamics::{NeuronModel, SpikeReset};
use somata::engine::{LayerBuilder, RunOptions, SeqInput};
use somata::init::Rng;
use somata::neurons::registry::{dispatch, ModelFn, MODEL_NAMES};
use somata::prelude::*;

#[cfg(target_arch = "x86_64")]
const LANES: usize = somata::dynamics::simd::LANES;
#[cfg(not(target_arch = "x86_64"))]
const LANES: usize = 64;

struct SameBits(SpikeReset);

impl ModelFn for SameBits {
    type Out = somata::Result<bool>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        let (n, steps) = (2 * LANES + 21, 300);
        let scale = match M::INPUT_UNIT {
            "mA" => 10.0,
            "uA" => 20.0,
            "mV / ms" => 20.0,
            _ => 2.0,
        };
        let mut rng = Rng::new(3);
        let x: Vec<f32> = (0..steps * n).map(|_| (scale * rng.uniform()) as f32).collect();
        let run = |per_neuron: bool| -> somata::Result<(bool, Vec<f32>, Vec<u32>)> {
            let mut b = LayerBuilder::<M, f32>::new(M::default(), n).seed(5).spk_reset(self.0).gate_tables(false);
            if per_neuron {
                let p = &M::PARAMS[0];
                b = b.set_per_neuron(p.name, vec![p.default; n]);
            }
            let mut layer = b.build()?;
            layer.init_state(None)?;
            let mut clock = Clock::new(0.1 * ms)?;
            let opts = RunOptions { record_states: true, ..Default::default() };
            let out = layer.run(&mut clock, SeqInput::Dense(&x, steps), &opts)?;
            Ok((layer.uses_vector_kernel(), out.states.unwrap(), out.spike_counts))
        };
        let (vec_a, a, ca) = run(false)?;
        let (vec_b, b, cb) = run(true)?;
        assert!(!vec_b, "{}: per-neuron parameters must take the scalar kernel", M::NAME);
        assert_eq!(ca, cb, "{}: spike counts", M::NAME);
        for (i, (u, v)) in a.iter().zip(&b).enumerate() {
            assert!(u.to_bits() == v.to_bits() || (u.is_nan() && v.is_nan()), "{} {:?}: element {i}: {u} vs {v}", M::NAME, self.0);
        }
        Ok(vec_a)
    }
}

#[test]
fn vector_kernel_is_bit_identical_to_scalar_kernel() {
    let avx512 = cfg!(target_arch = "x86_64")
        && {
            #[cfg(target_arch = "x86_64")]
            {
                std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                false
            }
        }
        && std::env::var_os("SOMATA_NO_VECTOR").is_none_or(|v| v != "1");
    let mut vectorised = Vec::new();
    for reset in [SpikeReset::Soft, SpikeReset::Hard] {
        for name in MODEL_NAMES {
            if dispatch(name, SameBits(reset)).unwrap() {
                vectorised.push(*name);
            }
        }
    }
    if avx512 {
        // the models that declare VECTOR, once per reset mode
        assert_eq!(vectorised.len(), 2 * 18, "{vectorised:?}"); // 17 of brainpy.state's and TraubHH
        assert!(vectorised.contains(&"AdExIF") && vectorised.contains(&"HH") && !vectorised.contains(&"LIF"));
    } else {
        eprintln!("no AVX-512 here: only the scalar kernel was exercised");
        assert!(vectorised.is_empty());
    }
}
