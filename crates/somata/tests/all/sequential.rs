//! `somata trace` sequential documents (FORMAT.md, "Sequential network runs"): BrainPy 2.9's
//! two-layer LIF network (`net2_lif.json`) for every shipped surrogate and reset, and the
//! readout, unit and error handling on documents of our own.

use crate::common::{load, num};
use serde_json::{json, Value};
use somata::io::trace::run;

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        x => vec![num(x)],
    }
}

/// FORMAT.md: loss and gradients within 1e-3 relative, absolute floor 1e-5.
fn check_grad(what: &str, got: &Value, gold: &Value) -> Result<(), String> {
    let (a, b) = (flat(got), flat(gold));
    if a.len() != b.len() {
        return Err(format!("{what}: {} values, golden {}", a.len(), b.len()));
    }
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if !(x.is_finite() && (x - y).abs() <= 1e-5 + 1e-3 * y.abs()) {
            return Err(format!("{what}[{i}]: {x} vs golden {y}"));
        }
    }
    Ok(())
}

/// States as neuron states (1e-3 absolute + 1e-3 relative), spikes equal.
fn check_layer(what: &str, got: &Value, v_gold: &Value, s_gold: &Value) -> Result<(), String> {
    if got["V"]["unit"] != "mV" || got["spike"]["unit"] != "1" {
        return Err(format!("{what}: units {} / {}", got["V"]["unit"], got["spike"]["unit"]));
    }
    let (s, sg) = (flat(&got["spike"]["value"]), flat(s_gold));
    if s != sg {
        let i = s.iter().zip(&sg).position(|(a, b)| a != b).unwrap_or(s.len().min(sg.len()));
        return Err(format!("{what}: spikes differ (lengths {} / {}, first at flat index {i})", s.len(), sg.len()));
    }
    let (v, vg) = (flat(&got["V"]["value"]), flat(v_gold));
    if v.len() != vg.len() {
        return Err(format!("{what}: V has {} values, golden {}", v.len(), vg.len()));
    }
    for (i, (a, g)) in v.iter().zip(&vg).enumerate() {
        if !(a.is_finite() && (a - g).abs() <= 1e-3 + 1e-3 * g.abs()) {
            return Err(format!("{what}: V[{i}] {a} vs golden {g}"));
        }
    }
    Ok(())
}

fn lif_params(p: &Value) -> Value {
    json!({
        "tau": {"value": p["tau_ms"], "unit": "ms"},
        "V_th": {"value": p["V_th_mV"], "unit": "mV"},
        "R": {"value": p["R_ohm"], "unit": "ohm"},
        "V_rest": {"value": p["V_rest_mV"], "unit": "mV"},
        "V_reset": {"value": p["V_reset_mV"], "unit": "mV"},
    })
}

/// The trace document for one result of net2_lif.json: x → Linear(10,8) → ×mA → LIF(8) →
/// Linear(8,3) → ×mA → LIF(3); loss = Σ spikes₂·loss_w + 0.1·Σ spikes₁.
fn net2_doc(d: &Value, res: &Value) -> Value {
    let p = &d["params"];
    let n1 = p["b1"].as_array().unwrap().len();
    let sg = res["surrogate"].as_str().unwrap();
    json!({
        "kind": "sequential",
        "dt_ms": d["dt_ms"],
        "spk_reset": res["spk_reset"],
        "surrogate": {"name": sg.split('(').next().unwrap(), "params": res.get("surrogate_params").cloned().unwrap_or(json!({}))},
        "layers": [
            {"type": "linear", "W": p["W1"], "b": p["b1"]},
            {"type": "neuron", "model": "LIF", "params": lif_params(&p["layer1"])},
            {"type": "linear", "W": p["W2"], "b": p["b2"]},
            {"type": "neuron", "model": "LIF", "params": lif_params(&p["layer2"])},
        ],
        "input": {"unit": "1", "value": d["inputs"]["x"]},
        "loss_weight": [[], vec![0.1; n1], [], d["inputs"]["loss_w"]],
    })
}

