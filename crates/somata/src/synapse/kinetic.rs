//! Kinetic (transmitter-gated) synapses: `AMPA`, `GABAa`, `BioNMDA`.

use super::{check_finite, check_nonneg, check_pos, unknown_param, SynParam, SynState, Synapse};
use crate::dynamics::Scalar;
use crate::error::Result;
use crate::units::Dim;

const MS: f64 = 1e-3; // 1 mS in canonical S
/// BrainPy's initial `spike_arrival_time` (ms): "never".
const NEVER: f32 = -1e7;

fn check_len(n: usize, input: &[f32]) {
    assert_eq!(input.len(), n, "synapse update: input has {} values, the population {}", input.len(), n);
}

/// The transmitter window of step `i`: records the arrival (`t = f32(i)·f32(dt)`) where the input
/// is nonzero and returns whether `t − arrival < T_dur`, with `t − arrival` evaluated as BrainPy's
/// compiled code does, one fused multiply-add `fma(f32(i), f32(dt), −arrival)` (this decides the
/// ties when `T_dur` is a multiple of `dt`).
#[inline(always)]
fn window(arrival: &mut f32, spike: f32, fi: f32, dt: f32, t: f32, t_dur: f32) -> bool {
    if spike != 0.0 {
        *arrival = t;
    }
    fi.mul_add(dt, -*arrival) < t_dur
}

/// BrainPy's `AMPA` (and, with other defaults, `GABAa`, see [`Ampa::gabaa`]): a kinetic
/// receptor whose open fraction `g` (stored in S, as a fraction of one unit of `g`, 1 mS by
/// default) follows the transmitter concentration `TT`.
///
/// Per step `i` at `t = f32(i)·f32(dt)` with presynaptic input `s` (any nonzero value is a spike):
/// * `spike_arrival_time ← t` where `s ≠ 0`;
/// * `TT = T` if `t − spike_arrival_time < T_dur` else 0 (evaluated as `fma(f32(i), f32(dt), −arrival)`);
/// * `g ← g + dt·exprel(dt·J)·(alpha·TT·(g₁ − g) − beta·g)`, `J = −alpha·TT − beta`, where `g₁`
///   is 1 in `g`'s unit ([`Synapse::set_g_unit`], 1 mS = 0.001 S by default).
///
/// The output is `g` (S).
///
/// Parameters (canonical units), AMPA defaults: `alpha` = 0.98 /(ms·mM), `beta` = 0.18 kHz,
/// `T` = 0.5 mM, `T_dur` = 0.5 ms, `g_initializer` = 0 S. GABAa: `alpha` = 0.53 /(ms·mM),
/// `beta` = 0.18 kHz, `T` = 1 mM, `T_dur` = 1 ms. States `g` (S) and `spike_arrival_time`
/// (ms, initially −1e7).
#[derive(Debug, Clone)]
pub struct Ampa {
    /// Binding rate (1/(ms·mM)), default 0.98 (GABAa 0.53).
    pub alpha: f64,
    /// Unbinding rate (kHz = 1/ms), default 0.18.
    pub beta: f64,
    /// Transmitter concentration during the window (mM), default 0.5 (GABAa 1).
    pub t_conc: f64,
    /// Window duration (ms), default 0.5 (GABAa 1).
    pub t_dur: f64,
    /// Initial conductance (S), default 0.
    pub g_initializer: f64,
    /// One unit of `g` (S): the saturation value, default 1 mS = 0.001.
    pub g_unit: f64,
    model: &'static str,
    g: Vec<f32>,
    arrival: Vec<f32>,
}

impl Default for Ampa {
    fn default() -> Self {
        Ampa {
            alpha: 0.98,
            beta: 0.18,
            t_conc: 0.5,
            t_dur: 0.5,
            g_initializer: 0.0,
            g_unit: MS,
            model: "AMPA",
            g: Vec::new(),
            arrival: Vec::new(),
        }
    }
}

