//! The cortical microcircuit of Potjans & Diesmann (2014): 8 populations of LIF neurons with
//! exponential current synapses (NEST's `iaf_psc_exp`), 77,169 neurons and about 3·10⁸
//! synapses at full scale, as NEST's example (`pynest/examples/Potjans_2014`, Rothe, Bos, van
//! Albada 2016; `network_params.py`, `helpers.py`) builds it, at any scale.
//!
//! [`McConfig::toml`] writes the network file (the shipped
//! `examples/networks/microcircuit.toml` is its output at full scale) and [`microcircuit`]
//! builds the network from it, so the file and the builder cannot drift apart.
//!
//! The model, as NEST's example:
//!
//! * **Populations** L2/3E, L2/3I, L4E, L4I, L5E, L5I, L6E, L6I with
//!   `N = [20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948]·scale_n`; `iaf_psc_exp`:
//!   `τ_m = 10 ms`, `C_m = 250 pF` (so `R = τ_m/C_m = 40 MΩ`), `E_L = V_reset = −65 mV`,
//!   `V_th = −50 mV`, `t_ref = 2 ms`, `τ_syn = 0.5 ms` — here `LIFRef` with hard reset fed
//!   by an `Expon` synapse (0.5 ms) through a `CUBA` output (1 V: a weight of 1 pS is a
//!   current of 1 pA). Initial V ~ N(μ_i, σ_i) per population (NEST's "optimized" values,
//!   which shorten the initial transient).
//! * **Connections**: for connection probability `C` between source and target of full sizes
//!   `N_s`, `N_t`, the total number of synapses `K = ln(1 − C)/ln(1 − 1/(N_s·N_t))`, scaled by
//!   `scale_n·scale_k` and rounded, drawn by the `fixed_total_number` rule (autapses and
//!   multapses allowed). Weights: PSC amplitude `J = 87.81 pA` (a PSP of 0.15 mV), `−4·J` from
//!   inhibitory sources, `2·J` from L4E to L2/3E, each synapse drawn from a normal with 10%
//!   relative standard deviation, redrawn to keep its sign. Delays: 1.5 ± 0.75 ms (excitatory),
//!   0.75 ± 0.375 ms (inhibitory), redrawn below one step, rounded to the step.
//! * **Background**: `K_ext = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]·scale_k` Poisson
//!   sources at 8 Hz per neuron, each spike a PSC of amplitude `J` (decaying with τ_syn), or the
//!   DC current of the same mean, `8 Hz·K_ext·J·τ_syn`.
//! * **Scaling in-degrees** (`scale_k < 1`) keeps the mean and variance of the input as NEST's
//!   example does: weights `/√scale_k`, and a DC current
//!   `τ_syn·(1 − √scale_k)·Σ_s J_ts·K_ts·ν_s` (+ the same for the background) with the full
//!   network's rates `ν` (NEST's `full_mean_rates`).

use super::toml_net::{self, NetFile};
use crate::error::{Result, SomataError};
use std::fmt::Write;
use std::path::Path;

/// Population names, in NEST's order.
pub const POPULATIONS: [&str; 8] = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"];
/// Full-scale population sizes.
pub const N_FULL: [f64; 8] = [20683.0, 5834.0, 21915.0, 5479.0, 4850.0, 1065.0, 14395.0, 2948.0];
/// Connection probabilities `[target][source]`.
pub const CONN_PROBS: [[f64; 8]; 8] = [
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0., 0.0076, 0.],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0., 0.0042, 0.],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0., 0.1057, 0.],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
];
/// External in-degrees (full scale).
pub const K_EXT: [f64; 8] = [1600.0, 1500.0, 2100.0, 1900.0, 2000.0, 1900.0, 2900.0, 2100.0];
/// Mean rates of the full-scale network (Hz), NEST's `full_mean_rates`: the DC compensation of
/// scaled in-degrees uses them, and they are the reference the rates are checked against.
pub const FULL_MEAN_RATES: [f64; 8] = [0.971, 2.868, 4.746, 5.396, 8.142, 9.078, 0.991, 7.523];
/// Initial membrane potential per population, mean and standard deviation (mV; NEST's
/// "optimized" initial conditions).
pub const V0_MEAN: [f64; 8] = [-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43];
/// See [`V0_MEAN`].
pub const V0_SD: [f64; 8] = [5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48];

const TAU_M: f64 = 10.0; // ms
const C_M: f64 = 250.0; // pF
const TAU_SYN: f64 = 0.5; // ms
const PSP_E: f64 = 0.15; // mV
const G: f64 = -4.0;
const PSP_REL_SD: f64 = 0.1;
const BG_RATE: f64 = 8.0; // Hz
const DELAY_E: f64 = 1.5; // ms
const DELAY_I: f64 = 0.75; // ms
const DELAY_REL_SD: f64 = 0.5;

/// The background input of [`McConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    /// `K_ext` Poisson sources at 8 Hz per neuron through the exponential synapse (default).
    Poisson,
    /// The DC current of the same mean.
    Dc,
}

