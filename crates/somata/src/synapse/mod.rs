//! Synapses and short-term plasticity (BrainPy 2.9 `brainpy.state`: `Expon`, `DualExpon`,
//! `Alpha`, `AMPA`, `GABAa`, `BioNMDA`, `STP`, `STD`).
//!
//! Every module holds the state of a population of `n` synapses (batch rows flattened, f32) and
//! advances it by one step with [`Synapse::update`], which returns the module's output (a slice
//! owned by the module; no allocation per step). Step `i` runs at `t = f32(i)·f32(dt)` (ms).
//!
//! Integration is BrainPy's exponential Euler: `y ← y + dt·exprel(dt·J)·f(y)` with
//! `J = ∂f/∂y` and `exprel(z) = (eᶻ − 1)/z`; for the linear equations here that is the exact
//! solution over one step when the coefficients are constant.
//!
//! Parameters are plain numbers in somata's canonical units ([`crate::units`]): time in ms,
//! conductance in S (1 mS = 0.001), concentration in mM, rates in kHz (1/ms), `1/(mM·ms)`.
//!
//! ```
//! use somata::synapse::{Expon, Synapse};
//! let mut s = Expon::default();              // tau = 8 ms, g starts at 0
//! s.init_state(2).unwrap();
//! let out = s.update(0, 0.1, &[0.001, 0.0]); // a 1 mS jump on the first synapse
//! assert!((out[0] - 0.001).abs() < 1e-9);
//! let out = s.update(1, 0.1, &[0.0, 0.0]);   // decays by exp(−0.1/8)
//! assert!((out[0] / 0.001 - 0.9875778).abs() < 1e-6);
//! ```

/// Define `fn $name(args)` whose body is compiled twice, plainly and with AVX2 + FMA (chosen at
/// run time: the AVX2 form on the `avx2` and `avx512` back ends, see
/// [`crate::dynamics::simd`]), so that `mul_add` is one instruction instead of a call to the
/// software `fmaf` and the loop vectorises; both give the same results (a fused multiply-add
/// either way).
macro_rules! multiversion {
    ($name:ident($($a:ident: $t:ty),*) $body:block) => {
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        fn $name($($a: $t),*) {
            #[inline(always)]
            fn plain($($a: $t),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn fast($($a: $t),*) { plain($($a),*) }
            #[cfg(target_arch = "x86_64")]
            {
                if crate::dynamics::simd::active() != crate::dynamics::simd::Backend::Scalar {
                    // SAFETY: the CPU has AVX2 and FMA.
                    return unsafe { fast($($a),*) };
                }
            }
            plain($($a),*)
        }
    };
}
pub(crate) use multiversion;

mod kinetic;
mod linear;
mod stp;

pub use kinetic::{Ampa, BioNmda};
pub(crate) use linear::{alpha_step, expon_step};
pub use linear::{Alpha, DualExpon, Expon};
pub use stp::{Std, Stp};

use crate::error::{Result, SomataError};
use crate::units::Dim;

/// One parameter of a synapse module: BrainPy's name, its dimension, the canonical default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynParam {
    /// BrainPy's parameter name (`"tau"`, `"T_dur"`, `"g_initializer"`, ...).
    pub name: &'static str,
    /// Physical dimension (canonical units, see [`crate::units`]).
    pub dim: Dim,
    /// Default value in canonical units (`g_initializer`: the constant initial value).
    pub default: f64,
}

/// One state variable of a synapse module: BrainPy's name, its dimension and the unit in which
/// `somata trace` reports it (the goldens' unit: conductances in mS, times in ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynState {
    /// BrainPy's state name (`"g"`, `"spike_arrival_time"`, `"u"`, `"x"`, ...).
    pub name: &'static str,
    /// Physical dimension of the stored (canonical) value.
    pub dim: Dim,
    /// Unit string of the reported value (`"mS"`, `"ms"`, `"1"`).
    pub unit: &'static str,
    /// Canonical value of one reported unit (1 mS = 0.001 S).
    pub scale: f64,
}

