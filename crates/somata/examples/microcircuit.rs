//! The cortical microcircuit of Potjans & Diesmann (2014) at a scale (docs/microcircuit.md):
//! builds it from its network file, runs 1 s and prints the rate of every population.
//!
//! `cargo run --release --example microcircuit -- 0.1` (the scale; 1 is 77,169 neurons and
//! about 3·10⁸ synapses, 3 GB).

use somata::net::microcircuit::{microcircuit, McConfig, FULL_MEAN_RATES};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scale: f64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(0.1);
    let cfg = McConfig { record_spikes: false, ..McConfig::scaled(scale) };
    let t0 = Instant::now();
    let mut f = microcircuit(&cfg)?;
    let (syn, _) = f.net.synapse_stats();
    println!("scale {scale}: {syn} synapses, built in {:.2} s", t0.elapsed().as_secs_f64());
    let t = Instant::now();
    let s = f.net.run(f.steps)?;
    println!("1 s simulated in {:.2} s", t.elapsed().as_secs_f64());
    for ((name, rate), full) in s.names.iter().zip(&s.rates_hz).zip(FULL_MEAN_RATES) {
        println!("{name:>5}: {rate:6.2} Hz (NEST's full-scale mean {full:.2} Hz)");
    }
    Ok(())
}
