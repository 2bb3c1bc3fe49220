//! Generalized integrate-and-fire (Mihalas & Niebur 2009): [`Gif`], [`GifRef`] (BrainPy
//! `lif.py`).
//!
//! ```text
//! dI_1/dt = −k_1·I_1,    dI_2/dt = −k_2·I_2
//! dV_th/dt = a·(V − V_rest) − b·(V_th − V_th,∞)
//! τ·dV/dt = −(V − V_rest) + R·(I_1 + I_2 + I)
//! ```
//!
//! The threshold `V_th` is a **state**; the spike is `(V − V_th)/(V_th − V_reset) ≥ 0`. On a spike
//! (applied at the next update): `V ← V − (V_th − V_reset)` (soft; hard: `V_reset`),
//! `I1 ← R1·I1 + A1`, `I2 ← R2·I2 + A2`, `V_th ← max(V_th_reset, V_th)`. Then, in this order:
//! I1, I2 decay; V_th integrates with the post-reset, **pre-integration** V; V integrates with the
//! already-updated I1 + I2 (GifRef: with the post-reset currents).
//!
//! Reference: Mihalas & Niebur, *Neural Comput.* 21 (2009).
//!
//! ```
//! use somata::prelude::*;
//! let mut g = Gif::builder(3).build().unwrap();
//! g.init_state(None).unwrap();
//! g.update_q(&Clock::new(0.1 * ms).unwrap(), 1.5 * mA).unwrap();
//! assert_eq!(g.state("V_th").unwrap().len(), 3);
//! ```

use super::{above_reset, ref_record, setters, unpack, v_state, LAST_SPIKE, REFRACTORY};
use crate::dynamics::{phi_dt, Check, Drive, InitSpec, NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use crate::units::{dim, Current, Dim, Frequency, Resistance, Time, Voltage};

const PARAMS: [ParamSpec; 15] = [
    ParamSpec::new("R", Dim::RESISTANCE, 20.0, Check::Finite),
    ParamSpec::new("tau", Dim::TIME, 20.0, Check::Positive),
    ParamSpec::new("V_rest", Dim::VOLTAGE, -70.0, Check::Finite),
    ParamSpec::new("V_reset", Dim::VOLTAGE, -70.0, Check::Finite),
    ParamSpec::new("V_th_inf", Dim::VOLTAGE, -50.0, Check::Finite),
    ParamSpec::new("V_th_reset", Dim::VOLTAGE, -60.0, Check::Finite),
    ParamSpec::new("a", Dim::FREQUENCY, 0.0, Check::Finite),
    ParamSpec::new("b", Dim::FREQUENCY, 0.01, Check::Finite),
    ParamSpec::new("k1", Dim::FREQUENCY, 0.2, Check::Finite),
    ParamSpec::new("k2", Dim::FREQUENCY, 0.02, Check::Finite),
    ParamSpec::new("R1", Dim::ONE, 0.0, Check::Finite),
    ParamSpec::new("R2", Dim::ONE, 1.0, Check::Finite),
    ParamSpec::new("A1", Dim::CURRENT, 0.0, Check::Finite),
    ParamSpec::new("A2", Dim::CURRENT, 0.0, Check::Finite),
    ParamSpec::new("tau_ref", Dim::TIME, 1.7, Check::NonNegative),
];

const STATES: [StateSpec; 4] = [
    v_state(-70.0),
    StateSpec::new("I1", Dim::CURRENT, "mA", InitSpec::Constant(0.0), Some("I1_initializer")),
    StateSpec::new("I2", Dim::CURRENT, "mA", InitSpec::Constant(0.0), Some("I2_initializer")),
    StateSpec::new("V_th", Dim::VOLTAGE, "mV", InitSpec::Constant(-50.0), Some("V_th_initializer")),
];

/// Post-reset values and candidates after integration: (reset, candidate) for V, I1, I2, V_th.
#[inline(always)]
fn gif_core<S: Scalar, X: Drive<S>>(c: &Step<'_, S>, s: &[S], x: X, currents_after: bool) -> ([S; 4], [S; 4]) {
    unpack!(c.p; r, _tau, v_rest, v_reset, v_th_inf, v_th_reset, a, b, _k1, _k2, r1, r2, a1, a2);
    let (last_v, last_i1, last_i2, last_th) = (s[0], s[1], s[2], s[3]);
    let spk = c.spike((last_v - last_th) / (last_th - v_reset));
    let v_r = c.reset_v(last_v, last_th, v_reset, spk);
    let i1_r = last_i1 + spk * (r1 * last_i1 + a1 - last_i1);
    let i2_r = last_i2 + spk * (r2 * last_i2 + a2 - last_i2);
    let th_r = last_th + spk * (v_th_reset.max(last_th) - last_th);
    let i1 = c.ee_hoisted(i1_r, c.h[0], -c.p[8] * i1_r);
    let i2 = c.ee_hoisted(i2_r, c.h[1], -c.p[9] * i2_r);
    let th = c.ee_hoisted(th_r, c.h[2], a * (v_r - v_rest) - b * (th_r - v_th_inf));
    let (ci1, ci2) = if currents_after { (i1, i2) } else { (i1_r, i2_r) };
    let v = if X::V_DEPENDENT {
        c.ee(
            v_r,
            #[inline(always)]
            |vd| (-(vd - v_rest) + (x.at_dual(vd) + (ci1 + ci2)) * r) * c.h[4],
        )
    } else {
        c.ee_hoisted(v_r, c.h[3], (-(v_r - v_rest) + r * (ci1 + ci2 + x.at(v_r))) * c.h[4])
    };
    ([v_r, i1_r, i2_r, th_r], [v, i1, i2, th])
}

#[inline(always)]
fn gif_hoist<S: Scalar>(p: &[S], dt: S, h: &mut [S]) {
    h[0] = phi_dt(dt, -p[8]);
    h[1] = phi_dt(dt, -p[9]);
    h[2] = phi_dt(dt, -p[7]);
    h[3] = phi_dt(dt, S::lit(-1.0) / p[1]);
    // 1/τ: a product instead of a division (at most an ulp apart); the spike's scale
    // 1/(V_th − V_reset) depends on the threshold state and stays a division
    h[4] = S::lit(1.0) / p[1];
}

/// Generalized integrate-and-fire, BrainPy's `Gif`.
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `R` | Ω | 20 | resistance |
/// | `tau` | ms | 20 | membrane time constant (> 0) |
/// | `V_rest` | mV | −70 | rest |
/// | `V_reset` | mV | −70 | reset |
/// | `V_th_inf` | mV | −50 | threshold's resting value (> V_reset) |
/// | `V_th_reset` | mV | −60 | threshold floor after a spike |
/// | `a` | 1/ms | 0 | threshold adaptation to V |
/// | `b` | 1/ms | 0.01 | threshold relaxation rate |
/// | `k1`, `k2` | 1/ms | 0.2, 0.02 | decay rates of I1, I2 |
/// | `R1`, `R2` | 1 | 0, 1 | current multipliers on spike |
/// | `A1`, `A2` | mA | 0, 0 | current increments on spike |
/// | `V_initializer`, `I1_initializer`, `I2_initializer`, `V_th_initializer` | | −70 mV, 0, 0, −50 mV | |
///
/// (`tau_ref` exists in the table for [`GifRef`]; `Gif` ignores it.) States: `V`, `I1`, `I2`
/// (mA), `V_th` (mV). Input: mA.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gif;

impl NeuronModel for Gif {
    crate::engine::kernel::builtin_kernels!(Gif);
    const NAME: &'static str = "Gif";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &PARAMS;
    const STATES: &'static [StateSpec] = &STATES;
    type Input = dim::I;
    const N_HOIST: usize = 5;

    /// The threshold relaxes to `V_th_inf`; at or below `V_reset` the spike scaling
    /// `(V − V_th)/(V_th − V_reset)` divides by zero or flips sign.
    fn validate(&self, p: &[f64]) -> crate::Result<()> {
        above_reset(Self::NAME, "V_th_inf", p[4], "V_reset", p[3])
    }

    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        gif_hoist(p, dt, h);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let (_, new) = gif_core(c, s, x, true);
        s[..4].copy_from_slice(&new);
        c.spike((new[0] - new[3]) / (new[3] - c.p[3]))
    }
}