impl Ampa {
    /// BrainPy's `GABAa`: [`Ampa`] with `alpha` = 0.53 /(ms·mM), `beta` = 0.18 kHz, `T` = 1 mM,
    /// `T_dur` = 1 ms.
    pub fn gabaa() -> Ampa {
        Ampa { alpha: 0.53, beta: 0.18, t_conc: 1.0, t_dur: 1.0, model: "GABAa", ..Ampa::default() }
    }
}

const AMPA_PARAMS: &[SynParam] = &[
    SynParam { name: "alpha", dim: Dim::RATE_PER_CONC, default: 0.98 },
    SynParam { name: "beta", dim: Dim::FREQUENCY, default: 0.18 },
    SynParam { name: "T", dim: Dim::CONCENTRATION, default: 0.5 },
    SynParam { name: "T_dur", dim: Dim::TIME, default: 0.5 },
    SynParam { name: "g_initializer", dim: Dim::CONDUCTANCE, default: 0.0 },
];
const GABAA_PARAMS: &[SynParam] = &[
    SynParam { name: "alpha", dim: Dim::RATE_PER_CONC, default: 0.53 },
    SynParam { name: "beta", dim: Dim::FREQUENCY, default: 0.18 },
    SynParam { name: "T", dim: Dim::CONCENTRATION, default: 1.0 },
    SynParam { name: "T_dur", dim: Dim::TIME, default: 1.0 },
    SynParam { name: "g_initializer", dim: Dim::CONDUCTANCE, default: 0.0 },
];

const G_MS: SynState = SynState { name: "g", dim: Dim::CONDUCTANCE, unit: "mS", scale: MS };
const ARRIVAL: SynState = SynState { name: "spike_arrival_time", dim: Dim::TIME, unit: "ms", scale: 1.0 };

impl Synapse for Ampa {
    fn name(&self) -> &'static str {
        self.model
    }
    fn params(&self) -> &'static [SynParam] {
        if self.model == "GABAa" {
            GABAA_PARAMS
        } else {
            AMPA_PARAMS
        }
    }
    fn states(&self) -> &'static [SynState] {
        &[G_MS, ARRIVAL]
    }
    fn input_dim(&self) -> Dim {
        Dim::ONE
    }
    fn out_unit(&self) -> (&'static str, f64) {
        ("mS", MS)
    }
    fn set_param(&mut self, name: &str, value: f64) -> Result<()> {
        match name {
            "alpha" => self.alpha = value,
            "beta" => self.beta = value,
            "T" => self.t_conc = value,
            "T_dur" => self.t_dur = value,
            "g_initializer" => self.g_initializer = value,
            _ => return Err(unknown_param(self.model, name, self.params())),
        }
        Ok(())
    }
    fn param(&self, name: &str) -> Option<f64> {
        match name {
            "alpha" => Some(self.alpha),
            "beta" => Some(self.beta),
            "T" => Some(self.t_conc),
            "T_dur" => Some(self.t_dur),
            "g_initializer" => Some(self.g_initializer),
            _ => None,
        }
    }
    fn set_g_unit(&mut self, scale: f64) {
        self.g_unit = scale;
    }
    fn init_state(&mut self, n: usize) -> Result<()> {
        let m = self.model;
        check_nonneg(m, "alpha", self.alpha)?;
        check_nonneg(m, "beta", self.beta)?;
        check_nonneg(m, "T", self.t_conc)?;
        check_nonneg(m, "T_dur", self.t_dur)?;
        check_finite(m, "g_initializer", self.g_initializer)?;
        check_pos(m, "g_unit", self.g_unit)?;
        self.g = vec![self.g_initializer as f32; n];
        self.arrival = vec![NEVER; n];
        Ok(())
    }
    fn update(&mut self, i: u64, dt: f32, input: &[f32]) -> &[f32] {
        check_len(self.g.len(), input);
        let (alpha, beta, tc, t_dur, g1) = (self.alpha as f32, self.beta as f32, self.t_conc as f32, self.t_dur as f32, self.g_unit as f32);
        let fi = i as f32;
        let t = fi * dt;
        // the two possible Jacobians, so that exprel is evaluated twice per step, not per synapse
        let e_on = (dt * (-(alpha * tc) - beta)).exprel();
        let e_off = (dt * (-(alpha * 0.0) - beta)).exprel();
        for ((g, a), &s) in self.g.iter_mut().zip(self.arrival.iter_mut()).zip(input) {
            let on = window(a, s, fi, dt, t, t_dur);
            let (tt, e) = if on { (tc, e_on) } else { (0.0, e_off) };
            let f = alpha * tt * (g1 - *g) - beta * *g;
            *g = e.mul_add(dt * f, *g);
        }
        &self.g
    }
    fn state(&self, k: usize) -> &[f32] {
        match k {
            0 => &self.g,
            1 => &self.arrival,
            _ => panic!("{} has two states", self.model),
        }
    }
}

