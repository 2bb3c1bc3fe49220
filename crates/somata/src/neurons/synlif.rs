//! LIF neurons with a built-in exponential synapse: [`CubaLif`] (current-based) and [`CobaLif`]
//! (conductance-based), BrainPy `lif.py`.
//!
//! ```text
//! τ_syn·dg/dt = −g
//! τ·dV/dt = −(V − V_rest) + R·(g + I)            (CUBA)
//! τ·dV/dt = −(V − V_rest) + R·(g·(E − V) + I)    (COBA)
//! ```
//!
//! Update order: spike of the stored V and reset as in LIF; then g decays (delta inputs, i.e.
//! synaptic events, are added **to g**, not to V); then V integrates with the new g. In COBA the
//! conductance term sits inside the drift, so exponential Euler's Jacobian includes `−R·g/τ`.
//!
//! Reference: Gerstner et al., *Neuronal Dynamics* (2014), ch. 3 (synaptic currents and
//! conductances).
//!
//! ```
//! use somata::prelude::*;
//! let mut n = CobaLif::builder(2).e(10.0 * mV).build().unwrap();
//! n.init_state(None).unwrap();
//! n.set_state("g", &[0.5, 0.5]).unwrap();   // 0.5 S
//! n.update_q(&Clock::new(0.1 * ms).unwrap(), 0.0 * mA).unwrap();
//! assert!(n.v().unwrap()[[0]] > 0.0);       // driven towards E = 10 mV
//! ```

use super::{above_reset, setters, unpack, v_state};
use crate::dynamics::{phi_dt, Check, Drive, InitSpec, NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use crate::units::{dim, Dim, Resistance, Time, Voltage};
use crate::Result;

const COMMON: [ParamSpec; 6] = [
    ParamSpec::new("R", Dim::RESISTANCE, 1.0, Check::Finite),
    ParamSpec::new("tau", Dim::TIME, 5.0, Check::Positive),
    ParamSpec::new("tau_syn", Dim::TIME, 5.0, Check::Positive),
    ParamSpec::new("V_th", Dim::VOLTAGE, 1.0, Check::Finite),
    ParamSpec::new("V_reset", Dim::VOLTAGE, 0.0, Check::Finite),
    ParamSpec::new("V_rest", Dim::VOLTAGE, 0.0, Check::Finite),
];

/// Spike, reset and synaptic decay shared by both: returns (spike-reset V, decayed g).
#[inline(always)]
fn syn_prelude<S: Scalar>(c: &Step<'_, S>, s: &[S]) -> (S, S) {
    unpack!(c.p; _r, _tau, _tau_syn, v_th, v_reset);
    let spk = c.spike((s[0] - v_th) * c.h[2]);
    let v = c.reset_v(s[0], v_th, v_reset, spk);
    let g = c.ee_hoisted(s[1], c.h[0], -s[1] * c.h[3]);
    (v, g)
}

/// Hoisted constants of both models: `h[0] = dt·exprel(−dt/τ_syn)`, `h[1] = dt·exprel(−dt/τ)`,
/// `h[2] = 1/(V_th − V_reset)`, `h[3] = 1/τ_syn`, `h[4] = 1/τ` (products instead of divisions:
/// at most an ulp apart, spike decisions unchanged).
#[inline(always)]
fn syn_hoist<S: Scalar>(p: &[S], dt: S, h: &mut [S]) {
    h[0] = phi_dt(dt, S::lit(-1.0) / p[2]);
    h[1] = phi_dt(dt, S::lit(-1.0) / p[1]);
    h[2] = S::lit(1.0) / (p[3] - p[4]);
    h[3] = S::lit(1.0) / p[2];
    h[4] = S::lit(1.0) / p[1];
}

/// Current-based LIF with an exponential synaptic current, BrainPy's `CubaLIF`.
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `R` | Ω | 1 | resistance |
/// | `tau` | ms | 5 | membrane time constant (> 0) |
/// | `tau_syn` | ms | 5 | synaptic time constant (> 0) |
/// | `V_th` | mV | 1 | threshold (> V_reset) |
/// | `V_reset` | mV | 0 | reset |
/// | `V_rest` | mV | 0 | rest |
/// | `V_initializer`, `g_initializer` | mV, mA | Constant(0) | |
///
/// States: `V` (mV), `g` (mA, a current). Input: mA.
#[doc(alias = "CubaLIF")]
#[derive(Debug, Clone, Copy, Default)]
pub struct CubaLif;

impl NeuronModel for CubaLif {
    crate::engine::kernel::builtin_kernels!(CubaLif);
    const NAME: &'static str = "CubaLIF";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &COMMON;
    const STATES: &'static [StateSpec] =
        &[v_state(0.0), StateSpec::new("g", Dim::CURRENT, "mA", InitSpec::Constant(0.0), Some("g_initializer"))];
    type Input = dim::I;
    const N_HOIST: usize = 5;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset(Self::NAME, "V_th", p[3], "V_reset", p[4])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        syn_hoist(p, dt, h);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        unpack!(c.p; r, _tau, _tau_syn, v_th, _v_reset, v_rest);
        let (v, g) = syn_prelude(c, s);
        let v = if X::V_DEPENDENT {
            c.ee(
                v,
                #[inline(always)]
                |vd| (-(vd - v_rest) + (x.at_dual(vd) + g) * r) * c.h[4],
            )
        } else {
            c.ee_hoisted(v, c.h[1], (-(v - v_rest) + r * (g + x.at(v))) * c.h[4])
        };
        s[0] = v;
        s[1] = g;
        c.spike((v - v_th) * c.h[2])
    }
}

