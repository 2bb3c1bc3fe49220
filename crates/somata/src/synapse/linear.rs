//! Linear conductance kernels: `Expon`, `DualExpon`, `Alpha`.

use super::{check_finite, check_pos, unknown_param, SynParam, SynState, Synapse};
use crate::dynamics::Scalar;
use crate::error::{Result, SomataError};
use crate::units::Dim;

const MS: f64 = 1e-3; // 1 mS in canonical S

const G_MS: SynState = SynState { name: "g", dim: Dim::CONDUCTANCE, unit: "mS", scale: MS };

/// One Expon step of one synapse, the single definition of the linear kernels' decay: the
/// modules' loops below, the network's fused Expon + COBA/CUBA pass and the trainable network's
/// dual-number pass ([`crate::nn::SpikingNetwork`]) all call it. `g ← g + e·dt·(−g/τ) + x` with
/// `e = exprel(−dt/τ)` (exponential Euler: `g·e^(−dt/τ) + x`).
#[inline(always)]
pub(crate) fn expon_step<S: Scalar>(g: S, x: S, e: S, dt: S, tau: S) -> S {
    e.mul_add(dt * (-g / tau), g) + x
}

/// One Alpha step of one synapse (BrainPy's order: `h` decays, `g` integrates with the **old**
/// `h`, then `h` takes the input `x`); `e = exprel(−dt/τ)`.
#[inline(always)]
pub(crate) fn alpha_step<S: Scalar>(g: &mut S, h: &mut S, x: S, e: S, dt: S, tau: S) {
    let h_old = *h;
    let h_new = e.mul_add(dt * (-h_old / tau), h_old);
    *g = e.mul_add(dt * ((-*g + h_old) / tau), *g);
    *h = h_new + x;
}

fn check_len(n: usize, input: &[f32]) {
    assert_eq!(input.len(), n, "synapse update: input has {} values, the population {}", input.len(), n);
}

/// BrainPy's `Expon`: a single-exponential conductance.
///
/// Per step: `g ← g + dt·exprel(−dt/tau)·(−g/tau)` (exponential Euler, i.e. `g·e^(−dt/tau)`),
/// then `g ← g + x` with the input `x` (a conductance jump, S), and the output is `g` (S).
///
/// Parameters (canonical units): `tau` (ms, default 8 ms), `g_initializer` (S, constant initial
/// `g`, default 0).
#[derive(Debug, Clone)]
pub struct Expon {
    /// Decay time constant (ms), default 8.
    pub tau: f64,
    /// Initial conductance (S), default 0 (BrainPy's `g_initializer = Constant(0 mS)`).
    pub g_initializer: f64,
    pub(crate) g: Vec<f32>,
}

impl Default for Expon {
    fn default() -> Self {
        Expon { tau: 8.0, g_initializer: 0.0, g: Vec::new() }
    }
}

const EXPON_PARAMS: &[SynParam] =
    &[SynParam { name: "tau", dim: Dim::TIME, default: 8.0 }, SynParam { name: "g_initializer", dim: Dim::CONDUCTANCE, default: 0.0 }];

impl Synapse for Expon {
    fn name(&self) -> &'static str {
        "Expon"
    }
    fn params(&self) -> &'static [SynParam] {
        EXPON_PARAMS
    }
    fn states(&self) -> &'static [SynState] {
        &[G_MS]
    }
    fn input_dim(&self) -> Dim {
        Dim::CONDUCTANCE
    }
    fn out_unit(&self) -> (&'static str, f64) {
        ("mS", MS)
    }
    fn set_param(&mut self, name: &str, value: f64) -> Result<()> {
        match name {
            "tau" => self.tau = value,
            "g_initializer" => self.g_initializer = value,
            _ => return Err(unknown_param("Expon", name, EXPON_PARAMS)),
        }
        Ok(())
    }
    fn param(&self, name: &str) -> Option<f64> {
        match name {
            "tau" => Some(self.tau),
            "g_initializer" => Some(self.g_initializer),
            _ => None,
        }
    }
    fn init_state(&mut self, n: usize) -> Result<()> {
        check_pos("Expon", "tau", self.tau)?;
        check_finite("Expon", "g_initializer", self.g_initializer)?;
        self.g = vec![self.g_initializer as f32; n];
        Ok(())
    }
    fn update(&mut self, _i: u64, dt: f32, input: &[f32]) -> &[f32] {
        check_len(self.g.len(), input);
        let tau = self.tau as f32;
        let e = (dt * (-1.0 / tau)).exprel();
        multiversion!(expon_loop(g: &mut [f32], input: &[f32], e: f32, dt: f32, tau: f32) {
            for (g, &x) in g.iter_mut().zip(input) {
                *g = expon_step(*g, x, e, dt, tau);
            }
        });
        expon_loop(&mut self.g, input, e, dt, tau);
        &self.g
    }
    fn state(&self, k: usize) -> &[f32] {
        assert_eq!(k, 0, "Expon has one state");
        &self.g
    }
    fn as_expon_mut(&mut self) -> Option<&mut Expon> {
        Some(self)
    }
}

