//! The fused, multi-threaded network runner against the one-step reference loop: spikes, states,
//! conductances and monitors bitwise equal for 1, 2, 3 and 8 threads, across consecutive runs
//! and hand-overs between the two runners; networks it does not cover still run (reference loop).

use somata::net::models::{coba, cuba, EiConfig};
use somata::net::{ExtInput, Network, Projection, RunSummary, Var};
use somata::units::{mA, siemens};

/// Attach the monitors every comparison reads: all spikes of E, V of a few E neurons every 3
/// steps (including a repeated one), the E→E conductance, and V of all I neurons every 2 steps.
fn monitors(net: &mut Network, n_e: usize) {
    let e = net.pop_id("E").unwrap();
    let i = net.pop_id("I").unwrap();
    net.monitor_spikes("spk", e, None, 1).unwrap();
    let pick = vec![0, 5, n_e / 2, n_e - 1, 5, 63, 64, 65];
    net.add_monitor("V", e, Var::State("V".into()), Some(pick), 3).unwrap();
    net.add_monitor("gEE", e, Var::Conductance("E→E".into()), None, 1).unwrap();
    net.add_monitor("VI", i, Var::State("V".into()), None, 2).unwrap();
}

/// Everything observable after a run.
#[derive(Debug, PartialEq)]
struct Seen {
    summaries: Vec<(Vec<u64>, u64)>,
    mons: Vec<(Vec<u32>, usize)>,
    v_e: Vec<u32>,
    v_i: Vec<u32>,
    g: Vec<u32>,
    step: u64,
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn seen(net: &Network, summaries: Vec<RunSummary>) -> Seen {
    let e = net.pop_id("E").unwrap();
    let i = net.pop_id("I").unwrap();
    Seen {
        summaries: summaries.into_iter().map(|s| (s.spikes, s.synaptic_events)).collect(),
        mons: ["spk", "V", "gEE", "VI"]
            .iter()
            .map(|m| {
                let (d, n) = net.monitor_data(m).unwrap();
                (bits(d), n)
            })
            .collect(),
        v_e: bits(net.population(e).state("V").unwrap()),
        v_i: bits(net.population(i).state("V").unwrap()),
        g: bits(net.conductance("I→E").unwrap()),
        step: net.clock().step(),
    }
}

/// Build with `make`, run `runs` (step counts) with `threads` (None: reference loop).
fn run(make: &dyn Fn() -> Network, n_e: usize, threads: Option<usize>, runs: &[usize]) -> Seen {
    let mut net = make();
    monitors(&mut net, n_e);
    match threads {
        Some(t) => net.threads(t),
        None => net.reference_runner(true),
    }
    let s: Vec<RunSummary> = runs.iter().map(|&k| net.run(k).unwrap()).collect();
    for r in &s {
        assert_eq!(r.fused, threads.is_some(), "the runner taken");
        assert_eq!(r.threads, threads.unwrap_or(1), "threads used");
    }
    seen(&net, s)
}

fn check_all(make: &dyn Fn() -> Network, n_e: usize) {
    let runs = [150, 77, 1, 40];
    let want = run(make, n_e, None, &runs);
    let total: u64 = want.summaries.iter().map(|s| s.0.iter().sum::<u64>()).sum();
    assert!(total > 50, "the network fires ({total} spikes)");
    assert_eq!(want.step, 268);
    for t in [1, 2, 3, 8] {
        let got = run(make, n_e, Some(t), &runs);
        assert_eq!(got.summaries, want.summaries, "{t} threads: spike counts and events");
        for (k, (g, w)) in got.mons.iter().zip(&want.mons).enumerate() {
            assert_eq!(g.1, w.1, "{t} threads: monitor {k} width");
            assert_eq!(g.0.len(), w.0.len(), "{t} threads: monitor {k} samples");
            if let Some(at) = g.0.iter().zip(&w.0).position(|(a, b)| a != b) {
                panic!("{t} threads: monitor {k} differs first at value {at}");
            }
        }
        assert_eq!(got, want, "{t} threads");
    }
}

#[test]
fn coba_fused_equals_reference() {
    let cfg = EiConfig::with_size(1500);
    check_all(&|| coba(&cfg).unwrap(), 1200);
}

#[test]
fn cuba_fused_equals_reference() {
    let cfg = EiConfig::with_size(1000);
    check_all(&|| cuba(&cfg).unwrap(), 800);
}

#[test]
fn per_neuron_constant_input_fused_equals_reference() {
    let cfg = EiConfig { in_degree: 40.0, ..EiConfig::with_size(700) };
    let make = || {
        let mut net = cuba(&cfg).unwrap();
        let e = net.pop_id("E").unwrap();
        let n = net.size(e);
        // a ramp of extra drive (mA) across E, plus a uniform one on I
        net.input(e, ExtInput::Constant((0..n).map(|j| 0.02 * j as f32 / n as f32).collect())).unwrap();
        let i = net.pop_id("I").unwrap();
        net.input_constant(i, -0.05 * mA).unwrap();
        net
    };
    check_all(&make, 560);
}

#[test]
fn hand_over_between_runners_keeps_the_trajectory() {
    let cfg = EiConfig::with_size(1500);
    let want = run(&|| coba(&cfg).unwrap(), 1200, None, &[90, 90, 90]);
    // fused, reference, fused again on one network
    let mut net = coba(&cfg).unwrap();
    monitors(&mut net, 1200);
    net.threads(2);
    let a = net.run(90).unwrap();
    net.reference_runner(true);
    let b = net.run(90).unwrap();
    net.reference_runner(false);
    let c = net.run(90).unwrap();
    assert_eq!((a.fused, b.fused, c.fused), (true, false, true));
    assert_eq!(seen(&net, vec![a, b, c]), want);
}

#[test]
fn networks_outside_the_fused_runner_still_run() {
    // a delayed projection is outside the fused runner: `threads` must not change the result
    let cfg = EiConfig::with_size(600);
    let make = || {
        let mut net = coba(&cfg).unwrap();
        let e = net.pop_id("E").unwrap();
        let conn = somata::net::Conn::fixed_prob(480, 480, 0.02, 0.3 * siemens, 7).unwrap();
        let syn = somata::synapse::by_name("Expon").unwrap();
        let kind = somata::net::ProjKind::AlignPost { syn, out: somata::net::Output::Coba { e: 0.0 } };
        net.connect(Projection::new(e, e, conn, kind).delay_ms(1.5).name("delayed")).unwrap();
        net
    };
    let want = run(&make, 480, None, &[120]);
    let mut net = make();
    monitors(&mut net, 480);
    net.threads(2);
    let s = net.run(120).unwrap();
    assert!(!s.fused && s.threads == 1, "a delayed projection runs on the reference loop");
    let got = seen(&net, vec![s]);
    assert_eq!(got, want);
    assert_eq!(got.step, 120);
}
