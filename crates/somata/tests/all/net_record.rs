//! Networks: same-step update orders (against BrainPy's net2_lif golden, a feed-forward chain in
//! which the second layer receives the first layer's spikes of the same step), every recordable
//! quantity against the module alone, spike events, streaming to files, memory refusals.

use crate::common::{load, num};
use serde_json::Value;
use somata::net::{toml_net, Conn, ExtInput, MonitorFormat, Network, Output, PopId, ProjKind, Projection, Var, Weight};
use somata::prelude::*;
use somata::synapse;

fn arr3(v: &Value) -> Vec<Vec<Vec<f64>>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_array().unwrap().iter().map(|b| b.as_array().unwrap().iter().map(num).collect()).collect())
        .collect()
}
fn mat(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(num).collect()).collect()
}

/// net2_lif.json as a network: x·W1 + b1 → LIF(8) → same-step current projection W2 (CUBA,
/// 1 mV: the projected Σ s·w is the current in mA) + b2 → LIF(3); one network per batch row.
/// Every spike of both layers equals BrainPy's, V within 1e-3 mV + 1e-3 relative.
#[test]
fn same_step_chain_reproduces_brainpy_net2_lif() {
    let d = load("net2_lif.json");
    let p = &d["params"];
    let (w1, b1, w2, b2) = (mat(&p["W1"]), &p["b1"], mat(&p["W2"]), &p["b2"]);
    let b1: Vec<f64> = b1.as_array().unwrap().iter().map(num).collect();
    let b2: Vec<f64> = b2.as_array().unwrap().iter().map(num).collect();
    let x = arr3(&d["inputs"]["x"]); // [T][B][10]
    let (steps, batch) = (x.len(), x[0].len());
    let mut checked = 0;
    for res in d["outputs"]["results"].as_array().unwrap() {
        let reset = SpikeReset::parse(res["spk_reset"].as_str().unwrap()).unwrap();
        let (s1, s2, v1, v2) =
            (arr3(&res["spikes_layer1"]), arr3(&res["spikes_layer2"]), arr3(&res["V_layer1_mV"]), arr3(&res["V_layer2_mV"]));
        for b in 0..batch {
            let mut net = Network::new(0.1 * ms).unwrap();
            let lif = |n: usize, tau: f64| {
                Lif::builder(n)
                    .tau(tau * ms)
                    .v_th(1.0 * mV)
                    .v_rest(0.0 * mV)
                    .v_reset(0.0 * mV)
                    .r(1.0 * ohm)
                    .spk_reset(reset)
                    .build()
                    .unwrap()
            };
            // added in reverse: the schedule must put L1 first because of the same-step link
            let l2 = net.add(lif(3, 8.0), "L2").unwrap();
            let l1 = net.add(lif(8, 5.0), "L1").unwrap();
            let mut drive = Vec::with_capacity(steps * 8);
            for xt in &x {
                for j in 0..8 {
                    let mut acc = 0.0f32;
                    for i in 0..10 {
                        acc += xt[b][i] as f32 * w1[i][j] as f32;
                    }
                    drive.push(acc + b1[j] as f32);
                }
            }
            net.input(l1, ExtInput::PerStep { data: drive, steps }).unwrap();
            net.input(l2, ExtInput::Constant(b2.iter().map(|&v| v as f32).collect())).unwrap();
            let w: Vec<f32> = w2.iter().flatten().map(|&v| v as f32).collect();
            net.connect(
                Projection::new(l1, l2, Conn::dense(8, 3, w).unwrap(), ProjKind::Current { out: Output::Cuba { scale: 1.0 } })
                    .same_step(true)
                    .name("W2"),
            )
            .unwrap();
            for (name, pop) in [("s1", l1), ("s2", l2)] {
                net.monitor_spikes(name, pop, None, 1).unwrap();
            }
            net.add_monitor("v1", l1, Var::State("V".into()), None, 1).unwrap();
            net.add_monitor("v2", l2, Var::State("V".into()), None, 1).unwrap();
            net.run(steps).unwrap();
            assert_eq!(net.schedule().unwrap(), vec![l1, l2]);
            for (mon, gold, n) in [("s1", &s1, 8), ("s2", &s2, 3)] {
                let (got, cols) = net.monitor_data(mon).unwrap();
                assert_eq!(cols, n);
                for t in 0..steps {
                    for j in 0..n {
                        assert_eq!(got[t * n + j] as f64, gold[t][b][j], "{mon} step {t} neuron {j} batch {b} ({reset:?})");
                    }
                }
            }
            for (mon, gold, n) in [("v1", &v1, 8), ("v2", &v2, 3)] {
                let (got, _) = net.monitor_data(mon).unwrap();
                for t in 0..steps {
                    for j in 0..n {
                        let (a, e) = (got[t * n + j] as f64, gold[t][b][j]);
                        assert!((a - e).abs() <= 1e-3 + 1e-3 * e.abs(), "{mon} step {t} neuron {j}: {a} vs {e}");
                    }
                }
            }
            let spikes2: f64 = s2.iter().map(|r| r[b].iter().sum::<f64>()).sum();
            checked += spikes2 as usize;
        }
    }
    assert!(checked > 10, "layer 2 fires in the golden ({checked} spikes checked)");
}

