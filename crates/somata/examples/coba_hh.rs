//! The COBA-HH E/I network (Brette et al. 2007, benchmark 3; BrainPy's COBA-HH example) in Rust:
//! 4000 Traub–Miles HH neurons (`TraubHh`), 2% connectivity, exponential conductance synapses
//! (6 nS, E 0 mV; 67 nS, E −80 mV), no external input, 1 s at dt 0.1 ms; prints the rates and
//! writes a raster of the whole network (E then I). The same network as
//! `examples/networks/coba_hh.toml` and `somata run coba-hh`.
//!
//! `cargo run --release --example coba_hh [OUT.png]` (default `coba_hh_raster.png`).

use somata::net::models::{coba_hh, EiConfig};
use std::time::Instant;

fn main() -> somata::Result<()> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "coba_hh_raster.png".into());
    let cfg = EiConfig::default(); // 3200 E + 800 I, 80 synapses per neuron, seed 42
    let mut net = coba_hh(&cfg)?;
    let (e, i) = (net.pop_id("E")?, net.pop_id("I")?);
    net.monitor_spikes("E", e, None, 1)?;
    net.monitor_spikes("I", i, None, 1)?;
    let t = Instant::now();
    let steps = 10_000; // 1 s
    let s = net.run(steps)?;
    println!("simulated 1 s in {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    for (name, rate) in s.names.iter().zip(&s.rates_hz) {
        println!("{name}: {rate:.1} Hz");
    }
    // one raster of all 4000 neurons, E and I in their own colours, from the spike events
    let mut bins = somata::plot::RasterBins::new(steps, net.clock().dt_ms(), &[("E", net.size(e)), ("I", net.size(i))])?;
    for (k, mon) in ["E", "I"].into_iter().enumerate() {
        for &[step, j] in net.spike_events(mon)? {
            if step >= 0 {
                bins.add(k, step as usize, j as usize)?;
            }
        }
    }
    bins.draw(&out, "COBA-HH")?;
    println!("wrote {out}");
    Ok(())
}
