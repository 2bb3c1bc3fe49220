//! [`TraubHh`]: the Traub–Miles Hodgkin–Huxley point neuron of Brette et al. (2007), benchmark 3
//! ("COBA-HH"), as BrainPy's COBA-HH example writes it (brainpy.state has no class for it: the
//! example defines its own `HH`).
//!
//! Written with the machinery of the HH family ([`super::Hh`]): the rates and conductances are
//! evaluated at the previous V; V is integrated by exponential Euler with the drive inside its
//! right-hand side (a conductance input enters the Jacobian); each gate by exponential Euler
//! for its linear equation. (Unlike HH it has no gate table: its rates vary on a 4 mV scale, too
//! fast for [`crate::dynamics::GateTable`]'s degree-5 pieces on 8 mV near rest.) The spike is the rising edge of
//! V through `V_th = −20 mV`, BrainPy's `logical_and(last_V < V_th, V >= V_th)`.
//!
//! References: Traub & Miles, *Neuronal Networks of the Hippocampus* (1991); Brette et al.,
//! *J. Comput. Neurosci.* 23 (2007), benchmark 3; NEST's `hh_cond_exp_traub`.
//!
//! ```
//! use somata::prelude::*;
//! let mut n = TraubHh::builder(4).build().unwrap();   // V = −65 mV, gates at steady state
//! n.init_state(None).unwrap();
//! let mut clock = Clock::new(0.01 * ms).unwrap();
//! let mut spikes = 0.0;
//! for _ in 0..10_000 {                                  // 100 ms at 1 nA
//!     spikes += n.update_q(&clock, 1.0 * nA).unwrap().sum();
//!     clock.advance();
//! }
//! assert!(spikes > 4.0 * 5.0, "{spikes}");              // tonic firing, every neuron
//! ```

use super::hh::{inv_exprel_with, membrane};
use super::{setters, unpack};
use crate::dynamics::{Check, Drive, InitSpec, NeuronModel, ParamSpec, Scalar, StateSpec, Step};
use crate::units::{dim, Capacitance, Conductance, Dim, Voltage};

/// The membrane area of Brette et al.'s neuron, cm² (20,000 µm²).
const AREA_CM2: f64 = 2e-4;

/// Traub–Miles rates at `v` (mV) for threshold offset `vt` (mV), in 1/ms:
/// (αm, βm, αh, βh, αn, βn).
///
/// Five exponentials and one reciprocal: with `u = VT − V`, `z_m = (u + 13)/4`,
/// `z_b = −(u + 40)/5` and `z_n = (u + 15)/5 = −z_b − 5`, the exponential `e^{−z_b}` serves βh
/// and (times `e^{−5}`) αn; each `z/(e^z − 1)` is the Bernoulli series of [`super::hh`] for |z| < 1 (through the
/// removable singularity) and `z·1/(e^z − 1)` otherwise; the four reciprocals `1/(e^{z_m} − 1)`,
/// `1/(e^{z_b} − 1)`, `1/(1 + e^{−z_b})` and `1/(e^{z_n} − 1)` come from one ([`batched_inverses`]).
/// Each rate is within a few ulp of the f64 formula, plus the f32 rounding of its exponent's
/// argument (`tests::rates_match_f64_formulas`).
#[inline(always)]
fn traub_rates<S: Scalar>(v: S, vt: S) -> [S; 6] {
    let l = S::lit;
    let u = vt - v; // VT − V
    let z_m = (u + l(13.0)) * l(0.25); // (13 − V + VT)/4
    let z_b = (u + l(40.0)) * l(-0.2); // (V − VT − 40)/5
    let z_n = (u + l(15.0)) * l(0.2); // (15 − V + VT)/5
    let e_m = z_m.exp();
    let e_b = z_b.exp();
    let e_nb = (-z_b).exp();
    let e_n = e_nb * l((-5.0f64).exp());
    let [inv_m, inv_b, inv_h, inv_n] = batched_inverses(u, [(z_m, e_m), (z_b, e_b), (z_n, e_n)], e_nb);
    [
        l(1.28) * inv_exprel_with(z_m, inv_m),
        l(1.4) * inv_exprel_with(z_b, inv_b),
        l(0.128) * ((u + l(17.0)) * l(1.0 / 18.0)).exp(),
        l(4.0) * inv_h,
        l(0.16) * inv_exprel_with(z_n, inv_n),
        l(0.5) * ((u + l(10.0)) * l(0.025)).exp(),
    ]
}

