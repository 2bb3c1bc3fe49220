//! Quadratic integrate-and-fire models: [`QuaIf`], [`AdQuaIf`], [`AdQuaIfRef`] (BrainPy
//! `lif.py`; Ermentrout & Kopell 1986, Latham et al. 2000; adaptive form Izhikevich 2007).
//!
//! ```text
//! τ·dV/dt = c·(V − V_rest)·(V − V_c) − R·w + R·I
//! τ_w·dw/dt = a·(V − V_rest) − w    (AdQuaIF only)
//! ```
//!
//! Exponential Euler linearises with `J = (c(2V − V_rest − V_c))/τ`, evaluated every step.
//! Update order as the exponential models: reset (and `w += b·spk`), V, then w from the new V.
//! As there, `1/τ`, `1/τ_w` and `1/(V_th − V_reset)` are hoisted out of the step (a product
//! instead of a division moves a result by at most an ulp; the spike decision is unchanged):
//! twice as fast as dividing every step.
//!
//! References: Ermentrout & Kopell, *SIAM J. Appl. Math.* 46 (1986); Latham et al.,
//! *J. Neurophysiol.* 83 (2000); Izhikevich, *Dynamical Systems in Neuroscience* (2007).
//!
//! ```
//! use somata::prelude::*;
//! let mut q = QuaIf::builder(4).c(0.07 / mV).build().unwrap();
//! q.init_state(Some(2)).unwrap();
//! assert_eq!(q.update_q(&Clock::new(0.1 * ms).unwrap(), 3.0 * mA).unwrap().shape(), &[2, 4]);
//! ```

