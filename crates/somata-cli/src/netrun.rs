//! `somata run FILE|coba|cuba|coba-hh [--out DIR]`: run a network described in a TOML file
//! (docs/network-format.md), or a built-in reference network, and write its monitors.
//!
//! With `--out DIR` (created) the monitors stream into `DIR` while the network runs (memory
//! stays bounded for any duration; a stopped run keeps what it recorded up to its last flush):
//! * `DIR/<monitor>.npy`: float32 `[samples][columns]` of a dense monitor (states in canonical
//!   units: mV, ms, mA, S; spikes as 0/1), written for spike monitors when it takes at most
//!   256 MiB (or with `format = "dense"`/`"both"`);
//! * `DIR/<monitor>.events.npy`: int64 `[k][2]`, rows `(step, neuron)` in step order, for every
//!   spike monitor (the initial state's spikes at step −1);
//! * `DIR/<monitor>.png`: a raster of every spike monitor (unless the file says `plot = false`),
//!   and `DIR/raster.png`, all spike monitors in one;
//! * `DIR/summary.json`: `{"name", "dt_ms", "steps", "duration_ms", "wall_ms", "build_ms",
//!   "synaptic_events", "fused", "threads", "populations": {"<name>": {"size", "spikes",
//!   "initial_spikes", "rate_hz"}}, "monitors": {"<name>": {"population", "var", "shape",
//!   "every", "dense", "events", "files"}}}`.
//!
//! The built-in networks `coba`, `cuba` and `coba-hh` (Brette et al. 2007 benchmarks 1, 2 and 3,
//! 4000 neurons, 1 s) monitor the spikes of every population.

use somata::net::{models, toml_net, Network, Var};
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

/// How a network runs: threads per process (`None`: one process and thread as before, the
/// fused runner choosing its own threads), and whether the exchange overlaps integration.
pub struct Spread {
    pub threads: Option<usize>,
    pub overlap: bool,
}