/// BrainPy's `DualExpon`: a difference of two exponentials.
///
/// Per step (exponential Euler, exact for these linear decays):
/// `g_rise ← g_rise·e^(−dt/tau_rise)`, `g_decay ← g_decay·e^(−dt/tau_decay)`, then the input `x`
/// (S) is added to **both**, and the output is `scale·(g_decay − g_rise)` (S), where
/// `scale = amplitude·tau_decay/(tau_decay − tau_rise)·(tau_rise/tau_decay)^(tau_rise/(tau_rise − tau_decay))`
/// if `normalize` (peak of a unit jump = amplitude; 1.43506 for 10 and 1 ms), else `amplitude`.
/// The output is 0 at the step of a jump.
///
/// Parameters (canonical units): `tau_decay` (ms, default 10), `tau_rise` (ms, default 1),
/// `amplitude` (1, default 1), `normalize` (flag, default true; then `tau_decay == tau_rise` is
/// an error), `g_initializer` (S, initial value of both states, default 0).
#[derive(Debug, Clone)]
pub struct DualExpon {
    /// Decay time constant (ms), default 10.
    pub tau_decay: f64,
    /// Rise time constant (ms), default 1.
    pub tau_rise: f64,
    /// Output amplitude (dimensionless), default 1.
    pub amplitude: f64,
    /// Normalise the peak of a unit jump to `amplitude`, default true.
    pub normalize: bool,
    /// Initial value of `g_rise` and `g_decay` (S), default 0.
    pub g_initializer: f64,
    g_rise: Vec<f32>,
    g_decay: Vec<f32>,
    out: Vec<f32>,
}

impl Default for DualExpon {
    fn default() -> Self {
        DualExpon {
            tau_decay: 10.0,
            tau_rise: 1.0,
            amplitude: 1.0,
            normalize: true,
            g_initializer: 0.0,
            g_rise: Vec::new(),
            g_decay: Vec::new(),
            out: Vec::new(),
        }
    }
}

const DUAL_PARAMS: &[SynParam] = &[
    SynParam { name: "tau_decay", dim: Dim::TIME, default: 10.0 },
    SynParam { name: "tau_rise", dim: Dim::TIME, default: 1.0 },
    SynParam { name: "amplitude", dim: Dim::ONE, default: 1.0 },
    SynParam { name: "normalize", dim: Dim::ONE, default: 1.0 },
    SynParam { name: "g_initializer", dim: Dim::CONDUCTANCE, default: 0.0 },
];

impl DualExpon {
    /// The output scale: `amplitude` times, if `normalize`,
    /// `tau_decay/(tau_decay − tau_rise)·(tau_rise/tau_decay)^(tau_rise/(tau_rise − tau_decay))`.
    pub fn scale(&self) -> f64 {
        if self.normalize {
            let (td, tr) = (self.tau_decay, self.tau_rise);
            self.amplitude * td / (td - tr) * (tr / td).powf(tr / (tr - td))
        } else {
            self.amplitude
        }
    }
}

impl Synapse for DualExpon {
    fn name(&self) -> &'static str {
        "DualExpon"
    }
    fn params(&self) -> &'static [SynParam] {
        DUAL_PARAMS
    }
    fn states(&self) -> &'static [SynState] {
        &[
            SynState { name: "g_rise", dim: Dim::CONDUCTANCE, unit: "mS", scale: MS },
            SynState { name: "g_decay", dim: Dim::CONDUCTANCE, unit: "mS", scale: MS },
        ]
    }
    fn input_dim(&self) -> Dim {
        Dim::CONDUCTANCE
    }
    fn out_unit(&self) -> (&'static str, f64) {
        ("mS", MS)
    }
    fn set_param(&mut self, name: &str, value: f64) -> Result<()> {
        match name {
            "tau_decay" => self.tau_decay = value,
            "tau_rise" => self.tau_rise = value,
            "amplitude" => self.amplitude = value,
            "normalize" => self.normalize = value != 0.0,
            "g_initializer" => self.g_initializer = value,
            _ => return Err(unknown_param("DualExpon", name, DUAL_PARAMS)),
        }
        Ok(())
    }
    fn param(&self, name: &str) -> Option<f64> {
        match name {
            "tau_decay" => Some(self.tau_decay),
            "tau_rise" => Some(self.tau_rise),
            "amplitude" => Some(self.amplitude),
            "normalize" => Some(if self.normalize { 1.0 } else { 0.0 }),
            "g_initializer" => Some(self.g_initializer),
            _ => None,
        }
    }
    fn set_flag(&mut self, name: &str, on: bool) -> Result<()> {
        match name {
            "normalize" => self.normalize = on,
            _ => return Err(unknown_param("DualExpon", name, DUAL_PARAMS)),
        }
        Ok(())
    }
    fn init_state(&mut self, n: usize) -> Result<()> {
        check_pos("DualExpon", "tau_decay", self.tau_decay)?;
        check_pos("DualExpon", "tau_rise", self.tau_rise)?;
        check_finite("DualExpon", "amplitude", self.amplitude)?;
        check_finite("DualExpon", "g_initializer", self.g_initializer)?;
        if self.normalize && self.tau_decay == self.tau_rise {
            return Err(SomataError::param("DualExpon", "tau_rise", self.tau_rise, "must differ from tau_decay when normalize is on"));
        }
        self.g_rise = vec![self.g_initializer as f32; n];
        self.g_decay = vec![self.g_initializer as f32; n];
        self.out = vec![0.0; n];
        Ok(())
    }
    fn update(&mut self, _i: u64, dt: f32, input: &[f32]) -> &[f32] {
        check_len(self.out.len(), input);
        let (tr, td) = (self.tau_rise as f32, self.tau_decay as f32);
        let er = (dt * (-1.0 / tr)).exprel();
        let ed = (dt * (-1.0 / td)).exprel();
        let scale = self.scale() as f32;
        multiversion!(dual_loop(rise: &mut [f32], decay: &mut [f32], out: &mut [f32], input: &[f32], k: [f32; 6]) {
            let [er, ed, tr, td, dt, scale] = k;
            for (((r, d), o), &x) in rise.iter_mut().zip(decay.iter_mut()).zip(out.iter_mut()).zip(input) {
                *r = expon_step(*r, x, er, dt, tr);
                *d = expon_step(*d, x, ed, dt, td);
                *o = scale * (*d - *r);
            }
        });
        dual_loop(&mut self.g_rise, &mut self.g_decay, &mut self.out, input, [er, ed, tr, td, dt, scale]);
        &self.out
    }
    fn state(&self, k: usize) -> &[f32] {
        match k {
            0 => &self.g_rise,
            1 => &self.g_decay,
            _ => panic!("DualExpon has two states"),
        }
    }
}

