//! The built-in neuron models of `brainpy.state`, one file per family.
//!
//! Every model is a zero-sized type implementing [`crate::dynamics::NeuronModel`]; build a layer
//! with `Model::builder(in_size)` ([`crate::engine::Build`]), set parameters with typed setters
//! (`.tau(10.0 * ms)`) and call `.build()?`.

mod expif;
mod gif;
mod hh;
mod izhikevich;
mod lif;
mod quaif;
mod reduced;
pub mod registry;
mod synlif;
mod traub;

pub use expif::{AdExIf, AdExIfRef, ExpIf, ExpIfRef};
pub use gif::{Gif, GifRef};
pub use hh::{Hh, MorrisLecar, WangBuzsakiHh};
pub use izhikevich::{Izhikevich, IzhikevichRef};
pub use lif::{Alif, If, Lif, LifRef};
pub use quaif::{AdQuaIf, AdQuaIfRef, QuaIf};
pub use reduced::{FitzHughNagumo, HindmarshRose};
pub use synlif::{CobaLif, CubaLif};
pub use traub::TraubHh;

/// Typed builder setters for a model's parameters: `setters!(Lif { tau: Time => "tau", ... })`.
macro_rules! setters {
    ($model:ty { $($(#[$m:meta])* $f:ident : $ty:ty => $name:literal),* $(,)? }) => {
        impl<T: $crate::dynamics::Real> $crate::engine::LayerBuilder<$model, T> {
            $(
                $(#[$m])*
                #[doc = concat!("Set `", $name, "` (typed: a wrong dimension does not compile).")]
                pub fn $f(self, v: $ty) -> Self { self.set_raw($name, v.canonical()) }
            )*
        }
    };
}
pub(crate) use setters;

/// Bind a model's parameters to names, in the order of its `PARAMS` table:
/// `unpack!(c.p; r, tau, v_th)` is `let r = c.p[0]; let tau = c.p[1]; let v_th = c.p[2];`.
macro_rules! unpack {
    ($p:expr_2021; $($name:ident),+ $(,)?) => {
        let mut _i = 0usize;
        $( let $name = $p[_i]; #[allow(unused_assignments)] { _i += 1; } )+
    };
}
pub(crate) use unpack;

/// The refractory bookkeeping shared by every `*Ref` model, after its state has been frozen:
/// `s[k] = last_spike_time = sg(where(V >= V_th, t, last_spike_time))`, and
/// `s[k + 1] = ` BrainPy's `refractory = sg(refractory_now | spike_cond)` (kept as 0/1; shown when
/// `ref_var`).
#[inline(always)]
pub(crate) fn ref_record<S: crate::dynamics::Scalar>(c: &crate::dynamics::Step<'_, S>, refr: S, v: S, v_th: S, s: &mut [S], k: usize) {
    s[k] = S::select_ge(v, v_th, c.t, s[k]).stop_grad();
    s[k + 1] = S::select_ge(v, v_th, S::lit(1.0), refr);
}

/// Rising-edge spike of the models without reset (HH family, reduced models):
/// `spike(V)·(1 − spike(V_last))`.
#[inline(always)]
/// (The reciprocal of the parameter V_th is loop-invariant, so the compiler computes it once per
/// run; the scaled voltage keeps the sign of BrainPy's division.)
pub(crate) fn rising_edge<S: crate::dynamics::Scalar>(c: &crate::dynamics::Step<'_, S>, v: S, last_v: S, v_th: S) -> S {
    let inv = S::lit(1.0) / v_th;
    c.spike((v - v_th) * inv) * (S::lit(1.0) - c.spike((last_v - v_th) * inv))
}

use crate::dynamics::{InitSpec, StateSpec};
use crate::units::Dim;

/// Membrane potential state, mV, initialized by `V_initializer` (default a constant).
pub(crate) const fn v_state(init: f64) -> StateSpec {
    StateSpec::new("V", Dim::VOLTAGE, "mV", InitSpec::Constant(init), Some("V_initializer"))
}
/// `last_spike_time` of refractory models, initially −1e7 ms.
pub(crate) const LAST_SPIKE: StateSpec = StateSpec::new("last_spike_time", Dim::TIME, "ms", InitSpec::Constant(-1e7), None);
/// BrainPy's `refractory` state of `*Ref` models (0/1), shown when `ref_var` is set.
pub(crate) const REFRACTORY: StateSpec = StateSpec::new("refractory", Dim::ONE, "1", InitSpec::Constant(0.0), None).visible_if("ref_var");

/// Reject `a == b` where a spike scaling divides by `a − b`.
pub(crate) fn distinct(model: &str, name: &str, a: f64, b: f64, what: &str) -> crate::Result<()> {
    if a == b {
        return Err(crate::SomataError::param(
            model,
            name,
            a,
            format!("must differ from {what}: the spike scaling divides by their difference"),
        ));
    }
    Ok(())
}

/// Reject a threshold at or below the reset potential, `V_th <= V_reset` (called once per neuron
/// by [`crate::engine::LayerBuilder::build`] when a parameter is per neuron, so arrays are
/// checked element-wise). BrainPy 2.9 accepts it silently; somata refuses it with a typed
/// [`crate::SomataError::InvalidParameter`] naming both values, since such a neuron is
/// meaningless: the spike scaling `(V − V_th)/(V_th − V_reset)` divides by zero or flips sign
/// (the neuron "spikes" below threshold), and a reset to at or above threshold fires again at
/// every step. No BrainPy default or conformance case has it.
pub(crate) fn above_reset(model: &str, th: &str, v_th: f64, reset: &str, v_reset: f64) -> crate::Result<()> {
    if v_th <= v_reset {
        return Err(crate::SomataError::param(
            model,
            th,
            v_th,
            format!(
                "{th} = {v_th} mV must be above {reset} = {v_reset} mV: with {th} <= {reset} the neuron never fires or fires at every step"
            ),
        ));
    }
    Ok(())
}
