//! `somata fi MODEL`: the f-I curve of a model.

use clap::Args;
use somata::dynamics::SpikeReset;
use somata::sim::{fi_curve_by_name, FiOptions};

#[derive(Args, Debug)]
pub struct FiArgs {
    /// BrainPy model name (`somata models` lists them).
    pub model: String,
    /// Smallest input, in the model's input unit (default by unit: mA 0, uA 0, mV/ms 0, 1 0).
    #[arg(long)]
    pub min: Option<f64>,
    /// Largest input (default by unit: mA 10, uA 20, mV/ms 20, unitless 2).
    #[arg(long)]
    pub max: Option<f64>,
    /// Number of input levels.
    #[arg(long, default_value_t = 21)]
    pub points: usize,
    /// Simulated time per level, ms.
    #[arg(long, default_value_t = 1000.0)]
    pub duration_ms: f64,
    /// Transient excluded from the rate, ms.
    #[arg(long, default_value_t = 100.0)]
    pub skip_ms: f64,
    /// Time step, ms.
    #[arg(long, default_value_t = 0.1)]
    pub dt_ms: f64,
    /// `soft` or `hard` (default: the model's).
    #[arg(long)]
    pub reset: Option<String>,
    /// Seed for random initial states.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The largest input of a default f-I curve, in the model's input unit.
pub(crate) fn default_max(unit: &str) -> f64 {
    match unit {
        "mA" => 10.0,
        "uA" => 20.0,
        "mV / ms" => 20.0,
        _ => 2.0,
    }
}

pub fn fi(a: &FiArgs) -> Result<(), String> {
    if a.points == 0 {
        return Err("--points must be at least 1".into());
    }
    let reset = a.reset.as_deref().map(SpikeReset::parse).transpose().map_err(|e| e.to_string())?;
    let o = FiOptions { dt_ms: a.dt_ms, duration_ms: a.duration_ms, skip_ms: a.skip_ms, reset, seed: a.seed };
    // the unit is known only after dispatch: probe with one level first
    let (_, unit) = fi_curve_by_name(&a.model, &[0.0], &FiOptions { duration_ms: 2.0 * a.dt_ms, skip_ms: 0.0, ..o.clone() })
        .map_err(|e| e.to_string())?;
    let (lo, hi) = (a.min.unwrap_or(0.0), a.max.unwrap_or_else(|| default_max(unit)));
    let levels: Vec<f64> =
        (0..a.points).map(|i| if a.points == 1 { hi } else { lo + (hi - lo) * i as f64 / (a.points - 1) as f64 }).collect();
    let (pts, unit) = fi_curve_by_name(&a.model, &levels, &o).map_err(|e| e.to_string())?;
    println!("f-I curve of {} ({} ms per level after {} ms, dt {} ms)", a.model, a.duration_ms - a.skip_ms, a.skip_ms, a.dt_ms);
    println!("{:>12} {:>12} {:>8}", format!("I ({unit})"), "rate (Hz)", "spikes");
    let every_step = 1e3 / a.dt_ms;
    let mut runaway = false;
    for p in pts {
        match p.rate_hz {
            Some(r) => {
                runaway |= (r - every_step).abs() < 1e-6 * every_step;
                println!("{:>12.4} {:>12.2} {:>8}", p.input, r, p.spikes)
            }
            None => println!("{:>12.4} {:>12} {:>8}", p.input, "diverged", "-"),
        }
    }
    if runaway {
        println!("note: a rate of one spike per step is a runaway (exponential models with soft reset, as in BrainPy); try --reset hard");
    }
    Ok(())
}
