//! `somata run`: the main job on embedded defaults. A population of LIF neurons receives a current
//! step (off, on, off); each neuron gets a different amplitude, spread linearly between `--i-min`
//! and `--i-max`. Prints each neuron's amplitude, spike count and firing rate during the step, and
//! the simulation's timing.

use clap::Args;
use somata::engine::{Build, RunOptions, SeqInput};
use somata::prelude::*;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Number of LIF neurons.
    #[arg(long, default_value_t = 20)]
    pub neurons: usize,
    /// Simulated time, ms.
    #[arg(long, default_value_t = 500.0)]
    pub duration_ms: f64,
    /// Time step, ms.
    #[arg(long, default_value_t = 0.1)]
    pub dt_ms: f64,
    /// Current step onset, ms.
    #[arg(long, default_value_t = 100.0)]
    pub onset_ms: f64,
    /// Current step offset, ms.
    #[arg(long, default_value_t = 400.0)]
    pub offset_ms: f64,
    /// Smallest step amplitude, mA (BrainPy's LIF convention: R = 1 ohm, so 1 mA drives 1 mV).
    #[arg(long, default_value_t = 0.5)]
    pub i_min: f64,
    /// Largest step amplitude, mA.
    #[arg(long, default_value_t = 3.0)]
    pub i_max: f64,
    /// Membrane time constant, ms.
    #[arg(long, default_value_t = 10.0)]
    pub tau_ms: f64,
    /// Soft or hard reset.
    #[arg(long, default_value = "soft")]
    pub reset: String,
}

pub fn run(a: &RunArgs) -> Result<(), String> {
    let e = |e: SomataError| e.to_string();
    if !(a.duration_ms.is_finite() && a.duration_ms > 0.0) {
        return Err(format!("--duration-ms must be > 0, got {}", a.duration_ms));
    }
    if !(0.0 <= a.onset_ms && a.onset_ms <= a.offset_ms && a.offset_ms <= a.duration_ms) {
        return Err("need 0 <= --onset-ms <= --offset-ms <= --duration-ms".into());
    }
    if a.neurons == 0 {
        return Err("--neurons must be at least 1".into());
    }
    let reset = SpikeReset::parse(&a.reset).map_err(e)?;
    let mut clock = Clock::from_ms(a.dt_ms).map_err(e)?;
    let n = a.neurons;
    let mut lif = Lif::builder(n).tau(a.tau_ms * ms).spk_reset(reset).build().map_err(e)?;
    lif.init_state(None).map_err(e)?;
    let amps: Vec<f32> =
        (0..n).map(|i| if n == 1 { a.i_max } else { a.i_min + (a.i_max - a.i_min) * i as f64 / (n - 1) as f64 } as f32).collect();
    let steps = |t: f64| (t / a.dt_ms).round() as usize;
    let (s_on, s_off, s_end) = (steps(a.onset_ms), steps(a.offset_ms), steps(a.duration_ms));
    let opts = RunOptions { check_finite: true, ..Default::default() };
    let t0 = Instant::now();
    let before = lif.run(&mut clock, SeqInput::Constant(Input::Scalar(0.0), s_on), &opts).map_err(e)?;
    let during = lif.run(&mut clock, SeqInput::Constant(Input::Slice(&amps), s_off - s_on), &opts).map_err(e)?;
    let after = lif.run(&mut clock, SeqInput::Constant(Input::Scalar(0.0), s_end - s_off), &opts).map_err(e)?;
    let wall = t0.elapsed().as_secs_f64();
    for out in [&before, &during, &after] {
        if let Some(d) = &out.divergence {
            return Err(d.to_string());
        }
    }
    let on_s = (a.offset_ms - a.onset_ms) / 1e3;
    println!(
        "LIF population: {n} neurons, tau {} ms, {} reset, dt {} ms, {} ms simulated; current step {}..{} ms, {}..{} mA",
        a.tau_ms, a.reset, a.dt_ms, a.duration_ms, a.onset_ms, a.offset_ms, a.i_min, a.i_max
    );
    println!("{:>7} {:>9} {:>7} {:>10}", "neuron", "I (mA)", "spikes", "rate (Hz)");
    for (i, level) in amps.iter().enumerate() {
        let total = before.spike_counts[i] + during.spike_counts[i] + after.spike_counts[i];
        let rate = if on_s > 0.0 { during.spike_counts[i] as f64 / on_s } else { 0.0 };
        println!("{i:>7} {level:>9.3} {total:>7} {rate:>10.1}");
    }
    let total: u64 = [&before, &during, &after].iter().flat_map(|o| o.spike_counts.iter()).map(|&c| c as u64).sum();
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
