//! A network spread over ranks (issue 24): the same file and seed give bitwise the same spike
//! trains and recorded states on 1, 2, 3 and 4 ranks, with the exchange blocking or
//! overlapped, and as one process without any exchange. Ranks run as threads here
//! (`ThreadComm`); `.ci/run` repeats the check over MPI with `mpirun`.

use somata::net::dist::{Part, ThreadComm};
use somata::net::microcircuit::McConfig;
use somata::net::toml_net;
use std::path::Path;

/// What a run recorded, merged over ranks: per monitor, the sorted events or the dense
/// samples in the whole monitor's column order; and the summary's spikes per population.
#[derive(Debug, PartialEq)]
struct Recorded {
    events: Vec<(String, Vec<[i64; 2]>)>,
    dense: Vec<(String, Vec<f32>)>,
    spikes: Vec<u64>,
    synaptic_events: u64,
}

fn one_process(text: &str, steps: usize) -> Recorded {
    let mut f = toml_net::parse(text, Path::new("."), "t").unwrap();
    let s = f.net.run(steps).unwrap();
    let mut events = vec![];
    let mut dense = vec![];
    for m in f.net.monitor_info() {
        if let Ok(ev) = f.net.spike_events(&m.name) {
            events.push((m.name.clone(), ev.to_vec()));
        }
        if let Ok((d, _)) = f.net.monitor_data(&m.name) {
            dense.push((m.name.clone(), d.to_vec()));
        }
    }
    Recorded { events, dense, spikes: s.spikes, synaptic_events: s.synaptic_events }
}

