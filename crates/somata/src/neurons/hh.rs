//! Conductance-based models: [`Hh`] (Hodgkin & Huxley 1952), [`MorrisLecar`] (Morris & Lecar 1981)
//! and [`WangBuzsakiHh`] (Wang & Buzsáki 1996), BrainPy `hh.py`.
//!
//! These models do not reset: the spike is the **rising edge** of the threshold crossing,
//! `spk_fun((V − V_th)/V_th)·(1 − spk_fun((V_last − V_th)/V_th))`, and `spk_reset` is ignored.
//! Currents and gating rates are evaluated at the previous V, outside the drift (so exponential
//! Euler's Jacobian contains only the membrane's own conductances); every variable is integrated by
//! exponential Euler from the old state. Units follow BrainPy: V in mV, conductances in mS, the
//! capacitance in µF and the input current in µA (canonical units inside: S, mF, mA).
//!
//! References: Hodgkin & Huxley, *J. Physiol.* 117 (1952); Morris & Lecar, *Biophys. J.* 35
//! (1981); Wang & Buzsáki, *J. Neurosci.* 16 (1996).
//!
//! ```
//! use somata::prelude::*;
//! let mut hh = Hh::builder(8).seed(1).build().unwrap();   // V ~ Uniform(-70, -60) mV, gates at steady state
//! hh.init_state(None).unwrap();
//! let clock = Clock::new(0.01 * ms).unwrap();
//! let spk = hh.update_q(&clock, 10.0 * uA).unwrap();
//! assert_eq!(spk.len(), 8);
//! ```