/// A network of one spiking neuron `pre` (spikes at the steps of `at`) and a silent `post`.
fn pre_post(at: &[usize], steps: usize, n_post: usize) -> (Network, PopId, PopId) {
    let mut net = Network::new(0.1 * ms).unwrap();
    let pre = net.add(Lif::builder(1).v_th(1.0 * mV).spk_reset(SpikeReset::Hard).build().unwrap(), "pre").unwrap();
    let post = net.add(Lif::builder(n_post).v_th(1e6 * mV).build().unwrap(), "post").unwrap();
    let mut data = vec![0.0f32; steps];
    at.iter().for_each(|&s| data[s] = 1e4);
    net.input(pre, ExtInput::PerStep { data, steps }).unwrap();
    (net, pre, post)
}

/// Same-step with a delay of one step is the default (previous-step) projection with no delay,
/// bit for bit, for every projection kind; with STP, the module runs on the spike of the step
/// it was emitted in (BrainPy's `s = pre(x); proj(s)`), one decay of `u` earlier than the
/// default order.
#[test]
fn same_step_plus_one_step_delay_equals_the_default_order() {
    let at = [3usize, 4, 9, 20, 21, 22];
    for kind in ["align_post", "align_pre", "current", "delta"] {
        let mk = |same: bool, stp: bool| {
            let (mut net, pre, post) = pre_post(&at, 40, 2);
            let k = match kind {
                "align_post" => ProjKind::AlignPost { syn: synapse::by_name("DualExpon").unwrap(), out: Output::coba(50.0 * mV) },
                "align_pre" => ProjKind::AlignPre { syn: synapse::by_name("AMPA").unwrap(), out: Output::coba(50.0 * mV) },
                "current" => ProjKind::Current { out: Output::CUBA },
                _ => ProjKind::Delta { state: "V".into() },
            };
            let mut p = Projection::new(pre, post, Conn::dense(1, 2, vec![0.5, 0.25]).unwrap(), k).name("p");
            if stp {
                p = p.stp(synapse::by_name("STP").unwrap());
            }
            if same {
                p = p.same_step(true).delay(0.1 * ms);
            }
            net.connect(p).unwrap();
            net.add_monitor("V", post, Var::State("V".into()), None, 1).unwrap();
            if stp {
                net.add_monitor("u", pre, Var::parse("u@p"), None, 1).unwrap();
            }
            net.run(40).unwrap();
            let u = if stp { net.monitor_data("u").unwrap().0.to_vec() } else { vec![] };
            (net.monitor_data("V").unwrap().0.to_vec(), u)
        };
        let (a, b) = (mk(false, false), mk(true, false));
        assert!(a.0.iter().any(|&v| v != a.0[0]), "{kind}: the input moves V");
        assert_eq!(a.0, b.0, "{kind}: V");
        // STP on the same-step spikes: the module alone, fed the spike of each step
        let (_, u) = mk(true, true);
        let mut alone = synapse::by_name("STP").unwrap();
        alone.init_state(1).unwrap();
        for (t, &ut) in u.iter().enumerate() {
            alone.update(t as u64, 0.1, &[if at.contains(&t) { 1.0 } else { 0.0 }]);
            assert_eq!(ut, alone.state(0)[0], "{kind}: u at step {t}");
        }
        let (_, u_default) = mk(false, true);
        assert_ne!(u, u_default, "{kind}: the default order releases one step later, from a state one decay later");
    }
}