/// `[1/(e_m − 1), 1/(e_b − 1), 1/(1 + e_nb), 1/(e_n − 1)]` for the exponentials `(z, e^z)` of
/// [`traub_rates`], with one reciprocal instead of four (a vector reciprocal costs about fourteen
/// instructions): with `a`, `b`, `d` the three `e − 1` (1 where |z| < 1: the series replaces
/// `z/(e − 1)` there) and `c = 2^-64·(1 + e_nb)` (scaled exactly, so that the product stays in
/// range) and `r = 1/(a·b·c·d)`, they are `r·b·cd`, `r·a·cd`, `2^-64·r·ab·d` and `r·ab·c`.
/// The product stays finite for −440 < u < 150 (V between VT − 150 and VT + 440 mV); a vector
/// whose lanes all lie there takes only this form ([`Scalar::fast_when_all_lt`]), otherwise each
/// lane outside takes its four reciprocals one by one (the same bits wherever both apply).
#[inline(always)]
fn batched_inverses<S: Scalar>(u: S, ez: [(S, S); 3], e_nb: S) -> [S; 4] {
    let l = S::lit;
    // (no array `map`/`from_fn` with closures here: the vector kernel needs every call inlined)
    let [(z_m, e_m), (z_b, e_b), (z_n, e_n)] = ez;
    let a = S::select_lt(z_m.abs(), l(1.0), l(1.0), e_m - l(1.0));
    let b = S::select_lt(z_b.abs(), l(1.0), l(1.0), e_b - l(1.0));
    let d = S::select_lt(z_n.abs(), l(1.0), l(1.0), e_n - l(1.0));
    let span = (u + l(145.0)).abs(); // < 295 ⇔ −440 < u < 150
    S::fast_when_all_lt(
        span,
        l(295.0),
        #[inline(always)]
        || batched(a, b, d, e_nb),
        #[inline(always)]
        || {
            let [fa, fb, fc, fd] = batched(a, b, d, e_nb);
            let lim = l(295.0);
            [
                S::select_lt(span, lim, fa, a.recip()),
                S::select_lt(span, lim, fb, b.recip()),
                S::select_lt(span, lim, fc, (l(1.0) + e_nb).recip()),
                S::select_lt(span, lim, fd, d.recip()),
            ]
        },
    )
}

/// The batched form of [`batched_inverses`] (finite for −440 < u < 150).
#[inline(always)]
fn batched<S: Scalar>(a: S, b: S, d: S, e_nb: S) -> [S; 4] {
    let l = S::lit;
    const TWO_M64: f64 = 1.0 / 18_446_744_073_709_551_616.0;
    let c = e_nb.mul_add(l(TWO_M64), l(TWO_M64));
    let (ab, cd) = (a * b, c * d);
    let r = (ab * cd).recip();
    let (rcd, rab) = (r * cd, r * ab);
    [rcd * b, rcd * a, (rab * d) * l(TWO_M64), rab * c]
}

/// `x/(eˣ − 1)` in f64 (1 at 0).
fn x_over_expm1(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        x / x.exp_m1()
    }
}

/// The rates in f64, directly from the formulas (the steady state of the initial gates).
fn traub_rates_f64(v: f64, vt: f64) -> [f64; 6] {
    [
        0.32 * 4.0 * x_over_expm1((13.0 - v + vt) / 4.0),
        0.28 * 5.0 * x_over_expm1((v - vt - 40.0) / 5.0),
        0.128 * ((17.0 - v + vt) / 18.0).exp(),
        4.0 / (1.0 + (-(v - vt - 40.0) / 5.0).exp()),
        0.032 * 5.0 * x_over_expm1((15.0 - v + vt) / 5.0),
        0.5 * ((10.0 - v + vt) / 40.0).exp(),
    ]
}