use super::{rising_edge, setters, unpack};
use crate::dynamics::{Check, Drive, GateTable, InitSpec, NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use crate::units::{dim, Capacitance, Conductance, Dim, Frequency, Voltage};

/// HH rate functions at `v` (mV), in 1/ms: (αm, βm, αh, βh, αn, βn).
///
/// Evaluated with three exponentials instead of six: `e^{−(V+40)/10}` serves αm, βh
/// (`e^{−(V+35)/10} = e^{−(V+40)/10}·e^{1/2}`) and αn (`·e^{−3/2}`); αh's `e^{−(V+65)/20}` is
/// the 4th power of βn's `e^{−(V+65)/80}`. The three reciprocals (of `e1 − 1`, `e2 − 1` and
/// `1 + e1·e^{1/2}`) come from one ([`batched_reciprocals`]). Each rate stays within about 10 ulp of
/// BrainPy's direct evaluation (a few times 1e-7 relative).
#[inline(always)]
fn hh_rates<S: Scalar>(v: S) -> [S; 6] {
    let l = S::lit;
    let z1 = -(v + l(40.0)) * l(0.1);
    let e1 = z1.exp();
    let z2 = -(v + l(55.0)) * l(0.1);
    let e2 = e1 * l((-1.5f64).exp());
    let u = -(v + l(65.0));
    let e80 = (u * l(0.0125)).exp();
    let e20 = (e80 * e80) * (e80 * e80);
    let [inv1, inv2, bh] = batched_reciprocals(z1, e1, z2, e2, -1.5, 0.5);
    [inv_exprel_with(z1, inv1), l(4.0) * (u * l(1.0 / 18.0)).exp(), l(0.07) * e20, bh, l(0.1) * inv_exprel_with(z2, inv2), l(0.125) * e80]
}

/// Wang–Buzsáki rate functions at `v` (mV), in 1/ms, before the factor φ: (αm, βm, αh, βh, αn,
/// βn), with αm = 0.1(V+35)/(1 − e^{−(V+35)/10}), βm = 4e^{−(V+60)/18},
/// αh = 0.07e^{−(V+58)/20}, βh = 1/(1 + e^{−(V+28)/10}), αn = 0.01(V+34)/(1 − e^{−(V+34)/10}),
/// βn = 0.125e^{−(V+44)/80}. As [`hh_rates`]: one `e^{−(V+35)/10}` serves αm, βh and αn, αh's
/// exponential is `e^{−(V+44)/80}`'s 4th power times `e^{−0.7}`, and one reciprocal serves three
/// rates.
#[inline(always)]
fn wb_rates<S: Scalar>(v: S) -> [S; 6] {
    let l = S::lit;
    let z1 = l(-0.1) * (v + l(35.0));
    let e1 = z1.exp();
    let z2 = l(-0.1) * (v + l(34.0));
    let e2 = e1 * l(0.1f64.exp());
    let e80 = (-(v + l(44.0)) * l(0.0125)).exp();
    let e20 = ((e80 * e80) * (e80 * e80)) * l((-0.7f64).exp());
    let [inv1, inv2, bh] = batched_reciprocals(z1, e1, z2, e2, 0.1, 0.7);
    [
        inv_exprel_with(z1, inv1),
        l(4.0) * (-(v + l(60.0)) * l(1.0 / 18.0)).exp(),
        l(0.07) * e20,
        bh,
        l(0.1) * inv_exprel_with(z2, inv2),
        l(0.125) * e80,
    ]
}

/// `z/(e^z − 1)` for |z| < 1: the Bernoulli series to z^10 (below 0.2 ulp).
#[inline(always)]
fn bernoulli<S: Scalar>(z: S) -> S {
    let l = S::lit;
    let z2 = z * z;
    l(1.0) - z * l(0.5)
        + z2 * (l(1.0 / 12.0) + z2 * (l(-1.0 / 720.0) + z2 * (l(1.0 / 30240.0) + z2 * (l(-1.0 / 1209600.0) + z2 * l(1.0 / 47900160.0)))))
}

/// `[1/(e1 − 1), 1/(e2 − 1), 1/(1 + e1·k_c)]` for the HH family's rates, where
/// `e2 = e1·k_2` (`k_2 = e^{ln_k2}`, `k_c = e^{ln_kc}`), with one reciprocal instead of three (a
/// vector reciprocal costs about fourteen instructions): with `a = e1 − 1`, `b = e2 − 1` and
/// `c = 2^-64·(1 + e1·k_c)` (scaled exactly, by a power of two, so that the product stays in
/// range) and `r = 1/(a·b·c)`, the three are `r·c·b`, `r·c·a` and `2^-64·r·a·b` (batched
/// inversion; each within a few ulp of its own reciprocal). Where the Bernoulli series replaces
/// `z/(e − 1)` (|z| < 1, where `e − 1` may be 0), the factor is taken as 1. For HH and
/// Wang–Buzsáki (k_2, k_c ≤ e^{0.7}) the product overflows once e1 passes about 1e19 (V below
/// −480 mV): from z1 = 40 (V ≈ −440 mV) on, where `e1 − 1` rounds to e1, `e2 − 1` to e2 and
/// `1 + e1·k_c` to `e1·k_c`, the reciprocal is that of e1 and the three are `1/e1` times
/// `1`, `1/k_2`, `1/k_c`. A vector whose lanes are all above that skips those selects
/// ([`Scalar::fast_when_all_lt`]).
#[inline(always)]
fn batched_reciprocals<S: Scalar>(z1: S, e1: S, z2: S, e2: S, ln_k2: f64, ln_kc: f64) -> [S; 3] {
    let l = S::lit;
    const TWO_M64: f64 = 1.0 / 18_446_744_073_709_551_616.0;
    let a = S::select_lt(z1.abs(), l(1.0), l(1.0), e1 - l(1.0));
    let b = S::select_lt(z2.abs(), l(1.0), l(1.0), e2 - l(1.0));
    let c = e1.mul_add(l(ln_kc.exp() * TWO_M64), l(TWO_M64));
    let ab = a * b;
    S::fast_when_all_lt(
        z1,
        l(40.0),
        #[inline(always)]
        || {
            let r = (ab * c).recip();
            let rc = r * c;
            [rc * b, rc * a, (r * ab) * l(TWO_M64)]
        },
        #[inline(always)]
        || {
            let r = S::select_lt(z1, l(40.0), ab * c, e1).recip();
            let rc = r * c;
            [
                S::select_lt(z1, l(40.0), rc * b, r),
                S::select_lt(z1, l(40.0), rc * a, r * l((-ln_k2).exp())),
                S::select_lt(z1, l(40.0), (r * ab) * l(TWO_M64), r * l((-ln_kc).exp())),
            ]
        },
    )
}

/// `z/(e^z − 1)`: [`bernoulli`] for |z| < 1, `z·inv` (`inv = 1/(e^z − 1)`) otherwise.
#[inline(always)]
pub(super) fn inv_exprel_with<S: Scalar>(z: S, inv: S) -> S {
    S::select_lt_with(
        z.abs(),
        S::lit(1.0),
        #[inline(always)]
        || bernoulli(z),
        #[inline(always)]
        || z * inv,
    )
}

/// Exponential-Euler step of a membrane `C dV/dt = −Σ g_k (V − E_k) + I` whose conductances are
/// evaluated at the previous V: linear in V, so [`Step::ee_linear`] with
/// `b = Σ g_k / C`, `a = (Σ g_k E_k + I)/C` (BrainPy's Jacobian, without a dual number and
/// without dividing by C each step).
#[inline(always)]
pub(super) fn membrane<S: Scalar, X: Drive<S>>(c: &Step<'_, S>, v: S, g: [(S, S); 3], x: X, inv_c: S) -> S {
    if X::V_DEPENDENT {
        // the drive's ∂I/∂V joins the channels' in the Jacobian
        return c.ee(
            v,
            #[inline(always)]
            |vd| {
                let ch = (vd * -(g[0].0 + g[1].0 + g[2].0)) + (g[0].0 * g[0].1 + g[1].0 * g[1].1 + g[2].0 * g[2].1);
                (ch + x.at_dual(vd)) * inv_c
            },
        );
    }
    let b = (g[0].0 + g[1].0 + g[2].0) * inv_c;
    let a = (g[0].0 * g[0].1 + g[1].0 * g[1].1 + g[2].0 * g[2].1 + x.at(v)) * inv_c;
    c.ee_linear(v, a, b)
}

/// HH's gates after one exponential-Euler step, with the rates at `v`.
#[inline(always)]
fn hh_gates<S: Scalar>(c: &Step<'_, S>, v: S, m: S, h: S, n: S) -> [S; 3] {
    let [am, bm, ah, bh, an, bn] = hh_rates(v);
    let one = S::lit(1.0);
    [gate(c, m, am, bm, one), gate(c, h, ah, bh, one), gate(c, n, an, bn, one)]
}

/// `x/(1 − e^{−x})` in f64 (1 at 0).
fn x_over_one_minus_exp(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        x / -(-x).exp_m1()
    }
}