#[test]
fn a_cycle_of_same_step_projections_is_an_error_naming_it() {
    let mut net = Network::new(0.1 * ms).unwrap();
    let a = net.add(Lif::builder(2).build().unwrap(), "A").unwrap();
    let b = net.add(Lif::builder(2).build().unwrap(), "B").unwrap();
    let c = net.add(Lif::builder(2).build().unwrap(), "C").unwrap();
    for (x, y, n) in [(a, b, "ab"), (b, c, "bc"), (c, a, "ca")] {
        net.connect(
            Projection::new(x, y, Conn::all_to_all(2, 2, 0.1 * mV).unwrap(), ProjKind::Delta { state: "V".into() }).same_step(true).name(n),
        )
        .unwrap();
    }
    let e = net.run(1).unwrap_err().to_string();
    assert!(e.contains("cycle") && e.contains("`A` → `B` → `C` → `A`"), "{e}");
    assert!(e.contains("`ab`") && e.contains("`bc`") && e.contains("`ca`"), "{e}");
    // an explicit order that puts the postsynaptic population first is refused too
    let mut net = Network::new(0.1 * ms).unwrap();
    let a = net.add(Lif::builder(2).build().unwrap(), "A").unwrap();
    let b = net.add(Lif::builder(2).build().unwrap(), "B").unwrap();
    net.connect(
        Projection::new(a, b, Conn::all_to_all(2, 2, 0.1 * mV).unwrap(), ProjKind::Delta { state: "V".into() }).same_step(true).name("ab"),
    )
    .unwrap();
    net.update_order(&[b, a]).unwrap();
    let e = net.run(1).unwrap_err().to_string();
    assert!(e.contains("`ab`") && e.contains("`A` must update before `B`"), "{e}");
    assert!(net.update_order(&[a]).unwrap_err().to_string().contains("`B` is missing"));
    net.update_order(&[a, b]).unwrap();
    net.run(1).unwrap();
}

/// `g@` of every synapse type equals the synapse module alone fed with the same input; the
/// states `g_rise@`, `g_decay@`, `h@`, `u@`, `x@` equal the module's.
#[test]
fn every_synapse_monitor_equals_the_module_alone() {
    let spikes_at = [2usize, 3, 10, 30];
    let steps = 60;
    let w = 0.003f32;
    for name in ["Expon", "DualExpon", "Alpha", "AMPA", "GABAa", "BioNMDA"] {
        let align_post = matches!(name, "Expon" | "DualExpon" | "Alpha");
        let (mut net, pre, post) = pre_post(&spikes_at, steps, 1);
        // a conductance onto an align-post synapse, a dimensionless factor of an align-pre one
        let wt: Weight = if align_post { (w as f64 * siemens).into() } else { (w as f64).into() };
        let kind = if align_post {
            ProjKind::AlignPost { syn: synapse::by_name(name).unwrap(), out: Output::Coba { e: 0.0 } }
        } else {
            ProjKind::AlignPre { syn: synapse::by_name(name).unwrap(), out: Output::Coba { e: 0.0 } }
        };
        net.connect(Projection::new(pre, post, Conn::all_to_all(1, 1, wt).unwrap(), kind).name("p")).unwrap();
        net.add_monitor("g", post, Var::parse("g@p"), None, 1).unwrap();
        let mut alone = synapse::by_name(name).unwrap();
        let states: Vec<&str> = alone.states().iter().map(|s| s.name).collect();
        for s in &states {
            // `syn.g@p` is the synapse's own g (for align-pre: per presynaptic neuron); `g@p` the
            // conductance it projects
            let var = Var::SynState { proj: "p".into(), state: format!("syn.{s}") };
            let pop = net.monitor_population(&var).unwrap().unwrap();
            assert_eq!(pop, if align_post { post } else { pre }, "{name}.{s}");
            net.add_monitor(&format!("st_{s}"), pop, var, None, 1).unwrap();
        }
        net.run(steps).unwrap();
        alone.init_state(1).unwrap();
        let mut nonzero = 0;
        for t in 0..steps {
            // the default projection reads the previous step's spike
            let s = if t > 0 && spikes_at.contains(&(t - 1)) { 1.0f32 } else { 0.0 };
            let x = if align_post { s * w } else { s };
            let out = alone.update(t as u64, 0.1, &[x])[0];
            let g_expected = if align_post { out } else { out * w };
            let got = net.monitor_data("g").unwrap().0[t];
            assert_eq!(got, g_expected, "{name} g@p at step {t}");
            nonzero += usize::from(got != 0.0);
            for (k, s) in states.iter().enumerate() {
                assert_eq!(net.monitor_data(&format!("st_{s}")).unwrap().0[t], alone.state(k)[0], "{name} {s}@p at step {t}");
            }
        }
        assert!(nonzero > 10, "{name}: the conductance moves");
        assert_eq!(net.conductance("p").unwrap()[0], net.monitor_data("g").unwrap().0[steps - 1]);
    }
    // STP's u and x, one column per presynaptic neuron
    let (mut net, pre, post) = pre_post(&spikes_at, steps, 1);
    net.connect(
        Projection::new(pre, post, Conn::all_to_all(1, 1, 0.001 * siemens).unwrap(), ProjKind::Current { out: Output::CUBA })
            .stp(synapse::by_name("STP").unwrap())
            .name("p"),
    )
    .unwrap();
    net.add_monitor("u", pre, Var::parse("u@p"), None, 1).unwrap();
    net.add_monitor("x", pre, Var::parse("stp.x@p"), None, 1).unwrap();
    assert!(net.add_monitor("bad", post, Var::parse("u@p"), None, 1).unwrap_err().to_string().contains("population `pre`"));
    assert!(net.add_monitor("bad", pre, Var::parse("zz@p"), None, 1).unwrap_err().to_string().contains("stp.u, stp.x"));
    net.run(steps).unwrap();
    let mut stp = synapse::by_name("STP").unwrap();
    stp.init_state(1).unwrap();
    for t in 0..steps {
        let s = if t > 0 && spikes_at.contains(&(t - 1)) { 1.0 } else { 0.0 };
        stp.update(t as u64, 0.1, &[s]);
        assert_eq!(net.monitor_data("u").unwrap().0[t], stp.state(0)[0], "u at {t}");
        assert_eq!(net.monitor_data("x").unwrap().0[t], stp.state(1)[0], "x at {t}");
    }
}