fn check_net2(d: &Value, res: &Value) -> Result<(), String> {
    let out = run(&net2_doc(d, res)).map_err(|e| e.to_string())?;
    check_grad("loss", &out["loss"], &res["loss"])?;
    let layers = out["layers"].as_array().ok_or("no layers")?;
    let grads = out["grads"].as_array().ok_or("no grads")?;
    if layers.len() != 4 || grads.len() != 4 {
        return Err(format!("{} layers, {} grads (expected 4)", layers.len(), grads.len()));
    }
    for k in [0, 2] {
        if layers[k] != json!({}) {
            return Err(format!("linear layer {k} reports states: {}", layers[k]));
        }
    }
    for k in [1, 3] {
        if grads[k] != json!({}) {
            return Err(format!("neuron layer {k} reports gradients: {}", grads[k]));
        }
    }
    check_layer("layer 1", &layers[1], &res["V_layer1_mV"], &res["spikes_layer1"])?;
    check_layer("layer 3", &layers[3], &res["V_layer2_mV"], &res["spikes_layer2"])?;
    check_grad("W1", &grads[0]["W"], &res["grad_W1"])?;
    check_grad("b1", &grads[0]["b"], &res["grad_b1"])?;
    check_grad("W2", &grads[2]["W"], &res["grad_W2"])?;
    check_grad("b2", &grads[2]["b"], &res["grad_b2"])?;
    // [in][out] layout, not only the right values in some order
    if grads[0]["W"].as_array().map(Vec::len) != d["params"]["W1"].as_array().map(Vec::len) {
        return Err("grad W1 is not [in][out]".into());
    }
    check_grad("grad_input", &out["grad_input"], &res["grad_input"])
}

#[test]
fn net2_lif_matches_brainpy() {
    let d = load("net2_lif.json");
    let results = d["outputs"]["results"].as_array().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for res in results {
        let label = format!("{}/{}", res["surrogate"].as_str().unwrap(), res["spk_reset"].as_str().unwrap());
        seen.insert(label.clone());
        if let Err(e) = check_net2(&d, res) {
            failures.push(format!("{label}: {e}"));
        }
    }
    assert_eq!(seen.len(), 6, "3 surrogates × 2 resets shipped: {seen:?}");
    assert!(failures.is_empty(), "{} of {} cases fail:\n{}", failures.len(), results.len(), failures.join("\n"));
}

