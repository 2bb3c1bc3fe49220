//! Reduced, dimensionless models: [`FitzHughNagumo`] (FitzHugh 1961, Nagumo et al. 1962) and
//! [`HindmarshRose`] (Hindmarsh & Rose 1984), BrainPy `reduced.py`.
//!
//! V and the other variables are plain numbers; only time carries a unit (ms). Inputs are
//! unitless and evaluated at the previous V. Spikes are rising edges of `(V − V_th)/V_th ≥ 0`;
//! there is no reset.
//!
//! References: FitzHugh, *Biophys. J.* 1 (1961); Nagumo et al., *Proc. IRE* 50 (1962);
//! Hindmarsh & Rose, *Proc. R. Soc. B* 221 (1984).
//!
//! ```
//! use somata::prelude::*;
//! let mut f = FitzHughNagumo::builder(3).build().unwrap();
//! f.init_state(None).unwrap();
//! let clock = Clock::new(0.1 * ms).unwrap();
//! f.update(&clock, 0.5f32).unwrap();
//! ```

use super::{distinct, rising_edge, setters, unpack};
use crate::dynamics::{Check, Drive, InitSpec, NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use crate::units::{dim, Dim, Time};
use crate::Result;

const fn unitless(name: &'static str, init: f64, param: &'static str) -> StateSpec {
    StateSpec::new(name, Dim::ONE, "1", InitSpec::Constant(init), Some(param))
}

/// FitzHugh–Nagumo model, BrainPy's `FitzHughNagumo`.
///
/// ```text
/// τ·dV/dt = V − V³/3 − w + I,    τ_w·dw/dt = V + a − b·w
/// ```
///
/// | parameter | unit | default |
/// |---|---|---|
/// | `a` | 1 | 0.7 |
/// | `b` | 1 | 0.8 |
/// | `tau` | ms | 1 |
/// | `tau_w` | ms | 12.5 |
/// | `V_th` | 1 | 1.0 (≠ 0) |
/// | `V_initializer`, `w_initializer` | 1 | −1.2, −0.62 |
///
/// V is integrated with the old w, w with the old V. States: `V`, `w`. Input: unitless.
#[derive(Debug, Clone, Copy, Default)]
pub struct FitzHughNagumo;

impl NeuronModel for FitzHughNagumo {
    crate::engine::kernel::builtin_kernels!(FitzHughNagumo);
    const NAME: &'static str = "FitzHughNagumo";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &[
        ParamSpec::new("a", Dim::ONE, 0.7, Check::Finite),
        ParamSpec::new("b", Dim::ONE, 0.8, Check::Finite),
        ParamSpec::new("tau", Dim::TIME, 1.0, Check::Positive),
        ParamSpec::new("tau_w", Dim::TIME, 12.5, Check::Positive),
        ParamSpec::new("V_th", Dim::ONE, 1.0, Check::Finite),
    ];
    const STATES: &'static [StateSpec] = &[unitless("V", -1.2, "V_initializer"), unitless("w", -0.62, "w_initializer")];
    type Input = dim::One;

    /// `h[0] = 1/τ`, `h[1] = 1/τ_w` (products instead of divisions: at most an ulp apart).
    const N_HOIST: usize = 2;

    fn validate(&self, p: &[f64]) -> Result<()> {
        distinct(Self::NAME, "V_th", p[4], 0.0, "0")
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], _dt: S, h: &mut [S]) {
        h[0] = S::lit(1.0) / p[2];
        h[1] = S::lit(1.0) / p[3];
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        unpack!(c.p; a, b, _tau, _tau_w, v_th);
        let (inv_tau, inv_tau_w) = (c.h[0], c.h[1]);
        let (last_v, last_w) = (s[0], s[1]);
        let v = c.ee(
            last_v,
            #[inline(always)]
            |v| {
                let f = v - v * v * v * S::lit(1.0 / 3.0) - last_w;
                if X::V_DEPENDENT {
                    (f + x.at_dual(v)) * inv_tau
                } else {
                    (f + x.at(v.v)) * inv_tau
                }
            },
        );
        let w = c.ee(
            last_w,
            #[inline(always)]
            |w| (-(w * b) + last_v + a) * inv_tau_w,
        );
        s[0] = v;
        s[1] = w;
        rising_edge(c, v, last_v, v_th)
    }
}

