//! The `somata` command line.

mod bench;
mod distrun;
mod fi;
mod netrun;
mod raster;
mod run;
mod train;

use clap::{Parser, Subcommand};
use std::io::Read;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "somata", version, about = "Spiking neural networks: BrainPy's models in Rust")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one conformance case (FORMAT.md) from FILE or `-` (stdin); print JSON on stdout.
    Trace {
        /// The case document, or `-` for stdin.
        file: String,
    },
    /// Simulate a population of any built-in model (`--model`, default LIF) under an input step or a
    /// constant input, levels in the model's input unit; print per-neuron spike counts, rates and
    /// timing (the main job, on embedded defaults).
    Run(run::RunArgs),
    /// Train a spiking network by BPTT (default: embedded digits); the last line is `test accuracy: <percent>%`.
    Train(train::TrainArgs),
    /// Print the f-I curve (firing rate against constant input) of any model by name.
    Fi(fi::FiArgs),
    /// List the built-in neuron models (BrainPy class names).
    Models {
        /// One comma-separated line instead of one name per line.
        #[arg(long)]
        comma: bool,
    },
    /// Print what this build and CPU run on: version, SIMD back ends available and active, threads.
    Info,
    /// Run a benchmark; the last line is `NAME: <median> ms (min <min> ms, <runs> runs)`.
    Bench {
        /// Benchmark name (`somata bench list` lists them).
        name: String,
        /// Timed runs [default: 10; 1 for `microcircuit`].
        #[arg(long)]
        runs: Option<usize>,
        /// `microcircuit` only: the scale of neuron counts and in-degrees (1: 77,169 neurons,
        /// about 3·10⁸ synapses).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
    /// Print the network file of the Potjans & Diesmann (2014) cortical microcircuit at a scale
    /// (docs/microcircuit.md); `somata run microcircuit --scale S` runs it directly.
    Microcircuit(MicrocircuitArgs),
}

/// `somata microcircuit`: the microcircuit's network file on stdout.
#[derive(clap::Args)]
pub struct MicrocircuitArgs {
    /// Scale of both neuron counts and in-degrees.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Scale of the neuron counts (overrides --scale).
    #[arg(long)]
    scale_n: Option<f64>,
    /// Scale of the in-degrees (overrides --scale); below 1, weights grow by 1/√scale and a DC
    /// current keeps the mean input (NEST's example).
    #[arg(long)]
    scale_k: Option<f64>,
    /// Background input: `poisson` (8 Hz × K_ext per neuron through the synapse) or `dc`.
    #[arg(long, default_value = "poisson")]
    background: String,
    /// Simulated time, ms.
    #[arg(long, default_value_t = 1000.0)]
    duration_ms: f64,
    /// Base seed.
    #[arg(long, default_value_t = 55)]
    seed: u64,
}

impl MicrocircuitArgs {
    /// The configuration these arguments describe.
    pub fn config(&self) -> Result<somata::net::microcircuit::McConfig, String> {
        use somata::net::microcircuit::{Background, McConfig};
        let background = match self.background.as_str() {
            "poisson" => Background::Poisson,
            "dc" => Background::Dc,
            b => return Err(format!("--background must be poisson or dc, got `{b}`")),
        };
        Ok(McConfig {
            scale_n: self.scale_n.unwrap_or(self.scale),
            scale_k: self.scale_k.unwrap_or(self.scale),
            background,
            seed: self.seed,
            duration_ms: self.duration_ms,
            ..McConfig::default()
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // a forced back end this CPU lacks (or an unknown name) is an error, not a silent fallback
    if let Err(e) = somata::dynamics::simd::from_env() {
        eprintln!("somata: error: SOMATA_SIMD: {e}");
        return ExitCode::from(2);
    }
    let res = match cli.cmd {
        Cmd::Info => {
            info();
            Ok(())
        }
        Cmd::Trace { file } => trace(&file),
        Cmd::Run(a) => run::run(&a),
        Cmd::Train(a) => train::run(&a),
        Cmd::Fi(a) => fi::fi(&a),
        Cmd::Bench { name, runs, scale } => bench::bench(&name, runs, scale),
        Cmd::Microcircuit(a) => a.config().and_then(|c| c.toml().map_err(|e| e.to_string())).map(|t| print!("{t}")),
        Cmd::Models { comma } => {
            let names = somata::neurons::registry::MODEL_NAMES;
            if comma {
                println!("{}", names.join(","));
            } else {
                names.iter().for_each(|n| println!("{n}"));
            }
            Ok(())
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("somata: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `somata info`: one `key: value` line each.
fn info() {
    use somata::dynamics::simd;
    println!("somata: {}", env!("CARGO_PKG_VERSION"));
    println!("target: {}", std::env::consts::ARCH);
    println!("simd: {}", simd::active());
    println!("simd available: {}", simd::available().iter().map(|b| b.name()).collect::<Vec<_>>().join(", "));
    println!("threads: {}", rayon::current_num_threads());
}

fn trace(file: &str) -> Result<(), String> {
    let mut text = String::new();
    if file == "-" {
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("reading stdin: {e}"))?;
    } else {
        text = std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?;
    }
    let out = somata::io::trace::run_str(&text).map_err(|e| e.to_string())?;
    println!("{out}");
    Ok(())
}
