//! The LIF family seeds: [`If`], [`Lif`], [`LifRef`], [`Alif`] (BrainPy `lif.py`).
//!
//! Common update order (BrainPy 2.9): the reset of the previous spike is applied lazily at the
//! start of the next update, from the spike of the stored V:
//! 1. `spk = spk_fun(v_scaled(V))`
//! 2. soft: `V ← V − (V_th − V_reset)·spk`; hard: `V ← V − (sg(V) − V_reset)·spk`
//! 3. exponential Euler on the membrane equation (current input inside the right-hand side)
//! 4. return `spk_fun(v_scaled(V))` of the new V.

use super::{above_reset, setters};
use crate::dynamics::{phi_dt, Check, Drive, InitSpec, NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use crate::units::{dim, Dim, Resistance, Time, Voltage};
use crate::Result;

const V_STATE: StateSpec = StateSpec::new("V", Dim::VOLTAGE, "mV", InitSpec::Constant(0.0), Some("V_initializer"));
const LAST_SPIKE: StateSpec = StateSpec::new("last_spike_time", Dim::TIME, "ms", InitSpec::Constant(-1e7), None);

/// Integrate-and-fire neuron, BrainPy's `IF`.
///
/// ```text
/// τ·dV/dt = −V + R·I(t)
/// ```
///
/// Despite BrainPy's docstring ("no leak"), the model **leaks towards 0**. Spike when
/// `(V − V_th)/V_th ≥ 0`. Soft reset subtracts `V_th` (there is no `V_reset`); hard reset sets
/// `V` to 0.
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `R` | Ω | 1 | membrane resistance |
/// | `tau` | ms | 5 | membrane time constant (> 0) |
/// | `V_th` | mV | 1 | threshold (> 0, the reset potential: the spike scaling divides by it) |
/// | `V_initializer` | mV | Constant(0) | initial V |
///
/// Input: current, mA. States: `V` (mV). Reference: Lapicque (1907); Abbott, *Brain Res. Bull.*
/// 50 (1999).
///
/// ```
/// use somata::prelude::*;
/// let mut layer = If::builder(3).tau(5.0 * ms).build().unwrap();
/// layer.init_state(None).unwrap();
/// let clock = Clock::new(0.1 * ms).unwrap();
/// let spk = layer.update_q(&clock, 2.0 * mA).unwrap();
/// assert_eq!(spk.shape(), &[3]);
/// ```
#[doc(alias = "IF")]
#[derive(Debug, Clone, Copy, Default)]
pub struct If;

impl NeuronModel for If {
    crate::engine::kernel::builtin_kernels!(If);
    const VECTOR: bool = true;
    const NAME: &'static str = "IF";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const PARAMS: &'static [ParamSpec] = &[
        ParamSpec::new("R", Dim::RESISTANCE, 1.0, Check::Finite),
        ParamSpec::new("tau", Dim::TIME, 5.0, Check::Positive),
        ParamSpec::new("V_th", Dim::VOLTAGE, 1.0, Check::Finite),
    ];
    const STATES: &'static [StateSpec] = &[V_STATE];
    type Input = dim::I;
    const N_HOIST: usize = 3;

    fn validate(&self, p: &[f64]) -> Result<()> {
        // IF has no V_reset: a hard reset sets V to 0, a soft one subtracts V_th
        above_reset("IF", "V_th", p[2], "IF's reset potential", 0.0)
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        h[0] = phi_dt(dt, S::lit(-1.0) / p[1]);
        h[1] = S::lit(1.0) / p[1];
        h[2] = S::lit(1.0) / p[2];
    }
    #[inline(always)]
    fn spike_of<S: Scalar>(&self, c: &Step<'_, S>, s: &[S]) -> Option<S> {
        Some(c.spike((s[0] - c.p[2]) * c.h[2]))
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let (r, v_th) = (c.p[0], c.p[2]);
        let last_v = s[0];
        let spk = c.spike((last_v - v_th) * c.h[2]);
        let v = c.reset_v(last_v, v_th, S::lit(0.0), spk);
        let v = if X::V_DEPENDENT {
            c.ee(
                v,
                #[inline(always)]
                |vd| (-vd + x.at_dual(vd) * r) * c.h[1],
            )
        } else {
            c.ee_hoisted(v, c.h[0], (-v + r * x.at(v)) * c.h[1])
        };
        s[0] = v;
        c.spike((v - v_th) * c.h[2])
    }
}

setters!(If { r: Resistance => "R", tau: Time => "tau", v_th: Voltage => "V_th" });

const LIF_PARAMS: [ParamSpec; 5] = [
    ParamSpec::new("R", Dim::RESISTANCE, 1.0, Check::Finite),
    ParamSpec::new("tau", Dim::TIME, 5.0, Check::Positive),
    ParamSpec::new("V_th", Dim::VOLTAGE, 1.0, Check::Finite),
    ParamSpec::new("V_reset", Dim::VOLTAGE, 0.0, Check::Finite),
    ParamSpec::new("V_rest", Dim::VOLTAGE, 0.0, Check::Finite),
];

/// Hoisted constants of LIF and LIFRef: `dt·exprel(−dt/τ)`, `1/τ`, `1/(V_th − V_reset)`.
/// (Multiplying by a hoisted reciprocal instead of dividing changes results by at most an ulp;
/// spike decisions are unaffected since the denominator's sign is kept.)
#[inline(always)]
fn lif_hoist<S: Scalar>(p: &[S], dt: S, h: &mut [S]) {
    h[0] = phi_dt(dt, S::lit(-1.0) / p[1]);
    h[1] = S::lit(1.0) / p[1];
    h[2] = S::lit(1.0) / (p[2] - p[3]);
}

/// The shared membrane update of LIF and LIFRef: reset, then one exponential-Euler step of
/// `τ dV/dt = −V + V_rest + R·I`. Returns `(V after reset, V after integration)`.
#[inline(always)]
fn lif_membrane<S: Scalar, X: Drive<S>>(c: &Step<'_, S>, last_v: S, x: X) -> (S, S) {
    let (r, v_th, v_reset, v_rest) = (c.p[0], c.p[2], c.p[3], c.p[4]);
    let spk = c.spike((last_v - v_th) * c.h[2]);
    let v = c.reset_v(last_v, v_th, v_reset, spk);
    let v_new = if X::V_DEPENDENT {
        c.ee(
            v,
            #[inline(always)]
            |vd| (-vd + v_rest + x.at_dual(vd) * r) * c.h[1],
        )
    } else {
        c.ee_hoisted(v, c.h[0], (-v + v_rest + r * x.at(v)) * c.h[1])
    };
    (v, v_new)
}

/// Leaky integrate-and-fire neuron, BrainPy's `LIF`.
///
/// ```text
/// τ·dV/dt = −(V − V_rest) + R·I(t)
/// ```
///
/// Spike when `(V − V_th)/(V_th − V_reset) ≥ 0`; soft reset subtracts `V_th − V_reset`, hard reset
/// sets `V_reset` (gradient through the spike only). With a constant input, exponential Euler is
/// exact: `V ← V + (1 − e^{−dt/τ})(V_rest + R I − V)`, computed as `dt·exprel(−dt/τ)/τ`
/// (hoisted: one constant per run).
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `R` | Ω | 1 | membrane resistance |
/// | `tau` | ms | 5 | membrane time constant (> 0) |
/// | `V_th` | mV | 1 | threshold (> V_reset, else [`crate::SomataError::InvalidParameter`]) |
/// | `V_reset` | mV | 0 | reset potential |
/// | `V_rest` | mV | 0 | resting potential |
/// | `V_initializer` | mV | Constant(0) | initial V |
///
/// Input: current, mA. States: `V` (mV). Reference: Stein, *Biophys. J.* 5 (1965); Gerstner &
/// Kistler, *Spiking Neuron Models* (2002), ch. 4.
///
/// ```
/// use somata::prelude::*;
/// let mut lif = Lif::builder(100).tau(10.0 * ms).v_th(1.0 * mV)
///     .spk_fun(ReluGrad::default()).spk_reset(SpikeReset::Soft).build().unwrap();
/// lif.init_state(Some(32)).unwrap();
/// let clock = Clock::new(0.1 * ms).unwrap();
/// let spikes = lif.update_q(&clock, 2.0 * mA).unwrap();
/// assert_eq!(spikes.shape(), &[32, 100]);
/// assert!((lif.v().unwrap()[[0, 0]] - 0.01990033).abs() < 1e-7); // BrainPy's value
/// ```
#[doc(alias = "LIF")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Lif;

impl NeuronModel for Lif {
    crate::engine::kernel::builtin_kernels!(Lif);
    const VECTOR: bool = true;
    const NAME: &'static str = "LIF";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const PARAMS: &'static [ParamSpec] = &LIF_PARAMS;
    const STATES: &'static [StateSpec] = &[V_STATE];
    type Input = dim::I;
    const N_HOIST: usize = 3;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset("LIF", "V_th", p[2], "V_reset", p[3])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        lif_hoist(p, dt, h);
    }
    #[inline(always)]
    fn spike_of<S: Scalar>(&self, c: &Step<'_, S>, s: &[S]) -> Option<S> {
        Some(c.spike((s[0] - c.p[2]) * c.h[2]))
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let (_, v) = lif_membrane(c, s[0], x);
        s[0] = v;
        c.spike((v - c.p[2]) * c.h[2])
    }
}

