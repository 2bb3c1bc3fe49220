//! Synapse and short-term-plasticity modules against the BrainPy 2.9.0 goldens
//! (FORMAT.md "Synapse and short-term plasticity runs") and the spec's reference numbers.

use crate::common;

use serde_json::{json, Value};
use somata::synapse::{by_name, Ampa, DualExpon, Synapse};

const ATOL: f64 = 1e-4;
const RTOL: f64 = 1e-3;
const MODELS: [&str; 8] = ["Expon", "DualExpon", "Alpha", "AMPA", "GABAa", "BioNMDA", "STP", "STD"];

fn arr3(v: &Value) -> Vec<Vec<Vec<f64>>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(common::num).collect()).collect())
        .collect()
}

fn ulp32(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.1754944e-38 {
        return 1.4e-45;
    }
    let e = x.log2().floor() as i32 + 1; // x = m·2^e, 0.5 ≤ m < 1
    let e = if 2f64.powi(e - 1) > x { e - 1 } else { e };
    2f64.powi(e - 24)
}

fn close(a: f64, g: f64) -> bool {
    if g.is_nan() {
        return a.is_nan();
    }
    if g.is_infinite() {
        return a == g;
    }
    a.is_finite() && (a - g).abs() <= ATOL + RTOL * g.abs()
}

fn param_value(d: &Value, case: &Value, name: &str) -> Option<f64> {
    for src in [&case["param_overrides"], &d["params"]["fixed_overrides_both_sets"], &d["params"]["defaults"]] {
        if let Some(v) = src.get(name).and_then(|v| v.get("value")) {
            return Some(common::num(v));
        }
    }
    None
}

/// conformance.py's `compare_synapse_outputs`; with `strict`, ties are compared too. Returns the
/// number of compared (step, row, neuron) points.
fn compare(d: &Value, case: &Value, got: &Value, strict: bool) -> Result<usize, String> {
    let gold = case["outputs"].as_object().unwrap();
    for (name, g) in gold {
        let a = got.get(name).ok_or(format!("missing output {name}"))?;
        if a["unit"] != g["unit"] {
            return Err(format!("{name} in unit {}, golden {}", a["unit"], g["unit"]));
        }
    }
    let gv: Vec<(String, Vec<Vec<Vec<f64>>>)> = gold.iter().map(|(k, v)| (k.clone(), arr3(&v["value"]))).collect();
    let av: Vec<Vec<Vec<Vec<f64>>>> = gv.iter().map(|(k, _)| arr3(&got[k]["value"])).collect();
    let (s, b, n) = (gv[0].1.len(), gv[0].1[0].len(), gv[0].1[0][0].len());
    for (k, a) in av.iter().enumerate() {
        if a.len() != s || a[0].len() != b || a[0][0].len() != n {
            return Err(format!("{} has the wrong shape", gv[k].0));
        }
    }
    let dt = common::num(case.get("dt_ms").unwrap_or(&d["dt_ms"]));
    let arr_k = gv.iter().position(|(k, _)| k == "spike_arrival_time");
    let t_dur = arr_k.and_then(|_| param_value(d, case, "T_dur"));
    let mut compared = 0;
    for r in 0..b {
        for i in 0..n {
            for t in 0..s {
                if let (Some(ak), Some(td), false) = (arr_k, t_dur, strict) {
                    let arr = gv[ak].1[t][r][i];
                    if arr > -1e6 && (t as f64 * dt - arr - td).abs() <= 1e-3 * dt {
                        break;
                    }
                }
                for (k, (name, g)) in gv.iter().enumerate() {
                    let (a, g) = (av[k][t][r][i], g[t][r][i]);
                    let ok = if name == "spike_arrival_time" { a.is_finite() && (a - g).abs() <= 2.0 * ulp32(g) } else { close(a, g) };
                    if !ok {
                        return Err(format!("{name} at step {t}, row {r}, neuron {i}: {a} vs golden {g}"));
                    }
                }
                compared += 1;
            }
        }
    }
    Ok(compared)
}

fn doc(d: &Value, case: &Value) -> Value {
    json!({
        "kind": "synapse",
        "model": d["model"].as_str().unwrap().rsplit('.').next().unwrap(),
        "dt_ms": case.get("dt_ms").unwrap_or(&d["dt_ms"]),
        "params": case["param_overrides"],
        "input": case["input"],
    })
}