/// BrainPy's `Alpha` synapse (`g` driven by an exponentially decaying `h`).
///
/// Per step (exponential Euler, `J = −1/tau` for both):
/// `h_new = h + dt·exprel(−dt/tau)·(−h/tau)`,
/// `g ← g + dt·exprel(−dt/tau)·((−g + h_old)/tau)` with the **old** `h`,
/// `h ← h_new + x` with the input `x` (S); the output is `g` (S). So the output lags the jump by
/// one step (0 at the jump step).
///
/// Parameters (canonical units): `tau` (ms, default 8), `g_initializer` (S, initial `g` and `h`,
/// default 0).
#[derive(Debug, Clone)]
pub struct Alpha {
    /// Time constant (ms), default 8.
    pub tau: f64,
    /// Initial value of `g` and `h` (S), default 0.
    pub g_initializer: f64,
    g: Vec<f32>,
    h: Vec<f32>,
}

impl Default for Alpha {
    fn default() -> Self {
        Alpha { tau: 8.0, g_initializer: 0.0, g: Vec::new(), h: Vec::new() }
    }
}

impl Synapse for Alpha {
    fn name(&self) -> &'static str {
        "Alpha"
    }
    fn params(&self) -> &'static [SynParam] {
        EXPON_PARAMS
    }
    fn states(&self) -> &'static [SynState] {
        &[G_MS, SynState { name: "h", dim: Dim::CONDUCTANCE, unit: "mS", scale: MS }]
    }
    fn input_dim(&self) -> Dim {
        Dim::CONDUCTANCE
    }
    fn out_unit(&self) -> (&'static str, f64) {
        ("mS", MS)
    }
    fn set_param(&mut self, name: &str, value: f64) -> Result<()> {
        match name {
            "tau" => self.tau = value,
            "g_initializer" => self.g_initializer = value,
            _ => return Err(unknown_param("Alpha", name, EXPON_PARAMS)),
        }
        Ok(())
    }
    fn param(&self, name: &str) -> Option<f64> {
        match name {
            "tau" => Some(self.tau),
            "g_initializer" => Some(self.g_initializer),
            _ => None,
        }
    }
    fn init_state(&mut self, n: usize) -> Result<()> {
        check_pos("Alpha", "tau", self.tau)?;
        check_finite("Alpha", "g_initializer", self.g_initializer)?;
        self.g = vec![self.g_initializer as f32; n];
        self.h = vec![self.g_initializer as f32; n];
        Ok(())
    }
    fn update(&mut self, _i: u64, dt: f32, input: &[f32]) -> &[f32] {
        check_len(self.g.len(), input);
        let tau = self.tau as f32;
        let e = (dt * (-1.0 / tau)).exprel();
        multiversion!(alpha_loop(g: &mut [f32], h: &mut [f32], input: &[f32], e: f32, dt: f32, tau: f32) {
            for ((g, h), &x) in g.iter_mut().zip(h.iter_mut()).zip(input) {
                alpha_step(g, h, x, e, dt, tau);
            }
        });
        alpha_loop(&mut self.g, &mut self.h, input, e, dt, tau);
        &self.g
    }
    fn state(&self, k: usize) -> &[f32] {
        match k {
            0 => &self.g,
            1 => &self.h,
            _ => panic!("Alpha has two states"),
        }
    }
}
