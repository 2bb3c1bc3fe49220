//! Exponential integrate-and-fire models: [`ExpIf`], [`ExpIfRef`], [`AdExIf`], [`AdExIfRef`]
//! (BrainPy `lif.py`).
//!
//! Membrane equation (Fourcaud-Trocmé et al. 2003; adaptive form Brette & Gerstner 2005):
//!
//! ```text
//! τ·dV/dt = −(V − V_rest) + Δ_T·exp(min((V − V_T)/Δ_T, 20)) − R·w + R·I
//! τ_w·dw/dt = a·(V − V_rest) − w    (AdEx only)
//! ```
//!
//! The exponent is clamped at 20 as in BrainPy (the clamp also zeroes its Jacobian contribution).
//! Because the drift depends on V non-linearly, exponential Euler's `J = ∂f/∂V` is evaluated every
//! step: `τ·J = e^u − 1` (`u = (V − V_T)/Δ_T`; `−1` above the clamp), written out rather than obtained from a
//! dual number as [`Step::ee`] would (same function, so BPTT differentiates it the same way;
//! fewer operations). Update order: reset from the stored V's spike (`V − (V_th − V_reset)·spk`
//! soft, `V_reset` hard; AdEx also `w += b·spk`), then V, then (AdEx) w from the **new** V.
//! With soft reset the runaway upswing can diverge to inf/NaN, exactly as in BrainPy; use
//! `RunOptions::check_finite` to have it reported.
//!
//! References: Fourcaud-Trocmé et al., *J. Neurosci.* 23 (2003); Brette & Gerstner,
//! *J. Neurophysiol.* 94 (2005).
//!
//! ```
//! use somata::prelude::*;
//! let mut adex = AdExIf::builder(10).tau_w(30.0 * ms).a(1.0 * somata::units::siemens).build().unwrap();
//! adex.init_state(None).unwrap();
//! let s = adex.update_q(&Clock::new(0.1 * ms).unwrap(), 5.0 * mA).unwrap();
//! assert_eq!(s.shape(), &[10]);
//! ```

use super::{above_reset, ref_record, setters, unpack, v_state, LAST_SPIKE, REFRACTORY};
use crate::dynamics::{phi_dt, Check, Drive, Dual, InitSpec, NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use crate::units::{dim, Conductance, Current, Dim, Resistance, Time, Voltage};
use crate::Result;

const R: ParamSpec = ParamSpec::new("R", Dim::RESISTANCE, 1.0, Check::Finite);
const TAU: ParamSpec = ParamSpec::new("tau", Dim::TIME, 10.0, Check::Positive);
const V_RESET: ParamSpec = ParamSpec::new("V_reset", Dim::VOLTAGE, -68.0, Check::Finite);
const V_REST: ParamSpec = ParamSpec::new("V_rest", Dim::VOLTAGE, -65.0, Check::Finite);
const V_T: ParamSpec = ParamSpec::new("V_T", Dim::VOLTAGE, -59.9, Check::Finite);
const DELTA_T: ParamSpec = ParamSpec::new("delta_T", Dim::VOLTAGE, 3.48, Check::Positive);
const TAU_REF: ParamSpec = ParamSpec::new("tau_ref", Dim::TIME, 1.7, Check::NonNegative);
const REF_VAR: ParamSpec = ParamSpec::new("ref_var", Dim::ONE, 0.0, Check::Flag);
const TAU_W: ParamSpec = ParamSpec::new("tau_w", Dim::TIME, 30.0, Check::Positive);
const A: ParamSpec = ParamSpec::new("a", Dim::CONDUCTANCE, 1.0, Check::Finite);
const B: ParamSpec = ParamSpec::new("b", Dim::CURRENT, 1.0, Check::Finite);
const W_STATE: StateSpec = StateSpec::new("w", Dim::CURRENT, "mA", InitSpec::Constant(0.0), Some("w_initializer"));

/// Hoisted constants shared by the family: `h[0] = dt/τ`, `h[1] = 1/Δ_T`,
/// `h[2] = 1/(V_th − V_reset)` (multiplying by them instead of dividing moves results by at most
/// an ulp; the spike decision is unchanged).
#[inline(always)]
fn exp_hoist<S: Scalar>(dt: S, tau: S, delta_t: S, v_th: S, v_reset: S, h: &mut [S]) {
    h[0] = dt / tau;
    h[1] = S::lit(1.0) / delta_t;
    h[2] = S::lit(1.0) / (v_th - v_reset);
}

/// One exponential-Euler step of the exponential-IF membrane from `v`, with adaptation current
/// `w` (`None` for ExpIF, whose equation has no `−R·w` term: not a multiplication by 0 every
/// step) and input `x`.
///
/// With `u = (V − V_T)/Δ_T` and `e = e^{min(u, 20)}` the drift is
/// `τ·f = Δ_T·e − (V − V_rest) − R·w + R·I`, and its Jacobian, which BrainPy obtains by
/// automatic differentiation, is `τ·J = e − 1` below the clamp and `−1` above it (the clamp's
/// tangent, as [`Scalar::min`]). Writing `J` out instead of running a dual number through `f`
/// shares `e`, and `dt·J = dt/τ·(e − 1)` is one fused multiply-add (merge-masked above the
/// clamp); the step is `V + exprel(dt·J)·dt·f`, as [`Step::ee`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn exp_membrane<S: Scalar, X: Drive<S>>(c: &Step<'_, S>, v: S, w: Option<S>, x: X, r: S, v_rest: S, v_t: S, delta_t: S) -> S {
    let (dt_tau, inv_delta_t) = (c.h[0], c.h[1]);
    let u = (v - v_t) * inv_delta_t;
    let e = u.exp_min(20.0);
    let f = e * delta_t - (v - v_rest);
    let f = match w {
        Some(w) => (-r).mul_add(w, f),
        None => f,
    };
    let dt_j = S::select_lt(S::lit(20.0), u, -dt_tau, e.mul_add(dt_tau, -dt_tau));
    let (f, dt_j) = if X::V_DEPENDENT {
        // a V-dependent drive adds R·∂I/∂V to τ·J
        let xd = x.at_dual(Dual::var(v, 0));
        (r.mul_add(xd.v, f), (r * xd.d[0]).mul_add(dt_tau, dt_j))
    } else {
        (r.mul_add(x.at(v), f), dt_j)
    };
    dt_j.exprel().mul_add(f * dt_tau, v)
}

