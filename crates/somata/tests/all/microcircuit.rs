//! The pieces of the cortical microcircuit (issue 24): the fixed-total-number rule, weights and
//! delays drawn per synapse, Poisson background through an exponential PSC, and the
//! Potjans & Diesmann (2014) network built from its file at small scale.

use somata::net::microcircuit::{full_num_synapses, microcircuit, psc_over_psp, McConfig, N_FULL};
use somata::net::{toml_net, Conn, Delay, Dist, ExtInput, Network, Output, ProjKind, Projection, Var};
use somata::prelude::*;
use std::path::Path;

#[test]
fn fixed_total_number_draws_exactly_n_synapses_uniformly() {
    let (n_pre, n_post, n) = (40, 25, 200_000);
    let c = Conn::fixed_total_number(n_pre, n_post, n, 1.0 * mS, 11).unwrap();
    assert_eq!(c.num_synapses(), n);
    let (mut pre, mut post) = (vec![0u32; n_pre], vec![0u32; n_post]);
    for (i, j, w) in c.synapses() {
        pre[i] += 1;
        post[j] += 1;
        assert_eq!(w, 1e-3);
    }
    // uniform: each count within 5 standard deviations of its mean
    for (counts, m) in [(&pre, n_pre), (&post, n_post)] {
        let mean = n as f64 / m as f64;
        let sd = (mean * (1.0 - 1.0 / m as f64)).sqrt();
        for &k in counts.iter() {
            assert!((k as f64 - mean).abs() < 5.0 * sd, "{k} vs {mean} ± {sd}");
        }
    }
    // seeded: same seed, same matrix; another seed, another
    let d = Conn::fixed_total_number(n_pre, n_post, n, 1.0 * mS, 11).unwrap();
    assert!(c.synapses().eq(d.synapses()));
    let e = Conn::fixed_total_number(n_pre, n_post, n, 1.0 * mS, 12).unwrap();
    assert!(!c.synapses().eq(e.synapses()));
    assert!(Conn::fixed_total_number(0, 5, 3, 1.0 * mS, 1).is_err());
    assert_eq!(Conn::fixed_total_number(0, 5, 0, 1.0 * mS, 1).unwrap().num_synapses(), 0);
}

#[test]
fn redrawn_normal_weights_keep_their_sign_and_moments() {
    let d = Dist::Normal { mean: 1.0, std: 0.5, min: 0.0, max: f64::INFINITY };
    let c = Conn::fixed_total_number(100, 100, 100_000, 1.0 * mS, 3).unwrap().with_weight_dist(d, 9).unwrap();
    let w: Vec<f64> = c.synapses().map(|s| s.2 as f64).collect();
    assert!(w.iter().all(|&x| x >= 0.0));
    // a normal(1, 0.5) truncated at 0: mean 1 + 0.5·φ(2)/Φ(2) = 1.02770
    let mean = w.iter().sum::<f64>() / w.len() as f64;
    assert!((mean - 1.02770).abs() < 0.005, "{mean}");
    // an unreachable interval and a bad std are refused
    assert!(Dist::Normal { mean: 0.0, std: 1.0, min: 10.0, max: 11.0 }.check("w").is_err());
    assert!(Dist::Normal { mean: 0.0, std: -1.0, min: 0.0, max: 1.0 }.check("w").is_err());
    assert!(Dist::Uniform { low: 1.0, high: 0.0 }.check("w").is_err());
}

#[test]
fn drawn_delays_are_whole_steps_of_at_least_one() {
    let d = Dist::Normal { mean: 1.5, std: 0.75, min: 0.1, max: f64::INFINITY };
    let Delay::PerSynapseSteps(k) = Delay::steps_from_dist(200_000, d, 0.1, 5).unwrap() else { panic!("steps") };
    assert!(k.iter().all(|&s| s >= 1));
    // the mean of N(1.5, 0.75) redrawn below 0.1 ms (2.5% of the mass): 1.5 + 0.75·φ(−1.867)/(1 − Φ(−1.867)) ≈ 1.5522 ms
    let mean = k.iter().map(|&s| s as f64 * 0.1).sum::<f64>() / k.len() as f64;
    assert!((mean - 1.5522).abs() < 0.01, "{mean}");
    assert!(Delay::steps_from_dist(10, Dist::normal(1e9, 1.0), 0.1, 1).is_err(), "beyond 65535 steps");
}