/// HH's rates in f64, directly from the formulas (what [`GateTable::fit`] tabulates).
fn hh_rates_f64(v: f64) -> [f64; 6] {
    [
        x_over_one_minus_exp((v + 40.0) / 10.0),
        4.0 * (-(v + 65.0) / 18.0).exp(),
        0.07 * (-(v + 65.0) / 20.0).exp(),
        1.0 / (1.0 + (-(v + 35.0) / 10.0).exp()),
        0.1 * x_over_one_minus_exp((v + 55.0) / 10.0),
        0.125 * (-(v + 65.0) / 80.0).exp(),
    ]
}

/// The gate propagators `[B_m, E_m, B_h, E_h, B_n, E_n]` of [`crate::dynamics::table`] for rates
/// `r` (αm, βm, αh, βh, αn, βn) times `phi`: `z = −dt·φ(α + β)`, `E = e^z − 1`,
/// `B = dt·φα·exprel(z)`, so that one exponential-Euler step is `x + (B + E·x)`.
fn gate_propagators(r: [f64; 6], phi: f64, dt: f64) -> [f64; 6] {
    let mut out = [0.0; 6];
    for g in 0..3 {
        let (a, b) = (phi * r[2 * g], phi * r[2 * g + 1]);
        let z = -dt * (a + b);
        let em1 = z.exp_m1();
        out[2 * g] = dt * a * if z == 0.0 { 1.0 } else { em1 / z };
        out[2 * g + 1] = em1;
    }
    out
}

/// Exponential-Euler step of a gate `dx/dt = φ(α(1 − x) − βx)`.
#[inline(always)]
fn gate<S: Scalar>(c: &Step<'_, S>, x: S, alpha: S, beta: S, phi: S) -> S {
    c.ee_linear(x, alpha * phi, (alpha + beta) * phi)
}

/// Hodgkin–Huxley neuron, BrainPy's `HH`.
///
/// ```text
/// C·dV/dt = −g_Na·m³·h·(V − E_Na) − g_K·n⁴·(V − E_K) − g_L·(V − E_L) + I
/// dx/dt = α_x(V)·(1 − x) − β_x(V)·x,    x ∈ {m, h, n}
/// ```
///
/// with αm = 0.1(V+40)/(1 − e^{−(V+40)/10}), βm = 4e^{−(V+65)/18}, αh = 0.07e^{−(V+65)/20},
/// βh = 1/(1 + e^{−(V+35)/10}), αn = 0.01(V+55)/(1 − e^{−(V+55)/10}), βn = 0.125e^{−(V+65)/80}.
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `ENa`, `gNa` | mV, mS | 50, 120 | sodium |
/// | `EK`, `gK` | mV, mS | −77, 36 | potassium |
/// | `EL`, `gL` | mV, mS | −54.387, 0.03 | leak |
/// | `V_th` | mV | 20 | spike threshold (≠ 0) |
/// | `C` | µF | 1 | capacitance (> 0) |
/// | `V_initializer` | mV | **Uniform(−70, −60)** | random, from the layer's seeded RNG |
/// | `m/h/n_initializer` | 1 | None | steady state α/(α + β) at the initial V |
///
/// Update order: conductances from the old gates; V by exponential Euler with the input at the
/// old V; then m, h, n with rates at the old V. States: `V` (mV), `m`, `h`, `n`. Input: µA.
///
/// **Gate tables.** With V held over the step, each gate's exponential-Euler step is
/// `x + (B(V) + E(V)·x)`, `E = e^z − 1`, `B = dt·α·exprel(z)`, `z = −dt(α + β)`. On the vector
/// kernels (AVX-512 and AVX2, bit for bit alike) these six functions come from a [`GateTable`] fitted for the run's `dt` (degree-5
/// pieces on 8 mV, each checked to 2^-21 relative against f64; −116…+140 mV at dt = 0.1 ms, the
/// formulas outside): one step is within 1.4e-7 of f64 where the formulas in f32 are within
/// 2.3e-7, and HH runs 1.6× faster on AVX-512, 1.4× on AVX2. The scalar loop evaluates the
/// formulas. `gate_tables(false)` on the builder evaluates BrainPy's formulas every step on
/// every kernel (then the layer gives the same bits on every CPU).
///
/// ```
/// use somata::prelude::*;
/// let mut fast = Hh::builder(64).seed(3).build().unwrap();
/// let mut exact = Hh::builder(64).seed(3).gate_tables(false).build().unwrap();
/// fast.init_state(None).unwrap();
/// exact.init_state(None).unwrap();
/// let mut clock = Clock::new(0.05 * ms).unwrap();
/// for _ in 0..200 {
///     fast.update_q(&clock, 10.0 * uA).unwrap();
///     exact.update_q(&clock, 10.0 * uA).unwrap();
///     clock.advance();
/// }
/// let (a, b) = (fast.state("n").unwrap(), exact.state("n").unwrap());
/// assert!(a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() < 1e-4));
/// ```
#[doc(alias = "HH")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Hh;