/// Exponential integrate-and-fire, BrainPy's `ExpIF`.
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `R` | Ω | 1 | resistance |
/// | `tau` | ms | 10 | membrane time constant (> 0) |
/// | `V_th` | mV | −30 | spike threshold (> V_reset) |
/// | `V_reset` | mV | −68 | reset |
/// | `V_rest` | mV | −65 | rest |
/// | `V_T` | mV | −59.9 | threshold of the exponential term |
/// | `delta_T` | mV | 3.48 | spike slope factor (> 0) |
/// | `V_initializer` | mV | Constant(−65) | |
///
/// States: `V` (mV). Input: mA. See the `expif` module documentation above (`somata::neurons`) for the equations and update order.
#[doc(alias = "ExpIF")]
#[derive(Debug, Clone, Copy, Default)]
pub struct ExpIf;

impl NeuronModel for ExpIf {
    crate::engine::kernel::builtin_kernels!(ExpIf);
    const NAME: &'static str = "ExpIF";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] =
        &[R, TAU, ParamSpec::new("V_th", Dim::VOLTAGE, -30.0, Check::Finite), V_RESET, V_REST, V_T, DELTA_T];
    const STATES: &'static [StateSpec] = &[v_state(-65.0)];
    type Input = dim::I;

    const N_HOIST: usize = 3;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset(Self::NAME, "V_th", p[2], "V_reset", p[3])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        exp_hoist(dt, p[1], p[6], p[2], p[3], h);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        unpack!(c.p; r, _tau, v_th, v_reset, v_rest, v_t, delta_t);
        let spk = c.spike((s[0] - v_th) * c.h[2]);
        let v = c.reset_v(s[0], v_th, v_reset, spk);
        let v = exp_membrane(c, v, None, x, r, v_rest, v_t, delta_t);
        s[0] = v;
        c.spike((v - v_th) * c.h[2])
    }
}

setters!(ExpIf {
    r: Resistance => "R", tau: Time => "tau", v_th: Voltage => "V_th", v_reset: Voltage => "V_reset",
    v_rest: Voltage => "V_rest", v_t: Voltage => "V_T", delta_t: Voltage => "delta_T",
});

/// [`ExpIf`] with an absolute refractory period, BrainPy's `ExpIFRef`.
///
/// Parameters of [`ExpIf`] plus `tau_ref` (ms, default 1.7, ≥ 0) and `ref_var` (bool, default
/// false: expose the `refractory` state). During `t − last_spike_time < tau_ref` V is held at its
/// post-reset value. States: `V`, `last_spike_time` (ms), `refractory` (0/1, if `ref_var`).
#[doc(alias = "ExpIFRef")]
#[derive(Debug, Clone, Copy, Default)]
pub struct ExpIfRef;

impl NeuronModel for ExpIfRef {
    crate::engine::kernel::builtin_kernels!(ExpIfRef);
    const NAME: &'static str = "ExpIFRef";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] =
        &[R, TAU, TAU_REF, ParamSpec::new("V_th", Dim::VOLTAGE, -30.0, Check::Finite), V_RESET, V_REST, V_T, DELTA_T, REF_VAR];
    const STATES: &'static [StateSpec] = &[v_state(-65.0), LAST_SPIKE, REFRACTORY];
    type Input = dim::I;