/// Exponential-Euler step of a gate `dx/dt = α(1 − x) − βx` (linear in x).
#[inline(always)]
fn gate<S: Scalar>(c: &Step<'_, S>, x: S, alpha: S, beta: S) -> S {
    c.ee_linear(x, alpha, alpha + beta)
}

/// The gates after one exponential-Euler step, with the rates at `v`.
#[inline(always)]
fn traub_gates<S: Scalar>(c: &Step<'_, S>, v: S, vt: S, m: S, h: S, n: S) -> [S; 3] {
    let [am, bm, ah, bh, an, bn] = traub_rates(v, vt);
    [gate(c, m, am, bm), gate(c, h, ah, bh), gate(c, n, an, bn)]
}

/// Traub–Miles Hodgkin–Huxley neuron of Brette et al. (2007, benchmark 3; BrainPy's COBA-HH
/// example, NEST's `hh_cond_exp_traub`).
///
/// ```text
/// C·dV/dt = g_L·(E_L − V) + g_Na·m³·h·(E_Na − V) + g_Kd·n⁴·(E_K − V) + I
/// dx/dt = α_x(V)·(1 − x) − β_x(V)·x,    x ∈ {m, h, n}
/// ```
///
/// with rates in 1/ms (V, VT in mV):
///
/// ```text
/// α_m = 0.32·(13 − V + VT)/(exp((13 − V + VT)/4) − 1)   β_m = 0.28·(V − VT − 40)/(exp((V − VT − 40)/5) − 1)
/// α_h = 0.128·exp((17 − V + VT)/18)                     β_h = 4/(1 + exp(−(V − VT − 40)/5))
/// α_n = 0.032·(15 − V + VT)/(exp((15 − V + VT)/5) − 1)  β_n = 0.5·exp((10 − V + VT)/40)
/// ```
///
/// the `x/(eˣ − 1)` factors evaluated as `1/exprel(x)` (finite at their removable singularities).
/// The defaults are Brette et al.'s specific values on a membrane of 20,000 µm²
/// ([`TraubHh::AREA_CM2`]):
///
/// | parameter | unit | default | meaning |
/// |---|---|---|---|
/// | `ENa`, `gNa` | mV, µS | 50, 20 (100 mS/cm²) | sodium |
/// | `EK`, `gKd` | mV, µS | −90, 6 (30 mS/cm²) | delayed-rectifier potassium |
/// | `EL`, `gL` | mV, nS | −60, 10 (0.05 mS/cm²) | leak |
/// | `VT` | mV | −63 | offset of the rate functions |
/// | `V_th` | mV | −20 | spike threshold (≠ 0) |
/// | `C` | nF | 0.2 (1 µF/cm²) | capacitance (> 0) |
/// | `V_initializer` | mV | −65 | constant (BrainPy's example draws N(−65, 5) mV: see [`crate::net::models::coba_hh`]) |
/// | `m/h/n_initializer` | 1 | None | steady state α/(α + β) at the initial V |
///
/// Values are stored in canonical units (mV, S, mF, mA): `gNa` is 2e-5 S, `C` 2e-7 mF. The
/// input is a current read in **nA** ([`NeuronModel::INPUT_UNIT`]): `update(&clock, 0.5)` is
/// 0.5 nA; typed quantities (`0.5 * nA`) in any unit.
///
/// With the defaults and no input the neuron fires tonically, at about 14 Hz (its sodium window
/// current at E_L outweighs the leak); it is silent below about −0.05 nA and fires at 76 Hz at
/// 0.5 nA (dt 0.1 ms).
///
/// Update order (as HH): conductances from the old gates; V by exponential Euler with the input
/// at the old V (a network's conductance drive inside the right-hand side); then m, h, n with
/// rates at the old V. Spike: `V_last < V_th ≤ V` (rising edge; the surrogate sees
/// `(V − V_th)/|V_th|`); no reset. States: `V` (mV), `m`, `h`, `n`.
///
/// **Note on BrainPy's example.** Its leak is written `5 nS/cm² · area` (1 pS), where Brette
/// et al., Brian's COBAHH and NEST use 5e-5 S/cm² (10 nS): the default here is 10 nS. The
/// example also starts its gates at 0 (done by [`crate::net::models::coba_hh`]), not at steady
/// state.
///
/// ```
/// use somata::prelude::*;
/// let n = TraubHh::builder(1).build().unwrap();
/// assert!((n.param_in("gL", nS).unwrap() - 10.0).abs() < 1e-9);
/// assert!((n.param_in("C", nF).unwrap() - 0.2).abs() < 1e-9);
/// let mut n = TraubHh::builder(1).g_kd(0.0 * uS).v_th(-30.0 * mV).build().unwrap();
/// n.init_state(None).unwrap();
/// assert!((n.state_in("V", mV).unwrap()[[0]] + 65.0).abs() < 1e-6);
/// ```
#[doc(alias = "TraubHH")]
#[doc(alias = "hh_cond_exp_traub")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TraubHh;