impl NeuronModel for Hh {
    crate::engine::kernel::builtin_kernels!(Hh);
    const NAME: &'static str = "HH";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &[
        ParamSpec::new("ENa", Dim::VOLTAGE, 50.0, Check::Finite),
        ParamSpec::new("gNa", Dim::CONDUCTANCE, 0.12, Check::NonNegative),
        ParamSpec::new("EK", Dim::VOLTAGE, -77.0, Check::Finite),
        ParamSpec::new("gK", Dim::CONDUCTANCE, 0.036, Check::NonNegative),
        ParamSpec::new("EL", Dim::VOLTAGE, -54.387, Check::Finite),
        ParamSpec::new("gL", Dim::CONDUCTANCE, 0.03e-3, Check::NonNegative),
        ParamSpec::new("V_th", Dim::VOLTAGE, 20.0, Check::Finite),
        ParamSpec::new("C", Dim::CAPACITANCE, 1e-3, Check::Positive),
    ];
    const STATES: &'static [StateSpec] = &[
        StateSpec::new("V", Dim::VOLTAGE, "mV", InitSpec::Uniform(-70.0, -60.0), Some("V_initializer")),
        StateSpec::new("m", Dim::ONE, "1", InitSpec::Derived, Some("m_initializer")),
        StateSpec::new("h", Dim::ONE, "1", InitSpec::Derived, Some("h_initializer")),
        StateSpec::new("n", Dim::ONE, "1", InitSpec::Derived, Some("n_initializer")),
    ];
    type Input = dim::I;
    const INPUT_UNIT: &'static str = "uA";
    const N_HOIST: usize = 1;

    fn validate(&self, p: &[f64]) -> crate::Result<()> {
        super::distinct(Self::NAME, "V_th", p[6], 0.0, "0")
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], _dt: S, h: &mut [S]) {
        h[0] = S::lit(1.0) / p[7];
    }
    fn derive_init(&self, _p: &[f64], s: &mut [f64], explicit: &[bool]) {
        let r = hh_rates(s[0]);
        for k in 0..3 {
            if !explicit[k + 1] {
                s[k + 1] = r[2 * k] / (r[2 * k] + r[2 * k + 1]);
            }
        }
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        unpack!(c.p; e_na, g_na, e_k, g_k, e_l, g_l, v_th);
        let (last_v, m, h, n) = (s[0], s[1], s[2], s[3]);
        let g_na_eff = g_na * m * m * m * h;
        let g_k_eff = g_k * (n * n) * (n * n);
        let inv_c = c.h[0];
        let v = membrane(c, last_v, [(g_na_eff, e_na), (g_k_eff, e_k), (g_l, e_l)], x, inv_c);
        let [m1, h1, n1] = match c.table {
            Some(t) => last_v.tabulated(
                t,
                #[inline(always)]
                |[bm, em, bh, eh, bn, en]| [m + em.mul_add(m, bm), h + eh.mul_add(h, bh), n + en.mul_add(n, bn)],
                #[inline(always)]
                || hh_gates(c, last_v, m, h, n),
            ),
            None => hh_gates(c, last_v, m, h, n),
        };
        s[0] = v;
        s[1] = m1;
        s[2] = h1;
        s[3] = n1;
        rising_edge(c, v, last_v, v_th)
    }
    fn gate_table(&self, _p: &[f64], dt_ms: f64) -> Option<GateTable> {
        GateTable::fit(|v| gate_propagators(hh_rates_f64(v), 1.0, dt_ms), -64.0, -172.0)
    }
}

setters!(Hh {
    e_na: Voltage => "ENa", g_na: Conductance => "gNa", e_k: Voltage => "EK", g_k: Conductance => "gK",
    e_l: Voltage => "EL", g_l: Conductance => "gL", v_th: Voltage => "V_th", c: Capacitance => "C",
});

