//! `somata run`: the main job on embedded defaults. A population of neurons of one built-in model
//! (default LIF) receives an input step (off, on, off) or a constant input; each neuron gets a
//! different level, spread linearly between `--i-min` and `--i-max`. Prints each neuron's level,
//! spike count and firing rate during the input, and the simulation's timing.
//!
//! Flags:
//!
//! * `--model NAME`: any BrainPy class name that `somata models` lists (default `LIF`), with its
//!   BrainPy default parameters; an unknown name is an error listing the known ones.
//! * `--neurons N` (default 20), `--duration-ms T` (default 500), `--seed S` (default 0: random
//!   initial states of HH and Morris–Lecar).
//! * `--dt-ms DT`: time step (default 0.1 ms; 0.01 ms for `HH`, `MorrisLecar` and
//!   `WangBuzsakiHH`, as BrainPy users run them).
//! * `--input step|constant` (default `step`): `step` is off before `--onset-ms`, on until
//!   `--offset-ms`, off after (defaults: 20% and 80% of the duration, 100 and 400 ms for 500 ms),
//!   and rates count the "on" window; `constant` is the level for the whole duration, and rates
//!   count all of it (the onset and offset flags are then rejected).
//! * `--i-min`, `--i-max`: the smallest and largest level, **in the model's input unit** (raw
//!   numbers, as the library reads them: mA for the LIF-like models, µA for the HH family, mV/ms
//!   for Izhikevich, unitless for FitzHugh–Nagumo and Hindmarsh–Rose; the table header names
//!   it). Defaults per model span silent to firing neurons: LIF 0.5..3 mA, other mA models
//!   0..10 mA (AdQuaIF, AdQuaIFRef 0..40), HH 0..20 µA, WangBuzsakiHH 0..10 µA, MorrisLecar
//!   0..150 µA, Izhikevich 0..20 mV/ms, FitzHughNagumo 0..1.2, HindmarshRose 0..4.
//! * `--tau-ms TAU`: the membrane time constant, for models with a `tau` parameter only (an
//!   error for the others). Default: 10 ms for LIF (the main job), BrainPy's default otherwise.
//! * `--reset soft|hard`: default the model's (soft, hard for Izhikevich).
//!
//! States are checked for non-finite values: a neuron that diverges (ExpIF with soft reset
//! diverges in BrainPy too) is marked `diverged` in the table, with a note; the exit status stays
//! 0.

use clap::{Args, ValueEnum};
use somata::dynamics::{Clock, NeuronModel, SpikeReset};
use somata::engine::{Input, LayerBuilder, NeuronLayer, RunOptions, RunOutput, SeqInput};
use somata::neurons::registry::{dispatch, ModelFn};
use somata::SomataError;
use std::time::Instant;

/// The shape of the input in time.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Off before `--onset-ms`, on until `--offset-ms`, off after.
    Step,
    /// On for the whole duration.
    Constant,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A network to run instead of a single population: a TOML network file
    /// (docs/network-format.md), or `coba` / `cuba` (Brette et al. 2007 benchmarks 1 and 2).
    pub network: Option<String>,
    /// With a network: write the monitors as `DIR/<monitor>.npy` (float32 [samples][neurons]),
    /// `DIR/summary.json` (rates per population) and spike rasters `DIR/<monitor>.png`.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// With `coba` / `cuba`: the number of neurons (80% excitatory; 80 synapses per neuron)
    /// [default: 4000].
    #[arg(long)]
    pub net_size: Option<usize>,
    /// With `microcircuit` (Potjans & Diesmann 2014): the scale of neuron counts and in-degrees
    /// [default: 1, 77,169 neurons and about 3·10⁸ synapses].
    #[arg(long)]
    pub scale: Option<f64>,
    /// With a network file or `microcircuit`: spread it over this many threads per process
    /// (virtual processes, as `mpirun -np N` spreads it over processes): the same spikes and
    /// files as one thread, each thread integrating its block of every population.
    #[arg(long)]
    pub threads: Option<usize>,
    /// With a network spread over threads or processes: exchange spikes without overlapping the
    /// next interval's integration (to measure what the overlap saves).
    #[arg(long)]
    pub no_overlap: bool,
    /// Neuron model, by BrainPy class name (`somata models` lists them), with BrainPy's default
    /// parameters.
    #[arg(long, default_value = "LIF")]
    pub model: String,
    /// Number of neurons.
    #[arg(long, default_value_t = 20)]
    pub neurons: usize,
    /// Simulated time, ms.
    #[arg(long, default_value_t = 500.0)]
    pub duration_ms: f64,
    /// Time step, ms [default: 0.1; 0.01 for HH, MorrisLecar, WangBuzsakiHH].
    #[arg(long)]
    pub dt_ms: Option<f64>,
    /// `step` (off, on from --onset-ms to --offset-ms, off) or `constant` (on throughout).
    #[arg(long, value_enum, default_value_t = InputKind::Step)]
    pub input: InputKind,
    /// Input step onset, ms [default: 20% of --duration-ms].
    #[arg(long)]
    pub onset_ms: Option<f64>,
    /// Input step offset, ms [default: 80% of --duration-ms].
    #[arg(long)]
    pub offset_ms: Option<f64>,
    /// Smallest input level, in the model's input unit (mA for LIF-like models, uA for the HH
    /// family, mV/ms for Izhikevich, unitless for FitzHughNagumo and HindmarshRose)
    /// [default: per model; LIF 0.5].
    #[arg(long)]
    pub i_min: Option<f64>,
    /// Largest input level, in the model's input unit [default: per model; LIF 3, HH 20 uA].
    #[arg(long)]
    pub i_max: Option<f64>,
    /// Membrane time constant, ms, for models with a `tau` parameter only [default: 10 for LIF,
    /// BrainPy's otherwise].
    #[arg(long)]
    pub tau_ms: Option<f64>,
    /// `soft` or `hard` reset [default: the model's].
    #[arg(long)]
    pub reset: Option<String>,
    /// Seed of random initial states (HH, MorrisLecar).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The main job's membrane time constant of LIF, ms (BrainPy's default is 5 ms).