setters!(Lif {
    r: Resistance => "R", tau: Time => "tau", v_th: Voltage => "V_th",
    v_reset: Voltage => "V_reset", v_rest: Voltage => "V_rest",
});

/// LIF with an absolute refractory period, BrainPy's `LIFRef`.
///
/// Same membrane equation as [`Lif`]. Update order:
/// 1. reset as in LIF, giving `v_reset`;
/// 2. `V_candidate = EE(v_reset)`;
/// 3. refractory if `t − last_spike_time < tau_ref` (old last_spike_time); then `V = v_reset`;
/// 4. `last_spike_time = sg(where(V ≥ V_th, t, last_spike_time))`.
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `R`, `tau`, `V_th`, `V_reset`, `V_rest` | | as [`Lif`] | |
/// | `tau_ref` | ms | 5 | refractory period (≥ 0) |
///
/// States: `V` (mV), `last_spike_time` (ms, initially −1e7 ms). LIFRef has no `ref_var`.
/// Refractory time follows BrainPy exactly: `t = f32(i)·f32(dt)`, compared in the layer's float.
///
/// ```
/// use somata::prelude::*;
/// let mut n = LifRef::builder(1).tau_ref(2.0 * ms).build().unwrap();
/// n.init_state(None).unwrap();
/// let mut clock = Clock::new(0.1 * ms).unwrap();
/// let mut spikes = 0.0;
/// for _ in 0..1000 {
///     spikes += n.update_q(&clock, 5.0 * mA).unwrap()[[0]];
///     clock.advance();
/// }
/// assert!(spikes > 0.0 && spikes < 100.0 / 2.0 + 1.0); // at most one spike per 2 ms
/// ```
#[doc(alias = "LIFRef")]
#[derive(Debug, Clone, Copy, Default)]
pub struct LifRef;

