//! The command-line contracts: `somata trace` (FORMAT.md), `somata bench NAME`'s last line,
//! `somata run`.

use std::io::Write;
use std::process::{Command, Stdio};

fn somata(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_somata"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

const DOC: &str = r#"{"kind": "neuron", "model": "LIF", "spk_reset": "soft", "dt_ms": 0.1,
 "params": {"tau": {"value": 8.0, "unit": "ms"},
            "V_initializer": {"initializer": "Constant", "value": 0.3, "unit": "mV"}},
 "input": {"unit": "mA", "value": [[[0.3, 0.6, 0.9, 1.2], [1.5, 1.8, 2.1, 2.4]],
                                   [[0.3, 0.6, 0.9, 1.2], [1.5, 1.8, 2.1, 2.4]]]}}"#;

#[test]
fn trace_neuron_from_stdin() {
    let (code, out, err) = somata(&["trace", "-"], Some(DOC));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let vv = &v["outputs"]["V"];
    assert_eq!(vv["unit"], "mV");
    assert_eq!(vv["value"].as_array().unwrap().len(), 2);
    assert_eq!(vv["value"][0].as_array().unwrap().len(), 2);
    assert_eq!(vv["value"][0][0].as_array().unwrap().len(), 4);
    // first step, first neuron: 0.3 + dt·exprel(−dt/τ)/τ·(0.3 − 0.3)·... = EE from 0.3 mV with 0.3 mA
    let v0 = vv["value"][0][0][0].as_f64().unwrap();
    assert!((v0 - 0.3).abs() < 1e-6, "{v0}");
    let v01 = vv["value"][0][0][1].as_f64().unwrap();
    let expect = 0.3 + (1.0 - (-0.1f64 / 8.0).exp()) * (0.6 - 0.3);
    assert!((v01 - expect).abs() < 1e-6, "{v01} vs {expect}");
    assert_eq!(v["outputs"]["spike"]["unit"], "1");
}

#[test]
fn trace_grad_from_file() {
    let doc = r#"{"kind": "grad", "model": "LIF", "spk_reset": "hard", "dt_ms": 0.1,
      "surrogate": {"name": "Sigmoid", "params": {"alpha": 2.0}},
      "params": {"tau": {"value": 8.0, "unit": "ms"}, "V_th": {"value": 1.0, "unit": "mV"}},
      "input": {"unit": "uA", "value": [[[3000.0]], [[3000.0]], [[3000.0]]]},
      "loss_weight": [[[1.0]], [[1.0]], [[1.0]]]}"#;
    let path = std::env::temp_dir().join(format!("somata-grad-{}.json", std::process::id()));
    std::fs::write(&path, doc).unwrap();
    let (code, out, err) = somata(&["trace", path.to_str().unwrap()], None);
    std::fs::remove_file(&path).ok();
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for k in ["loss", "spikes", "grad_input", "grad_tau", "grad_V_th"] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    // no spike in 3 steps, but a surrogate gradient per uA (1000x smaller than per mA)
    assert_eq!(v["loss"].as_f64().unwrap(), 0.0);
    let g = v["grad_input"][0][0][0].as_f64().unwrap();
    assert!(g > 0.0 && g < 1e-2, "{g}");
}

#[test]
fn trace_errors_exit_nonzero_with_a_message() {
    for (doc, what) in [
        (DOC.replace("\"LIF\"", "\"Nope\""), "unknown model"),
        (DOC.replace("\"ms\"", "\"parsec\""), "unknown unit"),
        (DOC.replace("\"tau\"", "\"tau_x\""), "unknown parameter"),
        ("[1, 2".to_string(), "JSON"),
    ] {
        let (code, out, err) = somata(&["trace", "-"], Some(&doc));
        assert_ne!(code, 0);
        assert!(out.is_empty());
        assert!(err.contains(what), "expected `{what}` in {err}");
    }
    let (code, _, err) = somata(&["trace", "/nonexistent/file.json"], None);
    assert_ne!(code, 0);
    assert!(err.contains("reading"), "{err}");
}

#[test]
fn bench_last_line_contract() {
    for name in ["lif-4000", "lif-bptt", "adex-4000", "hh-exact-4000", "fwd:Izhikevich"] {
        let (code, out, err) = somata(&["bench", name, "--runs", "1"], None);
        assert_eq!(code, 0, "{err}");
        let last = out.lines().last().unwrap();
        let rest = last.strip_prefix(&format!("{name}: ")).unwrap_or_else(|| panic!("{last}"));
        let (median, rest) = rest.split_once(" ms (min ").unwrap();
        let (min, rest) = rest.split_once(" ms, ").unwrap();
        assert_eq!(rest, "1 runs)");
        assert!(median.parse::<f64>().unwrap() > 0.0);
        assert!(min.parse::<f64>().unwrap() > 0.0);
    }
    let (code, _, err) = somata(&["bench", "nope"], None);
    assert_ne!(code, 0);
    assert!(err.contains("unknown benchmark"));
    let (code, _, err) = somata(&["bench", "fwd:Nope"], None);
    assert_ne!(code, 0);
    assert!(err.contains("Nope"), "{err}");
}

#[test]
fn run_main_job_prints_counts_and_timing() {
    let (code, out, err) = somata(&["run", "--neurons", "5"], None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1 + 1 + 5 + 1);
    // the strongest neuron fires, the weakest (0.5 mA < threshold current 1 mA) does not
    let spikes = |l: &str| l.split_whitespace().nth(2).unwrap().parse::<u32>().unwrap();
    assert_eq!(spikes(lines[2]), 0);
    assert!(spikes(lines[6]) > 50);
    assert!(lines[7].starts_with("total ") && lines[7].contains("ms wall"));
    let (code, _, err) = somata(&["run", "--dt-ms", "0"], None);
    assert_ne!(code, 0);
    assert!(err.contains("dt"), "{err}");
}

#[test]
fn fi_subcommand_prints_a_curve() {
    let (code, out, err) = somata(&["fi", "HH", "--points", "3", "--max", "20", "--duration-ms", "300"], None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("f-I curve of HH"));
    assert!(lines[1].contains("I (uA)") && lines[1].contains("rate (Hz)"));
    let rate = |l: &str| l.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap();
    assert_eq!(rate(lines[2]), 0.0); // 0 uA: silent
    assert!(rate(lines[4]) > 40.0, "{}", lines[4]); // 20 uA: tonic firing
    let (code, _, err) = somata(&["fi", "Nope"], None);
    assert_ne!(code, 0);
    assert!(err.contains("unknown model"));
    let (code, out, _) = somata(&["models"], None);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 22);
}