setters!(Gif {
    r: Resistance => "R", tau: Time => "tau", v_rest: Voltage => "V_rest", v_reset: Voltage => "V_reset",
    v_th_inf: Voltage => "V_th_inf", v_th_reset: Voltage => "V_th_reset", a: Frequency => "a", b: Frequency => "b",
    k1: Frequency => "k1", k2: Frequency => "k2", a1: Current => "A1", a2: Current => "A2",
});

/// [`Gif`] with an absolute refractory period, BrainPy's `GifRef`.
///
/// `tau_ref` (ms, 1.7) and `ref_var` (false). The V equation uses the post-reset currents; all four
/// variables are frozen at their post-reset values while refractory; `last_spike_time` is set when
/// `V ≥ V_th` (the state). States: those of [`Gif`], `last_spike_time`, `refractory` (if `ref_var`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GifRef;

const REF_PARAMS: [ParamSpec; 16] = [
    PARAMS[0],
    PARAMS[1],
    PARAMS[2],
    PARAMS[3],
    PARAMS[4],
    PARAMS[5],
    PARAMS[6],
    PARAMS[7],
    PARAMS[8],
    PARAMS[9],
    PARAMS[10],
    PARAMS[11],
    PARAMS[12],
    PARAMS[13],
    PARAMS[14],
    ParamSpec::new("ref_var", Dim::ONE, 0.0, Check::Flag),
];

impl NeuronModel for GifRef {
    crate::engine::kernel::builtin_kernels!(GifRef);
    const NAME: &'static str = "GifRef";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &REF_PARAMS;
    const STATES: &'static [StateSpec] = &[STATES[0], STATES[1], STATES[2], STATES[3], LAST_SPIKE, REFRACTORY];
    type Input = dim::I;
    const N_HOIST: usize = 5;

    /// The threshold relaxes to `V_th_inf`; at or below `V_reset` the spike scaling
    /// `(V − V_th)/(V_th − V_reset)` divides by zero or flips sign.
    fn validate(&self, p: &[f64]) -> crate::Result<()> {
        above_reset(Self::NAME, "V_th_inf", p[4], "V_reset", p[3])
    }

    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        gif_hoist(p, dt, h);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let (reset, cand) = gif_core(c, s, x, false);
        let refr = c.refractory_flag(s[4], c.p[14]);
        for k in 0..4 {
            s[k] = c.pick(refr, reset[k], cand[k]);
        }
        let (v, th) = (s[0], s[3]);
        ref_record(c, refr, v, th, s, 4);
        c.spike((v - th) / (th - c.p[3]))
    }
}

setters!(GifRef {
    r: Resistance => "R", tau: Time => "tau", v_rest: Voltage => "V_rest", v_reset: Voltage => "V_reset",
    v_th_inf: Voltage => "V_th_inf", v_th_reset: Voltage => "V_th_reset", a: Frequency => "a", b: Frequency => "b",
    k1: Frequency => "k1", k2: Frequency => "k2", a1: Current => "A1", a2: Current => "A2", tau_ref: Time => "tau_ref",
});