use super::{above_reset, ref_record, setters, unpack, v_state, LAST_SPIKE, REFRACTORY};
use crate::dynamics::{phi_dt, Check, Drive, InitSpec, NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use crate::units::{dim, Conductance, Current, Dim, InvVoltage, Resistance, Time, Voltage};
use crate::Result;

const R: ParamSpec = ParamSpec::new("R", Dim::RESISTANCE, 1.0, Check::Finite);
const TAU: ParamSpec = ParamSpec::new("tau", Dim::TIME, 10.0, Check::Positive);
const V_TH: ParamSpec = ParamSpec::new("V_th", Dim::VOLTAGE, -30.0, Check::Finite);
const V_RESET: ParamSpec = ParamSpec::new("V_reset", Dim::VOLTAGE, -68.0, Check::Finite);
const V_REST: ParamSpec = ParamSpec::new("V_rest", Dim::VOLTAGE, -65.0, Check::Finite);
const V_C: ParamSpec = ParamSpec::new("V_c", Dim::VOLTAGE, -50.0, Check::Finite);
const C: ParamSpec = ParamSpec::new("c", Dim::INV_VOLTAGE, 0.07, Check::Finite);
const TAU_W: ParamSpec = ParamSpec::new("tau_w", Dim::TIME, 10.0, Check::Positive);
const A: ParamSpec = ParamSpec::new("a", Dim::CONDUCTANCE, 1.0, Check::Finite);
const B: ParamSpec = ParamSpec::new("b", Dim::CURRENT, 0.1, Check::Finite);
const TAU_REF: ParamSpec = ParamSpec::new("tau_ref", Dim::TIME, 1.7, Check::NonNegative);
const REF_VAR: ParamSpec = ParamSpec::new("ref_var", Dim::ONE, 0.0, Check::Flag);
const W_STATE: StateSpec = StateSpec::new("w", Dim::CURRENT, "mA", InitSpec::Constant(0.0), Some("w_initializer"));

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn qua_membrane<S: Scalar, X: Drive<S>>(c: &Step<'_, S>, v: S, w: Option<S>, x: X, r: S, inv_tau: S, v_rest: S, v_c: S, cc: S) -> S {
    c.ee(
        v,
        #[inline(always)]
        |v| {
            let f = (v - v_rest) * cc * (v - v_c);
            // QuaIF's equation has no −R·w term (not a multiplication by 0 every step)
            let f = match w {
                Some(w) => f - r * w,
                None => f,
            };
            if X::V_DEPENDENT {
                (f + x.at_dual(v) * r) * inv_tau
            } else {
                (f + r * x.at(v.v)) * inv_tau
            }
        },
    )
}

/// Hoisted reciprocals of the adaptive models: `h[0] = dt·exprel(−dt/τ_w)`, `h[1] = 1/τ`,
/// `h[2] = 1/(V_th − V_reset)`, `h[3] = 1/τ_w` (multiplying instead of dividing moves results
/// by at most an ulp and leaves the spike decision unchanged, as in the exponential family).
#[inline(always)]
fn adqua_hoist<S: Scalar>(p: &[S], dt: S, h: &mut [S]) {
    h[0] = phi_dt(dt, S::lit(-1.0) / p[2]);
    h[1] = S::lit(1.0) / p[1];
    h[2] = S::lit(1.0) / (p[3] - p[4]);
    h[3] = S::lit(1.0) / p[2];
}

/// Quadratic integrate-and-fire, BrainPy's `QuaIF`.
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `R` | Ω | 1 | resistance |
/// | `tau` | ms | 10 | time constant (> 0) |
/// | `V_th` | mV | −30 | spike threshold (> V_reset) |
/// | `V_reset` | mV | −68 | reset |
/// | `V_rest` | mV | −65 | rest |
/// | `V_c` | mV | −50 | critical voltage |
/// | `c` | 1/mV | 0.07 | curvature |
/// | `V_initializer` | mV | Constant(−65) | |
///
/// States: `V` (mV). Input: mA.
#[doc(alias = "QuaIF")]
#[derive(Debug, Clone, Copy, Default)]
pub struct QuaIf;

impl NeuronModel for QuaIf {
    crate::engine::kernel::builtin_kernels!(QuaIf);
    const NAME: &'static str = "QuaIF";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &[R, TAU, V_TH, V_RESET, V_REST, V_C, C];
    const STATES: &'static [StateSpec] = &[v_state(-65.0)];
    type Input = dim::I;

    /// `h[0] = 1/τ`, `h[1] = 1/(V_th − V_reset)`.
    const N_HOIST: usize = 2;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset(Self::NAME, "V_th", p[2], "V_reset", p[3])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], _dt: S, h: &mut [S]) {
        h[0] = S::lit(1.0) / p[1];
        h[1] = S::lit(1.0) / (p[2] - p[3]);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        unpack!(c.p; r, _tau, v_th, v_reset, v_rest, v_c, cc);
        let spk = c.spike((s[0] - v_th) * c.h[1]);
        let v = c.reset_v(s[0], v_th, v_reset, spk);
        let v = qua_membrane(c, v, None, x, r, c.h[0], v_rest, v_c, cc);
        s[0] = v;
        c.spike((v - v_th) * c.h[1])
    }
}

setters!(QuaIf {
    r: Resistance => "R", tau: Time => "tau", v_th: Voltage => "V_th", v_reset: Voltage => "V_reset",
    v_rest: Voltage => "V_rest", v_c: Voltage => "V_c", c: InvVoltage => "c",
});

#[inline(always)]
fn adqua_core<S: Scalar, X: Drive<S>>(c: &Step<'_, S>, last_v: S, last_w: S, x: X, p: [S; 10]) -> (S, S, S, S) {
    let [r, _tau, _tau_w, v_th, v_reset, v_rest, v_c, cc, a, b] = p;
    let spk = c.spike((last_v - v_th) * c.h[2]);
    let v_r = c.reset_v(last_v, v_th, v_reset, spk);
    let w_r = b.mul_add(spk, last_w);
    let v = qua_membrane(c, v_r, Some(w_r), x, r, c.h[1], v_rest, v_c, cc);
    let w = c.ee_hoisted(w_r, c.h[0], (a * (v - v_rest) - w_r) * c.h[3]);
    (v_r, w_r, v, w)
}