/// Morris–Lecar neuron, BrainPy's `MorrisLecar`.
///
/// ```text
/// C·dV/dt = −g_Ca·M_∞·(V − V_Ca) − g_K·W·(V − V_K) − g_leak·(V − V_leak) + I
/// dW/dt = (W_∞ − W)/τ_W
/// ```
///
/// with M∞ = ½(1 + tanh((V − V1)/V2)), W∞ = ½(1 + tanh((V − V3)/V4)),
/// τ_W = 1/(φ cosh((V − V3)/(2V4))), all at the previous V.
///
/// | parameter | unit | default |
/// |---|---|---|
/// | `V_Ca`, `g_Ca` | mV, mS | 130, 4.4 |
/// | `V_K`, `g_K` | mV, mS | −84, 8 |
/// | `V_leak`, `g_leak` | mV, mS | −60, 2 |
/// | `C` | µF | 20 |
/// | `V1`, `V2`, `V3`, `V4` | mV | −1.2, 18, 2, 30 |
/// | `phi` | 1/ms | 0.04 |
/// | `V_th` | mV | 10 |
/// | `V_initializer`, `W_initializer` | mV, 1 | **Uniform(−70, −60)**, Constant(0.02) |
///
/// States: `V` (mV), `W`. Input: µA. Rising-edge spikes, no reset.
#[derive(Debug, Clone, Copy, Default)]
pub struct MorrisLecar;

impl NeuronModel for MorrisLecar {
    crate::engine::kernel::builtin_kernels!(MorrisLecar);
    const NAME: &'static str = "MorrisLecar";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &[
        ParamSpec::new("V_Ca", Dim::VOLTAGE, 130.0, Check::Finite),
        ParamSpec::new("g_Ca", Dim::CONDUCTANCE, 4.4e-3, Check::NonNegative),
        ParamSpec::new("V_K", Dim::VOLTAGE, -84.0, Check::Finite),
        ParamSpec::new("g_K", Dim::CONDUCTANCE, 8e-3, Check::NonNegative),
        ParamSpec::new("V_leak", Dim::VOLTAGE, -60.0, Check::Finite),
        ParamSpec::new("g_leak", Dim::CONDUCTANCE, 2e-3, Check::NonNegative),
        ParamSpec::new("C", Dim::CAPACITANCE, 20e-3, Check::Positive),
        ParamSpec::new("V1", Dim::VOLTAGE, -1.2, Check::Finite),
        ParamSpec::new("V2", Dim::VOLTAGE, 18.0, Check::Finite),
        ParamSpec::new("V3", Dim::VOLTAGE, 2.0, Check::Finite),
        ParamSpec::new("V4", Dim::VOLTAGE, 30.0, Check::Finite),
        ParamSpec::new("phi", Dim::FREQUENCY, 0.04, Check::Positive),
        ParamSpec::new("V_th", Dim::VOLTAGE, 10.0, Check::Finite),
    ];
    const STATES: &'static [StateSpec] = &[
        StateSpec::new("V", Dim::VOLTAGE, "mV", InitSpec::Uniform(-70.0, -60.0), Some("V_initializer")),
        StateSpec::new("W", Dim::ONE, "1", InitSpec::Constant(0.02), Some("W_initializer")),
    ];
    type Input = dim::I;
    const INPUT_UNIT: &'static str = "uA";
    const N_HOIST: usize = 4;

    fn validate(&self, p: &[f64]) -> crate::Result<()> {
        super::distinct(Self::NAME, "V_th", p[12], 0.0, "0")?;
        super::distinct(Self::NAME, "V2", p[8], 0.0, "0")?;
        super::distinct(Self::NAME, "V4", p[10], 0.0, "0")
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], _dt: S, h: &mut [S]) {
        h[0] = S::lit(1.0) / p[6];
        h[1] = S::lit(1.0) / p[8];
        h[2] = S::lit(1.0) / p[10];
        h[3] = S::lit(1.0) / (S::lit(2.0) * p[10]);
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        unpack!(c.p; v_ca, g_ca, v_k, g_k, v_leak, g_leak, _cap, v1, _v2, v3, _v4, phi, v_th);
        let (last_v, last_w) = (s[0], s[1]);
        let half = S::lit(0.5);
        // divisions by V2, V4 and 2·V4 as multiplications by hoisted reciprocals (within 1 ulp)
        let m_inf = half * (S::lit(1.0) + ((last_v - v1) * c.h[1]).tanh());
        let w_inf = half * (S::lit(1.0) + ((last_v - v3) * c.h[2]).tanh());
        // 1/τ_W: the W equation is linear, dW/dt = (W∞ − W)/τ_W
        let inv_tau_w = phi * ((last_v - v3) * c.h[3]).cosh();
        let v = membrane(c, last_v, [(g_ca * m_inf, v_ca), (g_k * last_w, v_k), (g_leak, v_leak)], x, c.h[0]);
        s[0] = v;
        s[1] = c.ee_linear(last_w, w_inf * inv_tau_w, inv_tau_w);
        rising_edge(c, v, last_v, v_th)
    }
}