#[test]
fn a_per_synapse_step_delay_arrives_exactly_k_steps_later() {
    // one presynaptic LIF made to spike at step 0 by a pulse; 3 postsynaptic targets through
    // delays of 1, 4 and 7 steps (std 0, so every synapse has the mean)
    for (ms_delay, k) in [(0.1, 1usize), (0.4, 4), (0.7, 7)] {
        let mut net = Network::new(0.1 * ms).unwrap();
        let pre = net.add(Lif::builder(1).v_th(1.0 * mV).spk_reset(SpikeReset::Hard).build().unwrap(), "pre").unwrap();
        let post = net.add(Lif::builder(3).v_th(1e6 * mV).build().unwrap(), "post").unwrap();
        net.input(pre, ExtInput::PerStep { data: vec![1e3], steps: 1 }).unwrap();
        let conn = Conn::all_to_all(1, 3, 2.0 * siemens).unwrap();
        let d = Delay::steps_from_dist(3, Dist::normal(ms_delay, 0.0), 0.1, 1).unwrap();
        net.connect(Projection::new(pre, post, conn, ProjKind::Current { out: Output::Cuba { scale: 1.0 } }).delays(d).name("p")).unwrap();
        net.add_monitor("g", post, Var::Conductance("p".into()), None, 1).unwrap();
        net.run(12).unwrap();
        let g = net.monitor_data("g").unwrap().0.to_vec();
        for s in 0..12 {
            let want = if s == 1 + k { 2.0 } else { 0.0 };
            assert_eq!(&g[s * 3..s * 3 + 3], &[want; 3], "delay {ms_delay} ms, step {s}");
        }
    }
}

fn file(text: &str) -> somata::Result<toml_net::NetFile> {
    toml_net::parse(text, Path::new("."), "t")
}

