//! The COBA E/I network (Vogels & Abbott 2005; Brette et al. 2007, benchmark 1) in Rust:
//! 4000 LIFRef neurons, 2% connectivity, exponential conductance synapses with reversal
//! potentials 0 and −80 mV, 1 s at dt 0.1 ms; prints the rates and writes a raster of the
//! excitatory population. The same network as `examples/networks/coba.toml` and `somata run coba`.
//!
//! `cargo run --release --example coba [OUT.png]` (default `coba_raster.png`; `--cuba` for the
//! current-based variant).

use somata::net::models::{coba, cuba, EiConfig};
use std::time::Instant;

fn main() -> somata::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let is_cuba = args.iter().any(|a| a == "--cuba");
    let out = args.iter().find(|a| !a.starts_with("--")).cloned().unwrap_or_else(|| "coba_raster.png".into());
    let cfg = EiConfig::default(); // 3200 E + 800 I, 80 synapses per neuron, seed 42
    let mut net = if is_cuba { cuba(&cfg)? } else { coba(&cfg)? };
    let e = net.pop_id("E")?;
    net.monitor_spikes("E", e, None, 1)?;
    let t = Instant::now();
    let steps = 10_000; // 1 s
    let s = net.run(steps)?;
    println!("simulated 1 s in {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    for (name, rate) in s.names.iter().zip(&s.rates_hz) {
        println!("{name}: {rate:.1} Hz");
    }
    let (spikes, n) = net.monitor_data("E")?;
    somata::plot::raster(&out, spikes, steps, n, net.clock().dt_ms(), if is_cuba { "CUBA: E" } else { "COBA: E" })?;
    println!("wrote {out}");
    Ok(())
}
