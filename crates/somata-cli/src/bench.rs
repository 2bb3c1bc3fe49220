//! `somata bench NAME`: the workloads of BENCHMARKS.md. The last line printed is
//! `NAME: <median> ms (min <min> ms, <runs> runs)`.

use somata::dynamics::NeuronModel;
use somata::engine::{Build, Gradients, LayerBuilder, NeuronLayer, RunOptions, SeqInput, Tape};
use somata::init::Rng;
use somata::neurons::registry::{dispatch, ModelFn};
use somata::prelude::*;
use std::time::Instant;

/// Benchmark names and what they measure.
pub const BENCHES: &[(&str, &str)] = &[
    ("lif-4000", "LIF layer, 4000 neurons, 10,000 steps at dt 0.1 ms, f32, forward only"),
    ("lif-bptt", "LIF layer, 256 neurons, T=100, batch 64: forward + BPTT, input and tau gradients, f32"),
    ("a-train", "700 -> Linear -> 256 LIF -> Linear -> 20 LIF, T=100, batch 64, 5% input spikes: one training iteration (Adam)"),
    ("a-infer", "a-train's network, forward only"),
    ("b-512", "Linear(512, 512) + LIF, batch 16, T=500, Gaussian input: forward + backward to the Linear's parameters"),
    ("b-4096", "b-512 with N = 4096"),
    ("hh-4000", "HH layer, 4000 neurons, 10,000 steps at dt 0.1 ms, f32, forward only"),
    ("hh-exact-4000", "hh-4000 with gate_tables(false): BrainPy's rate formulas every step, no gate tables"),
    ("adex-4000", "AdExIF layer, 4000 neurons, 10,000 steps at dt 0.1 ms, f32, forward only"),
    (
        "coba-4k",
        "COBA E/I network (Brette 2007 benchmark 1): 4000 LIFRef, 2% connectivity, Expon + COBA, 1 s at dt 0.1 ms; construction excluded",
    ),
    ("coba-40k", "coba-4k with 40,000 neurons and the same in-degree (80 synapses per neuron)"),
    ("cuba-4k", "CUBA E/I network (benchmark 2): as coba-4k with current synapses"),
    (
        "coba-hh-4k",
        "COBA-HH network (benchmark 3): 4000 Traub-Miles HH (TraubHH), 2% connectivity, Expon + COBA, no input, 1 s at dt 0.1 ms; construction excluded",
    ),
    ("fwd:MODEL", "any model by name (`somata models`), as hh-4000: 4000 neurons, 10,000 steps, inputs spread from 0"),
    (
        "microcircuit",
        "Potjans & Diesmann (2014) cortical microcircuit, 1 s at dt 0.1 ms with Poisson background (--scale S; 1: 77,169 neurons, ~3e8 synapses); construction excluded, reported with rates and peak memory",
    ),
];

/// `fwd:MODEL`: the 4000 × 10,000 forward run of any built-in model.
struct Fwd;
impl ModelFn for Fwd {
    type Out = somata::Result<Box<dyn FnMut() -> Result<(), String>>>;
    fn call<M: NeuronModel + Default>(self) -> Self::Out {
        // inputs from 0 to `somata fi`'s default maximum, in the model's input unit
        let scale = crate::fi::default_max(M::INPUT_UNIT);
        let f = forward_4000::<M>(scale as f32, 7, true).map_err(somata::SomataError::Format)?;
        Ok(Box::new(f))
    }
}