/// `I@p` is the output's current at the V of the start of the step; `I_ext` the external input;
/// `I_gap` the gap current.
#[test]
fn currents_are_recorded_as_the_outputs_deliver_them() {
    let (mut net, pre, post) = pre_post(&[1, 5, 6], 30, 2);
    net.connect(
        Projection::new(
            pre,
            post,
            Conn::all_to_all(1, 2, 0.01 * siemens).unwrap(),
            ProjKind::AlignPost { syn: synapse::by_name("Expon").unwrap(), out: Output::Coba { e: -80.0 } },
        )
        .name("inh"),
    )
    .unwrap();
    net.connect(
        Projection::new(pre, post, Conn::all_to_all(1, 2, 0.02 * siemens).unwrap(), ProjKind::Current { out: Output::Cuba { scale: 3.0 } })
            .name("cur"),
    )
    .unwrap();
    net.input(post, ExtInput::Constant(vec![0.5, 0.25])).unwrap();
    net.gap_junction(somata::net::GapJunction::symmetric(pre, post, vec![(0, 1)], 2.0 * mS)).unwrap();
    for v in ["g@inh", "I@inh", "I@cur", "g@cur", "V", "I_ext", "I_gap"] {
        net.add_monitor(v, post, Var::parse(v), None, 1).unwrap();
    }
    net.add_monitor("Vpre", pre, Var::State("V".into()), None, 1).unwrap();
    net.run(30).unwrap();
    let m = |n: &str| net.monitor_data(n).unwrap().0.to_vec();
    let (g, i, ic, gc, v, ext, gap, vpre) = (m("g@inh"), m("I@inh"), m("I@cur"), m("g@cur"), m("V"), m("I_ext"), m("I_gap"), m("Vpre"));
    let mut moved = 0;
    for t in 1..30 {
        for j in 0..2 {
            let k = t * 2 + j;
            let v_start = v[k - 2];
            assert_eq!(i[k], g[k] * (-80.0 - v_start), "I@inh step {t} neuron {j}");
            assert_eq!(ic[k], gc[k] * 3.0, "I@cur step {t}");
            assert_eq!(ext[k], [0.5, 0.25][j], "I_ext");
            let want_gap = if j == 1 { (vpre[t - 1] - v[k - 2]) * 2e-3 } else { 0.0 };
            assert_eq!(gap[k], want_gap, "I_gap step {t} neuron {j}");
            moved += usize::from(i[k] != 0.0);
        }
    }
    assert!(moved > 10);
}

