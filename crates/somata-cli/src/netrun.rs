//! `somata run FILE|coba|cuba|coba-hh [--out DIR]`: run a network described in a TOML file
//! (docs/network-format.md), or a built-in reference network, and write its monitors.
//!
//! Output with `--out DIR` (the directory is created):
//! * `DIR/<monitor name>.npy`: float32 `[samples][neurons]` (spikes as 0/1, states in canonical
//!   units: mV, ms, mA, S);
//! * `DIR/summary.json`: `{"name", "dt_ms", "steps", "duration_ms", "wall_ms", "build_ms",
//!   "populations": {"<name>": {"size", "spikes", "rate_hz"}}, "monitors": {"<name>":
//!   {"population", "var", "shape", "every"}}}`;
//! * `DIR/<monitor name>.png` for every spike monitor (a raster), unless the file says
//!   `plot = false` (plots need the default `plot` feature).
//!
//! The built-in networks `coba`, `cuba` and `coba-hh` (Brette et al. 2007 benchmarks 1, 2 and 3,
//! 4000 neurons, 1 s) monitor the spikes of every population.

use somata::net::{models, toml_net, Network, Var};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub fn run(target: &str, out: Option<&Path>, neurons: Option<usize>, duration_ms: Option<f64>) -> Result<(), String> {
    let e = |e: somata::SomataError| e.to_string();
    let t0 = Instant::now();
    let (mut net, steps, name, plot) = match target {
        "coba" | "cuba" | "coba-hh" => {
            let cfg = models::EiConfig::with_size(neurons.unwrap_or(4000));
            let mut net = match target {
                "coba" => models::coba(&cfg),
                "cuba" => models::cuba(&cfg),
                _ => models::coba_hh(&cfg),
            }
            .map_err(e)?;
            for p in net.names() {
                let id = net.pop_id(&p).map_err(e)?;
                net.monitor_spikes(&format!("{p}_spike"), id, None, 1).map_err(e)?;
            }
            let steps = (duration_ms.unwrap_or(1000.0) / net.clock().dt_ms()).round() as usize;
            (net, steps, target.to_string(), true)
        }
        file => {
            if neurons.is_some() {
                return Err("--net-size applies to the built-in networks (coba, cuba, coba-hh) only; a file gives its sizes".into());
            }
            let f = toml_net::load(Path::new(file)).map_err(e)?;
            let steps = match duration_ms {
                Some(d) => (d / f.net.clock().dt_ms()).round() as usize,
                None => f.steps,
            };
            (f.net, steps, f.name, f.plot)
        }
    };
    let build_ms = t0.elapsed().as_secs_f64() * 1e3;
    let dt = net.clock().dt_ms();
    println!(
        "network `{name}`: {} populations, {} synapses; {steps} steps of {dt} ms; built in {build_ms:.1} ms",
        net.names().len(),
        net.synapse_stats().0
    );
    let bar = indicatif::ProgressBar::new(steps as u64);
    bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps {per_sec} ETA {eta}").map_err(|e| e.to_string())?);
    if steps < 20_000 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let t = Instant::now();
    let s = net.run_with(steps, |k| bar.set_position(k as u64)).map_err(e)?;
    bar.finish_and_clear();
    let wall_ms = t.elapsed().as_secs_f64() * 1e3;
    for (k, p) in s.names.iter().enumerate() {
        let id = net.pop_id(p).map_err(e)?;
        println!("{p:>10}: {:>6} neurons, {:>9} spikes, {:8.2} Hz", net.size(id), s.spikes[k], s.rates_hz[k]);
    }
    if let Some(dir) = out {
        write_out(&net, dir, &name, steps, build_ms, wall_ms, &s, plot)?;
        println!("wrote {}", dir.display());
    }
    println!("simulated {:.1} ms in {wall_ms:.1} ms", steps as f64 * dt);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_out(
    net: &Network,
    dir: &Path,
    name: &str,
    steps: usize,
    build_ms: f64,
    wall_ms: f64,
    s: &somata::net::RunSummary,
    plot: bool,
) -> Result<(), String> {
    use serde_json::{json, Map, Value};
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut mons = Map::new();
    for (mname, pop, var) in net.monitors() {
        let (data, cols) = net.monitor_data(&mname).map_err(|e| e.to_string())?;
        let rows = data.len().checked_div(cols).unwrap_or(0);
        let path: PathBuf = dir.join(format!("{mname}.npy"));
        somata::io::npy::write_f32(&path, data, &[rows, cols]).map_err(|e| e.to_string())?;
        let var_s = match &var {
            Var::Spike => "spike".to_string(),
            Var::State(v) => v.clone(),
            Var::Conductance(p) => format!("g@{p}"),
        };
        if plot && var == Var::Spike && rows > 0 {
            let every = if rows > 0 { steps.div_ceil(rows).max(1) } else { 1 };
            somata::plot::raster(
                dir.join(format!("{mname}.png")),
                data,
                rows,
                cols,
                net.clock().dt_ms() * every as f64,
                &format!("{name}: {pop}"),
            )
            .map_err(|e| e.to_string())?;
        }
        mons.insert(mname.clone(), json!({"population": pop, "var": var_s, "shape": [rows, cols], "every": steps.div_ceil(rows.max(1))}));
    }
    let mut pops = Map::new();
    for (k, p) in s.names.iter().enumerate() {
        let id = net.pop_id(p).map_err(|e| e.to_string())?;
        pops.insert(p.clone(), json!({"size": net.size(id), "spikes": s.spikes[k], "rate_hz": s.rates_hz[k]}));
    }
    let dt = net.clock().dt_ms();
    let doc = json!({
        "name": name, "dt_ms": dt, "steps": steps, "duration_ms": steps as f64 * dt,
        "wall_ms": wall_ms, "build_ms": build_ms, "synaptic_events": s.synaptic_events,
        "fused": s.fused, "threads": s.threads,
        "populations": Value::Object(pops), "monitors": Value::Object(mons),
    });
    let tmp = dir.join("summary.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n").map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, dir.join("summary.json")).map_err(|e| e.to_string())?;
    Ok(())
}