fn time_runs(runs: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<Vec<f64>, String> {
    f()?; // warm-up
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}

/// E/I network benchmarks: each run builds a fresh network (timed separately) and runs 1 s of
/// biological time (10,000 steps); prints construction time, rates, synaptic events and memory.
fn net_runs(runs: usize, n: usize, cuba: bool) -> Result<Vec<f64>, String> {
    use somata::net::models::{coba, cuba as cuba_net, EiConfig};
    let mut times = Vec::with_capacity(runs);
    for r in 0..=runs {
        let t0 = Instant::now();
        let cfg = EiConfig { seed: 42 + r as u64, ..EiConfig::with_size(n) };
        let mut net = if cuba { cuba_net(&cfg) } else { coba(&cfg) }.map_err(|e| e.to_string())?;
        let build = t0.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let s = net.run(10_000).map_err(|e| e.to_string())?;
        let elapsed = t.elapsed().as_secs_f64() * 1e3;
        if r == 0 {
            let (syn, bytes) = net.synapse_stats();
            println!(
                "construction {build:.1} ms; {}; rates E {:.1} Hz, I {:.1} Hz; {} synapses, {bytes} bytes per synapse; {:.2e} synaptic events, {:.2} ns per event (whole step loop / events)",
                runner(&s),
                s.rates_hz[0],
                s.rates_hz[1],
                syn,
                s.synaptic_events as f64,
                elapsed * 1e6 / s.synaptic_events.max(1) as f64
            );
            continue; // warm-up
        }
        times.push(elapsed);
    }
    Ok(times)
}

/// Which runner ran a network, for the benchmarks' first line.
fn runner(s: &somata::net::RunSummary) -> String {
    if s.fused {
        format!("fused runner, {} thread{}", s.threads, if s.threads == 1 { "" } else { "s" })
    } else {
        "reference loop".into()
    }
}

/// `coba-hh-4k`: as [`net_runs`] for the COBA-HH network (4000 TraubHH neurons, 1 s), each run
/// on a fresh network of its own seed; the warm-up run prints construction time, rates and events.
fn coba_hh_runs(runs: usize) -> Result<Vec<f64>, String> {
    use somata::net::models::{coba_hh, EiConfig};
    let mut times = Vec::with_capacity(runs);
    for r in 0..=runs {
        let t0 = Instant::now();
        let mut net = coba_hh(&EiConfig { seed: 42 + r as u64, ..EiConfig::default() }).map_err(|e| e.to_string())?;
        let build = t0.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let s = net.run(10_000).map_err(|e| e.to_string())?;
        let elapsed = t.elapsed().as_secs_f64() * 1e3;
        if r == 0 {
            println!(
                "construction {build:.1} ms; {}; rates E {:.1} Hz, I {:.1} Hz; {:.2e} synaptic events",
                runner(&s),
                s.rates_hz[0],
                s.rates_hz[1],
                s.synaptic_events as f64
            );
            continue; // warm-up
        }
        times.push(elapsed);
    }
    Ok(times)
}

/// Constant inputs spread over `scale·[0, 1)`: from silent to fast-firing neurons.
fn spread(n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|i| scale * i as f32 / n as f32).collect()
}

/// A 4000-neuron, 10,000-step forward run of any model under constant, neuron-varying input.
fn forward_4000<M: NeuronModel + Default>(scale: f32, seed: u64, tables: bool) -> Result<impl FnMut() -> Result<(), String>, String> {
    let n = 4000;
    let mut layer: NeuronLayer<M> = LayerBuilder::new(M::default(), n).seed(seed).gate_tables(tables).build().map_err(|e| e.to_string())?;
    let x = spread(n, scale);
    Ok(move || {
        layer.init_state(None).map_err(|e| e.to_string())?;
        let mut clock = Clock::new(0.1 * ms).map_err(|e| e.to_string())?;
        let out = layer.run(&mut clock, SeqInput::Constant(Input::Slice(&x), 10_000), &RunOptions::default()).map_err(|e| e.to_string())?;
        std::hint::black_box(out.spike_counts);
        Ok(())
    })
}

fn lif_bptt() -> Result<impl FnMut() -> Result<(), String>, String> {
    let (n, b, t) = (256, 64, 100);
    let mut layer: NeuronLayer<Lif> = Lif::builder(n).tau(8.0 * ms).build().map_err(|e| e.to_string())?;
    let mut rng = Rng::new(1);
    let x: Vec<f32> = (0..t * b * n).map(|_| (3.0 * rng.uniform()) as f32).collect();
    let gs: Vec<f32> = (0..t * b * n).map(|_| rng.uniform() as f32).collect();
    // Buffers are reused across iterations, as in a training loop.
    let mut tape = Tape::default();
    let mut grads = Gradients::default();
    Ok(move || {
        layer.init_state(Some(b)).map_err(|e| e.to_string())?;
        let mut clock = Clock::new(0.1 * ms).map_err(|e| e.to_string())?;
        layer.forward_tape_into(&mut clock, SeqInput::Dense(&x, t), &mut tape).map_err(|e| e.to_string())?;
        layer.backward_into(&tape, &gs, &["tau"], &mut grads).map_err(|e| e.to_string())?;
        std::hint::black_box(&grads.input);
        Ok(())
    })
}