#[test]
fn network_files_take_fixed_total_number_and_distributions() {
    let f = file(
        r#"
dt = "0.1 ms"
steps = 10
[[population]]
name = "A"
model = "LIF"
size = 50
[[projection]]
pre = "A"
post = "A"
synapse = "Expon"
output = { model = "CUBA" }
conn = { type = "fixed_total_number", count = 1000, weight = { normal = ["2 nS", "0.5 nS"], min = "0 nS" }, delays = { normal = ["1 ms", "0.2 ms"] }, seed = 4 }
"#,
    )
    .unwrap();
    assert_eq!(f.net.synapse_stats().0, 1000);
    let bad = |conn: &str, want: &str| {
        let text = format!(
            "dt = \"0.1 ms\"\nsteps = 1\n[[population]]\nname = \"A\"\nmodel = \"LIF\"\nsize = 4\n[[projection]]\npre = \"A\"\npost = \"A\"\nsynapse = \"Expon\"\noutput = {{ model = \"CUBA\" }}\nconn = {conn}\n"
        );
        let e = file(&text).err().unwrap_or_else(|| panic!("{conn} accepted")).to_string();
        assert!(e.contains(want), "{e}");
    };
    bad(r#"{ type = "fixed_total_number", weight = "1 nS" }"#, "count");
    bad(r#"{ type = "fixed_total_number", count = 5, weight = { normal = ["1 nS", "1 nS"], min = "2 nS", max = "1 nS" } }"#, "min");
    bad(r#"{ type = "fixed_total_number", count = 5, weight = { normal = ["1 nS", "1 mV"] } }"#, "dimension");
    bad(
        r#"{ type = "dense", values = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], delays = { normal = ["1 ms", "0.1 ms"] } }"#,
        "generated",
    );
    bad(r#"{ type = "fixed_prob", prob = 0.5, weight = "1 nS", delays = { gamma = ["1 ms", "0.1 ms"] } }"#, "delays");
}

#[test]
fn poisson_background_through_an_exponential_psc_has_the_mean_of_its_dc() {
    // count sources at rate, each spike a PSC w·e^{−t/τ}
    let text = r#"
dt = "0.1 ms"
steps = 20000
[[population]]
name = "A"
model = "LIF"
size = 200
params = { V_th = "1e9 mV" }
[[input]]
target = "A"
type = "poisson"
rate = "8 Hz"
count = 2000
weight = "100 pA"
tau = "0.5 ms"
seed = 3
[[monitor]]
name = "I"
population = "A"
var = "I_ext"
every = 10
"#;
    let mut f = file(text).unwrap();
    f.net.run(f.steps).unwrap();
    let (i, _) = f.net.monitor_data("I").unwrap();
    // skip the first 5 ms (the PSC's rise from 0)
    let v: Vec<f64> = i[200 * 50..].iter().map(|&x| x as f64).collect();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    // each step's count adds w, then decays by d = e^{−dt/τ} per step: the mean is
    // rate·dt·count·w/(1 − d), i.e. the charge of a spike is w·dt/(1 − d) = w·τ·(1 + dt/2τ + ...),
    // the step-wise exponential synapse's (BrainPy's Expon, exponential Euler), not exactly w·τ
    let d = (-0.1f64 / 0.5).exp();
    let want = 8e-3 * 0.1 * 2000.0 * 100e-9 / (1.0 - d);
    assert!((mean / want - 1.0).abs() < 0.02, "{mean} vs {want}");
    // and it fluctuates (shot noise), unlike a DC
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
    assert!(var.sqrt() > 0.05 * want);
}

#[test]
fn psc_of_a_psp_matches_nests_conversion() {
    // NEST's example: a 0.15 mV PSP is an 87.81 pA PSC for C = 250 pF, τ_m = 10 ms, τ_syn = 0.5 ms
    assert!((psc_over_psp(250.0, 10.0, 0.5) * 0.15 - 87.81).abs() < 0.01);
    // the full network holds about 3·10⁸ synapses (the paper's figure)
    let total: f64 = full_num_synapses().iter().flatten().sum();
    assert!((2.9e8..3.1e8).contains(&total), "{total}");
    assert_eq!(N_FULL.iter().sum::<f64>(), 77169.0);
}

#[test]
fn the_shipped_microcircuit_file_is_the_generators_full_scale_output() {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/networks/microcircuit.toml")).unwrap();
    assert_eq!(
        shipped,
        McConfig::default().toml().unwrap(),
        "regenerate: somata microcircuit > crates/somata/examples/networks/microcircuit.toml"
    );
}

#[test]
fn a_small_microcircuit_builds_the_scaled_counts_and_fires() {
    let c = McConfig { duration_ms: 300.0, ..McConfig::scaled(0.05) };
    let mut f = microcircuit(&c).unwrap();
    let sizes = c.sizes();
    assert_eq!(sizes[0], (20683.0f64 * 0.05).round() as usize);
    let want: u64 = c.num_synapses().iter().flatten().sum();
    assert_eq!(f.net.synapse_stats().0 as u64, want);
    assert!((want as f64 / (2.99e8 * 0.05 * 0.05) - 1.0).abs() < 0.01);
    let s = f.net.run(f.steps).unwrap();
    // every population fires, none explodes (the full-scale network's rates are 1-9 Hz)
    for (n, r) in s.names.iter().zip(&s.rates_hz) {
        assert!(*r > 0.1 && *r < 40.0, "{n}: {r} Hz");
    }
    // the DC variant builds too, without Poisson inputs
    let dc = McConfig { background: somata::net::microcircuit::Background::Dc, ..c };
    assert!(!dc.toml().unwrap().contains("poisson"));
    assert!(McConfig { scale_n: 0.0, ..c }.toml().is_err());
}

#[test]
fn poisson_input_onto_a_state_jumps_it_before_the_update() {
    // BrainPy's PoissonInput onto V before LIF.update: each step V += count·w, then V decays by
    // d = e^{−dt/τ} (V_rest = 0, no current): the mean settles at rate·dt·count·w·d/(1 − d)
    let text = r#"
dt = "0.1 ms"
steps = 30000
[[population]]
name = "A"
model = "LIF"
size = 100
params = { V_th = "1e9 mV", tau = "10 ms" }
[[input]]
target = "A"
type = "poisson"
rate = "10 Hz"
count = 500
weight = "0.2 mV"
state = "V"
seed = 2
[[monitor]]
name = "V"
population = "A"
var = "V"
every = 10
"#;
    let mut f = file(text).unwrap();
    f.net.run(f.steps).unwrap();
    let (v, _) = f.net.monitor_data("V").unwrap();
    let tail: Vec<f64> = v[100 * 500..].iter().map(|&x| x as f64).collect();
    let mean = tail.iter().sum::<f64>() / tail.len() as f64;
    let d = (-0.1f64 / 10.0).exp();
    let want = 10e-3 * 0.1 * 500.0 * 0.2 * d / (1.0 - d);
    assert!((mean / want - 1.0).abs() < 0.02, "{mean} vs {want}");
    // a state the target lacks, a weight of the wrong dimension, and tau with a state are refused
    for (extra, msg) in [("state = \"w\"", "not a state"), ("state = \"V\"\ntau = \"1 ms\"", "tau"), ("state = 3", "state name")] {
        let t = format!(
            "dt = \"0.1 ms\"\nsteps = 1\n[[population]]\nname = \"A\"\nmodel = \"LIF\"\nsize = 2\n[[input]]\ntarget = \"A\"\ntype = \"poisson\"\nrate = \"1 Hz\"\ncount = 1\nweight = \"1 mV\"\n{extra}\n"
        );
        let e = file(&t).err().unwrap_or_else(|| panic!("{extra} accepted")).to_string();
        assert!(e.contains(msg), "{e}");
    }
    let t = "dt = \"0.1 ms\"\nsteps = 1\n[[population]]\nname = \"A\"\nmodel = \"LIF\"\nsize = 2\n[[input]]\ntarget = \"A\"\ntype = \"poisson\"\nrate = \"1 Hz\"\ncount = 1\nweight = \"1 mA\"\nstate = \"V\"\n";
    assert!(file(t).err().unwrap().to_string().contains("dimension"));
}