/// Linear → LIF → LeakyRateReadout: r and the readout's weight gradient against a direct f64
/// computation from the reported spikes, and the loss as FORMAT.md defines it.
#[test]
fn readout_follows_brainpy_recurrence() {
    let (steps, b, n_in, n_h, n_o) = (40usize, 2usize, 2usize, 3usize, 2usize);
    let x: Vec<Vec<Vec<f64>>> =
        (0..steps).map(|t| (0..b).map(|r| (0..n_in).map(|i| ((t + 3 * r + i) % 5) as f64 * 0.7).collect()).collect()).collect();
    let w_out = [[1.0, -0.5], [0.5, 0.25], [-0.5, 2.0]];
    let (tau, dt) = (5.0f64, 0.1f64);
    let lw_h = [0.3, -0.2, 0.1];
    let lw_o = [2.0, -1.0];
    let doc = json!({
        "kind": "sequential", "dt_ms": dt, "spk_reset": "soft",
        "surrogate": {"name": "Sigmoid", "params": {"alpha": 4.0}},
        "layers": [
            {"type": "linear", "W": [[20.0, 35.0, 10.0], [15.0, -5.0, 30.0]], "b": [1.0, 0.0, 2.0]},
            {"type": "neuron", "model": "LIF", "params": {"tau": {"value": 5.0, "unit": "ms"}}},
            {"type": "readout", "tau": {"value": tau, "unit": "ms"}, "W": w_out},
        ],
        "input": {"unit": "1", "value": x},
        "loss_weight": [[], lw_h, lw_o],
    });
    let out = run(&doc).unwrap();
    let s = flat(&out["layers"][1]["spike"]["value"]);
    assert_eq!(s.len(), steps * b * n_h);
    assert!(s.iter().sum::<f64>() > 5.0, "the example should spike");
    let r = flat(&out["layers"][2]["r"]["value"]);
    assert_eq!(out["layers"][2]["r"]["unit"], "1");
    let decay = (-dt / tau).exp();
    let mut want_r = vec![0.0f64; steps * b * n_o];
    let mut want_gw = [[0.0f64; 2]; 3];
    // Σ_{t≥s} decay^(t−s): the weight of x_s in the loss on r
    let tail = |s: usize| (0..steps - s).map(|k| decay.powi(k as i32)).sum::<f64>();
    for t in 0..steps {
        for row in 0..b {
            for o in 0..n_o {
                let prev = if t > 0 { want_r[((t - 1) * b + row) * n_o + o] } else { 0.0 };
                let xw: f64 = (0..n_h).map(|i| s[(t * b + row) * n_h + i] * w_out[i][o]).sum();
                want_r[(t * b + row) * n_o + o] = decay * prev + xw;
            }
            for (i, gi) in want_gw.iter_mut().enumerate() {
                for (o, g) in gi.iter_mut().enumerate() {
                    *g += lw_o[o] * s[(t * b + row) * n_h + i] * tail(t);
                }
            }
        }
    }
    for (i, (a, w)) in r.iter().zip(&want_r).enumerate() {
        assert!((a - w).abs() <= 1e-5 + 1e-5 * w.abs(), "r[{i}]: {a} vs {w}");
    }
    check_grad("readout W", &out["grads"][2]["W"], &json!(want_gw)).unwrap();
    assert_eq!(out["grads"][2].as_object().unwrap().len(), 1, "a readout has no bias");
    let want_loss: f64 = (0..steps * b)
        .map(|k| (0..n_h).map(|i| s[k * n_h + i] * lw_h[i]).sum::<f64>() + (0..n_o).map(|o| want_r[k * n_o + o] * lw_o[o]).sum::<f64>())
        .sum();
    check_grad("loss", &out["loss"], &json!(want_loss)).unwrap();
    assert!(flat(&out["grads"][0]["W"]).iter().any(|&g| g != 0.0), "gradient reaches the first layer");
}