/// The `a` workload: 700 → Linear → 256 LIF → Linear → 20 LIF, T = 100, batch 64, Bernoulli(0.05)
/// input spikes, LIF `v ← 0.9·v + I` (R = 10, tau = −1/ln 0.9, dt = 1 ms) with soft reset at 1,
/// Arctan(α = 2), cross-entropy of output spike counts, Adam 1e-3.
fn a_net() -> Result<(somata::nn::Sequential, somata::nn::SeqBuf, Vec<u32>), String> {
    use somata::nn::{Linear, Neurons, SeqBuf, Sequential};
    let e = |e: SomataError| e.to_string();
    let (n_in, h, n_out, t, b) = (700, 256, 20, 100, 64);
    let tau = -1.0 / 0.9f64.ln();
    let lif = |n: usize| {
        Lif::builder(n).r(10.0 * ohm).tau(tau * ms).v_th(1.0 * mV).spk_fun(Arctan { alpha: 2.0 }).spk_reset(SpikeReset::Soft).build()
    };
    let net = Sequential::new(1.0 * ms)
        .push(Linear::new(n_in, h, 1))
        .push(Neurons::new(lif(h).map_err(e)?))
        .push(Linear::new(h, n_out, 2))
        .push(Neurons::new(lif(n_out).map_err(e)?));
    let mut rng = Rng::new(3);
    let x: Vec<f32> = (0..t * b * n_in).map(|_| if rng.uniform() < 0.05 { 1.0 } else { 0.0 }).collect();
    let labels: Vec<u32> = (0..b).map(|i| (i % n_out) as u32).collect();
    Ok((net, SeqBuf::dense(x, t, b, n_in), labels))
}

fn a_train() -> Result<impl FnMut() -> Result<(), String>, String> {
    use somata::nn::{Loss, Reduce};
    use somata::optim::{Adam, Optimizer};
    let (mut net, x, labels) = a_net()?;
    let mut opt = Adam::new(1e-3);
    let loss = Loss::CrossEntropy(Reduce::Sum);
    Ok(move || {
        let e = |e: SomataError| e.to_string();
        let y = net.forward(&x).map_err(e)?;
        let (_, g) = loss.eval(&y, &labels).map_err(e)?;
        net.recycle(y);
        net.zero_grad();
        net.backward_params(&g).map_err(e)?;
        let mut ps = net.params();
        let (mut vals, grads): (Vec<&mut [f32]>, Vec<&[f32]>) = ps.iter_mut().map(|p| (&mut *p.value, &*p.grad)).unzip();
        opt.step(&mut vals, &grads).map_err(e)?;
        Ok(())
    })
}

fn a_infer() -> Result<impl FnMut() -> Result<(), String>, String> {
    let (mut net, x, _) = a_net()?;
    Ok(move || {
        let y = net.forward(&x).map_err(|e| e.to_string())?;
        std::hint::black_box(&y);
        net.recycle(y);
        Ok(())
    })
}

/// The Open Neuromorphic benchmark: Linear(N, N) + LIF (as `a`), batch 16, T = 500, dense
/// Gaussian input, loss = sum of output spikes, forward + backward to the Linear's parameters.
fn b_bench(n: usize) -> Result<impl FnMut() -> Result<(), String>, String> {
    use somata::nn::{Linear, Neurons, SeqBuf, Sequential};
    let e = |e: SomataError| e.to_string();
    let (t, b) = (500, 16);
    let tau = -1.0 / 0.9f64.ln();
    let lif = Lif::builder(n).r(10.0 * ohm).tau(tau * ms).v_th(1.0 * mV).spk_fun(Arctan { alpha: 2.0 }).build().map_err(e)?;
    let mut net = Sequential::new(1.0 * ms).push(Linear::new(n, n, 1)).push(Neurons::new(lif));
    let mut rng = Rng::new(4);
    let x = SeqBuf::dense((0..t * b * n).map(|_| rng.normal() as f32).collect(), t, b, n);
    let g = SeqBuf::dense(vec![1.0; t * b * n], t, b, n);
    // the matrix product alone ([T·B, N]·[N, N]), for the GFLOP/s figure
    let lin = Linear::new(n, n, 9).without_bias();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        std::hint::black_box(lin.apply(&x.data).map_err(e)?);
        best = best.min(t0.elapsed().as_secs_f64());
    }
    let flop = 2.0 * (t * b) as f64 * (n * n) as f64;
    println!(
        "matrix product [{}x{n}]·[{n}x{n}]: {:.1} ms, {:.0} GFLOP/s; two per iteration ({:.1} GFLOP)",
        t * b,
        best * 1e3,
        flop / best / 1e9,
        2.0 * flop / 1e9
    );
    Ok(move || {
        let y = net.forward(&x).map_err(e)?;
        std::hint::black_box(&y);
        net.recycle(y);
        net.zero_grad();
        net.backward_params(&g).map_err(e)?;
        Ok(())
    })
}