fn ranks(text: &str, steps: usize, n: usize, overlap: bool) -> (Recorded, somata::net::dist::ExchangeStats) {
    let comms = ThreadComm::group(n);
    type Part_ = (Vec<(String, Vec<[i64; 2]>)>, Vec<(String, Vec<f32>, Vec<u32>, usize)>, Vec<u64>, u64, somata::net::dist::ExchangeStats);
    let parts: Vec<Part_> = std::thread::scope(|s| {
        let hs: Vec<_> = comms
            .into_iter()
            .enumerate()
            .map(|(r, c)| {
                s.spawn(move || {
                    let mut f = toml_net::parse_part(text, Path::new("."), "t", Part::new(r, n).unwrap()).unwrap();
                    f.net.distribute(Box::new(c), overlap).unwrap();
                    let sum = f.net.run(steps).unwrap();
                    let mut ev = vec![];
                    let mut de = vec![];
                    for m in f.net.monitor_info() {
                        if let Ok(e) = f.net.spike_events(&m.name) {
                            ev.push((m.name.clone(), e.to_vec()));
                        }
                        if let Ok((d, _)) = f.net.monitor_data(&m.name) {
                            // one rank holds every column, in order
                            let (pos, cols) = f
                                .net
                                .monitor_placement(&m.name)
                                .map_or_else(|| ((0..m.cols as u32).collect(), m.cols), |(p, c)| (p.to_vec(), c));
                            de.push((m.name.clone(), d.to_vec(), pos, cols));
                        }
                    }
                    (ev, de, sum.spikes, sum.synaptic_events, f.net.exchange_stats().unwrap())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // every rank reports the whole network's counts
    for p in &parts {
        assert_eq!((&p.2, p.3), (&parts[0].2, parts[0].3));
    }
    let mut events = vec![];
    for (k, (name, _)) in parts[0].0.iter().enumerate() {
        let mut all: Vec<[i64; 2]> = parts.iter().flat_map(|p| p.0[k].1.iter().copied()).collect();
        all.sort_by_key(|e| (e[0], e[1]));
        events.push((name.clone(), all));
    }
    let mut dense = vec![];
    for (k, (name, _, _, cols)) in parts[0].1.iter().enumerate() {
        let rows = parts.iter().map(|p| p.1[k].1.len() / p.1[k].2.len().max(1)).find(|&r| r > 0).unwrap_or(0);
        let mut out = vec![f32::NAN; rows * cols];
        for p in &parts {
            let (_, d, pos, _) = &p.1[k];
            for r in 0..rows {
                for (c, &at) in pos.iter().enumerate() {
                    out[r * cols + at as usize] = d[r * pos.len() + c];
                }
            }
        }
        dense.push((name.clone(), out));
    }
    (Recorded { events, dense, spikes: parts[0].2.clone(), synaptic_events: parts[0].3 }, parts[0].4)
}

fn microcircuit_text() -> String {
    let c = McConfig { duration_ms: 60.0, ..McConfig::scaled(0.02) };
    let mut t = c.toml().unwrap();
    t.push_str("\n[[monitor]]\nname = \"v\"\npopulation = \"L4E\"\nvar = \"V\"\nneurons = [400, 3, 0, 200, 437, 100]\n");
    t.push_str("\n[[monitor]]\nname = \"I\"\npopulation = \"L23E\"\nvar = \"I@L23I→L23E\"\n");
    t
}

#[test]
fn microcircuit_is_the_same_on_one_to_four_ranks() {
    let text = microcircuit_text();
    let steps = 600;
    let whole = one_process(&text, steps);
    assert!(whole.spikes.iter().sum::<u64>() > 100, "{:?}", whole.spikes);
    assert_eq!(whole.dense.len(), 2);
    for n in 1..=4 {
        for overlap in [false, true] {
            let (got, st) = ranks(&text, steps, n, overlap);
            // delays of at least one step: spikes wait up to two steps, exchanged every step
            // with overlap, every second step without
            // (one rank has nothing to exchange)
            if n > 1 {
                assert_eq!(st.span_steps, 2);
                assert_eq!((st.epoch_steps, st.overlap), if overlap { (1, true) } else { (2, false) });
            }
            assert_eq!(got, whole, "{n} ranks, overlap {overlap}");
        }
    }
}

#[test]
fn per_step_exchange_for_projections_without_delay_and_with_stp() {
    // COBA at 400 neurons: no delays (exchanged every step), fixed_prob cut per rank, Poisson
    // input per neuron, and one projection through STP
    let mut text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/networks/coba.toml")).unwrap();
    text = text.replace("size = 3200", "size = 320").replace("size = 800", "size = 80").replace("prob = 0.02", "prob = 0.2");
    text.push_str(
        r#"
[[population]]
name = "X"
model = "LIF"
size = 37
params = { V_rest = "-60 mV", V_th = "-50 mV", V_reset = "-60 mV", tau = "10 ms" }
init.V = { uniform = ["-60 mV", "-50 mV"] }

[[input]]
target = "X"
type = "poisson"
rate = "50 Hz"
count = 20
weight = "150 mA"

[[projection]]
name = "X→E"
pre = "X"
post = "E"
synapse = { model = "Expon", tau = "5 ms" }
output = { model = "COBA", E = "0 mV" }
stp = { model = "STP", U = 0.2, tau_f = "200 ms", tau_d = "150 ms" }
delay = "0.3 ms"
conn = { type = "fixed_in_degree", degree = 5, weight = "0.5 S" }

[[monitor]]
name = "vx"
population = "X"
var = "V"
"#,
    );
    let steps = 500;
    let whole = one_process(&text, steps);
    assert!(whole.spikes.iter().all(|&s| s > 0), "{:?}", whole.spikes);
    for n in [2, 3] {
        let (got, st) = ranks(&text, steps, n, true);
        assert_eq!((st.span_steps, st.epoch_steps, st.overlap), (1, 1, false));
        assert_eq!(got, whole, "{n} ranks");
    }
}

#[test]
fn partition_rule_and_errors() {
    let p = Part::new(2, 4).unwrap();
    // blocks tile the population, in rank order, sizes differing by at most one
    let n = 1065;
    let blocks: Vec<_> = (0..4).map(|r| p.block(n, r)).collect();
    assert_eq!(blocks[0].start, 0);
    assert_eq!(blocks[3].end, n);
    for w in blocks.windows(2) {
        assert_eq!(w[0].end, w[1].start);
    }
    assert!(blocks.iter().all(|b| b.len() == 266 || b.len() == 267));
    for i in [0, 265, 266, 267, 532, 533, 1064] {
        assert!(blocks[p.owner(n, i)].contains(&i), "{i}");
    }
    assert!(Part::new(4, 4).is_err());
    // a spread network needs a communicator
    let text = microcircuit_text();
    let mut f = toml_net::parse_part(&text, Path::new("."), "t", Part::new(0, 2).unwrap()).unwrap();
    let e = f.net.run(1).unwrap_err().to_string();
    assert!(e.contains("communicator"), "{e}");
}
