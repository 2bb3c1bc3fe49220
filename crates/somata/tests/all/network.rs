//! Networks against BrainPy: ei_net.json (20 LIFRef, two AlignPost projections Linear → Expon →
//! COBA, per-step input), from Rust and from its TOML description; spec §10's projection numbers.

use crate::common;

use serde_json::Value;
use somata::net::{toml_net, Conn, ExtInput, Network, Output, ProjKind, Projection, Var};
use somata::prelude::*;

fn mat(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(common::num).collect()).collect()
}

struct Golden {
    w_e: Vec<Vec<f64>>,
    w_i: Vec<Vec<f64>>,
    v0: Vec<f64>,
    iext: Vec<Vec<f64>>,
    spike: Vec<Vec<f64>>,
    v: Vec<Vec<f64>>,
    g_e: Vec<Vec<f64>>,
    g_i: Vec<Vec<f64>>,
    lst: Vec<Vec<f64>>,
}

fn golden() -> Golden {
    let d = common::load("ei_net.json");
    let p = &d["params"];
    let o = &d["outputs"];
    assert_eq!(p["W_E"]["unit"], "S");
    assert_eq!(o["g_E"]["unit"], "mS");
    Golden {
        w_e: mat(&p["W_E"]["value"]),
        w_i: mat(&p["W_I"]["value"]),
        v0: p["V_init"]["value"].as_array().unwrap().iter().map(common::num).collect(),
        iext: mat(&d["inputs"]["I_ext"]["value"]),
        spike: mat(&o["spike"]),
        v: mat(&o["V"]["value"]),
        g_e: mat(&o["g_E"]["value"]),
        g_i: mat(&o["g_I"]["value"]),
        lst: mat(&o["last_spike_time"]["value"]),
    }
}

/// Compare a run's monitors with the golden: every spike equal, V within 1e-3 abs + 1e-3 rel
/// (plus 5% of the golden's local change), conductances within 1e-4 + 1e-3 relative (in mS),
/// last_spike_time equal to 1e-4 ms.
fn check(net: &Network, g: &Golden) {
    let steps = g.spike.len();
    let (spk, n) = net.monitor_data("spike").unwrap();
    assert_eq!(n, 20);
    let (v, _) = net.monitor_data("V").unwrap();
    let (ge, _) = net.monitor_data("gE").unwrap();
    let (gi, _) = net.monitor_data("gI").unwrap();
    let (lst, _) = net.monitor_data("lst").unwrap();
    assert_eq!(spk.len(), steps * 20);
    let total: f64 = g.spike.iter().flatten().sum();
    assert!(total > 10.0, "the golden has spikes ({total})");
    for k in 0..steps {
        for j in 0..20 {
            let at = |a: &[f32]| a[k * 20 + j] as f64;
            assert_eq!(at(spk), g.spike[k][j], "spike at step {k}, neuron {j}");
            let dv = if k > 0 { (g.v[k][j] - g.v[k - 1][j]).abs() } else { 0.0 };
            assert!(
                (at(v) - g.v[k][j]).abs() <= 1e-3 + 1e-3 * g.v[k][j].abs() + 0.05 * dv,
                "V at step {k}, neuron {j}: {} vs {}",
                at(v),
                g.v[k][j]
            );
            for (name, got, want) in [("g_E", at(ge) * 1e3, g.g_e[k][j]), ("g_I", at(gi) * 1e3, g.g_i[k][j])] {
                assert!((got - want).abs() <= 1e-4 + 1e-3 * want.abs(), "{name} at step {k}, neuron {j}: {got} vs {want}");
            }
            assert!((at(lst) - g.lst[k][j]).abs() <= 1e-4 * g.lst[k][j].abs().max(1.0), "last_spike_time at step {k}, neuron {j}");
        }
    }
}

fn monitors(net: &mut Network, n: somata::net::PopId) {
    net.monitor_spikes("spike", n, None, 1).unwrap();
    net.add_monitor("V", n, Var::State("V".into()), None, 1).unwrap();
    net.add_monitor("gE", n, Var::Conductance("E".into()), None, 1).unwrap();
    net.add_monitor("gI", n, Var::Conductance("I".into()), None, 1).unwrap();
    net.add_monitor("lst", n, Var::State("last_spike_time".into()), None, 1).unwrap();
}