/// Peak resident memory of this process (Linux `VmHWM`), bytes.
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The microcircuit: each run builds the network (timed) and simulates 1 s.
fn microcircuit_runs(runs: usize, scale: f64) -> Result<Vec<f64>, String> {
    use somata::net::microcircuit::{microcircuit, McConfig, FULL_MEAN_RATES, POPULATIONS};
    let mut times = Vec::with_capacity(runs);
    for r in 0..runs {
        let cfg = McConfig { record_spikes: false, seed: 55 + r as u64, ..McConfig::scaled(scale) };
        let t0 = Instant::now();
        let mut f = microcircuit(&cfg).map_err(|e| e.to_string())?;
        let build = t0.elapsed().as_secs_f64();
        let (syn, bytes) = f.net.synapse_stats();
        let t = Instant::now();
        let s = f.net.run(f.steps).map_err(|e| e.to_string())?;
        let sim = t.elapsed().as_secs_f64();
        let sim_s = f.steps as f64 * f.net.clock().dt_ms() * 1e-3;
        println!(
            "run {}: scale {scale}: {} neurons, {syn} synapses ({bytes} bytes per synapse); construction {build:.2} s; simulation {sim:.2} s for {sim_s} s: real-time factor {:.2}; {}",
            r + 1,
            POPULATIONS.iter().filter_map(|p| f.net.pop_id(p).ok()).map(|id| f.net.size(id)).sum::<usize>(),
            sim / sim_s.max(1e-12),
            runner(&s)
        );
        let rates: Vec<String> = s
            .names
            .iter()
            .zip(&s.rates_hz)
            .zip(FULL_MEAN_RATES)
            .map(|((n, r), f)| format!("{n} {r:.2} Hz ({:+.0}%)", 100.0 * (r / f - 1.0)))
            .collect();
        println!("rates (vs NEST's full-scale means): {}", rates.join(", "));
        if let Some(p) = peak_rss() {
            println!("peak memory: {:.2} GB", p as f64 / 1e9);
        }
        times.push(sim * 1e3);
    }
    Ok(times)
}

pub fn bench(name: &str, runs: Option<usize>, scale: f64) -> Result<(), String> {
    let runs = runs.unwrap_or(if name == "microcircuit" { 1 } else { 10 });
    if name == "list" {
        let w = BENCHES.iter().map(|b| b.0.len()).max().unwrap_or(0);
        for (n, d) in BENCHES {
            println!("{n:w$}  {d}");
        }
        return Ok(());
    }
    let runs = runs.max(1);
    let times = match name {
        // LIF: 0..3 mA spans rest to fast firing
        "lif-4000" => time_runs(runs, forward_4000::<Lif>(3.0, 0, true)?)?,
        "lif-bptt" => time_runs(runs, lif_bptt()?)?,
        "coba-4k" => net_runs(runs, 4000, false)?,
        "coba-40k" => net_runs(runs, 40_000, false)?,
        "cuba-4k" => net_runs(runs, 4000, true)?,
        "coba-hh-4k" => coba_hh_runs(runs)?,
        "a-train" => time_runs(runs, a_train()?)?,
        "a-infer" => time_runs(runs, a_infer()?)?,
        "b-512" => time_runs(runs, b_bench(512)?)?,
        "b-4096" => time_runs(runs, b_bench(4096)?)?,
        // HH: 0..20 uA (canonical mA: 0..0.02) spans rest to tonic firing
        "hh-4000" => time_runs(runs, forward_4000::<Hh>(20.0, 7, true)?)?,
        "hh-exact-4000" => time_runs(runs, forward_4000::<Hh>(20.0, 7, false)?)?,
        // AdEx (hard reset keeps the upswing finite): 0..20 mA spans rest to tonic firing
        "adex-4000" => time_runs(runs, forward_4000::<AdExIf>(20.0, 7, true)?)?,
        "microcircuit" => microcircuit_runs(runs, scale)?,
        _ if name.starts_with("fwd:") => time_runs(runs, dispatch(&name[4..], Fwd).map_err(|e| e.to_string())?)?,
        _ => {
            let known: Vec<&str> = BENCHES.iter().map(|b| b.0).collect();
            return Err(format!("unknown benchmark `{name}`; known: {}", known.join(", ")));
        }
    };
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median =
        if sorted.len() % 2 == 1 { sorted[sorted.len() / 2] } else { 0.5 * (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) };
    println!("threads: {}", rayon::current_num_threads());
    println!("simd: {}", somata::dynamics::simd::active());
    println!("{name}: {median:.2} ms (min {:.2} ms, {runs} runs)", sorted[0]);
    Ok(())
}
