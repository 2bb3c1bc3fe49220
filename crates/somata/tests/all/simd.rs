//! Every SIMD back end (`somata::dynamics::simd`: scalar, AVX2, AVX-512) gives the same bits.
//!
//! For every model and both reset modes, random inputs, two full 64-lane blocks and a tail of
//! 21 lanes (which spans registers and, on AVX2, vectors), states after every step and spike
//! counts of a layer run on each back end this CPU has are compared with the reference: the
//! same layer with its parameters given per neuron (same values), which always takes the plain
//! scalar loop. Gate tables are off here (with them the vector kernels read HH's table, the
//! scalar loop evaluates the formulas); the tabulated path is checked in
//! `tabulated_hh_on_every_back_end`. The back ends that were checked are printed; one this CPU
//! lacks is reported, never silently passed.

use somata::dynamics::simd::{self, Backend};
use somata::dynamics::{NeuronModel, SpikeReset};
use somata::engine::{LayerBuilder, RunOptions, SeqInput};
use somata::init::Rng;
use somata::neurons::registry::{dispatch, ModelFn, MODEL_NAMES};
use somata::prelude::*;

const LANES: usize = 64;

/// States after every step and spike counts, and whether a vector kernel ran.
fn run_layer<M: NeuronModel + Default>(
    b: Backend,
    per_neuron: bool,
    reset: SpikeReset,
    tables: bool,
    x: &[f32],
    n: usize,
    steps: usize,
) -> somata::Result<(bool, Vec<f32>, Vec<u32>)> {
    let mut lb = LayerBuilder::<M, f32>::new(M::default(), n).seed(5).spk_reset(reset).gate_tables(tables).simd(b);
    if per_neuron {
        let p = &M::PARAMS[0];
        lb = lb.set_per_neuron(p.name, vec![p.default; n]);
    }
    let mut layer = lb.build()?;
    assert_eq!(layer.backend(), b);
    layer.init_state(None)?;
    let mut clock = Clock::new(0.1 * ms)?;
    let opts = RunOptions { record_states: true, ..Default::default() };
    let out = layer.run(&mut clock, SeqInput::Dense(x, steps), &opts)?;
    Ok((layer.uses_vector_kernel(), out.states.unwrap(), out.spike_counts))
}

fn inputs<M: NeuronModel>(n: usize, steps: usize, seed: u64) -> Vec<f32> {
    let scale = match M::INPUT_UNIT {
        "mA" => 10.0,
        "uA" => 20.0,
        "mV / ms" => 20.0,
        _ => 2.0,
    };
    let mut rng = Rng::new(seed);
    (0..steps * n).map(|_| (scale * rng.uniform()) as f32).collect()
}

fn assert_same_bits(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (u, v)) in a.iter().zip(b).enumerate() {
        assert!(u.to_bits() == v.to_bits() || (u.is_nan() && v.is_nan()), "{what}: element {i}: {u} vs {v}");
    }
}

/// On back end `b`: which models ran a vector kernel.
struct SameBits(Backend, SpikeReset);

impl ModelFn for SameBits {
    type Out = somata::Result<bool>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        let (n, steps) = (2 * LANES + 21, 300);
        let x = inputs::<M>(n, steps, 3);
        let (vec_a, a, ca) = run_layer::<M>(self.0, false, self.1, false, &x, n, steps)?;
        let (vec_b, b, cb) = run_layer::<M>(self.0, true, self.1, false, &x, n, steps)?;
        assert!(!vec_b, "{}: per-neuron parameters must take the scalar kernel", M::NAME);
        assert_eq!(ca, cb, "{} on {}: spike counts", M::NAME, self.0);
        assert_same_bits(&format!("{} {:?} on {}", M::NAME, self.1, self.0), &a, &b);
        Ok(vec_a)
    }
}

#[test]
fn every_back_end_is_bit_identical_to_the_scalar_kernel() {
    let mut checked = Vec::new();
    for b in Backend::ALL {
        if !b.supported() {
            eprintln!("{b}: not supported by this CPU, not checked");
            continue;
        }
        let mut vectorised = Vec::new();
        for reset in [SpikeReset::Soft, SpikeReset::Hard] {
            for name in MODEL_NAMES {
                if dispatch(name, SameBits(b, reset)).unwrap() {
                    vectorised.push(*name);
                }
            }
        }
        if b == Backend::Scalar {
            assert!(vectorised.is_empty(), "{vectorised:?}");
        } else {
            // the models that declare VECTOR (all but HindmarshRose), once per reset mode
            assert_eq!(vectorised.len(), 2 * 22, "{b}: {vectorised:?}"); // 21 of brainpy.state's and TraubHH
            assert!(vectorised.contains(&"AdExIF") && vectorised.contains(&"HH") && vectorised.contains(&"LIF"));
            assert!(!vectorised.contains(&"HindmarshRose"));
        }
        checked.push(b);
    }
    eprintln!("back ends checked against the scalar kernel: {checked:?}");
    assert!(checked.contains(&Backend::Scalar));
    assert_eq!(checked, simd::available());
}

/// With gate tables on (the default), both vector kernels read HH's table and agree bit for
/// bit (AVX-512 selects coefficients by `vpermt2ps`, AVX2 loads one interval row per lane); the
/// scalar loop evaluates BrainPy's formulas, and the table runs stay within the table's accuracy
/// of it with the same spikes.
#[test]
fn tabulated_hh_on_every_back_end() {
    let (n, steps) = (2 * LANES + 21, 400);
    let x = inputs::<Hh>(n, steps, 9);
    let scalar = run_layer::<Hh>(Backend::Scalar, false, SpikeReset::Soft, true, &x, n, steps).unwrap();
    let mut checked = vec![Backend::Scalar];
    let mut tabulated: Option<(Backend, Vec<f32>)> = None;
    for b in [Backend::Avx2, Backend::Avx512] {
        if !b.supported() {
            eprintln!("{b}: not supported by this CPU, not checked");
            continue;
        }
        let r = run_layer::<Hh>(b, false, SpikeReset::Soft, true, &x, n, steps).unwrap();
        assert!(r.0, "{b}: HH must take the vector kernel");
        // the table path: close to the formulas, not the same bits (V in mV, gates in [0, 1])
        let worst = r.1.iter().zip(&scalar.1).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst > 0.0, "{b} should read the table");
        assert!(worst < 1.0, "{b}: table run strays {worst} from the formulas");
        assert_eq!(r.2, scalar.2, "{b}: spike counts with and without tables");
        if let Some((a, ref states)) = tabulated {
            assert_same_bits(&format!("HH with tables, {b} against {a}"), &r.1, states);
        }
        tabulated = Some((b, r.1));
        checked.push(b);
    }
    eprintln!("tabulated HH checked on: {checked:?}");
}

/// `LayerBuilder::simd` refuses a back end the CPU lacks with a typed error, and
/// `set_backend` switches a built layer between the available ones without changing results.
#[test]
fn forcing_a_back_end() {
    for b in Backend::ALL {
        let r = Lif::builder(8).simd(b).build();
        if b.supported() {
            assert_eq!(r.unwrap().backend(), b);
        } else {
            let e = r.unwrap_err();
            assert!(matches!(e, SomataError::Simd(_)), "{e}");
            assert!(e.to_string().contains(b.name()), "{e}");
        }
    }
    assert!("neon".parse::<Backend>().is_err());
    let mut layer = AdExIf::builder(100).build().unwrap();
    assert_eq!(layer.backend(), simd::active());
    for b in simd::available() {
        layer.set_backend(b).unwrap();
        assert_eq!(layer.backend(), b);
    }
}