#[test]
fn ei_net_from_rust_matches_brainpy() {
    let g = golden();
    let mut net = Network::new(0.1 * ms).unwrap();
    let layer = LifRef::builder(20)
        .v_rest(-60.0 * mV)
        .v_th(-50.0 * mV)
        .v_reset(-60.0 * mV)
        .tau(10.0 * ms)
        .tau_ref(2.0 * ms)
        .r(1.0 * ohm)
        .spk_reset(SpikeReset::Soft)
        .init("V", Init::Values(g.v0.clone()))
        .build()
        .unwrap();
    let n = net.add(layer, "N").unwrap();
    let dense = |w: &Vec<Vec<f64>>| Conn::dense(w.len(), 20, w.iter().flatten().map(|&x| x as f32).collect()).unwrap();
    let mut syn_e = somata::synapse::by_name("Expon").unwrap();
    syn_e.set_param("tau", 5.0).unwrap();
    let mut syn_i = somata::synapse::by_name("Expon").unwrap();
    syn_i.set_param("tau", 10.0).unwrap();
    net.connect(
        Projection::new(n, n, dense(&g.w_e), ProjKind::AlignPost { syn: syn_e, out: Output::Coba { e: 0.0 } }).pre_range(0..16).name("E"),
    )
    .unwrap();
    net.connect(
        Projection::new(n, n, dense(&g.w_i), ProjKind::AlignPost { syn: syn_i, out: Output::Coba { e: -80.0 } })
            .pre_range(16..20)
            .name("I"),
    )
    .unwrap();
    let steps = g.iext.len();
    net.input(n, ExtInput::PerStep { data: g.iext.iter().flatten().map(|&x| x as f32).collect(), steps }).unwrap();
    monitors(&mut net, n);
    let s = net.run(steps).unwrap();
    assert_eq!(s.spikes[0] as f64, g.spike.iter().flatten().sum::<f64>());
    check(&net, &g);
}

fn rows(m: &[Vec<f64>]) -> String {
    let r: Vec<String> = m.iter().map(|r| format!("[{}]", r.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", "))).collect();
    format!("[{}]", r.join(",\n  "))
}

/// The TOML description of ei_net (the network file format's worked example).
fn ei_net_toml(g: &Golden) -> String {
    format!(
        r#"
name = "ei_net"
dt = "0.1 ms"
steps = {steps}

[[population]]
name = "N"
model = "LIFRef"
size = 20
spk_reset = "soft"
params = {{ V_rest = "-60 mV", V_th = "-50 mV", V_reset = "-60 mV", tau = "10 ms", tau_ref = "2 ms", R = "1 ohm" }}
init.V = {{ unit = "mV", values = {v0:?} }}

[[projection]]
name = "E"
pre = "N"
pre_range = [0, 16]
post = "N"
kind = "align_post"
synapse = {{ model = "Expon", tau = "5 ms" }}
output = {{ model = "COBA", E = "0 mV" }}
conn = {{ type = "dense", unit = "S", values = {we} }}

[[projection]]
name = "I"
pre = "N"
pre_range = [16, 20]
post = "N"
synapse = {{ model = "Expon", tau = "10 ms" }}
output = {{ model = "COBA", E = "-80 mV" }}
conn = {{ type = "dense", unit = "S", values = {wi} }}

[[input]]
target = "N"
type = "per_step"
unit = "mA"
values = {iext}

[[monitor]]
name = "spike"
population = "N"

[[monitor]]
name = "V"
population = "N"
var = "V"

[[monitor]]
name = "gE"
population = "N"
var = "g@E"

[[monitor]]
name = "gI"
population = "N"
var = "g@I"

[[monitor]]
name = "lst"
population = "N"
var = "last_spike_time"
"#,
        steps = g.iext.len(),
        v0 = g.v0,
        we = rows(&g.w_e),
        wi = rows(&g.w_i),
        iext = rows(&g.iext),
    )
}

#[test]
fn ei_net_from_toml_matches_brainpy() {
    let g = golden();
    let mut f = toml_net::parse(&ei_net_toml(&g), std::path::Path::new("."), "x").unwrap();
    assert_eq!(f.name, "ei_net");
    assert_eq!(f.steps, 100);
    f.net.run(f.steps).unwrap();
    check(&f.net, &g);
}