fn run_goldens(strict: bool) {
    let mut failures = Vec::new();
    let mut total = 0;
    for m in MODELS {
        let d = common::load(&format!("synapse_{m}.json"));
        let cases = d["outputs"]["cases"].as_array().unwrap();
        assert!(!cases.is_empty(), "{m}: no cases");
        for case in cases {
            total += 1;
            let label = format!("{m} {} {}", case["param_set"], case["input_name"]);
            match somata::io::trace::run(&doc(&d, case)) {
                Err(e) => failures.push(format!("{label}: {e}")),
                Ok(out) => match compare(&d, case, &out["outputs"], strict) {
                    Err(e) => failures.push(format!("{label}: {e}")),
                    Ok(c) => assert!(c > 0, "{label}: nothing compared"),
                },
            }
        }
    }
    assert_eq!(total, 32);
    assert!(failures.is_empty(), "{} of {total} cases fail:\n{}", failures.len(), failures.join("\n"));
}

/// Every case of every synapse golden, FORMAT.md's pass rule.
#[test]
fn goldens_pass_format_rule() {
    run_goldens(false);
}

/// With the fused multiply-add window the transmitter-window ties fall as in BrainPy: every step
/// of every case agrees, ties included.
#[test]
fn goldens_match_through_window_ties() {
    run_goldens(true);
}

fn jump_run(mut s: Box<dyn Synapse>, first: f32, steps: usize) -> Vec<f32> {
    s.init_state(1).unwrap();
    (0..steps).map(|i| s.update(i as u64, 0.1, &[if i == 0 { first } else { 0.0 }])[0]).collect()
}

fn assert_near(got: &[f32], want: &[f64], scale: f64) {
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        let g = g as f64 / scale;
        assert!((g - w).abs() <= 2e-6 * w.abs().max(1e-3), "step {k}: {g} vs {w}");
    }
}

/// Spec §10 "Synapses, 1 mS jump at step 0" and "Other modules".
#[test]
fn reference_numbers() {
    let ms = 1e-3;
    assert_near(&jump_run(by_name("Expon").unwrap(), 0.001, 3), &[1.0, 0.98757780, 0.97530991], ms);
    assert_near(&jump_run(by_name("Alpha").unwrap(), 0.001, 4), &[0.0, 0.0124222, 0.0245358, 0.0363465], ms);
    assert_near(&jump_run(by_name("DualExpon").unwrap(), 0.001, 4), &[0.0, 0.1222845, 0.2317154, 0.3295278], ms);
    assert_near(&jump_run(by_name("AMPA").unwrap(), 1.0, 4), &[0.04739456, 0.09171771, 0.13316852, 0.17193311], ms);
    assert!((DualExpon::default().scale() - 1.43506).abs() < 1e-5);
    for (m, want) in [("STP", [0.27749, 0.27883, 0.21228]), ("STD", [1.0, 0.93003, 0.86500])] {
        let mut s = by_name(m).unwrap();
        s.init_state(1).unwrap();
        let got: Vec<f32> = (0..3).map(|i| s.update(i, 0.1, &[1.0])[0]).collect();
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-5, "{m}: {got:?} vs {want:?}");
        }
    }
}

/// The transmitter window is 5 or 6 steps at the defaults, decided by the fused t − arrival.
#[test]
fn ampa_window_ties_follow_fma() {
    for i0 in [9u64, 12] {
        let mut s = Ampa::default();
        s.init_state(1).unwrap();
        let mut rising = 0;
        let mut prev = 0.0;
        for i in 0..i0 + 10 {
            let g = s.update(i, 0.1, &[if i == i0 { 1.0 } else { 0.0 }])[0];
            if i >= i0 && g > prev {
                rising += 1;
            }
            prev = g;
        }
        assert_eq!(rising, if i0 == 12 { 6 } else { 5 }, "spike at step {i0}");
    }
}

/// Invalid parameters are typed errors, unknown names and models too.
#[test]
fn invalid_parameters_are_rejected() {
    let mut s = by_name("Expon").unwrap();
    s.set_param("tau", 0.0).unwrap();
    assert!(s.init_state(3).is_err());
    assert!(s.set_param("tau_x", 1.0).is_err());
    let mut d = DualExpon::default();
    d.tau_rise = 10.0;
    assert!(d.init_state(1).is_err());
    d.normalize = false;
    assert!(d.init_state(1).is_ok());
    assert!(by_name("NMDA2").is_err());
    let bad = json!({"kind": "synapse", "model": "AMPA", "dt_ms": 0.1, "params": {"T_dur": {"value": 1.0, "unit": "mV"}},
        "input": {"unit": "1", "value": [[[1.0]]]}});
    assert!(somata::io::trace::run(&bad).is_err());
}