    const N_HOIST: usize = 3;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset(Self::NAME, "V_th", p[3], "V_reset", p[4])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        exp_hoist(dt, p[1], p[7], p[3], p[4], h);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        unpack!(c.p; r, _tau, tau_ref, v_th, v_reset, v_rest, v_t, delta_t);
        let spk = c.spike((s[0] - v_th) * c.h[2]);
        let v_r = c.reset_v(s[0], v_th, v_reset, spk);
        let v_c = exp_membrane(c, v_r, None, x, r, v_rest, v_t, delta_t);
        let refr = c.refractory_flag(s[1], tau_ref);
        let v = c.pick(refr, v_r, v_c);
        s[0] = v;
        ref_record(c, refr, v, v_th, s, 1);
        c.spike((v - v_th) * c.h[2])
    }
}

setters!(ExpIfRef {
    r: Resistance => "R", tau: Time => "tau", tau_ref: Time => "tau_ref", v_th: Voltage => "V_th",
    v_reset: Voltage => "V_reset", v_rest: Voltage => "V_rest", v_t: Voltage => "V_T", delta_t: Voltage => "delta_T",
});

const ADEX_V_TH: ParamSpec = ParamSpec::new("V_th", Dim::VOLTAGE, -55.0, Check::Finite);

/// Adaptive exponential integrate-and-fire, BrainPy's `AdExIF` (Brette & Gerstner 2005).
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `R` | Ω | 1 | resistance |
/// | `tau` | ms | 10 | membrane time constant (> 0) |
/// | `tau_w` | ms | 30 | adaptation time constant (> 0) |
/// | `V_th` | mV | −55 | spike threshold (note: ExpIF's is −30) |
/// | `V_reset` | mV | −68 | reset |
/// | `V_rest` | mV | −65 | rest |
/// | `V_T` | mV | −59.9 | exponential threshold |
/// | `delta_T` | mV | 3.48 | slope factor (> 0) |
/// | `a` | S | 1 | subthreshold adaptation (a·(V − V_rest) is a current) |
/// | `b` | mA | 1 | spike-triggered adaptation |
/// | `V_initializer`, `w_initializer` | mV, mA | Constant(−65), Constant(0) | |
///
/// States: `V` (mV), `w` (mA). Input: mA.
#[doc(alias = "AdExIF")]
#[derive(Debug, Clone, Copy, Default)]
pub struct AdExIf;

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn adex_core<S: Scalar, X: Drive<S>>(c: &Step<'_, S>, last_v: S, last_w: S, x: X, p: [S; 10]) -> (S, S, S, S) {
    let [r, _tau, _tau_w, v_th, v_reset, v_rest, v_t, delta_t, a, b] = p;
    let spk = c.spike((last_v - v_th) * c.h[2]);
    let v_r = c.reset_v(last_v, v_th, v_reset, spk);
    let w_r = b.mul_add(spk, last_w);
    let v = exp_membrane(c, v_r, Some(w_r), x, r, v_rest, v_t, delta_t);
    let w = c.ee_hoisted(w_r, c.h[3], a.mul_add(v - v_rest, -w_r));
    (v_r, w_r, v, w)
}

/// AdEx hoisting: the family's constants and `h[3] = dt·exprel(−dt/τ_w)/τ_w`, so that w's
/// exponential-Euler step `w + dt·exprel(−dt/τ_w)·(a(V − V_rest) − w)/τ_w` is two fused
/// multiply-adds.
#[inline(always)]
fn adex_hoist<S: Scalar>(p: &[S], dt: S, h: &mut [S]) {
    exp_hoist(dt, p[1], p[7], p[3], p[4], h);
    h[3] = phi_dt(dt, S::lit(-1.0) / p[2]) / p[2];
}

impl NeuronModel for AdExIf {
    crate::engine::kernel::builtin_kernels!(AdExIf);
    const NAME: &'static str = "AdExIF";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &[R, TAU, TAU_W, ADEX_V_TH, V_RESET, V_REST, V_T, DELTA_T, A, B];
    const STATES: &'static [StateSpec] = &[v_state(-65.0), W_STATE];
    type Input = dim::I;
    const N_HOIST: usize = 4;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset(Self::NAME, "V_th", p[3], "V_reset", p[4])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        adex_hoist(p, dt, h);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let p = [c.p[0], c.p[1], c.p[2], c.p[3], c.p[4], c.p[5], c.p[6], c.p[7], c.p[8], c.p[9]];
        let (_, _, v, w) = adex_core(c, s[0], s[1], x, p);
        s[0] = v;
        s[1] = w;
        c.spike((v - p[3]) * c.h[2])
    }
}