impl NeuronModel for TraubHh {
    crate::engine::kernel::builtin_kernels!(TraubHh);
    const NAME: &'static str = "TraubHH";
    fn default_spk_fun() -> crate::surrogate::Surrogate {
        crate::surrogate::Surrogate::default() // ReluGrad(), as the other built-in models
    }
    const VECTOR: bool = true;
    const PARAMS: &'static [ParamSpec] = &[
        ParamSpec::new("ENa", Dim::VOLTAGE, 50.0, Check::Finite),
        ParamSpec::new("gNa", Dim::CONDUCTANCE, 100e-3 * AREA_CM2, Check::NonNegative),
        ParamSpec::new("EK", Dim::VOLTAGE, -90.0, Check::Finite),
        ParamSpec::new("gKd", Dim::CONDUCTANCE, 30e-3 * AREA_CM2, Check::NonNegative),
        ParamSpec::new("EL", Dim::VOLTAGE, -60.0, Check::Finite),
        ParamSpec::new("gL", Dim::CONDUCTANCE, 5e-5 * AREA_CM2, Check::NonNegative),
        ParamSpec::new("VT", Dim::VOLTAGE, -63.0, Check::Finite),
        ParamSpec::new("V_th", Dim::VOLTAGE, -20.0, Check::Finite),
        // 1 µF/cm² = 1e-3 mF/cm²
        ParamSpec::new("C", Dim::CAPACITANCE, 1e-3 * AREA_CM2, Check::Positive),
    ];
    const STATES: &'static [StateSpec] = &[
        StateSpec::new("V", Dim::VOLTAGE, "mV", InitSpec::Constant(-65.0), Some("V_initializer")),
        StateSpec::new("m", Dim::ONE, "1", InitSpec::Derived, Some("m_initializer")),
        StateSpec::new("h", Dim::ONE, "1", InitSpec::Derived, Some("h_initializer")),
        StateSpec::new("n", Dim::ONE, "1", InitSpec::Derived, Some("n_initializer")),
    ];
    type Input = dim::I;
    const INPUT_UNIT: &'static str = "nA";
    const N_HOIST: usize = 2;

    fn validate(&self, p: &[f64]) -> crate::Result<()> {
        super::distinct(Self::NAME, "V_th", p[7], 0.0, "0")
    }
    #[inline(always)]
    fn hoist<S: Scalar>(&self, p: &[S], _dt: S, h: &mut [S]) {
        h[0] = S::lit(1.0) / p[8];
        h[1] = S::lit(1.0) / p[7].abs();
    }
    fn derive_init(&self, p: &[f64], s: &mut [f64], explicit: &[bool]) {
        let r = traub_rates_f64(s[0], p[6]);
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
        unpack!(c.p; e_na, g_na, e_k, g_kd, e_l, g_l, vt, v_th);
        let (last_v, m, h, n) = (s[0], s[1], s[2], s[3]);
        let g_na_eff = g_na * m * m * m * h;
        let g_k_eff = g_kd * (n * n) * (n * n);
        let v = membrane(c, last_v, [(g_na_eff, e_na), (g_k_eff, e_k), (g_l, e_l)], x, c.h[0]);
        let [m1, h1, n1] = traub_gates(c, last_v, vt, m, h, n);
        s[0] = v;
        s[1] = m1;
        s[2] = h1;
        s[3] = n1;
        // rising edge, BrainPy's `last_V < V_th & V >= V_th`, scaled by 1/|V_th| (positive)
        let inv = c.h[1];
        c.spike((v - v_th) * inv) * (S::lit(1.0) - c.spike((last_v - v_th) * inv))
    }
}

