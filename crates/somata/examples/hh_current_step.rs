//! Getting started, program 3: 10 Hodgkin–Huxley neurons (BrainPy's `HH`, default parameters)
//! under a current step: no input for 20 ms, then neuron k receives k µA (k = 1..10) for 100 ms,
//! at dt = 0.01 ms. Stepped one update at a time, as a BrainPy user writes it, with a spike
//! monitor and a voltage monitor. BrainPy gives 7 spikes for 10 µA.
//!
//! Run: `cargo run --release --example hh_current_step`

use somata::prelude::*;

/// What the program measured.
#[allow(dead_code)]
pub struct HhSummary {
    /// Spikes per neuron during the step.
    pub counts: Vec<usize>,
    /// Spike times of the 10 µA neuron, ms.
    pub times_10ua: Vec<f64>,
    /// Peak V of each neuron over the run, mV (from the voltage monitor).
    pub peak_v: Vec<f64>,
}

/// Build, run and measure.
pub fn simulate() -> somata::Result<HhSummary> {
    let n = 10;
    let mut hh = Hh::builder(n).check_finite(true).build()?;
    hh.init_state(None)?;
    let levels: Vec<Current> = (1..=n).map(|k| k as f64 * uA).collect();
    let none = vec![0.0 * uA; n];
    let mut clock = Clock::new(0.01 * ms)?;
    let mut spikes = SpikeMonitor::new();
    let mut volts = StateMonitor::new(&["V"]).every(10); // every 0.1 ms, all neurons
    for _ in 0..12_000 {
        let t = clock.step() as f64 * clock.dt_ms(); // ms
        let x = if t < 20.0 { &none } else { &levels };
        let spk = hh.update_q(&clock, x)?; // µA typed; a raw `10.0` would also be read in µA
        spikes.record(&clock, &spk)?;
        volts.record(&clock, &hh)?;
        clock.advance(); // update never advances time: once per step, after every layer
    }
    let trains = spikes.trains();
    let v = volts.trace("V").expect("monitored");
    let peak_v = (0..n).map(|i| v.data.index_axis(ndarray::Axis(1), i).fold(f64::MIN, |a, &b| a.max(b))).collect();
    Ok(HhSummary { counts: (0..n).map(|i| trains.times(i).len()).collect(), times_10ua: trains.times(n - 1).to_vec(), peak_v })
}

#[allow(dead_code)]
fn main() -> somata::Result<()> {
    let s = simulate()?;
    for (k, c) in s.counts.iter().enumerate() {
        println!("{:>3} uA: {c} spikes ({:.0} Hz), peak V {:.1} mV", k + 1, *c as f64 / 0.1, s.peak_v[k]);
    }
    println!("spike times at 10 uA (ms): {:?}", s.times_10ua);
    Ok(())
}