setters!(MorrisLecar {
    v_ca: Voltage => "V_Ca", g_ca: Conductance => "g_Ca", v_k: Voltage => "V_K", g_k: Conductance => "g_K",
    v_leak: Voltage => "V_leak", g_leak: Conductance => "g_leak", c: Capacitance => "C", v1: Voltage => "V1",
    v2: Voltage => "V2", v3: Voltage => "V3", v4: Voltage => "V4", phi: Frequency => "phi", v_th: Voltage => "V_th",
});

/// Wang–Buzsáki fast-spiking interneuron, BrainPy's `WangBuzsakiHH`.
///
/// HH-type with an instantaneous sodium activation m∞ = α/(α + β)
/// (α = 0.1(V+35)/(1 − e^{−0.1(V+35)}), β = 4e^{−(V+60)/18}) and gates h, n scaled by φ:
/// αh = 0.07e^{−(V+58)/20}, βh = 1/(e^{−0.1(V+28)} + 1), αn = 0.01(V+34)/(1 − e^{−0.1(V+34)}),
/// βn = 0.125e^{−(V+44)/80}.
///
/// | parameter | unit | default |
/// |---|---|---|
/// | `ENa`, `gNa` | mV, mS | 55, 35 |
/// | `EK`, `gK` | mV, mS | −90, 9 |
/// | `EL`, `gL` | mV, mS | −65, 0.1 |
/// | `V_th` | mV | 20 |
/// | `phi` | 1 | 5 |
/// | `C` | µF | 1 |
/// | `V_initializer`, `h_initializer`, `n_initializer` | mV, 1, 1 | −65, 0.6, 0.32 |
///
/// States: `V` (mV), `h`, `n`. Input: µA.
#[doc(alias = "WangBuzsakiHH")]
#[derive(Debug, Clone, Copy, Default)]
pub struct WangBuzsakiHh;

impl NeuronModel for WangBuzsakiHh {
    crate::engine::kernel::builtin_kernels!(WangBuzsakiHh);
    const NAME: &'static str = "WangBuzsakiHH";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as every concrete BrainPy model
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &[
        ParamSpec::new("ENa", Dim::VOLTAGE, 55.0, Check::Finite),
        ParamSpec::new("gNa", Dim::CONDUCTANCE, 35e-3, Check::NonNegative),
        ParamSpec::new("EK", Dim::VOLTAGE, -90.0, Check::Finite),
        ParamSpec::new("gK", Dim::CONDUCTANCE, 9e-3, Check::NonNegative),
        ParamSpec::new("EL", Dim::VOLTAGE, -65.0, Check::Finite),
        ParamSpec::new("gL", Dim::CONDUCTANCE, 0.1e-3, Check::NonNegative),
        ParamSpec::new("V_th", Dim::VOLTAGE, 20.0, Check::Finite),
        ParamSpec::new("phi", Dim::ONE, 5.0, Check::Finite),
        ParamSpec::new("C", Dim::CAPACITANCE, 1e-3, Check::Positive),
    ];
    const STATES: &'static [StateSpec] = &[
        StateSpec::new("V", Dim::VOLTAGE, "mV", InitSpec::Constant(-65.0), Some("V_initializer")),
        StateSpec::new("h", Dim::ONE, "1", InitSpec::Constant(0.6), Some("h_initializer")),
        StateSpec::new("n", Dim::ONE, "1", InitSpec::Constant(0.32), Some("n_initializer")),
    ];
    type Input = dim::I;
    const INPUT_UNIT: &'static str = "uA";
    const N_HOIST: usize = 1;

    fn validate(&self, p: &[f64]) -> crate::Result<()> {
        super::distinct(Self::NAME, "V_th", p[6], 0.0, "0")
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], _dt: S, h: &mut [S]) {
        h[0] = S::lit(1.0) / p[8];
    }
    #[inline(always)]
    fn step<S: Scalar>(&self, c: &Step<'_, S>, s: &mut [S], x: S) -> S {
        self.step_drive(c, s, x)
    }
    #[inline(always)]
    fn step_drive<S: Scalar, X: Drive<S>>(&self, c: &Step<'_, S>, s: &mut [S], x: X) -> S {
        unpack!(c.p; e_na, g_na, e_k, g_k, e_l, g_l, v_th, phi);
        let (last_v, h, n) = (s[0], s[1], s[2]);
        let [am, bm, ah, bh, an, bn] = wb_rates(last_v);
        let m_inf = am * (am + bm).recip();
        let g_na_eff = g_na * m_inf * m_inf * m_inf * h;
        let g_k_eff = g_k * (n * n) * (n * n);
        let v = membrane(c, last_v, [(g_na_eff, e_na), (g_k_eff, e_k), (g_l, e_l)], x, c.h[0]);
        s[0] = v;
        s[1] = gate(c, h, ah, bh, phi);
        s[2] = gate(c, n, an, bn, phi);
        rising_edge(c, v, last_v, v_th)
    }
}

