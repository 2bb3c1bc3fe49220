//! Every shipped BrainPy 2.9.0 golden case, checked with FORMAT.md's criteria.

use crate::common::*;
use serde_json::json;

fn check_neuron_file(name: &str) -> Vec<String> {
    let d = load(name);
    let mut fails = Vec::new();
    for case in d["outputs"]["cases"].as_array().unwrap() {
        let doc = neuron_doc(&d, case);
        let label = format!("{name} {}/{}", case["param_set"], case["input_name"]);
        match somata::io::trace::run(&doc) {
            Err(e) => fails.push(format!("{label}: {e}")),
            Ok(out) => {
                if let Err(e) = compare_neuron(&d, case, &out["outputs"]) {
                    fails.push(format!("{label}: {e}"));
                }
            }
        }
    }
    fails
}

#[test]
fn neuron_goldens_pass_format_criteria() {
    let names = golden_names("neuron_");
    assert_eq!(names.len(), 44, "all 44 neuron golden files are shipped");
    let known = somata::neurons::registry::MODEL_NAMES;
    let mut fails = Vec::new();
    let mut checked = 0;
    for name in &names {
        let model = name.trim_start_matches("neuron_").rsplit_once('_').unwrap().0;
        if !known.contains(&model) {
            continue;
        }
        checked += 1;
        fails.extend(check_neuron_file(name));
    }
    assert!(checked >= 8, "checked {checked} files");
    assert!(fails.is_empty(), "{} failures:\n{}", fails.len(), fails.join("\n"));
}

#[test]
fn grad_goldens_match() {
    let mut fails = Vec::new();
    let mut checked = 0;
    for name in golden_names("grad_") {
        let d = load(&name);
        let model = d["model"].as_str().unwrap().rsplit('.').next().unwrap();
        if !somata::neurons::registry::MODEL_NAMES.contains(&model) {
            continue;
        }
        for res in d["outputs"]["results"].as_array().unwrap() {
            let sg = res["surrogate"].as_str().unwrap().split('(').next().unwrap();
            let doc = json!({
                "kind": "grad", "model": model, "spk_reset": res["spk_reset"], "dt_ms": d["dt_ms"],
                "surrogate": {"name": sg, "params": res.get("surrogate_params").cloned().unwrap_or(json!({}))},
                "params": {"tau": d["params"]["tau"], "V_th": d["params"]["V_th"]},
                "input": d["inputs"]["x"], "loss_weight": d["inputs"]["loss_weight"],
            });
            checked += 1;
            let out = match somata::io::trace::run(&doc) {
                Ok(o) => o,
                Err(e) => {
                    fails.push(format!("{name} {sg}: {e}"));
                    continue;
                }
            };
            for key in ["loss", "grad_tau", "grad_V_th", "grad_input"] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                flat(&out[key], &mut a);
                flat(&res[key], &mut b);
                assert_eq!(a.len(), b.len(), "{name} {key}");
                let bad = a.iter().zip(&b).filter(|(x, y)| !close(**x, **y, 1e-5, 1e-3)).count();
                if bad > 0 {
                    fails.push(format!("{name} {sg}/{}: {key} {bad}/{} off", res["spk_reset"], b.len()));
                }
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            flat(&out["spikes"], &mut a);
            flat(&res["spikes"], &mut b);
            assert_eq!(a, b, "{name} spikes");
        }
    }
    assert!(checked >= 24, "checked {checked}");
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

#[test]
fn brainpy_reference_numbers() {
    // spec §10: LIF defaults, 2 mA, dt 0.1 ms
    use somata::prelude::*;
    let mut lif = Lif::builder(1).build().unwrap();
    lif.init_state(None).unwrap();
    let mut clock = Clock::new(0.1 * ms).unwrap();
    let expect = [0.03960266, 0.07842113, 0.11647095, 0.15376732, 0.19032517, 0.22615913];
    for e in expect {
        lif.update_q(&clock, 2.0 * mA).unwrap();
        clock.advance();
        assert!((lif.v().unwrap()[[0]] - e).abs() < 3e-7, "{} vs {e}", lif.v().unwrap()[[0]]);
    }
    let mut first = None;
    for i in 6..40 {
        let s = lif.update_q(&clock, 2.0 * mA).unwrap();
        clock.advance();
        if s[[0]] == 1.0 {
            first = Some(i);
            assert!((lif.v().unwrap()[[0]] - 1.0068295).abs() < 1e-6);
            break;
        }
    }
    assert_eq!(first, Some(34));
    // step 35: soft reset then one step
    lif.update_q(&clock, 2.0 * mA).unwrap();
    assert!((lif.v().unwrap()[[0]] - 0.046296924).abs() < 1e-6);
}