/// Adaptive quadratic integrate-and-fire, BrainPy's `AdQuaIF`.
///
/// Parameters of [`QuaIf`] plus `tau_w` (ms, 10, > 0), `a` (S, 1), `b` (mA, 0.1) and
/// `w_initializer` (mA, Constant(0)). States: `V` (mV), `w` (mA).
#[doc(alias = "AdQuaIF")]
#[derive(Debug, Clone, Copy, Default)]
pub struct AdQuaIf;

impl NeuronModel for AdQuaIf {
    crate::engine::kernel::builtin_kernels!(AdQuaIf);
    const NAME: &'static str = "AdQuaIF";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &[R, TAU, TAU_W, V_TH, V_RESET, V_REST, V_C, C, A, B];
    const STATES: &'static [StateSpec] = &[v_state(-65.0), W_STATE];
    type Input = dim::I;
    const N_HOIST: usize = 4;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset(Self::NAME, "V_th", p[3], "V_reset", p[4])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        adqua_hoist(p, dt, h);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let p = [c.p[0], c.p[1], c.p[2], c.p[3], c.p[4], c.p[5], c.p[6], c.p[7], c.p[8], c.p[9]];
        let (_, _, v, w) = adqua_core(c, s[0], s[1], x, p);
        s[0] = v;
        s[1] = w;
        c.spike((v - p[3]) * c.h[2])
    }
}

setters!(AdQuaIf {
    r: Resistance => "R", tau: Time => "tau", tau_w: Time => "tau_w", v_th: Voltage => "V_th",
    v_reset: Voltage => "V_reset", v_rest: Voltage => "V_rest", v_c: Voltage => "V_c", c: InvVoltage => "c",
    a: Conductance => "a", b: Current => "b",
});

/// [`AdQuaIf`] with an absolute refractory period, BrainPy's `AdQuaIFRef`.
///
/// Parameters of [`AdQuaIf`] plus `tau_ref` (ms, 1.7) and `ref_var` (false). States: `V`, `w`,
/// `last_spike_time`, `refractory` (if `ref_var`).
#[doc(alias = "AdQuaIFRef")]
#[derive(Debug, Clone, Copy, Default)]
pub struct AdQuaIfRef;

impl NeuronModel for AdQuaIfRef {
    crate::engine::kernel::builtin_kernels!(AdQuaIfRef);
    const NAME: &'static str = "AdQuaIFRef";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &[R, TAU, TAU_W, V_TH, V_RESET, V_REST, V_C, C, A, B, TAU_REF, REF_VAR];
    const STATES: &'static [StateSpec] = &[v_state(-65.0), W_STATE, LAST_SPIKE, REFRACTORY];
    type Input = dim::I;
    const N_HOIST: usize = 4;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset(Self::NAME, "V_th", p[3], "V_reset", p[4])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        adqua_hoist(p, dt, h);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let p = [c.p[0], c.p[1], c.p[2], c.p[3], c.p[4], c.p[5], c.p[6], c.p[7], c.p[8], c.p[9]];
        let (v_r, w_r, v_c, w_c) = adqua_core(c, s[0], s[1], x, p);
        let refr = c.refractory_flag(s[2], c.p[10]);
        let v = c.pick(refr, v_r, v_c);
        s[0] = v;
        s[1] = c.pick(refr, w_r, w_c);
        ref_record(c, refr, v, p[3], s, 2);
        c.spike((v - p[3]) * c.h[2])
    }
}

setters!(AdQuaIfRef {
    r: Resistance => "R", tau: Time => "tau", tau_w: Time => "tau_w", v_th: Voltage => "V_th",
    v_reset: Voltage => "V_reset", v_rest: Voltage => "V_rest", v_c: Voltage => "V_c", c: InvVoltage => "c",
    a: Conductance => "a", b: Current => "b", tau_ref: Time => "tau_ref",
});