const LIF_TAU_MS: f64 = 10.0;

/// Default time step, ms: 0.01 for the HH family (as BrainPy users run them), 0.1 otherwise.
fn default_dt(model: &str) -> f64 {
    match model {
        "HH" | "MorrisLecar" | "WangBuzsakiHH" => 0.01,
        _ => 0.1,
    }
}

/// Default input levels (model's input unit): from silent to firing neurons with BrainPy's default
/// parameters (checked with `somata fi`).
fn default_levels(model: &str, unit: &str) -> (f64, f64) {
    match model {
        "LIF" => (0.5, 3.0),
        "AdQuaIF" | "AdQuaIFRef" => (0.0, 40.0),
        "WangBuzsakiHH" => (0.0, 10.0),
        "MorrisLecar" => (0.0, 150.0),
        "FitzHughNagumo" => (0.0, 1.2),
        "HindmarshRose" => (0.0, 4.0),
        _ => (0.0, crate::fi::default_max(unit)),
    }
}

pub fn run(a: &RunArgs) -> Result<(), String> {
    if let Some(net) = &a.network {
        let dur = if a.duration_ms != 500.0 { Some(a.duration_ms) } else { None };
        let spread = crate::netrun::Spread { threads: a.threads, overlap: !a.no_overlap };
        return crate::netrun::run(net, a.out.as_deref(), a.net_size, dur, a.scale, spread);
    }
    if a.out.is_some() || a.net_size.is_some() || a.scale.is_some() || a.threads.is_some() {
        return Err("--out and --net-size apply to networks: `somata run FILE|coba|cuba|coba-hh --out DIR`".into());
    }
    dispatch(&a.model, Job(a)).map_err(|e| e.to_string())?
}

struct Job<'a>(&'a RunArgs);

impl ModelFn for Job<'_> {
    type Out = somata::Result<Result<(), String>>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        Ok(run_model::<M>(self.0))
    }
}

