//! Short-term plasticity: `STP` (Tsodyks–Markram facilitation and depression) and `STD`.

use super::{check_finite, check_pos, unknown_param, SynParam, SynState, Synapse};
use crate::dynamics::Scalar;
use crate::error::{Result, SomataError};
use crate::units::Dim;

fn check_len(n: usize, input: &[f32]) {
    assert_eq!(input.len(), n, "synapse update: input has {} values, the population {}", input.len(), n);
}

/// BrainPy's `STP`: short-term facilitation (`u`) and depression (`x`).
///
/// Per step with presynaptic input `s` (0/1; the output is scaled by it), with `u₀`, `x₀` the
/// stored values before the step:
/// * `u ← u₀ + dt·exprel(−dt/tau_f)·(−u₀/tau_f)`, `x ← x₀ + dt·exprel(−dt/tau_d)·((1 − x₀)/tau_d)`;
/// * `u ← u + s·U·(1 − u₀)` (BrainPy uses the **pre-decay** `u₀`);
/// * `released = u·x` (new `u`, decayed `x` before depletion);
/// * `x ← x − s·u·x₀` (again the pre-decay `x₀`);
/// * output `released·s` (dimensionless).
///
/// Parameters (dimensionless / ms), defaults: `U` = 0.15, `tau_f` = 1500 ms, `tau_d` = 200 ms.
/// States `u` (initially `U`) and `x` (initially 1).
#[derive(Debug, Clone)]
pub struct Stp {
    /// Increment of `u` per spike (dimensionless), default 0.15; also the initial `u`.
    pub u_inc: f64,
    /// Facilitation time constant (ms), default 1500.
    pub tau_f: f64,
    /// Depression (recovery) time constant (ms), default 200.
    pub tau_d: f64,
    u: Vec<f32>,
    x: Vec<f32>,
    out: Vec<f32>,
}

impl Default for Stp {
    fn default() -> Self {
        Stp { u_inc: 0.15, tau_f: 1500.0, tau_d: 200.0, u: Vec::new(), x: Vec::new(), out: Vec::new() }
    }
}

const STP_PARAMS: &[SynParam] = &[
    SynParam { name: "U", dim: Dim::ONE, default: 0.15 },
    SynParam { name: "tau_f", dim: Dim::TIME, default: 1500.0 },
    SynParam { name: "tau_d", dim: Dim::TIME, default: 200.0 },
];

impl Synapse for Stp {
    fn name(&self) -> &'static str {
        "STP"
    }
    fn params(&self) -> &'static [SynParam] {
        STP_PARAMS
    }
    fn states(&self) -> &'static [SynState] {
        &[SynState { name: "u", dim: Dim::ONE, unit: "1", scale: 1.0 }, SynState { name: "x", dim: Dim::ONE, unit: "1", scale: 1.0 }]
    }
    fn input_dim(&self) -> Dim {
        Dim::ONE
    }
    fn out_unit(&self) -> (&'static str, f64) {
        ("1", 1.0)
    }
    fn set_param(&mut self, name: &str, value: f64) -> Result<()> {
        match name {
            "U" => self.u_inc = value,
            "tau_f" => self.tau_f = value,
            "tau_d" => self.tau_d = value,
            _ => return Err(unknown_param("STP", name, STP_PARAMS)),
        }
        Ok(())
    }
    fn param(&self, name: &str) -> Option<f64> {
        match name {
            "U" => Some(self.u_inc),
            "tau_f" => Some(self.tau_f),
            "tau_d" => Some(self.tau_d),
            _ => None,
        }
    }
    fn init_state(&mut self, n: usize) -> Result<()> {
        check_finite("STP", "U", self.u_inc)?;
        if !(0.0..=1.0).contains(&self.u_inc) {
            return Err(SomataError::param("STP", "U", self.u_inc, "must lie in [0, 1]"));
        }
        check_pos("STP", "tau_f", self.tau_f)?;
        check_pos("STP", "tau_d", self.tau_d)?;
        self.u = vec![self.u_inc as f32; n];
        self.x = vec![1.0; n];
        self.out = vec![0.0; n];
        Ok(())
    }
    fn update(&mut self, _i: u64, dt: f32, input: &[f32]) -> &[f32] {
        check_len(self.out.len(), input);
        let (uu, tf, td) = (self.u_inc as f32, self.tau_f as f32, self.tau_d as f32);
        let ef = (dt * (-1.0 / tf)).exprel();
        let ed = (dt * (-1.0 / td)).exprel();
        for (((u, x), o), &s) in self.u.iter_mut().zip(self.x.iter_mut()).zip(self.out.iter_mut()).zip(input) {
            let (u0, x0) = (*u, *x);
            let ud = ef.mul_add(dt * (-u0 / tf), u0);
            let xd = ed.mul_add(dt * ((1.0 - x0) / td), x0);
            let un = ud + s * uu * (1.0 - u0);
            let released = un * xd;
            *u = un;
            *x = xd - s * un * x0;
            *o = released * s;
        }
        &self.out
    }
    fn state(&self, k: usize) -> &[f32] {
        match k {
            0 => &self.u,
            1 => &self.x,
            _ => panic!("STP has two states"),
        }
    }
}

