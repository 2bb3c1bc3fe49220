//! Getting started, program 1: 100 AdExIF neurons (BrainPy's defaults) under constant currents
//! spread from 0 to 20 mA, 1 s at dt = 0.1 ms. Prints the f-I relation, first spike times and
//! the adaptation current `w`, all read through typed, shaped monitors.
//!
//! Run: `cargo run --release --example adex_population`

use somata::prelude::*;

/// What the program measured.
#[allow(dead_code)]
pub struct AdexSummary {
    /// Input of each neuron, mA.
    pub input_ma: Vec<f64>,
    /// Firing rate of each neuron, Hz.
    pub rates_hz: Vec<f64>,
    /// First spike time of each neuron, ms (None: silent).
    pub first_spike_ms: Vec<Option<f64>>,
    /// `w` of neuron 99 sampled every 1 ms, mA.
    pub w_last: Vec<f64>,
}

/// Build, run and measure.
pub fn simulate() -> somata::Result<AdexSummary> {
    let n = 100;
    // AdExIF(100) with BrainPy's defaults; every parameter has a typed setter, e.g. .tau(10.0 * ms)
    let mut adex = AdExIf::builder(n).tau(10.0 * ms).check_finite(true).build()?;
    adex.init_state(None)?;
    // one typed current per neuron: a wrong dimension here does not compile
    let currents: Vec<Current> = (0..n).map(|i| 20.0 * mA * (i as f64 / (n - 1) as f64)).collect();
    let mut clock = Clock::new(0.1 * ms)?;
    let steps = 10_000; // 1 s
    let opts = RunOptions::new().spikes().monitor("w").every(10).neurons(&[n - 1]);
    let out = adex.run(&mut clock, SeqInput::Constant(Input::quantities(&currents), steps), &opts)?;
    let trains = out.spike_trains()?;
    let w = out.monitor("w").expect("monitored").values_in(mA)?; // [1000 samples, 1 neuron]
    Ok(AdexSummary {
        input_ma: currents.iter().map(|c| c.value_in(mA)).collect(),
        rates_hz: out.rates().iter().copied().collect(),
        first_spike_ms: (0..n).map(|i| trains.times(i).first().copied()).collect(),
        w_last: w.iter().copied().collect(),
    })
}

#[allow(dead_code)]
fn main() -> somata::Result<()> {
    let s = simulate()?;
    println!("{:>8} {:>10} {:>14}", "I (mA)", "rate (Hz)", "first spike (ms)");
    for i in (0..s.input_ma.len()).step_by(11) {
        let first = s.first_spike_ms[i].map(|t| format!("{t:.1}")).unwrap_or_else(|| "-".into());
        println!("{:>8.2} {:>10.1} {:>14}", s.input_ma[i], s.rates_hz[i], first);
    }
    let rheobase = s.rates_hz.iter().position(|&r| r > 0.0).map(|i| s.input_ma[i]);
    println!("first firing neuron at {rheobase:?} mA; w of the last neuron after 1 s: {:.3} mA", s.w_last.last().unwrap_or(&0.0));
    Ok(())
}