fn run_model<M: NeuronModel + Default>(a: &RunArgs) -> Result<(), String> {
    let e = |e: SomataError| e.to_string();
    let name = M::NAME;
    let unit = M::INPUT_UNIT;
    if !(a.duration_ms.is_finite() && a.duration_ms > 0.0) {
        return Err(format!("--duration-ms must be > 0, got {}", a.duration_ms));
    }
    if a.neurons == 0 {
        return Err("--neurons must be at least 1".into());
    }
    let step = a.input == InputKind::Step;
    if !step && (a.onset_ms.is_some() || a.offset_ms.is_some()) {
        return Err("--onset-ms and --offset-ms apply to --input step only".into());
    }
    let onset = a.onset_ms.unwrap_or(a.duration_ms / 5.0);
    let offset = a.offset_ms.unwrap_or(a.duration_ms * 4.0 / 5.0);
    if step && !(0.0 <= onset && onset <= offset && offset <= a.duration_ms) {
        return Err("need 0 <= --onset-ms <= --offset-ms <= --duration-ms".into());
    }
    let (lo, hi) = default_levels(name, unit);
    let (i_min, i_max) = (a.i_min.unwrap_or(lo), a.i_max.unwrap_or(hi));
    if !(i_min.is_finite() && i_max.is_finite()) {
        return Err("--i-min and --i-max must be finite".into());
    }
    let dt_ms = a.dt_ms.unwrap_or_else(|| default_dt(name));
    let mut clock = Clock::from_ms(dt_ms).map_err(e)?;
    let tau_ms = match (M::param_index("tau"), a.tau_ms) {
        (None, Some(_)) => return Err(format!("--tau-ms: model {name} has no parameter `tau`")),
        (None, None) => None,
        (Some(_), Some(t)) => Some(t),
        (Some(i), None) => Some(if name == "LIF" { LIF_TAU_MS } else { M::PARAMS[i].default }),
    };
    let reset = match &a.reset {
        Some(r) => SpikeReset::parse(r).map_err(e)?,
        None => M::DEFAULT_RESET,
    };
    let n = a.neurons;
    // f32, as BrainPy (and `somata fi`)
    let mut b = LayerBuilder::<M, f32>::new(M::default(), n).spk_reset(reset).seed(a.seed);
    if let Some(t) = tau_ms {
        b = b.set_raw("tau", t); // canonical time unit: ms
    }
    let mut layer = b.build().map_err(e)?;
    layer.init_state(None).map_err(e)?;
    let levels: Vec<f32> =
        (0..n).map(|i| if n == 1 { i_max } else { i_min + (i_max - i_min) * i as f64 / (n - 1) as f64 } as f32).collect();
    let steps = |t: f64| (t / dt_ms).round() as usize;
    let s_end = steps(a.duration_ms);
    let (s_on, s_off) = if step { (steps(onset), steps(offset)) } else { (0, s_end) };
    let opts = RunOptions { check_finite: true, ..Default::default() };
    let mut diverged = vec![false; n];
    let mut first_divergence: Option<SomataError> = None;
    // three consecutive runs: the clock advances through each (the clock rule)
    let mut phase = |layer: &mut NeuronLayer<M, f32>, x: Input<'_, f32>, k: usize| -> Result<RunOutput<f32>, String> {
        let out = layer.run(&mut clock, SeqInput::Constant(x, k), &opts).map_err(e)?;
        if let Some(d) = &out.divergence {
            if let SomataError::Diverged { neuron, .. } = d {
                diverged[*neuron] = true;
            }
            first_divergence.get_or_insert_with(|| d.clone());
        }
        for s in M::STATES {
            let v = layer.state(s.name).map_err(e)?;
            for (i, x) in v.iter().enumerate() {
                diverged[i] |= !x.is_finite();
            }
        }
        Ok(out)
    };
    let t0 = Instant::now();
    let before = phase(&mut layer, Input::Scalar(0.0), s_on)?;
    let during = phase(&mut layer, Input::Slice(&levels), s_off - s_on)?;
    let after = phase(&mut layer, Input::Scalar(0.0), s_end - s_off)?;
    let wall = t0.elapsed().as_secs_f64();
    let on_s = if step { (offset - onset) / 1e3 } else { a.duration_ms / 1e3 };
    let tau = tau_ms.map(|t| format!("tau {t} ms, ")).unwrap_or_default();
    let reset_name = match reset {
        SpikeReset::Soft => "soft",
        SpikeReset::Hard => "hard",
    };
    let unit_text = if unit == "1" { " (unitless)".to_string() } else { format!(" {unit}") };
    let input = if step {
        let what = if matches!(unit, "mA" | "uA") { "current step" } else { "input step" };
        format!("{what} {onset}..{offset} ms, {i_min}..{i_max}{unit_text}")
    } else {
        format!("constant input, {i_min}..{i_max}{unit_text}")
    };
    println!("{name} population: {n} neurons, {tau}{reset_name} reset, dt {dt_ms} ms, {} ms simulated; {input}", a.duration_ms);
    let col = format!("I ({unit})");
    let w = col.len().max(9);
    println!("{:>7} {col:>w$} {:>7} {:>10}", "neuron", "spikes", "rate (Hz)");
    let mut total: u64 = 0;
    let mut runaway = false;
    for (i, level) in levels.iter().enumerate() {
        if diverged[i] {
            println!("{i:>7} {level:>w$.3} {:>7} {:>10}", "-", "diverged");
            continue;
        }
        let count = before.spike_counts[i] + during.spike_counts[i] + after.spike_counts[i];
        total += count as u64;
        let on_spikes = during.spike_counts[i];
        // a spike at half the steps or more of a phase: no neuron model fires that fast
        runaway |= [(&before, s_on), (&during, s_off - s_on), (&after, s_end - s_off)]
            .iter()
            .any(|(o, k)| *k >= 10 && 2 * o.spike_counts[i] as usize >= *k);
        let rate = if on_s > 0.0 { on_spikes as f64 / on_s } else { 0.0 };
        println!("{i:>7} {level:>w$.3} {count:>7} {rate:>10.1}");
    }
    let n_div = diverged.iter().filter(|&&d| d).count();
    if n_div > 0 {
        let first = first_divergence.map(|d| format!(" (first: {d})")).unwrap_or_default();
        let hint = if reset == SpikeReset::Soft { "--reset hard or a smaller --dt-ms" } else { "a smaller --dt-ms" };
        println!("note: {n_div} of {n} neurons diverged{first}; exponential models can overflow (in BrainPy too): try {hint}");
    }
    if runaway {
        println!(
            "note: a spike at every step or nearly is a runaway (exponential models with soft reset, as in BrainPy); try --reset hard"
        );
    }
    let neuron_steps = (n * s_end) as f64;
    println!(
        "total {total} spikes; simulated {:.0} ms of {n} neurons in {:.3} ms wall ({:.2} ns per neuron-step, {} threads)",
        a.duration_ms,
        wall * 1e3,
        wall * 1e9 / neuron_steps.max(1.0),
        rayon::current_num_threads()
    );
    Ok(())
}
