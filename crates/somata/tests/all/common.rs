//! Shared helpers of the integration tests: golden loading and FORMAT.md's pass criteria.
#![allow(dead_code, clippy::needless_range_loop)]

use serde_json::{json, Value};
use std::io::Read;
use std::path::PathBuf;

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/brainpy-2.9.0")
}

pub fn load(name: &str) -> Value {
    let path = data_dir().join(format!("{name}.gz"));
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut s = String::new();
    flate2::read::GzDecoder::new(f).read_to_string(&mut s).unwrap();
    serde_json::from_str(&s).unwrap()
}

pub fn golden_names(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().trim_end_matches(".gz").to_string())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

pub fn num(x: &Value) -> f64 {
    somata::io::trace::num(x).unwrap()
}

fn arr3(v: &Value) -> Vec<Vec<Vec<f64>>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(num).collect()).collect())
        .collect()
}

fn param_value(d: &Value, case: &Value, name: &str) -> Option<f64> {
    for src in [&case["param_overrides"], &d["params"]["fixed_overrides_both_sets"], &d["params"]["defaults"]] {
        if let Some(v) = src.get(name).and_then(|v| v.get("value")) {
            return Some(num(v));
        }
    }
    None
}

/// The trace document conformance.py sends for a neuron case.
pub fn neuron_doc(d: &Value, case: &Value) -> Value {
    let mut params = d["params"]["fixed_overrides_both_sets"].as_object().cloned().unwrap_or_default();
    for (k, v) in case["param_overrides"].as_object().unwrap() {
        params.insert(k.clone(), v.clone());
    }
    json!({
        "kind": "neuron",
        "model": d["model"].as_str().unwrap().rsplit('.').next().unwrap(),
        "spk_reset": d["spk_reset"],
        "dt_ms": case.get("dt_ms").unwrap_or(&d["dt_ms"]),
        "params": params,
        "input": case["input"],
    })
}

const EXP_FAMILY: [&str; 4] = ["ExpIF", "ExpIFRef", "AdExIF", "AdExIFRef"];

/// FORMAT.md's neuron criteria (a port of conformance.py's compare_neuron_outputs).
pub fn compare_neuron(d: &Value, case: &Value, got: &Value) -> Result<(), String> {
    let model = d["model"].as_str().unwrap().rsplit('.').next().unwrap();
    let gold = case["outputs"].as_object().unwrap();
    for (name, g) in gold {
        let a = got.get(name).ok_or(format!("missing output {name}"))?;
        if a["unit"] != g["unit"] {
            return Err(format!("{name} in unit {}, golden {}", a["unit"], g["unit"]));
        }
    }
    let gv: Vec<(String, Vec<Vec<Vec<f64>>>)> = gold.iter().map(|(k, v)| (k.clone(), arr3(&v["value"]))).collect();
    let av: Vec<Vec<Vec<Vec<f64>>>> = gold.keys().map(|k| arr3(&got[k]["value"])).collect();
    let idx = |name: &str| gv.iter().position(|(k, _)| k == name);
    let sp = idx("spike").unwrap();
    let (s, b, n) = (gv[sp].1.len(), gv[sp].1[0].len(), gv[sp].1[0][0].len());
    for (k, a) in av.iter().enumerate() {
        if a.len() != s || a[0].len() != b || a[0][0].len() != n {
            return Err(format!("{} has the wrong shape", gv[k].0));
        }
    }
    let dt = num(case.get("dt_ms").unwrap_or(&d["dt_ms"]));
    let lst = idx("last_spike_time");
    let tau_ref = lst.and_then(|_| param_value(d, case, "tau_ref"));
    let (vt, dtt) = (param_value(d, case, "V_T"), param_value(d, case, "delta_T"));
    let exp_model = EXP_FAMILY.contains(&model) && vt.is_some() && dtt.is_some();
    let runaway = |v: f64| exp_model && v > vt.unwrap() + 5.0 * dtt.unwrap();
    let states: Vec<usize> = (0..gv.len()).filter(|&k| gv[k].0 != "spike" && gv[k].0 != "refractory").collect();
    let discrete: Vec<usize> = (0..gv.len()).filter(|&k| gv[k].0 == "spike" || gv[k].0 == "refractory").collect();
    let vi = idx("V");
    let hard = d["spk_reset"] == "hard";
    for bi in 0..b {
        for ni in 0..n {
            let g = |k: usize, t: usize| gv[k].1[t][bi][ni];
            let first_spike = (0..s).find(|&t| g(sp, t) == 1.0);
            let first_run = vi.and_then(|v| (0..s).find(|&t| runaway(g(v, t))));
            let need = first_run.unwrap_or(first_spike.map(|f| f + 1).unwrap_or(s - 1)).min(s - 1);
            let mut end = s;
            let mut why = "end".to_string();
            for t in 0..s {
                if let (Some(tr), Some(l)) = (tau_ref, lst)
                    && t > 0
                {
                    let last = g(l, t - 1);
                    if last.is_finite() && last > -1e6 && ((t as f64 * dt - last) - tr).abs() < 1e-3 * tr.max(1.0) {
                        end = t;
                        why = "refractory-release tie".into();
                        break;
                    }
                }
                if states.iter().any(|&k| !g(k, t).is_finite()) {
                    end = t;
                    why = "non-finite golden".into();
                    break;
                }
                let skip = vi.map(|v| runaway(g(v, t))).unwrap_or(false);
                if skip && !hard {
                    end = t + 1;
                    why = "runaway upswing with soft reset".into();
                    break;
                }
                if !skip {
                    for &k in &states {
                        let prev = if t > 0 { (g(k, t) - g(k, t - 1)).abs() } else { 0.0 };
                        let next = if t + 1 < s && g(k, t + 1).is_finite() { (g(k, t + 1) - g(k, t)).abs() } else { 0.0 };
                        let slope = prev.max(next);
                        let (a, gg) = (av[k][t][bi][ni], g(k, t));
                        if !(a.is_finite() && (a - gg).abs() <= 1e-3 + 1e-3 * gg.abs() + 0.05 * slope) {
                            return Err(format!("{} at step {t}, row {bi}, neuron {ni}: {a} vs golden {gg}", gv[k].0));
                        }
                    }
                }
                if discrete.iter().any(|&k| av[k][t][bi][ni] != g(k, t)) {
                    end = t + 1;
                    why = format!("spike/refractory mismatch at step {t}");
                    break;
                }
            }
            if end <= need {
                return Err(format!("row {bi} neuron {ni}: comparison stopped at step {end} ({why}) before step {need}"));
            }
        }
    }
    Ok(())
}

pub fn close(a: f64, b: f64, atol: f64, rtol: f64) -> bool {
    if b.is_nan() {
        return a.is_nan();
    }
    if b.is_infinite() {
        return a == b;
    }
    a.is_finite() && (a - b).abs() <= atol + rtol * b.abs()
}

pub fn flat(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| flat(x, out)),
        x => out.push(num(x)),
    }
}