pub fn run(
    target: &str,
    out: Option<&Path>,
    neurons: Option<usize>,
    duration_ms: Option<f64>,
    scale: Option<f64>,
    spread: Spread,
) -> Result<(), String> {
    let e = |e: somata::SomataError| e.to_string();
    let t0 = Instant::now();
    if scale.is_some() && target != "microcircuit" {
        return Err("--scale applies to the built-in `microcircuit`".into());
    }
    let world = crate::distrun::world()?;
    if world.size > 1 || spread.threads.is_some_and(|t| t > 1) {
        // spread over processes and threads: from the file's text
        let (text, dir, name, plot) = match target {
            "microcircuit" => {
                let cfg = somata::net::microcircuit::McConfig {
                    duration_ms: duration_ms.unwrap_or(1000.0),
                    ..somata::net::microcircuit::McConfig::scaled(scale.unwrap_or(1.0))
                };
                (cfg.toml().map_err(e)?, std::path::PathBuf::from("."), "microcircuit".to_string(), true)
            }
            "coba" | "cuba" | "coba-hh" => {
                return Err(format!(
                    "the built-in `{target}` runs in one process; over ranks or threads, run its file (crates/somata/examples/networks/)"
                ))
            }
            file => {
                let p = Path::new(file);
                let text = std::fs::read_to_string(p).map_err(|e| format!("{file}: {e}"))?;
                let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("network").to_string();
                let plot = toml_net::clock_of(&text).is_ok() && !text.lines().any(|l| l.trim().replace(' ', "") == "plot=false");
                (text, p.parent().unwrap_or(Path::new(".")).to_path_buf(), stem, plot)
            }
        };
        let dur = if target == "microcircuit" { None } else { duration_ms };
        return crate::distrun::run(world, &text, &dir, &name, dur, out, spread.threads.unwrap_or(1), spread.overlap, plot);
    }
    let (mut net, steps, name, plot) = match target {
        "microcircuit" => {
            if neurons.is_some() {
                return Err("the microcircuit takes --scale, not --net-size".into());
            }
            let cfg = somata::net::microcircuit::McConfig {
                duration_ms: duration_ms.unwrap_or(1000.0),
                ..somata::net::microcircuit::McConfig::scaled(scale.unwrap_or(1.0))
            };
            let f = somata::net::microcircuit::microcircuit(&cfg).map_err(e)?;
            (f.net, f.steps, f.name, f.plot)
        }
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
    if let Some(dir) = out {
        net.record_to(dir).map_err(e)?;
    }
    let build_ms = t0.elapsed().as_secs_f64() * 1e3;
    let dt = net.clock().dt_ms();
    println!(
        "network `{name}`: {} populations, {} synapses; {steps} steps of {dt} ms; built in {build_ms:.1} ms",
        net.names().len(),
        net.synapse_stats().0
    );
    let t = Instant::now();
    let s = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(steps as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps {per_sec} ETA {eta}").map_err(|e| e.to_string())?,
        );
        if steps < 20_000 {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let s = net.run_with(steps, |k| bar.set_position(k as u64)).map_err(e)?;
        bar.finish_and_clear();
        s
    } else {
        // not a terminal: a line every 10 s (SOMATA_PROGRESS_S to change it)
        let every_s = std::env::var("SOMATA_PROGRESS_S").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(10.0);
        let mut last = Instant::now();
        net.run_with(steps, |k| {
            if last.elapsed().as_secs_f64() >= every_s && k < steps {
                last = Instant::now();
                let secs = t.elapsed().as_secs_f64();
                let rate = k as f64 / secs.max(1e-9);
                let eta = (steps - k) as f64 / rate.max(1e-9);
                eprintln!("progress: {k}/{steps} steps ({:.1}%), {rate:.0} steps/s, ETA {eta:.0} s", 100.0 * k as f64 / steps as f64);
            }
        })
        .map_err(e)?
    };
    let wall_ms = t.elapsed().as_secs_f64() * 1e3;
    for w in net.warnings() {
        eprintln!("somata: warning: {w}");
    }
    for (k, p) in s.names.iter().enumerate() {
        let id = net.pop_id(p).map_err(e)?;
        println!("{p:>10}: {:>6} neurons, {:>9} spikes, {:8.2} Hz", net.size(id), s.spikes[k] + s.initial_spikes[k], s.rates_hz[k]);
    }
    if let Some(dir) = out {
        write_out(&net, dir, &name, steps, build_ms, wall_ms, &s, plot)?;
        println!("wrote {}", dir.display());
    }
    println!("simulated {:.1} ms in {wall_ms:.1} ms", steps as f64 * dt);
    Ok(())
}

/// A run's counts for `summary.json`.
pub struct Summary {
    pub names: Vec<String>,
    pub sizes: Vec<usize>,
    pub spikes: Vec<u64>,
    pub initial: Vec<u64>,
    pub rates: Vec<f64>,
    pub synaptic_events: u64,
    pub fused: bool,
    pub threads: usize,
}

/// A monitor's entry in `summary.json`, and its files.
pub struct MonOut {
    pub name: String,
    pub population: String,
    pub var: String,
    pub samples: usize,
    pub cols: usize,
    pub every: usize,
    pub dense: bool,
    /// Events recorded (spike monitors that record events).
    pub events: Option<u64>,
    pub files: Vec<std::path::PathBuf>,
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
    let e = |e: somata::SomataError| e.to_string();
    let mons: Vec<MonOut> = net
        .monitor_info()
        .into_iter()
        .map(|m| MonOut {
            name: m.name,
            population: m.population,
            var: m.var,
            samples: m.samples,
            cols: m.cols,
            every: m.every,
            dense: m.dense,
            events: m.events,
            files: m.files,
        })
        .collect();
    let sizes = s.names.iter().map(|p| net.pop_id(p).map(|id| net.size(id))).collect::<Result<_, _>>().map_err(e)?;
    let sum = Summary {
        names: s.names.clone(),
        sizes,
        spikes: s.spikes.clone(),
        initial: s.initial_spikes.clone(),
        rates: s.rates_hz.clone(),
        synaptic_events: s.synaptic_events,
        fused: s.fused,
        threads: s.threads,
    };
    write_summary(dir, name, steps, net.clock().dt_ms(), build_ms, wall_ms, &sum, &mons, plot)
}

/// `summary.json` and the rasters of the spike monitors' event files.
#[allow(clippy::too_many_arguments)]
pub fn write_summary(
    dir: &Path,
    name: &str,
    steps: usize,
    dt: f64,
    build_ms: f64,
    wall_ms: f64,
    s: &Summary,
    monitors: &[MonOut],
    plot: bool,
) -> Result<(), String> {
    use serde_json::{json, Map, Value};
    let mut mons = Map::new();
    let mut rasters = vec![];
    for m in monitors {
        if plot
            && m.var == Var::Spike.name()
            && let Some(ev) = m.files.iter().find(|f| f.to_string_lossy().ends_with(".events.npy"))
        {
            let k = s.names.iter().position(|p| *p == m.population).ok_or_else(|| format!("no population `{}`", m.population))?;
            rasters.push((m.name.clone(), m.population.clone(), s.sizes[k], ev.clone()));
        }
        let files: Vec<String> =
            m.files.iter().map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()).collect();
        mons.insert(
            m.name.clone(),
            json!({"population": m.population, "var": m.var, "shape": [m.samples, m.cols], "every": m.every,
                   "dense": m.dense, "events": m.events, "files": files}),
        );
    }
    if !rasters.is_empty() {
        crate::raster::write(dir, name, &rasters, steps, dt)?;
    }
    let mut pops = Map::new();
    for (k, p) in s.names.iter().enumerate() {
        pops.insert(
            p.clone(),
            json!({"size": s.sizes[k], "spikes": s.spikes[k] + s.initial[k], "initial_spikes": s.initial[k], "rate_hz": s.rates[k]}),
        );
    }
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