/// Spike events equal the dense raster's nonzero entries, fused (2 threads) and reference alike,
/// and the initial state's spikes are events of step −1.
#[test]
fn spike_events_match_the_dense_record_on_both_runners() {
    let cfg = somata::net::models::EiConfig::with_size(400);
    let mut all = vec![];
    for fused in [false, true] {
        let mut net = somata::net::models::coba(&cfg).unwrap();
        if fused {
            net.threads(2);
        } else {
            net.reference_runner(true);
        }
        let e = net.pop_id("E").unwrap();
        net.add_monitor_as("E", e, Var::Spike, None, 1, MonitorFormat::Both).unwrap();
        net.add_monitor_as("Esub", e, Var::Spike, Some(vec![3, 7, 100, 250]), 1, MonitorFormat::Events).unwrap();
        let s = net.run(1500).unwrap();
        assert_eq!(s.fused, fused);
        let ev = net.spike_events("E").unwrap().to_vec();
        let (dense, n) = net.monitor_data("E").unwrap();
        let from_dense: Vec<[i64; 2]> =
            dense.iter().enumerate().filter(|&(_, &v)| v != 0.0).map(|(k, _)| [(k / n) as i64, (k % n) as i64]).collect();
        let initial: Vec<[i64; 2]> = ev.iter().filter(|e| e[0] == -1).copied().collect();
        assert_eq!(initial.len() as u64, s.initial_spikes[0]);
        assert_eq!(&ev[initial.len()..], &from_dense[..]);
        assert_eq!(from_dense.len() as u64, s.spikes[0]);
        assert!(s.spikes[0] > 100);
        let sub = net.spike_events("Esub").unwrap();
        assert_eq!(sub, ev.iter().filter(|e| [3, 7, 100, 250].contains(&e[1])).copied().collect::<Vec<_>>().as_slice());
        all.push(ev);
    }
    assert_eq!(all[0], all[1]);
}

#[test]
fn initial_state_above_threshold_warns_and_is_recorded_at_step_minus_one() {
    let mut net = Network::new(0.1 * ms).unwrap();
    let p = net
        .add(Lif::builder(3).v_th(1.0 * mV).init("V", Init::Values(vec![0.0, 2.0, 0.5])).spk_reset(SpikeReset::Hard).build().unwrap(), "P")
        .unwrap();
    net.monitor_spikes("s", p, None, 1).unwrap();
    let s = net.run(5).unwrap();
    assert_eq!(s.initial_spikes, vec![1]);
    assert_eq!(net.spike_events("s").unwrap()[0], [-1, 1]);
    assert!(
        net.warnings().iter().any(|w| w.contains("population `P`: 1 of 3 neurons start at or above threshold")),
        "{:?}",
        net.warnings()
    );
    // a second run continues: no second initial spike
    assert_eq!(net.run(2).unwrap().initial_spikes, vec![0]);
}

