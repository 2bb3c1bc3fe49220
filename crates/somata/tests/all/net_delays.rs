//! Heterogeneous delays (BrainPy's `InputDelay`, spec §5.10): global, per-presynaptic-neuron and
//! per-connection delays, whole or interpolated between two steps, and `CurrentProj`.
//!
//! The probe throughout: presynaptic LIF neurons (V_th 1 mV, hard reset) that a 1 A pulse makes
//! spike at chosen steps, a `current` projection with a CUBA output, and a monitor of the
//! conductance it binds at every step (`g@proj`), which is exactly the delayed `Σ x·w`. Without
//! delay a spike emitted at step `s` is read by the projection at step `s + 1` (BrainPy's order);
//! a delay of `d` steps moves `(1 − f)` of it to step `s + 1 + ⌊d⌋` and `f` to `s + 2 + ⌊d⌋`,
//! `f = d − ⌊d⌋` (linear interpolation of the delay buffer).

use somata::net::{toml_net, Conn, Delay, ExtInput, Network, Output, PopId, ProjKind, Projection, Var};
use somata::prelude::*;
use std::path::Path;

/// `n` presynaptic LIF neurons that spike exactly at the steps listed per neuron, and `n_post`
/// silent LIF neurons.
fn probe(spike_steps: &[&[usize]], n_post: usize) -> (Network, PopId, PopId) {
    let n = spike_steps.len();
    let mut net = Network::new(0.1 * ms).unwrap();
    let pre = net.add(Lif::builder(n).v_th(1.0 * mV).spk_reset(SpikeReset::Hard).build().unwrap(), "pre").unwrap();
    let post = net.add(Lif::builder(n_post).v_th(1e6 * mV).build().unwrap(), "post").unwrap();
    let last = spike_steps.iter().flat_map(|s| s.iter()).max().map_or(0, |m| m + 1);
    let mut data = vec![0.0f32; last * n];
    for (i, steps) in spike_steps.iter().enumerate() {
        for &s in steps.iter() {
            // 1000 mA through R = 1 Ω for 0.1 ms: V ≈ 19.8 mV ≥ 1 mV; the hard reset brings it
            // back to 0 at the next step, so each pulse is one spike
            data[s * n + i] = 1e3;
        }
    }
    net.input(pre, ExtInput::PerStep { data, steps: last }).unwrap();
    net.monitor_spikes("spk", pre, None, 1).unwrap();
    (net, pre, post)
}

fn g_trace(net: &mut Network, post: PopId, steps: usize) -> Vec<f32> {
    net.add_monitor("g", post, Var::Conductance("p".into()), None, 1).unwrap();
    net.run(steps).unwrap();
    net.monitor_data("g").unwrap().0.to_vec()
}