impl TraubHh {
    /// The membrane area of Brette et al.'s neuron, cm² (20,000 µm²): the specific values
    /// (µF/cm², mS/cm²) times this give the defaults.
    pub const AREA_CM2: f64 = AREA_CM2;
}

setters!(TraubHh {
    e_na: Voltage => "ENa", g_na: Conductance => "gNa", e_k: Voltage => "EK", g_kd: Conductance => "gKd",
    e_l: Voltage => "EL", g_l: Conductance => "gL", vt: Voltage => "VT", v_th: Voltage => "V_th", c: Capacitance => "C",
});

#[cfg(test)]
mod tests {
    use super::{traub_rates, traub_rates_f64};

    /// Every rate in f32 within 12 ulp (1.5e-6 relative) of the f64 formula at the same f32
    /// voltage, plus the f32 rounding of its exponent's argument `z` (which moves e^z by about
    /// |z|·2^-23 relative, as in BrainPy's float32 evaluation), from −600 to +500 mV (both the
    /// batched and the lane-by-lane reciprocals) and around the removable singularities.
    #[test]
    fn rates_match_f64_formulas() {
        let vt = -63.0f32;
        let mut vs: Vec<f32> = (0..=110_000).map(|i| -600.0 + 0.01 * i as f32).collect();
        for c in [-50.0f32, -23.0, -48.0, -213.0, -210.0, 377.0] {
            let mut x = c;
            for _ in 0..20 {
                vs.extend([x, 2.0 * c - x]);
                x = f32::from_bits(x.to_bits() + 1);
            }
        }
        let mut worst = [0.0f64; 6];
        for v in vs {
            let got = traub_rates(v, vt);
            let want = traub_rates_f64(v as f64, vt as f64);
            let u = (vt - v) as f64;
            let z = [(u + 13.0) / 4.0, (u + 40.0) / 5.0, (u + 17.0) / 18.0, (u + 40.0) / 5.0, (u + 15.0) / 5.0, (u + 10.0) / 40.0];
            for k in 0..6 {
                let (g, w) = (got[k] as f64, want[k]);
                // near f32's underflow (V hundreds of mV below rest, where e^z overflows f32
                // before z·/(e^z − 1) reaches the normal range) a rate is zero to any use
                if w.abs() < 1e-30 {
                    assert!(g.abs() < 1e-30, "rate {k} at V={v}: {g} vs {w}");
                    continue;
                }
                if w > f32::MAX as f64 {
                    assert!(g.is_infinite(), "rate {k} at V={v}: {g} vs {w}");
                    continue;
                }
                let rel = ((g - w) / w).abs();
                worst[k] = worst[k].max(rel);
                let tol = 1.5e-6 + 2.0 * z[k].abs() * f32::EPSILON as f64;
                assert!(rel < tol, "rate {k} at V={v}: {g} vs {w} (rel {rel:e})");
            }
        }
        assert!(worst.iter().all(|&w| w > 0.0), "{worst:?}");
    }
}