/// A microcircuit at a scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct McConfig {
    /// Factor of the population sizes (1: 77,169 neurons).
    pub scale_n: f64,
    /// Factor of the in-degrees (1: about 3·10⁸ synapses at `scale_n = 1`).
    pub scale_k: f64,
    /// Background input.
    pub background: Background,
    /// Base seed.
    pub seed: u64,
    /// Simulated time, ms.
    pub duration_ms: f64,
    /// Time step, ms.
    pub dt_ms: f64,
    /// Monitor the spikes of every population (events).
    pub record_spikes: bool,
}

impl Default for McConfig {
    fn default() -> Self {
        McConfig {
            scale_n: 1.0,
            scale_k: 1.0,
            background: Background::Poisson,
            seed: 55,
            duration_ms: 1000.0,
            dt_ms: 0.1,
            record_spikes: true,
        }
    }
}

/// PSC amplitude (pA) per mV of PSP for `iaf_psc_exp` (NEST's `postsynaptic_potential_to_current`).
pub fn psc_over_psp(c_m: f64, tau_m: f64, tau_syn: f64) -> f64 {
    let sub = 1.0 / (tau_syn - tau_m);
    let pre = tau_m * tau_syn / c_m * sub;
    let frac = (tau_m / tau_syn).powf(sub);
    1.0 / (pre * (frac.powf(tau_m) - frac.powf(tau_syn)))
}

/// Full-scale synapse numbers `[target][source]`.
pub fn full_num_synapses() -> [[f64; 8]; 8] {
    let mut k = [[0.0; 8]; 8];
    for t in 0..8 {
        for s in 0..8 {
            let prod = N_FULL[t] * N_FULL[s];
            k[t][s] = (1.0 - CONN_PROBS[t][s]).ln() / ((prod - 1.0) / prod).ln();
        }
    }
    k
}

impl McConfig {
    /// A scale for both neurons and in-degrees.
    pub fn scaled(scale: f64) -> McConfig {
        McConfig { scale_n: scale, scale_k: scale, ..Default::default() }
    }