/// BrainPy's `BioNMDA`: a two-stage kinetic NMDA receptor.
///
/// Per step `i` at `t = f32(i)·f32(dt)` with presynaptic input `s` (nonzero = spike):
/// * `spike_arrival_time ← t` where `s ≠ 0`; `TT = T` if `t − spike_arrival_time < T_dur`
///   else 0 (as in [`Ampa`], one fused multiply-add);
/// * `x ← x + dt·exprel(dt·Jx)·(alpha2·TT·(1 − x) − beta2·x)`, `Jx = −alpha2·TT − beta2`;
/// * `g ← g + dt·exprel(dt·Jg)·(alpha1·x·(g₁ − g) − beta1·g)` with the **new** `x`,
///   `Jg = −alpha1·x − beta1`, `g₁` one unit of `g` (1 mS = 0.001 S by default).
///
/// The output is `g` (S).
///
/// Parameters (canonical units), defaults: `alpha1` = 2 kHz, `beta1` = 0.01 kHz,
/// `alpha2` = 1 /(ms·mM), `beta2` = 0.5 kHz, `T` = 1 mM, `T_dur` = 0.5 ms, `g_initializer` = 0 S,
/// `x_initializer` = 0. States `g` (S), `x` (1), `spike_arrival_time` (ms, initially −1e7).
#[derive(Debug, Clone)]
pub struct BioNmda {
    /// Opening rate of `g` per unit `x` (kHz), default 2.
    pub alpha1: f64,
    /// Closing rate of `g` (kHz), default 0.01.
    pub beta1: f64,
    /// Rate of `x` per transmitter concentration (1/(ms·mM)), default 1.
    pub alpha2: f64,
    /// Decay rate of `x` (kHz), default 0.5.
    pub beta2: f64,
    /// Transmitter concentration during the window (mM), default 1.
    pub t_conc: f64,
    /// Window duration (ms), default 0.5.
    pub t_dur: f64,
    /// Initial conductance (S), default 0.
    pub g_initializer: f64,
    /// Initial `x` (dimensionless), default 0.
    pub x_initializer: f64,
    /// One unit of `g` (S), default 1 mS = 0.001.
    pub g_unit: f64,
    g: Vec<f32>,
    x: Vec<f32>,
    arrival: Vec<f32>,
}

impl Default for BioNmda {
    fn default() -> Self {
        BioNmda {
            alpha1: 2.0,
            beta1: 0.01,
            alpha2: 1.0,
            beta2: 0.5,
            t_conc: 1.0,
            t_dur: 0.5,
            g_initializer: 0.0,
            x_initializer: 0.0,
            g_unit: MS,
            g: Vec::new(),
            x: Vec::new(),
            arrival: Vec::new(),
        }
    }
}

const NMDA_PARAMS: &[SynParam] = &[
    SynParam { name: "alpha1", dim: Dim::FREQUENCY, default: 2.0 },
    SynParam { name: "beta1", dim: Dim::FREQUENCY, default: 0.01 },
    SynParam { name: "alpha2", dim: Dim::RATE_PER_CONC, default: 1.0 },
    SynParam { name: "beta2", dim: Dim::FREQUENCY, default: 0.5 },
    SynParam { name: "T", dim: Dim::CONCENTRATION, default: 1.0 },
    SynParam { name: "T_dur", dim: Dim::TIME, default: 0.5 },
    SynParam { name: "g_initializer", dim: Dim::CONDUCTANCE, default: 0.0 },
    SynParam { name: "x_initializer", dim: Dim::ONE, default: 0.0 },
];