setters!(CubaLif {
    r: Resistance => "R", tau: Time => "tau", tau_syn: Time => "tau_syn", v_th: Voltage => "V_th",
    v_reset: Voltage => "V_reset", v_rest: Voltage => "V_rest",
});

/// Conductance-based LIF with an exponential synaptic conductance, BrainPy's `CobaLIF`.
///
/// Parameters of [`CubaLif`] plus the reversal potential `E` (mV, default 0); `g` is a
/// conductance (S, `g_initializer` Constant(0 S)). States: `V` (mV), `g` (S). Input: mA.
#[doc(alias = "CobaLIF")]
#[derive(Debug, Clone, Copy, Default)]
pub struct CobaLif;

impl NeuronModel for CobaLif {
    crate::engine::kernel::builtin_kernels!(CobaLif);
    const NAME: &'static str = "CobaLIF";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] =
        &[COMMON[0], COMMON[1], COMMON[2], COMMON[3], COMMON[4], COMMON[5], ParamSpec::new("E", Dim::VOLTAGE, 0.0, Check::Finite)];
    const STATES: &'static [StateSpec] =
        &[v_state(0.0), StateSpec::new("g", Dim::CONDUCTANCE, "S", InitSpec::Constant(0.0), Some("g_initializer"))];
    type Input = dim::I;
    const N_HOIST: usize = 5;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset(Self::NAME, "V_th", p[3], "V_reset", p[4])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        syn_hoist(p, dt, h);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        unpack!(c.p; r, _tau, _tau_syn, v_th, _v_reset, v_rest, e);
        let (v, g) = syn_prelude(c, s);
        let inv_tau = c.h[4];
        let v = c.ee(
            v,
            #[inline(always)]
            |v| {
                let gi = -(v - e) * g;
                if X::V_DEPENDENT {
                    (-(v - v_rest) + (gi + x.at_dual(v)) * r) * inv_tau
                } else {
                    (-(v - v_rest) + (gi + x.at(v.v)) * r) * inv_tau
                }
            },
        );
        s[0] = v;
        s[1] = g;
        c.spike((v - v_th) * c.h[2])
    }
}

setters!(CobaLif {
    r: Resistance => "R", tau: Time => "tau", tau_syn: Time => "tau_syn", v_th: Voltage => "V_th",
    v_reset: Voltage => "V_reset", v_rest: Voltage => "V_rest", e: Voltage => "E",
});