/// BrainPy's `STD`: short-term depression of a resource `x`.
///
/// Per step with presynaptic input `s` (0/1; the output is scaled by it), `x₀` the stored value:
/// * `x ← x₀ + dt·exprel(−dt/tau)·((1 − x₀)/tau)`;
/// * `released = x` (decayed, before depletion);
/// * `x ← x − s·U·x₀` (the **pre-decay** `x₀`);
/// * output `released·s` (dimensionless; the first spike releases 1).
///
/// Parameters, defaults: `tau` = 200 ms, `U` = 0.07 (dimensionless). State `x` (initially 1).
#[derive(Debug, Clone)]
pub struct Std {
    /// Recovery time constant (ms), default 200.
    pub tau: f64,
    /// Fraction of `x` used per spike (dimensionless), default 0.07.
    pub u_frac: f64,
    x: Vec<f32>,
    out: Vec<f32>,
}

impl Default for Std {
    fn default() -> Self {
        Std { tau: 200.0, u_frac: 0.07, x: Vec::new(), out: Vec::new() }
    }
}

const STD_PARAMS: &[SynParam] =
    &[SynParam { name: "tau", dim: Dim::TIME, default: 200.0 }, SynParam { name: "U", dim: Dim::ONE, default: 0.07 }];

impl Synapse for Std {
    fn name(&self) -> &'static str {
        "STD"
    }
    fn params(&self) -> &'static [SynParam] {
        STD_PARAMS
    }
    fn states(&self) -> &'static [SynState] {
        &[SynState { name: "x", dim: Dim::ONE, unit: "1", scale: 1.0 }]
    }
    fn input_dim(&self) -> Dim {
        Dim::ONE
    }
    fn out_unit(&self) -> (&'static str, f64) {
        ("1", 1.0)
    }
    fn set_param(&mut self, name: &str, value: f64) -> Result<()> {
        match name {
            "tau" => self.tau = value,
            "U" => self.u_frac = value,
            _ => return Err(unknown_param("STD", name, STD_PARAMS)),
        }
        Ok(())
    }
    fn param(&self, name: &str) -> Option<f64> {
        match name {
            "tau" => Some(self.tau),
            "U" => Some(self.u_frac),
            _ => None,
        }
    }
    fn init_state(&mut self, n: usize) -> Result<()> {
        check_pos("STD", "tau", self.tau)?;
        check_finite("STD", "U", self.u_frac)?;
        if !(0.0..=1.0).contains(&self.u_frac) {
            return Err(SomataError::param("STD", "U", self.u_frac, "must lie in [0, 1]"));
        }
        self.x = vec![1.0; n];
        self.out = vec![0.0; n];
        Ok(())
    }
    fn update(&mut self, _i: u64, dt: f32, input: &[f32]) -> &[f32] {
        check_len(self.out.len(), input);
        let (tau, uf) = (self.tau as f32, self.u_frac as f32);
        let e = (dt * (-1.0 / tau)).exprel();
        for ((x, o), &s) in self.x.iter_mut().zip(self.out.iter_mut()).zip(input) {
            let x0 = *x;
            let xd = e.mul_add(dt * ((1.0 - x0) / tau), x0);
            *x = xd - s * uf * x0;
            *o = xd * s;
        }
        &self.out
    }
    fn state(&self, k: usize) -> &[f32] {
        assert_eq!(k, 0, "STD has one state");
        &self.x
    }
}