setters!(AdExIf {
    r: Resistance => "R", tau: Time => "tau", tau_w: Time => "tau_w", v_th: Voltage => "V_th",
    v_reset: Voltage => "V_reset", v_rest: Voltage => "V_rest", v_t: Voltage => "V_T", delta_t: Voltage => "delta_T",
    a: Conductance => "a", b: Current => "b",
});

/// [`AdExIf`] with an absolute refractory period, BrainPy's `AdExIFRef`.
///
/// Parameters of [`AdExIf`] plus `tau_ref` (ms, 1.7) and `ref_var` (false). V and w are computed
/// from their post-reset values (w from the candidate V) and both are frozen at the post-reset
/// values while refractory. States: `V`, `w`, `last_spike_time`, `refractory` (if `ref_var`).
#[doc(alias = "AdExIFRef")]
#[derive(Debug, Clone, Copy, Default)]
pub struct AdExIfRef;

impl NeuronModel for AdExIfRef {
    crate::engine::kernel::builtin_kernels!(AdExIfRef);
    const NAME: &'static str = "AdExIFRef";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &[R, TAU, TAU_W, ADEX_V_TH, V_RESET, V_REST, V_T, DELTA_T, A, B, TAU_REF, REF_VAR];
    const STATES: &'static [StateSpec] = &[v_state(-65.0), W_STATE, LAST_SPIKE, REFRACTORY];
    type Input = dim::I;
    const N_HOIST: usize = 4;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset(Self::NAME, "V_th", p[3], "V_reset", p[4])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        adex_hoist(p, dt, h);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let p = [c.p[0], c.p[1], c.p[2], c.p[3], c.p[4], c.p[5], c.p[6], c.p[7], c.p[8], c.p[9]];
        let tau_ref = c.p[10];
        let (v_r, w_r, v_c, w_c) = adex_core(c, s[0], s[1], x, p);
        let refr = c.refractory_flag(s[2], tau_ref);
        let v = c.pick(refr, v_r, v_c);
        s[0] = v;
        s[1] = c.pick(refr, w_r, w_c);
        ref_record(c, refr, v, p[3], s, 2);
        c.spike((v - p[3]) * c.h[2])
    }
}

setters!(AdExIfRef {
    r: Resistance => "R", tau: Time => "tau", tau_w: Time => "tau_w", v_th: Voltage => "V_th",
    v_reset: Voltage => "V_reset", v_rest: Voltage => "V_rest", v_t: Voltage => "V_T", delta_t: Voltage => "delta_T",
    a: Conductance => "a", b: Current => "b", tau_ref: Time => "tau_ref",
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::{Dual, SpikeReset, MAX_HOIST, MAX_PARAMS};
    use crate::surrogate::Surrogate;

    /// The membrane step with its Jacobian written out equals [`Step::ee`] with the Jacobian from
    /// a dual number (BrainPy's automatic differentiation) below the exponent's clamp, above it,
    /// with and without adaptation current, at two time steps.
    #[test]
    fn written_out_jacobian_matches_the_dual_number_one() {
        let defaults: Vec<f64> = AdExIf::PARAMS.iter().map(|p| p.default).collect();
        let mut p = [0.0f64; MAX_PARAMS];
        p[..defaults.len()].copy_from_slice(&defaults);
        let [r, tau, _, _, _, v_rest, v_t, delta_t, ..] = p;
        let sg = Surrogate::default();
        let mut checked = 0;
        for dt in [0.1, 0.01] {
            let mut h = [0.0f64; MAX_HOIST];
            AdExIf.hoist(&p, dt, &mut h);
            let c = Step { p: &p, h: &h, dt, t: 0.0, reset: SpikeReset::Hard, sg: &sg, table: None };
            for i in 0..=400 {
                // −100 … +60 mV: u = (V − V_T)/Δ_T from −11.5 to +34.5, across the clamp at 20
                let v = -100.0 + 0.4 * i as f64;
                for (w, x) in [(None, 0.0), (Some(3.0), 12.0), (Some(-2.0), 40.0)] {
                    let got = exp_membrane(&c, v, w, x, r, v_rest, v_t, delta_t);
                    let want = c.ee(v, |y: Dual<f64, 1>| {
                        let e = ((y - Dual::constant(v_t)) / Dual::constant(delta_t)).min(Dual::constant(20.0)).exp();
                        let f = -(y - Dual::constant(v_rest)) + e * Dual::constant(delta_t) - Dual::constant(r * w.unwrap_or(0.0))
                            + Dual::constant(r * x);
                        f / Dual::constant(tau)
                    });
                    // both overflow (to +inf) once dt·J passes exprel's range
                    let close = got == want || (got - want).abs() <= 1e-12 * want.abs().max(1.0);
                    assert!(close, "V={v} w={w:?} x={x} dt={dt}: {got} vs {want}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 2 * 401 * 3);
    }
}