    fn check(&self) -> Result<()> {
        for (name, v) in [("scale_n", self.scale_n), ("scale_k", self.scale_k)] {
            if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                return Err(SomataError::param("microcircuit", name, v, "must be in (0, 1]"));
            }
        }
        if !(self.duration_ms.is_finite() && self.duration_ms >= 0.0) {
            return Err(SomataError::param("microcircuit", "duration", self.duration_ms, "must be finite and ≥ 0"));
        }
        if !(self.dt_ms.is_finite() && self.dt_ms > 0.0) {
            return Err(SomataError::InvalidDt(self.dt_ms));
        }
        Ok(())
    }

    /// Population sizes at this scale.
    pub fn sizes(&self) -> [usize; 8] {
        N_FULL.map(|n| (n * self.scale_n).round().max(1.0) as usize)
    }

    /// Synapse numbers `[target][source]` at this scale.
    pub fn num_synapses(&self) -> [[u64; 8]; 8] {
        full_num_synapses().map(|row| row.map(|k| (k * self.scale_n * self.scale_k).round() as u64))
    }

    /// The network file of this microcircuit.
    pub fn toml(&self) -> Result<String> {
        self.check()?;
        let j = psc_over_psp(C_M, TAU_M, TAU_SYN) * PSP_E; // pA
                                                           // mean PSC matrix [target][source]
        let mut w = [[0.0; 8]; 8];
        for row in w.iter_mut() {
            for (s, x) in row.iter_mut().enumerate() {
                *x = if s % 2 == 0 { j } else { G * j };
            }
        }
        w[0][2] *= 2.0; // L4E → L2/3E doubled
        let full_k = full_num_synapses();
        let sqk = self.scale_k.sqrt();
        let mut j_ext = j;
        let mut dc = [0.0f64; 8];
        if self.background == Background::Dc {
            for (t, d) in dc.iter_mut().enumerate() {
                *d = BG_RATE * K_EXT[t] * j * TAU_SYN * 1e-3;
            }
        }
        if self.scale_k != 1.0 {
            for t in 0..8 {
                let input_rec: f64 = (0..8).map(|s| w[t][s] * full_k[t][s] / N_FULL[t] * FULL_MEAN_RATES[s]).sum();
                dc[t] += 1e-3 * TAU_SYN * (1.0 - sqk) * input_rec;
                if self.background == Background::Poisson {
                    dc[t] += 1e-3 * TAU_SYN * (1.0 - sqk) * j * K_EXT[t] * BG_RATE;
                }
            }
            for row in w.iter_mut() {
                for x in row.iter_mut() {
                    *x /= sqk;
                }
            }
            j_ext /= sqk;
        }
        let sizes = self.sizes();
        let nsyn = self.num_synapses();
        let total: u64 = nsyn.iter().flatten().sum();
        let mut s = String::new();
        let _ = writeln!(s, "# The cortical microcircuit of Potjans & Diesmann (2014), Cereb. Cortex 24:785-806, as NEST's");
        let _ = writeln!(s, "# example builds it (pynest/examples/Potjans_2014: network_params.py, helpers.py; Rothe, Bos,");
        let _ = writeln!(s, "# van Albada 2016): 8 populations of iaf_psc_exp neurons (LIFRef + Expon 0.5 ms + CUBA here),");
        let _ = writeln!(s, "# fixed-total-number connectivity, normal weights and delays, 8 Hz background.");
        let _ = writeln!(
            s,
            "# Written by `somata microcircuit --scale-n {} --scale-k {} --background {}`: {} neurons, {total} synapses.",
            self.scale_n,
            self.scale_k,
            if self.background == Background::Poisson { "poisson" } else { "dc" },
            sizes.iter().sum::<usize>()
        );
        let _ = writeln!(s, "# Run: somata run microcircuit.toml --out out/mc  (docs/network-format.md, docs/microcircuit.md)");
        let _ = writeln!(s, "name = \"microcircuit\"");
        let _ = writeln!(s, "dt = \"{} ms\"", self.dt_ms);
        let _ = writeln!(s, "duration = \"{} ms\"", self.duration_ms);
        let _ = writeln!(s, "seed = {}", self.seed);
        let r_mohm = TAU_M / C_M * 1e3; // ms/pF = GΩ → MΩ
        for (p, name) in POPULATIONS.iter().enumerate() {
            let _ = writeln!(s, "\n[[population]]\nname = \"{name}\"\nmodel = \"LIFRef\"\nsize = {}\nspk_reset = \"hard\"", sizes[p]);
            let _ = writeln!(
                s,
                "params = {{ V_rest = \"-65 mV\", V_reset = \"-65 mV\", V_th = \"-50 mV\", tau = \"{TAU_M} ms\", tau_ref = \"2 ms\", R = \"{r_mohm} Mohm\" }}"
            );
            let _ = writeln!(s, "init.V = {{ normal = [\"{} mV\", \"{} mV\"] }}", V0_MEAN[p], V0_SD[p]);
            let _ = writeln!(s, "seed = {}", self.seed.wrapping_add(p as u64 + 1));
        }
        for t in 0..8 {
            for src in 0..8 {
                let n = nsyn[t][src];
                if n == 0 {
                    continue;
                }
                let (mean, sd) = (w[t][src], (w[t][src] * PSP_REL_SD).abs());
                let bound = if mean >= 0.0 { "min = \"0 pS\"" } else { "max = \"0 pS\"" };
                let (dm, ds) = if src % 2 == 0 { (DELAY_E, DELAY_E * DELAY_REL_SD) } else { (DELAY_I, DELAY_I * DELAY_REL_SD) };
                let _ = writeln!(
                    s,
                    "\n[[projection]]\nname = \"{}→{}\"\npre = \"{}\"\npost = \"{}\"\nsynapse = {{ model = \"Expon\", tau = \"{TAU_SYN} ms\" }}\noutput = {{ model = \"CUBA\", scale = \"1 V\" }}",
                    POPULATIONS[src], POPULATIONS[t], POPULATIONS[src], POPULATIONS[t]
                );
                let _ = writeln!(
                    s,
                    "conn = {{ type = \"fixed_total_number\", count = {n}, weight = {{ normal = [\"{mean:.6} pS\", \"{sd:.6} pS\"], {bound} }}, delays = {{ normal = [\"{dm} ms\", \"{ds} ms\"], min = \"{} ms\" }}, seed = {} }}",
                    self.dt_ms,
                    self.seed.wrapping_add(100 + (t * 8 + src) as u64)
                );
            }
        }
        for (t, name) in POPULATIONS.iter().enumerate() {
            let k_ext = (K_EXT[t] * self.scale_k).round() as u64;
            if self.background == Background::Poisson && k_ext > 0 {
                let _ = writeln!(
                    s,
                    "\n[[input]]\ntarget = \"{name}\"\ntype = \"poisson\"\nrate = \"{BG_RATE} Hz\"\ncount = {k_ext}\nweight = \"{j_ext:.6} pA\"\ntau = \"{TAU_SYN} ms\"\nseed = {}",
                    self.seed.wrapping_add(200 + t as u64)
                );
            }
            if dc[t] != 0.0 {
                let _ = writeln!(s, "\n[[input]]\ntarget = \"{name}\"\nvalue = \"{:.6} pA\"", dc[t]);
            }
        }
        if self.record_spikes {
            for name in POPULATIONS {
                let _ = writeln!(s, "\n[[monitor]]\nname = \"{name}\"\npopulation = \"{name}\"\nformat = \"events\"");
            }
        }
        Ok(s)
    }
}

/// Build the microcircuit of `c` (through its network file, [`McConfig::toml`]).
///
/// ```
/// use somata::net::microcircuit::{microcircuit, McConfig};
/// let mc = McConfig { duration_ms: 5.0, ..McConfig::scaled(0.01) };
/// let mut f = microcircuit(&mc).unwrap();
/// assert_eq!(f.net.names().len(), 8);
/// assert_eq!(f.net.size(f.net.pop_id("L23E").unwrap()), 207);
/// f.net.run(f.steps).unwrap();
/// ```
pub fn microcircuit(c: &McConfig) -> Result<NetFile> {
    toml_net::parse(&c.toml()?, Path::new("."), "microcircuit")
}