#[test]
fn the_probe_spikes_where_asked() {
    let (mut net, _, _) = probe(&[&[0, 3], &[2]], 1);
    net.run(6).unwrap();
    let (s, _) = net.monitor_data("spk").unwrap();
    assert_eq!(s, &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn global_delays_whole_and_interpolated() {
    // (delay in ms at dt = 0.1 ms, expected g at steps 0..6 for one spike at step 0, weight 1)
    let cases: [(f64, [f32; 7]); 6] = [
        (0.0, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        (0.1, [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]),
        (0.3, [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]), // 0.3/0.1 = 2.9999999999999996 in f64: 3 steps
        (0.05, [0.0, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0]), // 0.5 step: half now, half one step later
        (0.15, [0.0, 0.0, 0.5, 0.5, 0.0, 0.0, 0.0]),
        (0.225, [0.0, 0.0, 0.0, 0.75, 0.25, 0.0, 0.0]), // 2.25 steps: 3/4 after 2, 1/4 after 3
    ];
    for (d, want) in cases {
        let (mut net, pre, post) = probe(&[&[0]], 1);
        let conn = Conn::all_to_all(1, 1, 1.0 * siemens).unwrap();
        net.connect(Projection::new(pre, post, conn, ProjKind::Current { out: Output::CUBA }).delay_ms(d).name("p")).unwrap();
        let g = g_trace(&mut net, post, 7);
        for (k, (&a, &b)) in g.iter().zip(&want).enumerate() {
            assert!((a - b).abs() < 1e-6, "delay {d} ms, step {k}: {g:?} vs {want:?}");
        }
    }
}

#[test]
fn per_pre_delays() {
    // three neurons spike at step 0 with weights 1, 10, 100 and delays 0, 1 and 2.5 steps
    let (mut net, pre, post) = probe(&[&[0], &[0], &[0]], 1);
    let conn = Conn::dense(3, 1, vec![1.0, 10.0, 100.0]).unwrap();
    net.connect(
        Projection::new(pre, post, conn, ProjKind::Current { out: Output::CUBA })
            .delays_per_pre(&[0.0 * ms, 0.1 * ms, 0.25 * ms])
            .name("p"),
    )
    .unwrap();
    let g = g_trace(&mut net, post, 6);
    assert_eq!(g, [0.0, 1.0, 10.0, 50.0, 50.0, 0.0]);

    // on a presynaptic range: one delay per neuron of the range
    let (mut net, pre, post) = probe(&[&[0], &[0], &[0]], 1);
    let conn = Conn::dense(2, 1, vec![10.0, 100.0]).unwrap();
    net.connect(
        Projection::new(pre, post, conn, ProjKind::Current { out: Output::CUBA })
            .pre_range(1..3)
            .delays_per_pre_ms(vec![0.05, 0.2])
            .name("p"),
    )
    .unwrap();
    let g = g_trace(&mut net, post, 5);
    assert_eq!(g, [0.0, 5.0, 5.0, 100.0, 0.0]);
}

#[test]
fn per_synapse_delays() {
    // neuron 0 spikes at steps 0 and 2, neuron 1 at step 0; synapses (pre, post, w, delay ms),
    // deliberately not sorted by pre
    let (mut net, pre, post) = probe(&[&[0, 2], &[0]], 2);
    let (conn, d) =
        Conn::from_triplets_with_delays(2, 2, &[(1, 0, 4.0, 0.05), (0, 1, 2.0, 0.3), (1, 1, 8.0, 0.0), (0, 0, 1.0, 0.15)]).unwrap();
    // stored grouped by pre: (0,1), (0,0), (1,0), (1,1)
    assert_eq!(d, [0.3, 0.15, 0.05, 0.0]);
    net.connect(Projection::new(pre, post, conn, ProjKind::Current { out: Output::CUBA }).delays_per_synapse_ms(d).name("p")).unwrap();
    let g = g_trace(&mut net, post, 8);
    // by hand, [step][post]:
    //  spike of 1 (read at step 1): 1→0 w 4 at 0.5 step: 2 at steps 1 and 2; 1→1 w 8: 8 at step 1
    //  spike of 0 (read at 1):      0→0 w 1 at 1.5 steps: 0.5 at 2 and 3; 0→1 w 2 at 3 steps: 2 at 4
    //  spike of 0 (read at 3):      0.5 at 4 and 5 onto post 0; 2 at 6 onto post 1
    let want = [[0.0, 0.0], [2.0, 8.0], [2.5, 0.0], [0.5, 0.0], [0.5, 2.0], [0.5, 0.0], [0.0, 2.0], [0.0, 0.0]];
    assert_eq!(g, want.iter().flatten().copied().collect::<Vec<f32>>());
}

/// A feedforward network: 40 neurons driven by a seeded random current → 25 neurons through
/// `kind`; the monitor of `g@p` (or of the postsynaptic V for a delta projection).
fn feedforward(kind: &str, delay: Delay, stp: bool) -> Vec<f32> {
    let mut net = Network::new(0.1 * ms).unwrap();
    let pre = net
        .add(
            Lif::builder(40)
                .v_th(1.0 * mV)
                .tau(5.0 * ms)
                .spk_reset(SpikeReset::Hard)
                .init("V", Init::Uniform { low: 0.0, high: 1.0 })
                .build()
                .unwrap(),
            "pre",
        )
        .unwrap();
    let post = net.add(Lif::builder(25).v_th(1e6 * mV).build().unwrap(), "post").unwrap();
    let mut rng = somata::init::Rng::new(11);
    let steps = 300;
    let data: Vec<f32> = (0..steps * 40).map(|_| (rng.uniform() * 3.0) as f32).collect();
    net.input(pre, ExtInput::PerStep { data, steps }).unwrap();
    let mut wr = somata::init::Rng::new(5);
    // the weights' dimension follows the projection: S, 1 (align-pre), mV (delta onto V)
    let unit: somata::net::Weight = match kind {
        "align_pre" => 1.0.into(),
        "delta" => (1.0 * mV).into(),
        _ => (1.0 * siemens).into(),
    };
    let conn = Conn::fixed_prob(40, 25, 0.3, unit, 3).unwrap().with_weights(|| (0.1 + wr.uniform()) as f32);
    let pk = match kind {
        "align_post" => ProjKind::AlignPost { syn: somata::synapse::by_name("Expon").unwrap(), out: Output::Coba { e: 0.0 } },
        "align_pre" => ProjKind::AlignPre { syn: somata::synapse::by_name("Expon").unwrap(), out: Output::Coba { e: 0.0 } },
        "current" => ProjKind::Current { out: Output::Coba { e: 0.0 } },
        _ => ProjKind::Delta { state: "V".into() },
    };
    let mut p = Projection::new(pre, post, conn, pk).delays(delay).name("p");
    if stp {
        p = p.stp(somata::synapse::by_name("STD").unwrap());
    }
    net.connect(p).unwrap();
    if kind == "delta" {
        net.add_monitor("g", post, Var::State("V".into()), None, 1).unwrap();
    } else {
        net.add_monitor("g", post, Var::Conductance("p".into()), None, 1).unwrap();
    }
    let s = net.run(steps).unwrap();
    assert!(s.spikes[0] > 100, "the presynaptic neurons fire ({})", s.spikes[0]);
    net.monitor_data("g").unwrap().0.to_vec()
}

#[test]
fn whole_step_delays_shift_exactly() {
    // a delay of 3 steps gives the undelayed trace 3 steps later, bit for bit, through every
    // projection kind, with and without short-term depression (which acts before the delay)
    for kind in ["align_post", "align_pre", "current", "delta"] {
        for stp in [false, true] {
            if kind == "delta" && stp {
                continue;
            }
            let g0 = feedforward(kind, Delay::Global(0.0), stp);
            let g3 = feedforward(kind, Delay::Global(0.3), stp);
            let n = 25;
            let shift = 3 * n;
            // (a delta projection's V starts at 0 and moves only by the deltas)
            assert!(g3[..shift].iter().all(|&v| v == 0.0), "{kind}: nothing before the delay");
            assert_eq!(&g3[shift..], &g0[..g0.len() - shift], "{kind} stp={stp}");
            assert!(g0.iter().any(|&v| v != 0.0));
        }
    }
}

#[test]
fn per_pre_and_per_synapse_delays_equal_to_a_global_delay_give_its_result() {
    // 2.5 steps everywhere, given three ways: identical traces
    let n_syn = Conn::fixed_prob(40, 25, 0.3, 1.0, 3).unwrap().num_synapses();
    for kind in ["align_post", "current", "delta"] {
        let g = feedforward(kind, Delay::Global(0.25), false);
        assert_eq!(g, feedforward(kind, Delay::PerPre(vec![0.25; 40]), false), "{kind}");
        assert_eq!(g, feedforward(kind, Delay::PerSynapse(vec![0.25; n_syn]), false), "{kind}");
        assert_ne!(g, feedforward(kind, Delay::Global(0.2), false));
    }
    let g = feedforward("align_pre", Delay::Global(0.25), true);
    assert_eq!(g, feedforward("align_pre", Delay::PerPre(vec![0.25; 40]), true));
}

#[test]
fn interpolated_delay_is_the_average_of_its_neighbours_for_a_linear_projection() {
    // with a current projection the bound value is linear in the delayed input, so a delay of
    // 2.5 steps gives exactly the mean of the traces at 2 and 3 steps (to f32 rounding)
    let a = feedforward("current", Delay::Global(0.2), false);
    let b = feedforward("current", Delay::Global(0.3), false);
    let m = feedforward("current", Delay::Global(0.25), false);
    for ((x, y), z) in a.iter().zip(&b).zip(&m) {
        assert!((0.5 * (x + y) - z).abs() <= 1e-5 * (1.0 + z.abs()), "{x} {y} {z}");
    }
}

#[test]
fn delays_are_checked() {
    let (mut net, pre, post) = probe(&[&[0], &[0], &[0]], 2);
    let c = || Conn::all_to_all(3, 2, 1.0 * siemens).unwrap();
    let cur = || ProjKind::Current { out: Output::CUBA };
    let bad = |e: SomataError| e.to_string();
    for d in [
        Delay::Global(-0.1),
        Delay::Global(f64::NAN),
        Delay::PerPre(vec![0.1, -1.0, 0.0]),
        Delay::PerSynapse(vec![0.0, 0.0, f64::INFINITY, 0.0, 0.0, 0.0]),
    ] {
        let e = net.connect(Projection::new(pre, post, c(), cur()).delays(d.clone())).unwrap_err();
        assert!(matches!(e, SomataError::InvalidParameter { .. }) && bad(e).contains("delay"), "{d:?}");
    }
    // wrong lengths: per-pre needs N_pre (3), per-synapse needs the 6 synapses
    let e = net.connect(Projection::new(pre, post, c(), cur()).delays_per_pre_ms(vec![0.1, 0.2])).unwrap_err();
    assert!(matches!(e, SomataError::ShapeMismatch { ref expected, ref got, .. } if expected == &[3] && got == &[2]), "{e}");
    let e = net.connect(Projection::new(pre, post, c(), cur()).delays_per_synapse_ms(vec![0.1; 5])).unwrap_err();
    assert!(matches!(e, SomataError::ShapeMismatch { ref expected, .. } if expected == &[6]), "{e}");
    let e = net
        .connect(
            Projection::new(pre, post, Conn::all_to_all(2, 2, 1.0 * siemens).unwrap(), cur())
                .pre_range(1..3)
                .delays_per_pre_ms(vec![0.1; 3]),
        )
        .unwrap_err();
    assert!(matches!(e, SomataError::ShapeMismatch { .. }), "{e}");
    // per-synapse delays cannot precede an align-pre synapse
    let e = net
        .connect(
            Projection::new(
                pre,
                post,
                Conn::all_to_all(3, 2, 1.0).unwrap(),
                ProjKind::AlignPre { syn: somata::synapse::by_name("AMPA").unwrap(), out: Output::CUBA },
            )
            .delays_per_synapse_ms(vec![0.1; 6]),
        )
        .unwrap_err();
    assert!(bad(e).contains("per-synapse delays"));
    // too long a history
    net.connect(Projection::new(pre, post, c(), cur()).delay_ms(1e7)).unwrap();
    assert!(bad(net.run(1).unwrap_err()).contains("10⁷"));
}

const PROBE_TOML: &str = r#"
dt = "0.1 ms"
steps = 8

[[population]]
name = "pre"
model = "LIF"
size = 2
spk_reset = "hard"
params = { V_th = "1 mV" }

[[population]]
name = "post"
model = "LIF"
size = 2
params = { V_th = "1e6 mV" }

[[input]]
target = "pre"
type = "per_step"
unit = "A"
values = [[1, 1], [0, 0], [1, 0]]

[[monitor]]
name = "g"
population = "post"
var = "g@p"
"#;

fn toml_g(projection: &str) -> Result<Vec<f32>> {
    let text = format!("{PROBE_TOML}\n[[projection]]\nname = \"p\"\npre = \"pre\"\npost = \"post\"\n{projection}\n");
    let mut f = toml_net::parse(&text, Path::new("."), "t")?;
    f.net.run(f.steps)?;
    Ok(f.net.monitor_data("g")?.0.to_vec())
}

fn rust_g(conn: Conn, delay: Delay) -> Vec<f32> {
    let (mut net, pre, post) = probe(&[&[0, 2], &[0]], 2);
    net.connect(Projection::new(pre, post, conn, ProjKind::Current { out: Output::CUBA }).delays(delay).name("p")).unwrap();
    g_trace(&mut net, post, 8)
}

#[test]
fn toml_delays_round_trip() {
    let dense = || Conn::dense(2, 2, vec![1.0, 2.0, 4.0, 8.0]).unwrap();
    let conn = r#"kind = "current"
output = { model = "CUBA" }
conn = { type = "dense", unit = "S", values = [[1, 2], [4, 8]] }"#;
    // global, interpolated
    let g = toml_g(&format!("{conn}\ndelay = \"0.15 ms\"")).unwrap();
    assert_eq!(g, rust_g(dense(), Delay::Global(0.15)));
    assert_eq!(&g[..6], &[0.0, 0.0, 0.0, 0.0, 2.5, 5.0]);
    // per presynaptic neuron: an array of quantities, or a table with a unit
    let g = toml_g(&format!("{conn}\ndelay = [\"0 ms\", \"250 us\"]")).unwrap();
    assert_eq!(g, rust_g(dense(), Delay::PerPre(vec![0.0, 0.25])));
    assert_eq!(g, toml_g(&format!("{conn}\ndelay = {{ unit = \"ms\", values = [0, 0.25] }}")).unwrap());
    // per synapse of a dense matrix, [pre][post]
    let d = vec![0.0, 0.1, 0.05, 0.3];
    let g = toml_g(
        r#"kind = "current"
output = { model = "CUBA" }
conn = { type = "dense", unit = "S", values = [[1, 2], [4, 8]], delays = { unit = "ms", values = [[0, 0.1], [0.05, 0.3]] } }"#,
    )
    .unwrap();
    assert_eq!(g, rust_g(dense(), Delay::PerSynapse(d)));
    // per synapse of explicit triplets: a fourth element, in any order
    let g = toml_g(
        r#"kind = "current"
output = { model = "CUBA" }
conn = { type = "triplets", synapses = [[1, 0, "4 S", "0.05 ms"], [0, 1, "2 S", "0.3 ms"], [1, 1, "8 S", 0], [0, 0, "1 S", "0.15 ms"]] }"#,
    )
    .unwrap();
    let (c, d) =
        Conn::from_triplets_with_delays(2, 2, &[(1, 0, 4.0, 0.05), (0, 1, 2.0, 0.3), (1, 1, 8.0, 0.0), (0, 0, 1.0, 0.15)]).unwrap();
    let want = [[0.0, 0.0], [2.0, 8.0], [2.5, 0.0], [0.5, 0.0], [0.5, 2.0], [0.5, 0.0], [0.0, 2.0], [0.0, 0.0]];
    assert_eq!(g, want.iter().flatten().copied().collect::<Vec<f32>>());
    assert_eq!(g, rust_g(c, Delay::PerSynapse(d)));
    // the same with `delays` next to three-element triplets
    let g2 = toml_g(
        r#"kind = "current"
output = { model = "CUBA" }
conn = { type = "triplets", synapses = [[1, 0, 4], [0, 1, 2], [1, 1, 8], [0, 0, 1]], delays = ["0.05 ms", "0.3 ms", "0 ms", "0.15 ms"] }"#,
    )
    .unwrap();
    assert_eq!(g, g2);
}

#[test]
fn toml_delay_errors() {
    let conn = "kind = \"current\"\noutput = { model = \"CUBA\" }\nconn = { type = \"all_to_all\", weight = \"1 S\" }";
    let e = toml_g(&format!("{conn}\ndelay = \"-1 ms\"")).unwrap_err();
    assert!(e.to_string().contains("delay"), "{e}");
    let e = toml_g(&format!("{conn}\ndelay = \"1 mV\"")).unwrap_err();
    assert!(matches!(e, SomataError::DimensionMismatch { .. }), "{e}");
    let e = toml_g(&format!("{conn}\ndelay = [\"1 ms\", \"1 ms\", \"1 ms\"]")).unwrap_err();
    assert!(matches!(e, SomataError::ShapeMismatch { .. }), "{e}");
    // per-synapse delays only with explicit synapses
    let e =
        toml_g("kind = \"current\"\noutput = { model = \"CUBA\" }\nconn = { type = \"all_to_all\", weight = 1, delays = [0, 0, 0, 0] }")
            .unwrap_err();
    assert!(e.to_string().contains("dense"), "{e}");
    // some triplets with a delay, some without
    let e = toml_g(
        "kind = \"current\"\noutput = { model = \"CUBA\" }\nconn = { type = \"triplets\", synapses = [[0, 0, 1, \"1 ms\"], [1, 1, 1]] }",
    )
    .unwrap_err();
    assert!(e.to_string().contains("every synapse"), "{e}");
    // a global and a per-synapse delay together
    let e = toml_g(
        "kind = \"current\"\noutput = { model = \"CUBA\" }\nconn = { type = \"triplets\", synapses = [[0, 0, 1, \"1 ms\"]] }\ndelay = \"1 ms\"",
    )
    .unwrap_err();
    assert!(e.to_string().contains("not both"), "{e}");
    // a current projection has no synapse
    let e = toml_g(&format!("{conn}\nsynapse = \"Expon\"")).unwrap_err();
    assert!(e.to_string().contains("no synapse"), "{e}");
}

#[test]
fn current_projection_binds_the_projected_value_for_one_step() {
    // COBA through a current projection: g(E − V) during the step of arrival only, and the
    // same in TOML
    let run = |toml: bool| -> (Vec<f32>, Vec<f32>) {
        let mut net = if toml {
            let text = format!(
                "{PROBE_TOML}\n[[projection]]\nname = \"p\"\npre = \"pre\"\npost = \"post\"\nkind = \"current\"\noutput = {{ model = \"COBA\", E = \"10 mV\" }}\nconn = {{ type = \"one_to_one\", weight = \"0.5 S\" }}\n[[monitor]]\nname = \"V\"\npopulation = \"post\"\nvar = \"V\"\n"
            );
            toml_net::parse(&text, Path::new("."), "t").unwrap().net
        } else {
            let (mut net, pre, post) = probe(&[&[0, 2], &[0]], 2);
            net.connect(
                Projection::new(
                    pre,
                    post,
                    Conn::one_to_one(2, 0.5 * siemens).unwrap(),
                    ProjKind::Current { out: Output::Coba { e: 10.0 } },
                )
                .name("p"),
            )
            .unwrap();
            net.add_monitor("g", post, Var::Conductance("p".into()), None, 1).unwrap();
            net.add_monitor("V", post, Var::State("V".into()), None, 1).unwrap();
            net
        };
        net.run(8).unwrap();
        (net.monitor_data("g").unwrap().0.to_vec(), net.monitor_data("V").unwrap().0.to_vec())
    };
    let (g, v) = run(false);
    assert_eq!(g, [0.0, 0.0, 0.5, 0.5, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    // step 1 by hand (LIF τ 5 ms, R 1 Ω, V 0): exponential Euler with the conductance in the
    // Jacobian: V = (1 − e^{−dt·(1 + R g)/τ})·R g E/(1 + R g)
    let (dt, tau, r, gg, e) = (0.1f64, 5.0, 1.0, 0.5, 10.0);
    let lam = (1.0 + r * gg) / tau;
    let v1 = (1.0 - (-dt * lam).exp()) * r * gg * e / (1.0 + r * gg);
    assert!((v[2] as f64 - v1).abs() < 1e-5 * v1, "{} vs {v1}", v[2]);
    // then V decays freely: no conductance outside the step of arrival
    assert!((v[4] as f64 - v1 * (-dt / tau).exp()).abs() < 1e-5 * v1);
    assert_eq!(run(true), (g, v));
}