impl NeuronModel for LifRef {
    crate::engine::kernel::builtin_kernels!(LifRef);
    const VECTOR: bool = true;
    const NAME: &'static str = "LIFRef";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const PARAMS: &'static [ParamSpec] = &[
        LIF_PARAMS[0],
        LIF_PARAMS[1],
        LIF_PARAMS[2],
        LIF_PARAMS[3],
        LIF_PARAMS[4],
        ParamSpec::new("tau_ref", Dim::TIME, 5.0, Check::NonNegative),
    ];
    const STATES: &'static [StateSpec] = &[V_STATE, LAST_SPIKE];
    type Input = dim::I;
    const N_HOIST: usize = 3;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset("LIFRef", "V_th", p[2], "V_reset", p[3])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        lif_hoist(p, dt, h);
    }
    #[inline(always)]
    fn spike_of<S: Scalar>(&self, c: &Step<'_, S>, s: &[S]) -> Option<S> {
        Some(c.spike((s[0] - c.p[2]) * c.h[2]))
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let (v_th, tau_ref) = (c.p[2], c.p[5]);
        let (v_reset, v_cand) = lif_membrane(c, s[0], x);
        let v = c.pick(c.refractory_flag(s[1], tau_ref), v_reset, v_cand);
        s[1] = S::select_ge(v, v_th, c.t, s[1]).stop_grad();
        s[0] = v;
        c.spike((v - v_th) * c.h[2])
    }
}

setters!(LifRef {
    r: Resistance => "R", tau: Time => "tau", v_th: Voltage => "V_th",
    v_reset: Voltage => "V_reset", v_rest: Voltage => "V_rest", tau_ref: Time => "tau_ref",
});