/// Spec §10: AlignPostProj(Linear 1 mS, Expon 5 ms, COBA E = 10 mV) → LIF(tau 10 ms, R 1 Ω),
/// one presynaptic spike at step 0: g = 1, 0.98019868, …; V = 9.9501172e-5, 1.9604109e-4 mV.
#[test]
fn align_post_coba_onto_lif_spec_numbers() {
    let mut net = Network::new(0.1 * ms).unwrap();
    // a presynaptic neuron that spikes at step 0 only: IF whose initial V is at threshold
    let pre = If::builder(1).init("V", Init::Constant(1.0)).tau(1e9 * ms).build().unwrap();
    let pre = net.add(pre, "pre").unwrap();
    let post = Lif::builder(1).tau(10.0 * ms).r(1.0 * ohm).v_th(1e9 * mV).build().unwrap();
    let post = net.add(post, "post").unwrap();
    let mut syn = somata::synapse::by_name("Expon").unwrap();
    syn.set_param("tau", 5.0).unwrap();
    net.connect(
        Projection::new(
            pre,
            post,
            Conn::all_to_all(1, 1, 1e-3 * siemens).unwrap(),
            ProjKind::AlignPost { syn, out: Output::Coba { e: 10.0 } },
        )
        .name("p"),
    )
    .unwrap();
    net.add_monitor("V", post, Var::State("V".into()), None, 1).unwrap();
    net.add_monitor("g", post, Var::Conductance("p".into()), None, 1).unwrap();
    net.run(3).unwrap();
    let (v, _) = net.monitor_data("V").unwrap();
    let (g, _) = net.monitor_data("g").unwrap();
    for (got, want) in g.iter().zip([1.0, 0.980_198_68, 0.960_789_44]) {
        assert!((*got as f64 * 1e3 - want).abs() < 1e-6, "g {got} vs {want} mS");
    }
    for (got, want) in v.iter().zip([9.950_117_2e-5, 1.960_410_9e-4]) {
        assert!((*got as f64 - want).abs() < 1e-9 + 1e-5 * want, "V {got} vs {want} mV");
    }
}

/// Spec §10: DeltaProj(0.5 mV) gives V = 0.5 mV after one step at rest.
#[test]
fn delta_projection_adds_to_v_after_integration() {
    let mut net = Network::new(0.1 * ms).unwrap();
    let pre = If::builder(1).init("V", Init::Constant(1.0)).tau(1e9 * ms).build().unwrap();
    let pre = net.add(pre, "pre").unwrap();
    let post = net.add(Lif::builder(1).tau(10.0 * ms).build().unwrap(), "post").unwrap();
    net.connect(Projection::new(pre, post, Conn::all_to_all(1, 1, 0.5 * mV).unwrap(), ProjKind::Delta { state: "V".into() })).unwrap();
    net.run(1).unwrap();
    let v = net.population(post).state("V").unwrap()[0];
    assert!((v - 0.5).abs() < 1e-7, "{v}");
}

/// STP on a projection: three presynaptic spikes give the released fractions of spec §10
/// (0.27749, 0.27883, 0.21228) as delta conductances of an Expon synapse with τ → ∞.
#[test]
fn stp_on_a_projection_scales_spikes() {
    let mut net = Network::new(0.1 * ms).unwrap();
    // a presynaptic neuron spiking at steps 0, 1, 2: IF with a huge input and V_th tiny
    let pre = If::builder(1).v_th(1e-6 * mV).tau(1e9 * ms).init("V", Init::Constant(1.0)).build().unwrap();
    let pre = net.add(pre, "pre").unwrap();
    net.input_constant(pre, 1e12 * mA).unwrap();
    let post = net.add(Lif::builder(1).v_th(1e9 * mV).build().unwrap(), "post").unwrap();
    let mut syn = somata::synapse::by_name("Expon").unwrap();
    syn.set_param("tau", 1e12).unwrap();
    let stp = somata::synapse::by_name("STP").unwrap();
    net.connect(
        Projection::new(pre, post, Conn::all_to_all(1, 1, 1.0 * siemens).unwrap(), ProjKind::AlignPost { syn, out: Output::CUBA })
            .stp(stp)
            .name("p"),
    )
    .unwrap();
    net.add_monitor("g", post, Var::Conductance("p".into()), None, 1).unwrap();
    net.run(3).unwrap();
    let (g, _) = net.monitor_data("g").unwrap();
    let inc = [g[0] as f64, (g[1] - g[0]) as f64, (g[2] - g[1]) as f64];
    for (got, want) in inc.iter().zip([0.27749, 0.27883, 0.21228]) {
        assert!((got - want).abs() < 2e-5, "{inc:?}");
    }
}