setters!(FitzHughNagumo { tau: Time => "tau", tau_w: Time => "tau_w" });

/// Hindmarsh–Rose model, BrainPy's `HindmarshRose`.
///
/// ```text
/// τ·dV/dt = y − a·V³ + b·V² − z + I
/// τ·dy/dt = c − d·V² − y
/// τ·dz/dt = r·(s·(V − V_r) − z)
/// ```
///
/// | parameter | unit | default |
/// |---|---|---|
/// | `a`, `b`, `c`, `d` | 1 | 1, 3, 1, 5 |
/// | `r`, `s` | 1 | 0.006, 4 |
/// | `V_r` | 1 | −1.6 |
/// | `tau` | ms | 1 |
/// | `V_th` | 1 | 1.0 (≠ 0) |
/// | `V_initializer`, `y_initializer`, `z_initializer` | 1 | −1.6, −10, 0 |
///
/// Every cross term uses the previous values. States: `V`, `y`, `z`. Input: unitless.
#[derive(Debug, Clone, Copy, Default)]
pub struct HindmarshRose;

impl NeuronModel for HindmarshRose {
    crate::engine::kernel::builtin_kernels!(HindmarshRose);
    const NAME: &'static str = "HindmarshRose";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const PARAMS: &'static [ParamSpec] = &[
        ParamSpec::new("a", Dim::ONE, 1.0, Check::Finite),
        ParamSpec::new("b", Dim::ONE, 3.0, Check::Finite),
        ParamSpec::new("c", Dim::ONE, 1.0, Check::Finite),
        ParamSpec::new("d", Dim::ONE, 5.0, Check::Finite),
        ParamSpec::new("r", Dim::ONE, 0.006, Check::Finite),
        ParamSpec::new("s", Dim::ONE, 4.0, Check::Finite),
        ParamSpec::new("V_r", Dim::ONE, -1.6, Check::Finite),
        ParamSpec::new("tau", Dim::TIME, 1.0, Check::Positive),
        ParamSpec::new("V_th", Dim::ONE, 1.0, Check::Finite),
    ];
    const STATES: &'static [StateSpec] =
        &[unitless("V", -1.6, "V_initializer"), unitless("y", -10.0, "y_initializer"), unitless("z", 0.0, "z_initializer")];
    type Input = dim::One;

    /// `h[0] = 1/τ` (a product instead of a division: at most an ulp apart).
    const N_HOIST: usize = 1;

    fn validate(&self, p: &[f64]) -> Result<()> {
        distinct(Self::NAME, "V_th", p[8], 0.0, "0")
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], _dt: S, h: &mut [S]) {
        h[0] = S::lit(1.0) / p[7];
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        unpack!(c.p; a, b, cc, d, r, ss, v_r, _tau, v_th);
        let inv_tau = c.h[0];
        let (last_v, last_y, last_z) = (s[0], s[1], s[2]);
        let v = c.ee(
            last_v,
            #[inline(always)]
            |v| {
                let f = -(v * v * v * a) + v * v * b + last_y - last_z;
                if X::V_DEPENDENT {
                    (f + x.at_dual(v)) * inv_tau
                } else {
                    (f + x.at(v.v)) * inv_tau
                }
            },
        );
        let y = c.ee(
            last_y,
            #[inline(always)]
            |y| (-y + cc - d * last_v * last_v) * inv_tau,
        );
        let z = c.ee(
            last_z,
            #[inline(always)]
            |z| (-z + ss * (last_v - v_r)) * r * inv_tau,
        );
        s[0] = v;
        s[1] = y;
        s[2] = z;
        rising_edge(c, v, last_v, v_th)
    }
}

setters!(HindmarshRose { tau: Time => "tau" });