setters!(WangBuzsakiHh {
    e_na: Voltage => "ENa", g_na: Conductance => "gNa", e_k: Voltage => "EK", g_k: Conductance => "gK",
    e_l: Voltage => "EL", g_l: Conductance => "gL", v_th: Voltage => "V_th", c: Capacitance => "C",
});

#[cfg(test)]
mod tests {
    use super::{gate, gate_propagators, hh_rates, hh_rates_f64, wb_rates, Hh};
    use crate::dynamics::{NeuronModel, SpikeReset, Step, MAX_HOIST, MAX_PARAMS};
    use crate::surrogate::Surrogate;

    /// The table's gate step `x + (B + E·x)` in f32 against the exact step in f64, beside the
    /// exact f32 step (BrainPy's form on the f32 rates), for every gate, at voltages across the
    /// table's range every 0.0371 mV and gate values across [0, 1]. Measured (2026-11-27): the
    /// table's worst absolute error is 1.1–1.4e-7, the exact f32 step's 1.6–2.3e-7. The table
    /// covers −116…+140 mV at dt = 0.1 ms; at dt = 2 ms rest itself fails the fit and there is
    /// no table.
    #[test]
    fn tabulated_gate_steps_match_f64() {
        let sg = Surrogate::default();
        let (p, h) = ([0.0f32; MAX_PARAMS], [0.0f32; MAX_HOIST]);
        for (dt, min_lo, min_hi) in [
            (0.01f64, -140.0, 100.0),
            (0.025, -130.0, 120.0),
            (0.05, -120.0, 130.0),
            (0.1, -110.0, 135.0),
            (0.2, -100.0, 150.0),
            (0.5, -76.0, 150.0),
            (1.0, -68.0, 150.0),
        ] {
            let t = Hh.gate_table(&[], dt).unwrap();
            let (lo, hi) = t.range();
            assert!(lo <= min_lo && hi >= min_hi && hi - lo <= 256.0, "dt {dt}: ({lo}, {hi})");
            let c = Step { p: &p, h: &h, dt: dt as f32, t: 0.0, reset: SpikeReset::Soft, sg: &sg, table: None };
            let (mut worst_tab, mut worst_exact) = (0f64, 0f64);
            let mut v = lo + 0.001;
            while v < hi {
                let tab = t.eval(v).unwrap();
                let r32 = hh_rates(v);
                let want = gate_propagators(hh_rates_f64(v as f64), 1.0, dt);
                for x in [0.0f32, 1e-3, 0.05, 0.3, 0.6, 0.97, 1.0] {
                    for g in 0..3 {
                        let w = x as f64 + (want[2 * g] + want[2 * g + 1] * x as f64);
                        let got = x + tab[2 * g + 1].mul_add(x, tab[2 * g]);
                        let exact = gate(&c, x, r32[2 * g], r32[2 * g + 1], 1.0);
                        worst_tab = worst_tab.max((got as f64 - w).abs());
                        worst_exact = worst_exact.max((exact as f64 - w).abs());
                    }
                }
                v += 0.0371;
            }
            assert!(worst_tab < 1.6e-7 && worst_tab < worst_exact, "dt {dt}: table {worst_tab:e}, exact f32 {worst_exact:e}");
        }
        assert!(Hh.gate_table(&[], 2.0).is_none());
    }

    /// `x/(1 − e^{−x/10})`, 10 at x = 0.
    fn ratio(x: f64) -> f64 {
        if x == 0.0 {
            10.0
        } else {
            x / -(-x / 10.0).exp_m1()
        }
    }

    /// BrainPy's HH rate functions, directly, in f64 ([`hh_rates_f64`], what the gate table
    /// fits), and each one's exponent `|z|`.
    fn hh_direct(v: f64) -> [(f64, f64); 6] {
        let z = [(v + 40.0) / 10.0, (v + 65.0) / 18.0, (v + 65.0) / 20.0, (v + 35.0) / 10.0, (v + 55.0) / 10.0, (v + 65.0) / 80.0];
        let r = hh_rates_f64(v);
        std::array::from_fn(|k| (r[k], z[k]))
    }

    /// The same for Wang–Buzsáki's rates (before φ).
    fn wb_direct(v: f64) -> [(f64, f64); 6] {
        [
            (0.1 * ratio(v + 35.0), (v + 35.0) / 10.0),
            (4.0 * (-(v + 60.0) / 18.0).exp(), (v + 60.0) / 18.0),
            (0.07 * (-(v + 58.0) / 20.0).exp(), (v + 58.0) / 20.0),
            (1.0 / (1.0 + (-(v + 28.0) / 10.0).exp()), (v + 28.0) / 10.0),
            (0.01 * ratio(v + 34.0), (v + 34.0) / 10.0),
            (0.125 * (-(v + 44.0) / 80.0).exp(), (v + 44.0) / 80.0),
        ]
    }