impl Synapse for BioNmda {
    fn name(&self) -> &'static str {
        "BioNMDA"
    }
    fn params(&self) -> &'static [SynParam] {
        NMDA_PARAMS
    }
    fn states(&self) -> &'static [SynState] {
        &[G_MS, SynState { name: "x", dim: Dim::ONE, unit: "1", scale: 1.0 }, ARRIVAL]
    }
    fn input_dim(&self) -> Dim {
        Dim::ONE
    }
    fn out_unit(&self) -> (&'static str, f64) {
        ("mS", MS)
    }
    fn set_param(&mut self, name: &str, value: f64) -> Result<()> {
        match name {
            "alpha1" => self.alpha1 = value,
            "beta1" => self.beta1 = value,
            "alpha2" => self.alpha2 = value,
            "beta2" => self.beta2 = value,
            "T" => self.t_conc = value,
            "T_dur" => self.t_dur = value,
            "g_initializer" => self.g_initializer = value,
            "x_initializer" => self.x_initializer = value,
            _ => return Err(unknown_param("BioNMDA", name, NMDA_PARAMS)),
        }
        Ok(())
    }
    fn param(&self, name: &str) -> Option<f64> {
        match name {
            "alpha1" => Some(self.alpha1),
            "beta1" => Some(self.beta1),
            "alpha2" => Some(self.alpha2),
            "beta2" => Some(self.beta2),
            "T" => Some(self.t_conc),
            "T_dur" => Some(self.t_dur),
            "g_initializer" => Some(self.g_initializer),
            "x_initializer" => Some(self.x_initializer),
            _ => None,
        }
    }
    fn set_g_unit(&mut self, scale: f64) {
        self.g_unit = scale;
    }
    fn init_state(&mut self, n: usize) -> Result<()> {
        let m = "BioNMDA";
        for (name, v) in [
            ("alpha1", self.alpha1),
            ("beta1", self.beta1),
            ("alpha2", self.alpha2),
            ("beta2", self.beta2),
            ("T", self.t_conc),
            ("T_dur", self.t_dur),
        ] {
            check_nonneg(m, name, v)?;
        }
        check_finite(m, "g_initializer", self.g_initializer)?;
        check_finite(m, "x_initializer", self.x_initializer)?;
        check_pos(m, "g_unit", self.g_unit)?;
        self.g = vec![self.g_initializer as f32; n];
        self.x = vec![self.x_initializer as f32; n];
        self.arrival = vec![NEVER; n];
        Ok(())
    }
    fn update(&mut self, i: u64, dt: f32, input: &[f32]) -> &[f32] {
        check_len(self.g.len(), input);
        let (a1, b1, a2, b2) = (self.alpha1 as f32, self.beta1 as f32, self.alpha2 as f32, self.beta2 as f32);
        let (tc, t_dur, g1) = (self.t_conc as f32, self.t_dur as f32, self.g_unit as f32);
        let fi = i as f32;
        let t = fi * dt;
        let ex_on = (dt * (-(a2 * tc) - b2)).exprel();
        let ex_off = (dt * (-(a2 * 0.0) - b2)).exprel();
        for (((g, x), a), &s) in self.g.iter_mut().zip(self.x.iter_mut()).zip(self.arrival.iter_mut()).zip(input) {
            let on = window(a, s, fi, dt, t, t_dur);
            let (tt, e) = if on { (tc, ex_on) } else { (0.0, ex_off) };
            let fx = a2 * tt * (1.0 - *x) - b2 * *x;
            *x = e.mul_add(dt * fx, *x);
            let fg = a1 * *x * (g1 - *g) - b1 * *g;
            let jg = -(a1 * *x) - b1;
            *g = (dt * jg).exprel().mul_add(dt * fg, *g);
        }
        &self.g
    }
    fn state(&self, k: usize) -> &[f32] {
        match k {
            0 => &self.g,
            1 => &self.x,
            2 => &self.arrival,
            _ => panic!("BioNMDA has three states"),
        }
    }
}