/// Streamed files are valid after the run, hold every spike, and a dense monitor too large for
/// memory is refused before the run with the monitor and its bytes named.
#[test]
fn streamed_monitors_hold_every_spike_and_oversized_memory_monitors_are_refused() {
    let dir = std::env::temp_dir().join(format!("somata-net-record-{}", std::process::id()));
    let cfg = somata::net::models::EiConfig::with_size(400);
    let mut net = somata::net::models::coba(&cfg).unwrap();
    let e = net.pop_id("E").unwrap();
    net.monitor_spikes("E", e, None, 1).unwrap();
    net.add_monitor("V", e, Var::State("V".into()), Some(vec![0, 5]), 3).unwrap();
    net.record_to(&dir).unwrap();
    let s = net.run(25_001).unwrap();
    let ev = somata::io::npy_stream::read_i64_pairs(dir.join("E.events.npy")).unwrap();
    assert_eq!(ev.len() as u64, s.spikes[0] + s.initial_spikes[0]);
    assert!(ev.windows(2).all(|w| w[0] <= w[1]), "events in (step, neuron) order");
    let v = somata::io::npy::read(dir.join("V.npy")).unwrap();
    assert_eq!(v.shape, vec![25_001usize.div_ceil(3), 2]);
    let dense = somata::io::npy::read(dir.join("E.npy")).unwrap();
    assert_eq!(dense.to_f32().iter().filter(|&&x| x != 0.0).count() as u64, s.spikes[0]);
    assert!(net.monitor_data("V").unwrap_err().to_string().contains("streams"));
    std::fs::remove_dir_all(&dir).ok();

    let mut net = somata::net::models::coba(&cfg).unwrap();
    let e = net.pop_id("E").unwrap();
    net.add_monitor("Vall", e, Var::State("V".into()), None, 1).unwrap();
    let err = net.run(usize::MAX / 1024).unwrap_err();
    assert!(matches!(err, somata::SomataError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("monitor `Vall`"), "{err}");
}

#[test]
fn network_files_take_same_step_order_and_projection_monitors() {
    let text = r#"
dt = "0.1 ms"
steps = 40
order = ["pre", "post"]

[[population]]
name = "post"
model = "LIF"
size = 2
params = { V_th = "1000 mV" }

[[population]]
name = "pre"
model = "LIF"
size = 1
params = { V_th = "1 mV" }
spk_reset = "hard"

[[projection]]
name = "p"
pre = "pre"
post = "post"
same_step = true
synapse = { model = "DualExpon", tau_rise = "1 ms", tau_decay = "5 ms" }
output = { model = "COBA", E = "0 mV" }
stp = { model = "STD", tau = "200 ms", U = 0.2 }
conn = { type = "all_to_all", weight = "2 mS" }

[[input]]
target = "pre"
value = "30 mA"

[[monitor]]
var = "g@p"

[[monitor]]
var = "x@p"

[[monitor]]
name = "ev"
population = "pre"
format = "events"
"#;
    let mut f = toml_net::parse(text, std::path::Path::new("."), "t").unwrap();
    assert_eq!(f.net.schedule().unwrap(), vec![f.net.pop_id("pre").unwrap(), f.net.pop_id("post").unwrap()]);
    f.net.run(f.steps).unwrap();
    let names: Vec<String> = f.net.monitors().into_iter().map(|m| m.0).collect();
    assert_eq!(names, ["post_g@p", "pre_x@p", "ev"]);
    let ev = f.net.spike_events("ev").unwrap();
    assert!(!ev.is_empty());
    // the first spike reaches the synapse in its own step: g is 0 at that step (DualExpon's
    // output is 0 on the jump) and positive from the next
    let first = ev[0][0] as usize;
    let g = f.net.monitor_data("post_g@p").unwrap().0;
    assert_eq!(g[first * 2], 0.0);
    assert!(g[(first + 1) * 2] > 0.0);
    let x = f.net.monitor_data("pre_x@p").unwrap().0;
    assert_eq!(x[first - 1], 1.0);
    assert!((x[first] - 0.8).abs() < 1e-6, "{}", x[first]);
    for (bad, want) in [
        (text.replace("order = [\"pre\", \"post\"]", "order = [\"post\", \"pre\"]"), "must update before"),
        (text.replace("same_step = true", "same_step = 1"), "same_step"),
        (text.replace("var = \"x@p\"", "var = \"x@p\"\npopulation = \"post\""), "population `pre`, not `post`"),
        (text.replace("format = \"events\"", "format = \"sparse\""), "format"),
    ] {
        let r = toml_net::parse(&bad, std::path::Path::new("."), "t").and_then(|mut f| f.net.run(1).map(|_| ()));
        let e = r.err().unwrap_or_else(|| panic!("accepted: {want}")).to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
}

#[test]
fn a_population_too_large_for_memory_is_refused_naming_it() {
    let text = "dt = 0.1\nsteps = 10\n[[population]]\nname = \"E\"\nmodel = \"LIF\"\nsize = 100000000000\n";
    let e = toml_net::parse(text, std::path::Path::new("."), "t").err().unwrap();
    let s = e.to_string();
    assert!(matches!(e, somata::SomataError::TooLarge { .. }), "{s}");
    assert!(s.contains("population `E`") && s.contains("TB") && !s.contains('\n'), "{s}");
}

/// A layer too large for the machine is refused when its state would be allocated, from the
/// Rust API as from a file; a generator that emits NaN stops the network with the population,
/// step and neuron named.
#[test]
fn api_layers_too_large_and_nan_generators_are_typed_errors() {
    let r = Lif::builder(100_000_000_000).build().and_then(|mut l| l.init_state(None));
    let e = r.unwrap_err();
    assert!(matches!(e, somata::SomataError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("100000000000 LIF neurons"), "{e}");
    let mut net = Network::new(0.1 * ms).unwrap();
    let p = net.add(Lif::builder(3).build().unwrap(), "P").unwrap();
    net.input(p, ExtInput::Generator(Box::new(|step, _, out: &mut [f32]| out[2] += if step == 4 { f32::NAN } else { 0.1 }))).unwrap();
    let e = net.run(10).unwrap_err().to_string();
    assert!(e.contains("`P`") && e.contains("step 4") && e.contains("neuron 2") && e.contains("NaN"), "{e}");
}