#[test]
fn bad_networks_get_typed_errors() {
    let mut net = Network::new(0.1 * ms).unwrap();
    let a = net.add(Lif::builder(10).build().unwrap(), "A").unwrap();
    let b = net.add(Lif::builder(5).build().unwrap(), "B").unwrap();
    let syn = || somata::synapse::by_name("Expon").unwrap();
    // mismatched sizes
    let e = net
        .connect(Projection::new(
            a,
            b,
            Conn::all_to_all(10, 4, 1.0 * siemens).unwrap(),
            ProjKind::AlignPost { syn: syn(), out: Output::CUBA },
        ))
        .unwrap_err();
    assert!(matches!(e, SomataError::ShapeMismatch { .. }), "{e}");
    // negative delay
    let e = net
        .connect(
            Projection::new(a, b, Conn::all_to_all(10, 5, 1.0 * siemens).unwrap(), ProjKind::AlignPost { syn: syn(), out: Output::CUBA })
                .delay_ms(-1.0),
        )
        .unwrap_err();
    assert!(e.to_string().contains("delay"), "{e}");
    // probability outside [0, 1]
    assert!(Conn::fixed_prob(3, 3, 1.5, 1.0, 0).unwrap_err().to_string().contains("[0, 1]"));
    // a delay that is not a whole number of steps is interpolated (BrainPy's InputDelay)
    net.connect(
        Projection::new(a, b, Conn::all_to_all(10, 5, 1.0 * siemens).unwrap(), ProjKind::AlignPost { syn: syn(), out: Output::CUBA })
            .delay_ms(0.25),
    )
    .unwrap();
    // 2.5 steps: between 2 and 3 steps
    net.run(1).unwrap();
    // AMPA takes spikes: not an align-post synapse
    let e = net
        .connect(Projection::new(
            a,
            b,
            Conn::all_to_all(10, 5, 1.0 * siemens).unwrap(),
            ProjKind::AlignPost { syn: somata::synapse::by_name("AMPA").unwrap(), out: Output::CUBA },
        ))
        .unwrap_err();
    assert!(e.to_string().contains("align-pre"), "{e}");
}

#[test]
fn bad_network_files_name_the_problem() {
    let base = "dt = \"0.1 ms\"\nsteps = 10\n[[population]]\nname = \"A\"\nmodel = \"LIF\"\nsize = 4\n";
    let cases: &[(&str, &str)] = &[
        ("dt = \"0.1 ms\"\nsteps = [\n", "not valid TOML"),
        (&format!("{base}params = {{ tau = \"5 mV\" }}\n"), "tau"),
        (&format!("{base}params = {{ taux = 5 }}\n"), "taux"),
        ("dt = \"0.1 ms\"\nsteps = 10\n[[population]]\nname = \"A\"\nmodel = \"LIFF\"\nsize = 4\n", "LIFF"),
        (&format!("{base}[[projection]]\npre = \"A\"\npost = \"B\"\n"), "no population named `B`"),
        (
            &format!(
                "{base}[[projection]]\npre = \"A\"\npost = \"A\"\nsynapse = \"Expon\"\noutput = \"CUBA\"\nconn = {{ type = \"fixed_prob\", prob = 2.0, weight = \"1 S\" }}\n"
            ),
            "[0, 1]",
        ),
        (
            &format!(
                "{base}[[projection]]\npre = \"A\"\npost = \"A\"\nsynapse = \"Expon\"\noutput = \"CUBA\"\nconn = {{ type = \"all_to_all\", weight = \"1 mV\" }}\n"
            ),
            "weight",
        ),
        (&format!("{base}colour = 3\n"), "colour"),
    ];
    for (text, want) in cases {
        let e = toml_net::parse(text, std::path::Path::new("."), "x").err().unwrap_or_else(|| panic!("accepted:\n{text}"));
        assert!(e.to_string().contains(want), "error `{e}` does not mention `{want}`");
    }
    // the TOML error names the line
    let e = toml_net::parse("dt = \"0.1 ms\"\n\nsteps = = 3\n", std::path::Path::new("."), "x").err().unwrap();
    assert!(e.to_string().contains("line 3"), "{e}");
}

#[test]
fn conductance_drive_is_exact_exponential_euler() {
    // one LIF with a constant conductance g onto E: the step is V + dt·exprel(dt·J)·f(V) with
    // J = (−1 − R·g)/τ, which for constant g is the exact solution of the linear ODE
    let (tau, r, g, e) = (10.0f64, 1.0f64, 0.5f64, 10.0f64);
    let mut layer = Lif::builder(1).tau(tau * ms).r(r * ohm).v_th(1e9 * mV).build().unwrap();
    layer.init_state(None).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let prep = layer.prepare_steps(&clock).unwrap();
    let mut spk = [0.0f32];
    let mut v = 0.0f64;
    let vinf = r * g * e / (1.0 + r * g);
    let k = (-(0.1 / tau) * (1.0 + r * g)).exp();
    for _ in 0..50 {
        layer.step_drive(&prep, &clock, &[(g * e) as f32], Some(&[g as f32]), &mut spk).unwrap();
        clock.advance();
        v = vinf + (v - vinf) * k;
        let got = layer.state("V").unwrap()[[0]] as f64;
        assert!((got - v).abs() < 1e-5 * v.abs().max(1e-3), "{got} vs {v}");
    }
}
