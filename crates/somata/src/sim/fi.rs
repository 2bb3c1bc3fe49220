//! Firing rate against constant input (f-I curve) for any neuron model.
//!
//! One layer holds one neuron per input level; all levels run together through the fused
//! kernel. The rate counts spikes after a transient (`skip_ms`) over the remaining time. A neuron
//! whose state becomes non-finite (e.g. `ExpIF` with soft reset, which diverges in BrainPy too) is
//! reported as diverged instead of given a rate.
//!
//! ```
//! use somata::neurons::Lif;
//! use somata::sim::{fi_curve, FiOptions};
//! let pts = fi_curve::<Lif>(&[0.5, 2.0, 4.0], &FiOptions::default()).unwrap();
//! assert_eq!(pts[0].rate_hz, Some(0.0));             // below rheobase (1 mA with R = 1 ohm)
//! assert!(pts[2].rate_hz.unwrap() > pts[1].rate_hz.unwrap());
//! ```

use crate::dynamics::{Clock, NeuronModel, SpikeReset};
use crate::engine::{Input, LayerBuilder, RunOptions, SeqInput};
use crate::error::{Result, SomataError};
use crate::neurons::registry::{dispatch, ModelFn};

/// Options of an f-I run.
#[derive(Debug, Clone)]
pub struct FiOptions {
    /// Time step, ms.
    pub dt_ms: f64,
    /// Simulated time per level, ms.
    pub duration_ms: f64,
    /// Initial transient excluded from the rate, ms.
    pub skip_ms: f64,
    /// Reset mode (None: the model's default).
    pub reset: Option<SpikeReset>,
    /// Seed of random initial states (HH, Morris–Lecar).
    pub seed: u64,
}

impl Default for FiOptions {
    fn default() -> Self {
        FiOptions { dt_ms: 0.1, duration_ms: 1000.0, skip_ms: 100.0, reset: None, seed: 0 }
    }
}

/// One point of an f-I curve.
#[derive(Debug, Clone, PartialEq)]
pub struct FiPoint {
    /// Input level, in the model's input unit ([`NeuronModel::INPUT_UNIT`]: mA, µA for the HH
    /// family, mV/ms or unitless).
    pub input: f64,
    /// Firing rate in Hz, or `None` if the neuron diverged.
    pub rate_hz: Option<f64>,
    /// Spikes counted after the transient.
    pub spikes: u32,
}

/// The f-I curve of model `M` (default parameters) at the given input levels, in the model's
/// input unit ([`NeuronModel::INPUT_UNIT`]: µA for `Hh`).
pub fn fi_curve<M: NeuronModel + Default>(levels: &[f64], o: &FiOptions) -> Result<Vec<FiPoint>> {
    if !(o.duration_ms.is_finite() && o.skip_ms >= 0.0 && o.skip_ms < o.duration_ms) {
        return Err(SomataError::Format(format!("f-I: need 0 <= skip ({}) < duration ({}) ms", o.skip_ms, o.duration_ms)));
    }
    if levels.is_empty() || levels.iter().any(|v| !v.is_finite()) {
        return Err(SomataError::Format("f-I: input levels must be finite and non-empty".into()));
    }
    let mut clock = Clock::from_ms(o.dt_ms)?;
    // f32 as BrainPy: in f64 a runaway ExpIF saturates near ΔT·e^20 instead of diverging
    let mut b = LayerBuilder::<M, f32>::new(M::default(), levels.len()).seed(o.seed);
    if let Some(r) = o.reset {
        b = b.spk_reset(r);
    }
    let mut layer = b.build()?;
    layer.init_state(None)?;
    let skip = (o.skip_ms / o.dt_ms).round() as usize;
    let total = (o.duration_ms / o.dt_ms).round() as usize;
    let opts = RunOptions { check_finite: true, ..Default::default() };
    let x: Vec<f32> = levels.iter().map(|&v| v as f32).collect();
    let first = layer.run(&mut clock, SeqInput::Constant(Input::Slice(&x), skip), &opts)?;
    let rest = layer.run(&mut clock, SeqInput::Constant(Input::Slice(&x), total - skip), &opts)?;
    let v = layer.v().map(|a| a.iter().copied().collect::<Vec<f32>>()).unwrap_or_default();
    let secs = (total - skip) as f64 * o.dt_ms / 1e3;
    let mut out = Vec::with_capacity(levels.len());
    for (i, &level) in levels.iter().enumerate() {
        let diverged = [&first, &rest].iter().any(|r| matches!(&r.divergence, Some(SomataError::Diverged { neuron, .. }) if *neuron == i))
            || v.get(i).is_some_and(|x| !x.is_finite());
        let spikes = rest.spike_counts[i];
        out.push(FiPoint { input: level, rate_hz: if diverged { None } else { Some(spikes as f64 / secs) }, spikes });
    }
    Ok(out)
}

struct ByName<'a>(&'a [f64], &'a FiOptions);
impl ModelFn for ByName<'_> {
    type Out = Result<(Vec<FiPoint>, &'static str)>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        Ok((fi_curve::<M>(self.0, self.1)?, M::INPUT_UNIT))
    }
}

/// [`fi_curve`] for a model given by its BrainPy name, with levels (and the returned
/// [`FiPoint::input`]) in the model's BrainPy input unit, which is the second return value
/// (`"mA"`, `"uA"`, `"mV / ms"` or `"1"`).
pub fn fi_curve_by_name(model: &str, levels: &[f64], o: &FiOptions) -> Result<(Vec<FiPoint>, &'static str)> {
    dispatch(model, ByName(levels, o))
}