    fn voltages() -> Vec<f32> {
        // −600 … +150 mV every 0.01 mV, the removable singularities and their neighbours, and
        // the ends of the range where the batched reciprocal hands over (−440 mV) and overflows
        let mut vs: Vec<f32> = (0..=75_000).map(|i| -600.0 + 0.01 * i as f32).collect();
        for c in [-40.0f32, -55.0, -35.0, -34.0, -440.0, -435.0, -480.0, -30.0, -50.0, -45.0, -65.0] {
            let mut x = c;
            for _ in 0..20 {
                vs.extend([x, -x.abs() - (c.abs() - x.abs()).abs()]);
                x = f32::from_bits(x.to_bits() + 1);
            }
        }
        vs.extend([-900.0, -1000.0, -2000.0, 1000.0]);
        vs
    }

    /// Every rate within 12 ulp (1.5e-6 relative: the shared exponentials and the batched
    /// reciprocal together) of the exact value at the same f32 voltage, plus the f32 rounding of
    /// its exponent's argument `z` (about 1.5 ulp of z, which moves e^z by |z|·2^-23 relative:
    /// BrainPy's float32 evaluation has the same), wherever the exact value is a normal f32;
    /// rates that underflow in f32 stay below 1e-36.
    fn check_rates(name: &str, rates: fn(f32) -> [f32; 6], direct: fn(f64) -> [(f64, f64); 6]) {
        let mut worst = [0.0f64; 6];
        for v in voltages() {
            let got = rates(v);
            let want = direct(v as f64);
            for k in 0..6 {
                let (g, (w, z)) = (got[k] as f64, want[k]);
                if w.abs() < f32::MIN_POSITIVE as f64 {
                    assert!(g.abs() < 1e-36, "{name} rate {k} at V={v}: {g} vs {w}");
                    continue;
                }
                if w > f32::MAX as f64 {
                    assert!(g.is_infinite(), "{name} rate {k} at V={v}: {g} vs {w}");
                    continue;
                }
                let rel = ((g - w) / w).abs();
                worst[k] = worst[k].max(rel);
                let tol = 1.5e-6 + 2.0 * z.abs() * f32::EPSILON as f64;
                assert!(rel < tol, "{name} rate {k} at V={v}: {g} vs {w} (rel {rel:e})");
            }
        }
        // the comparison is not vacuous: every rate was checked on its whole range
        assert!(worst.iter().all(|&w| w > 0.0), "{name}: {worst:?}");
    }

    #[test]
    fn rates_match_direct_evaluation() {
        check_rates("HH", hh_rates::<f32>, hh_direct);
        check_rates("WangBuzsakiHH", wb_rates::<f32>, wb_direct);
    }

    #[cfg(target_arch = "x86_64")]
    struct VectorRates<'a>(bool, &'a [f32; crate::dynamics::simd::MAX_LANES]);
    #[cfg(target_arch = "x86_64")]
    impl crate::dynamics::simd::VecFn for VectorRates<'_> {
        type Out = [[f32; crate::dynamics::simd::MAX_LANES]; 6];
        #[inline(always)]
        fn call<V: crate::dynamics::simd::VecF32>(self) -> Self::Out {
            // SAFETY: MAX_LANES values
            let v = unsafe { V::load(self.1.as_ptr(), V::LANES) };
            let r = if self.0 { wb_rates(v) } else { hh_rates(v) };
            r.map(V::lanes)
        }
    }

    /// On every vector back end this CPU has, the vector kernel's rates are the scalar kernel's
    /// bit for bit, whether all lanes take the batched reciprocal, none does (all below
    /// −440 mV) or they are mixed.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_rates_equal_scalar_bit_for_bit() {
        use crate::dynamics::simd::{available, with_vector, Backend, MAX_LANES};
        let vs = voltages();
        let mut mixed: Vec<f32> = Vec::new();
        for (i, &v) in vs.iter().enumerate().step_by(97) {
            mixed.push(if i % 3 == 0 { -450.0 - (i % 50) as f32 } else { v });
        }
        for wb in [false, true] {
            let scalar: fn(f32) -> [f32; 6] = if wb { wb_rates::<f32> } else { hh_rates::<f32> };
            for (b, set) in available().into_iter().filter(|&b| b != Backend::Scalar).flat_map(|b| [(b, &vs), (b, &mixed)]) {
                for chunk in set.chunks(b.lanes()) {
                    let mut x = [-65.0f32; MAX_LANES];
                    x[..chunk.len()].copy_from_slice(chunk);
                    let vec = with_vector(b, VectorRates(wb, &x)).unwrap();
                    for (l, &v) in x[..b.lanes()].iter().enumerate() {
                        let s = scalar(v);
                        for k in 0..6 {
                            assert_eq!(vec[k][l].to_bits(), s[k].to_bits(), "{b}: wb={wb} rate {k} at V={v}: {} vs {}", vec[k][l], s[k]);
                        }
                    }
                }
            }
        }
    }
}