/// A synapse or short-term-plasticity module over a population of `n` synapses.
///
/// Usage: set parameters (fields or [`Synapse::set_param`]), call [`Synapse::init_state`] with
/// the population size (batch × in_size), then [`Synapse::update`] once per step with the step
/// index `i` (time `t = f32(i)·f32(dt)`), `dt` in ms and the input of the step.
pub trait Synapse: Send {
    /// BrainPy class name (`"Expon"`, `"AMPA"`, ...).
    fn name(&self) -> &'static str;
    /// Parameters by BrainPy name, including initializers (`g_initializer`, `x_initializer`).
    fn params(&self) -> &'static [SynParam];
    /// State variables (BrainPy names), in the order of [`Synapse::state`].
    fn states(&self) -> &'static [SynState];
    /// Dimension of the input of `update`: conductance (S) for Expon, DualExpon and Alpha (added
    /// to the conductance after the decay), dimensionless presynaptic spike otherwise.
    fn input_dim(&self) -> Dim;
    /// Unit string of the output as reported by `somata trace` (`"mS"` or `"1"`).
    fn out_unit(&self) -> (&'static str, f64);
    /// Set a parameter (canonical units) by BrainPy name; initializers take the constant value.
    fn set_param(&mut self, name: &str, value: f64) -> Result<()>;
    /// A parameter's current value (canonical units), `None` for an unknown name.
    fn param(&self, name: &str) -> Option<f64>;
    /// Set a boolean flag (DualExpon's `normalize`); an error for modules without flags.
    fn set_flag(&mut self, name: &str, _on: bool) -> Result<()> {
        Err(unknown_param(self.name(), name, self.params()))
    }
    /// Tell a kinetic synapse (AMPA, GABAa, BioNMDA) the unit of its conductance, i.e. the value
    /// of the "1" in `1·unit(g) − g` (canonical S; BrainPy takes it from `g_initializer`'s unit,
    /// default 1 mS = 0.001). Ignored by other modules.
    fn set_g_unit(&mut self, _scale: f64) {}
    /// Check the parameters and (re)create the state of `n` synapses from the initializers.
    fn init_state(&mut self, n: usize) -> Result<()>;
    /// Advance one step `i` (time `t = f32(i)·f32(dt)`, `dt` in ms) with this step's input
    /// (`n` values) and return the output (`n` values).
    ///
    /// # Panics
    /// If `input.len()` differs from the `n` of [`Synapse::init_state`].
    fn update(&mut self, i: u64, dt: f32, input: &[f32]) -> &[f32];
    /// The state variable number `k` of [`Synapse::states`] (canonical units, `n` values).
    fn state(&self, k: usize) -> &[f32];
    /// The module as an [`Expon`], for the network's fused Expon + COBA path.
    #[doc(hidden)]
    fn as_expon_mut(&mut self) -> Option<&mut Expon> {
        None
    }
}

impl dyn Synapse {
    /// Set a parameter from a typed quantity, checking its dimension against the parameter's
    /// (`syn.set("tau", 5.0 * ms)`; `5.0 * mV` is a [`SomataError::DimensionMismatch`]).
    ///
    /// ```
    /// use somata::units::{ms, mV};
    /// let mut s = somata::synapse::by_name("Expon").unwrap();
    /// s.set("tau", 5.0 * ms).unwrap();
    /// assert_eq!(s.param("tau"), Some(5.0));
    /// assert!(s.set("tau", 5.0 * mV).is_err());
    /// ```
    pub fn set<D: crate::units::Dimension>(&mut self, name: &str, q: crate::units::Quantity<D>) -> Result<()> {
        let spec = self.params().iter().find(|p| p.name == name).copied().ok_or_else(|| unknown_param(self.name(), name, self.params()))?;
        if spec.dim != D::DIM {
            return Err(SomataError::DimensionMismatch {
                what: format!("{} parameter `{name}`", self.name()),
                expected: spec.dim.describe(),
                got: D::DIM.describe(),
            });
        }
        self.set_param(name, q.canonical())
    }
}

/// The eight module names accepted by [`by_name`].
pub const MODELS: [&str; 8] = ["Expon", "DualExpon", "Alpha", "AMPA", "GABAa", "BioNMDA", "STP", "STD"];

/// A module with default parameters by BrainPy class name (`"AMPA"`, `"STP"`, ...).
pub fn by_name(name: &str) -> Result<Box<dyn Synapse>> {
    Ok(match name {
        "Expon" => Box::new(Expon::default()),
        "DualExpon" => Box::new(DualExpon::default()),
        "Alpha" => Box::new(Alpha::default()),
        "AMPA" => Box::new(Ampa::default()),
        "GABAa" => Box::new(Ampa::gabaa()),
        "BioNMDA" => Box::new(BioNmda::default()),
        "STP" => Box::new(Stp::default()),
        "STD" => Box::new(Std::default()),
        _ => return Err(SomataError::UnknownModel { name: name.into(), known: MODELS.join(", ") }),
    })
}

pub(crate) fn unknown_param(model: &str, name: &str, specs: &[SynParam]) -> SomataError {
    SomataError::UnknownParameter {
        model: model.into(),
        name: name.into(),
        known: specs.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
    }
}

/// A time constant (or any strictly positive parameter) must be finite and > 0.
pub(crate) fn check_pos(model: &str, name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(SomataError::param(model, name, v, "must be finite and > 0"))
    }
}

/// A parameter that must be finite and ≥ 0.
pub(crate) fn check_nonneg(model: &str, name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(SomataError::param(model, name, v, "must be finite and >= 0"))
    }
}

/// A parameter that must be finite.
pub(crate) fn check_finite(model: &str, name: &str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(SomataError::param(model, name, v, "must be finite"))
    }
}