/// Adaptive-threshold LIF, BrainPy's `ALIF`.
///
/// ```text
/// τ·dV/dt = −(V − V_rest) + R·I,    τ_a·da/dt = −a
/// ```
///
/// Spike when `(V − V_th − β·a)/(V_th − V_reset) ≥ 0`; on a spike `a ← a + 1` (unitless) and V is
/// reset by `V_th − V_reset` (soft) or to `V_reset` (hard): the reset does **not** include `β·a`.
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `R` | Ω | 1 | resistance |
/// | `tau` | ms | 5 | membrane time constant (> 0) |
/// | `tau_a` | ms | 100 | adaptation time constant (> 0) |
/// | `V_th` | mV | 1 | base threshold (> V_reset) |
/// | `V_reset` | mV | 0 | reset |
/// | `V_rest` | mV | 0 | rest |
/// | `beta` | mV | 0.1 | threshold increment per unit of `a` |
/// | `V_initializer`, `a_initializer` | mV, 1 | Constant(0) | initial states |
///
/// States: `V` (mV), `a` (unitless). Reference: Bellec et al., "Long short-term memory and
/// learning-to-learn in networks of spiking neurons", NeurIPS (2018).
///
/// ```
/// use somata::prelude::*;
/// let mut alif = Alif::builder(8).tau_a(200.0 * ms).beta(0.2 * mV).build().unwrap();
/// alif.init_state(None).unwrap();
/// alif.update_q(&Clock::new(0.1 * ms).unwrap(), 2.0 * mA).unwrap();
/// assert_eq!(alif.state("a").unwrap().len(), 8);
/// ```
#[doc(alias = "ALIF")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Alif;

impl NeuronModel for Alif {
    crate::engine::kernel::builtin_kernels!(Alif);
    const VECTOR: bool = true;
    const NAME: &'static str = "ALIF";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const PARAMS: &'static [ParamSpec] = &[
        ParamSpec::new("R", Dim::RESISTANCE, 1.0, Check::Finite),
        ParamSpec::new("tau", Dim::TIME, 5.0, Check::Positive),
        ParamSpec::new("tau_a", Dim::TIME, 100.0, Check::Positive),
        ParamSpec::new("V_th", Dim::VOLTAGE, 1.0, Check::Finite),
        ParamSpec::new("V_reset", Dim::VOLTAGE, 0.0, Check::Finite),
        ParamSpec::new("V_rest", Dim::VOLTAGE, 0.0, Check::Finite),
        ParamSpec::new("beta", Dim::VOLTAGE, 0.1, Check::Finite),
    ];
    const STATES: &'static [StateSpec] = &[V_STATE, StateSpec::new("a", Dim::ONE, "1", InitSpec::Constant(0.0), Some("a_initializer"))];
    type Input = dim::I;
    const N_HOIST: usize = 5;

    fn validate(&self, p: &[f64]) -> Result<()> {
        above_reset("ALIF", "V_th", p[3], "V_reset", p[4])
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], dt: S, h: &mut [S]) {
        h[0] = phi_dt(dt, S::lit(-1.0) / p[1]);
        h[1] = phi_dt(dt, S::lit(-1.0) / p[2]);
        h[2] = S::lit(1.0) / p[1];
        h[3] = S::lit(1.0) / p[2];
        h[4] = S::lit(1.0) / (p[3] - p[4]);
    }
    #[inline(always)]
    fn spike_of<S: Scalar>(&self, c: &Step<'_, S>, s: &[S]) -> Option<S> {
        Some(c.spike((s[0] - c.p[3] - c.p[6] * s[1]) * c.h[4]))
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        let (r, v_th, v_reset, v_rest, beta) = (c.p[0], c.p[3], c.p[4], c.p[5], c.p[6]);
        let (last_v, last_a) = (s[0], s[1]);
        let spk = c.spike((last_v - v_th - beta * last_a) * c.h[4]);
        let v = c.reset_v(last_v, v_th, v_reset, spk);
        let a = last_a + spk;
        let v = if X::V_DEPENDENT {
            c.ee(
                v,
                #[inline(always)]
                |vd| (-vd + v_rest + x.at_dual(vd) * r) * c.h[2],
            )
        } else {
            c.ee_hoisted(v, c.h[0], (-v + v_rest + r * x.at(v)) * c.h[2])
        };
        let a = c.ee_hoisted(a, c.h[1], -a * c.h[3]);
        s[0] = v;
        s[1] = a;
        c.spike((v - v_th - beta * a) * c.h[4])
    }
}

setters!(Alif {
    r: Resistance => "R", tau: Time => "tau", tau_a: Time => "tau_a", v_th: Voltage => "V_th",
    v_reset: Voltage => "V_reset", v_rest: Voltage => "V_rest", beta: Voltage => "beta",
});