/// A network of one neuron layer is the neuron and gradient kinds: same states (including
/// `refractory` with `ref_var`), spikes and input gradient, with the input in any current unit.
#[test]
fn one_neuron_layer_is_the_neuron_and_grad_kinds() {
    let (steps, b, n) = (120usize, 2usize, 3usize);
    let x: Vec<Vec<Vec<f64>>> =
        (0..steps).map(|t| (0..b).map(|r| (0..n).map(|i| 8.0 + 3.0 * (i + r) as f64 + ((t % 7) as f64)).collect()).collect()).collect();
    let params = json!({"tau_ref": {"value": 1.0, "unit": "ms"}, "ref_var": true});
    let lw = [1.0, -0.5, 0.25];
    let lw3: Vec<Vec<Vec<f64>>> = vec![vec![lw.to_vec(); b]; steps];
    let sg = json!({"name": "Arctan", "params": {}});
    let neuron = run(&json!({"kind": "neuron", "model": "GifRef", "spk_reset": "hard", "dt_ms": 0.1, "params": params,
        "input": {"unit": "mA", "value": x}}))
    .unwrap();
    let grad = run(&json!({"kind": "grad", "model": "GifRef", "spk_reset": "hard", "dt_ms": 0.1, "surrogate": sg,
        "params": params, "input": {"unit": "mA", "value": x}, "loss_weight": lw3}))
    .unwrap();
    // the same input given in uA: states equal, grad_input per uA
    let x_ua: Vec<Vec<Vec<f64>>> = x.iter().map(|s| s.iter().map(|r| r.iter().map(|v| v * 1e3).collect()).collect()).collect();
    for (unit, xs, per) in [("mA", &x, 1.0), ("uA", &x_ua, 1e-3)] {
        let out = run(&json!({"kind": "sequential", "dt_ms": 0.1, "spk_reset": "hard", "surrogate": sg,
            "layers": [{"type": "neuron", "model": "GifRef", "params": params}],
            "input": {"unit": unit, "value": xs}, "loss_weight": [lw]}))
        .unwrap();
        let layer = out["layers"][0].as_object().unwrap();
        let want = neuron["outputs"].as_object().unwrap();
        assert!(layer.contains_key("refractory"), "{unit}: ref_var shows `refractory`");
        assert_eq!(layer.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{unit}: the neuron kind's states");
        for (k, v) in want {
            assert_eq!(layer[k]["unit"], v["unit"], "{unit}: unit of {k}");
            let (a, w) = (flat(&layer[k]["value"]), flat(&v["value"]));
            assert!(a.iter().zip(&w).all(|(a, w)| (a - w).abs() <= 1e-4 + 1e-5 * w.abs()) && a.len() == w.len(), "{unit}: {k}");
        }
        assert_eq!(flat(&out["layers"][0]["spike"]["value"]), flat(&grad["spikes"]), "{unit}: spikes");
        assert!(flat(&grad["spikes"]).iter().sum::<f64>() >= 6.0, "every neuron should spike");
        check_grad("loss", &out["loss"], &grad["loss"]).unwrap();
        let want_g: Vec<f64> = flat(&grad["grad_input"]).iter().map(|g| g * per).collect();
        check_grad(&format!("grad_input per {unit}"), &out["grad_input"], &json!(want_g)).unwrap();
        assert_eq!(out["grads"], json!([{}]));
    }
}

#[test]
fn malformed_documents_are_errors() {
    let base = json!({
        "kind": "sequential", "dt_ms": 0.1, "spk_reset": "soft", "surrogate": {"name": "ReluGrad", "params": {}},
        "layers": [
            {"type": "linear", "W": [[0.1, 0.2, 0.3]], "b": [0.0, 0.1, 0.0]},
            {"type": "neuron", "model": "LIF", "params": {"tau": {"value": 5.0, "unit": "ms"}}},
            {"type": "readout", "tau": {"value": 5.0, "unit": "ms"}, "W": [[1.0], [0.5], [-0.5]]},
        ],
        "input": {"unit": "1", "value": [[[1.0]], [[0.0]]]},
        "loss_weight": [[], [1.0, 1.0, 1.0], [2.0]],
    });
    // FORMAT.md's example runs
    let out = run(&base).unwrap();
    assert_eq!(out["layers"].as_array().unwrap().len(), 3);
    assert_eq!(flat(&out["grad_input"]).len(), 2);
    let bad = |path: &[&str], v: Value| {
        let mut d = base.clone();
        let mut at = &mut d;
        for p in &path[..path.len() - 1] {
            at = match p.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*p],
            };
        }
        let last = path[path.len() - 1];
        match last.parse::<usize>() {
            Ok(i) => at[i] = v,
            Err(_) => at[last] = v,
        }
        run(&d).expect_err(&format!("{path:?} should be rejected"))
    };
    bad(&["layers", "0", "type"], json!("conv"));
    bad(&["layers", "1", "model"], json!("NoSuchModel"));
    bad(&["layers", "1", "params"], json!({"tau_x": {"value": 1.0, "unit": "ms"}}));
    bad(&["layers", "1", "params"], json!({"tau": {"value": 1.0, "unit": "mV"}}));
    bad(&["layers", "2", "W"], json!([[1.0], [0.5]]));
    bad(&["layers", "0", "b"], json!([0.0]));
    bad(&["layers", "2", "tau"], json!({"value": 5.0, "unit": "mV"}));
    bad(&["loss_weight"], json!([[], [1.0, 1.0, 1.0]]));
    bad(&["loss_weight", "1"], json!([1.0]));
    bad(&["surrogate", "name"], json!("NoSuchSurrogate"));
    bad(&["spk_reset"], json!("sideways"));
    bad(&["input", "unit"], json!("mA"));
}
