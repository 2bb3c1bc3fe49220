//! Izhikevich neurons (Izhikevich 2003): [`Izhikevich`], [`IzhikevichRef`] (BrainPy
//! `izhikevich.py`).
//!
//! ```text
//! dV/dt = 0.04·V² + 5·V + 140 − u + I,    du/dt = a·(b·V − u)
//! ```
//!
//! (V in mV, t in ms, u and I in mV/ms). Spike when `(V − V_th)/V_th ≥ 0`; at the next update
//! `V ← where(spike, c, V)` (always a hard reset through `where`, whatever `spk_reset` says, and
//! no gradient through the spike) and `u ← u + d·spike`. Then V by exponential Euler
//! (`J = 0.08 V + 5`), then u from the new V. `u` starts at 0 (not b·V0).
//!
//! Reference: Izhikevich, *IEEE Trans. Neural Netw.* 14 (2003).
//!
//! ```
//! use somata::prelude::*;
//! use somata::units::VoltageRate;
//! let mut iz = Izhikevich::builder(2).build().unwrap();
//! iz.init_state(None).unwrap();
//! let drive: VoltageRate = 10.0 * mV / ms;
//! iz.update_q(&Clock::new(0.1 * ms).unwrap(), drive).unwrap();
//! ```

use super::{above_reset, distinct, ref_record, setters, unpack, v_state, LAST_SPIKE, REFRACTORY};
use crate::dynamics::{Check, Drive, InitSpec, NeuronModel, ParamSpec, Scalar, SpikeReset, StateSpec, Step};
use crate::units::{dim, Dim, Frequency, Time, Voltage, VoltageRate};
use crate::Result;

const PARAMS: [ParamSpec; 5] = [
    ParamSpec::new("a", Dim::FREQUENCY, 0.02, Check::Finite),
    ParamSpec::new("b", Dim::FREQUENCY, 0.2, Check::Finite),
    ParamSpec::new("c", Dim::VOLTAGE, -65.0, Check::Finite),
    ParamSpec::new("d", Dim::VOLTAGE_RATE, 8.0, Check::Finite),
    ParamSpec::new("V_th", Dim::VOLTAGE, 30.0, Check::Finite),
];
const U_STATE: StateSpec = StateSpec::new("u", Dim::VOLTAGE_RATE, "mV / ms", InitSpec::Constant(0.0), Some("u_initializer"));

/// (V after reset, u after jump, candidate V, candidate u).
#[inline(always)]
fn izh_core<S: Scalar, X: Drive<S>>(c: &Step<'_, S>, s: &[S], x: X) -> (S, S, S, S) {
    unpack!(c.p; a, b, cc, d, v_th);
    let l = S::lit;
    let spk = c.spike((s[0] - v_th) * c.h[0]);
    let v_r = S::select_lt(S::lit(0.0), spk, cc, s[0]);
    let u_r = s[1] + d * spk;
    let v = c.ee(
        v_r,
        #[inline(always)]
        |v| {
            let f = v * v * l(0.04) + v * l(5.0) + l(140.0) - u_r;
            if X::V_DEPENDENT {
                f + x.at_dual(v)
            } else {
                f + x.at(v.v)
            }
        },
    );
    let u = c.ee(
        u_r,
        #[inline(always)]
        |u| -(u - b * v) * a,
    );
    (v_r, u_r, v, u)
}

/// Izhikevich neuron, BrainPy's `Izhikevich`.
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `a` | 1/ms | 0.02 | recovery time scale |
/// | `b` | 1/ms | 0.2 | recovery sensitivity |
/// | `c` | mV | −65 | after-spike reset of V |
/// | `d` | mV/ms | 8 | after-spike increment of u |
/// | `V_th` | mV | 30 | spike cutoff (≠ 0, > c) |
/// | `V_initializer`, `u_initializer` | mV, mV/ms | Constant(−65), Constant(0) | |
///
/// States: `V` (mV), `u` (mV/ms). Input: mV/ms. Default `spk_reset` is hard (and ignored).
#[derive(Debug, Clone, Copy, Default)]
pub struct Izhikevich;

impl NeuronModel for Izhikevich {
    crate::engine::kernel::builtin_kernels!(Izhikevich);
    const NAME: &'static str = "Izhikevich";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &PARAMS;
    const STATES: &'static [StateSpec] = &[v_state(-65.0), U_STATE];
    type Input = dim::VRate;
    const DEFAULT_RESET: SpikeReset = SpikeReset::Hard;

    /// `h[0] = 1/V_th` (the spike's scale; a product keeps the sign of BrainPy's division).
    const N_HOIST: usize = 1;

    fn validate(&self, p: &[f64]) -> Result<()> {
        distinct(Self::NAME, "V_th", p[4], 0.0, "0")?;
        // c is the (hard) reset potential: V_th <= c fires at every step
        above_reset(Self::NAME, "V_th", p[4], "c", p[2])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], _dt: S, h: &mut [S]) {
        h[0] = S::lit(1.0) / p[4];
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let (_, _, v, u) = izh_core(c, s, x);
        s[0] = v;
        s[1] = u;
        c.spike((v - c.p[4]) * c.h[0])
    }
}

setters!(Izhikevich { a: Frequency => "a", b: Frequency => "b", c: Voltage => "c", d: VoltageRate => "d", v_th: Voltage => "V_th" });

/// [`Izhikevich`] with an absolute refractory period, BrainPy's `IzhikevichRef`.
///
/// `tau_ref` (ms, default **0**: never refractory) and `ref_var` (false). V and u are computed from
/// their post-reset values (u from the candidate V) and frozen while refractory. States: `V`, `u`,
/// `last_spike_time`, `refractory` (if `ref_var`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IzhikevichRef;

impl NeuronModel for IzhikevichRef {
    crate::engine::kernel::builtin_kernels!(IzhikevichRef);
    const NAME: &'static str = "IzhikevichRef";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &[
        PARAMS[0],
        PARAMS[1],
        PARAMS[2],
        PARAMS[3],
        PARAMS[4],
        ParamSpec::new("tau_ref", Dim::TIME, 0.0, Check::NonNegative),
        ParamSpec::new("ref_var", Dim::ONE, 0.0, Check::Flag),
    ];
    const STATES: &'static [StateSpec] = &[v_state(-65.0), U_STATE, LAST_SPIKE, REFRACTORY];
    type Input = dim::VRate;
    const DEFAULT_RESET: SpikeReset = SpikeReset::Hard;

    /// `h[0] = 1/V_th` (the spike's scale; a product keeps the sign of BrainPy's division).
    const N_HOIST: usize = 1;

    fn validate(&self, p: &[f64]) -> Result<()> {
        distinct(Self::NAME, "V_th", p[4], 0.0, "0")?;
        // c is the (hard) reset potential: V_th <= c fires at every step
        above_reset(Self::NAME, "V_th", p[4], "c", p[2])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], _dt: S, h: &mut [S]) {
        h[0] = S::lit(1.0) / p[4];
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let (v_r, u_r, v_c, u_c) = izh_core(c, s, x);
        let refr = c.refractory_flag(s[2], c.p[5]);
        let v = c.pick(refr, v_r, v_c);
        s[0] = v;
        s[1] = c.pick(refr, u_r, u_c);
        ref_record(c, refr, v, c.p[4], s, 2);
        c.spike((v - c.p[4]) * c.h[0])
    }
}

setters!(IzhikevichRef {
    a: Frequency => "a", b: Frequency => "b", c: Voltage => "c", d: VoltageRate => "d", v_th: Voltage => "V_th",
    tau_ref: Time => "tau_ref",
});
