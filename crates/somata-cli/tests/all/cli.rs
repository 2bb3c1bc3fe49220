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
    for name in ["lif-4000", "lif-bptt", "adex-4000", "hh-exact-4000", "fwd:Izhikevich", "a-infer", "b-512"] {
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
    assert_eq!(out.lines().count(), 23); // brainpy.state's 22 and TraubHH
}

/// The spike count column of a table row (`-` for a diverged neuron).
fn row_spikes(l: &str) -> Option<u32> {
    l.split_whitespace().nth(2).unwrap().parse().ok()
}

#[test]
fn run_default_is_the_lif_job() {
    let (code, out, err) = somata(&["run"], None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "LIF population: 20 neurons, tau 10 ms, soft reset, dt 0.1 ms, 500 ms simulated; current step 100..400 ms, 0.5..3 mA"
    );
    assert_eq!(lines[1], " neuron    I (mA)  spikes  rate (Hz)");
    assert_eq!(lines.len(), 2 + 20 + 1);
    // `--model LIF` is the same job
    let (code, out2, err) = somata(&["run", "--model", "LIF"], None);
    assert_eq!(code, 0, "{err}");
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("total ")).map(String::from).collect::<Vec<_>>();
    assert_eq!(strip(&out), strip(&out2));
}

#[test]
fn run_hh_in_microamperes() {
    // BrainPy: HH with default parameters, 0 for 20 ms then 10 uA for 100 ms at dt 0.01 ms: 7 spikes
    let args = ["run", "--model", "HH", "--neurons", "3", "--i-min", "0", "--i-max", "10", "--dt-ms", "0.01"];
    let (code, out, err) = somata(&[&args[..], &["--duration-ms", "120", "--onset-ms", "20", "--offset-ms", "120"]].concat(), None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("HH population: 3 neurons") && lines[0].contains("0..10 uA"), "{}", lines[0]);
    assert!(lines[1].contains("I (uA)"), "{}", lines[1]);
    assert_eq!(row_spikes(lines[2]), Some(0), "{out}"); // 0 uA: silent
    assert!(lines[4].split_whitespace().nth(1) == Some("10.000"), "{}", lines[4]);
    assert_eq!(row_spikes(lines[4]), Some(7), "{out}");
    let rate: f64 = lines[4].split_whitespace().nth(3).unwrap().parse().unwrap();
    assert_eq!(rate, 70.0); // 7 spikes in the 100 ms step
}

#[test]
fn run_every_model_by_name() {
    let (code, names, _) = somata(&["models"], None);
    assert_eq!(code, 0);
    for m in names.lines() {
        let (code, out, err) = somata(&["run", "--model", m, "--neurons", "2", "--duration-ms", "50"], None);
        assert_eq!(code, 0, "{m}: {err}");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with(&format!("{m} population: 2 neurons")), "{m}: {}", lines[0]);
        assert!(lines[1].contains("I (") && lines[1].contains("rate (Hz)"), "{m}: {}", lines[1]);
        assert!(lines.last().unwrap().starts_with("total "), "{m}: {out}");
    }
    // each model's default levels span silent to firing neurons (constant input, 500 ms)
    for m in names.lines() {
        let (code, out, err) = somata(&["run", "--model", m, "--neurons", "5", "--input", "constant"], None);
        assert_eq!(code, 0, "{m}: {err}");
        let lines: Vec<&str> = out.lines().collect();
        // TraubHH, Brette et al.'s neuron, fires on its own at 0 nA (14 Hz; silent from −0.05 nA)
        if m != "TraubHH" {
            assert_eq!(row_spikes(lines[2]), Some(0), "{m}: {out}");
        }
        assert!(row_spikes(lines[6]).is_none_or(|c| c > 0), "{m}: {out}");
    }
}

#[test]
fn run_input_kinds_and_flag_errors() {
    // constant input: the rate counts the whole duration
    let (code, out, err) = somata(&["run", "--neurons", "1", "--i-max", "2", "--input", "constant", "--duration-ms", "200"], None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("constant input"), "{}", lines[0]);
    let f: Vec<&str> = lines[2].split_whitespace().collect();
    let (spikes, rate): (f64, f64) = (f[2].parse().unwrap(), f[3].parse().unwrap());
    assert!(spikes > 0.0 && (rate - spikes / 0.2).abs() < 0.05, "{}", lines[2]);
    // Izhikevich reads mV/ms, the reduced models unitless numbers
    let (_, out, _) = somata(&["run", "--model", "Izhikevich", "--neurons", "2", "--duration-ms", "50"], None);
    assert!(out.lines().nth(1).unwrap().contains("I (mV / ms)"), "{out}");
    let (_, out, _) = somata(&["run", "--model", "FitzHughNagumo", "--neurons", "2", "--duration-ms", "50"], None);
    assert!(out.lines().nth(1).unwrap().contains("I (1)"), "{out}");
    for (args, what) in [
        (&["run", "--model", "Nope"][..], "Nope"),
        (&["run", "--model", "HH", "--tau-ms", "5"][..], "tau"),
        (&["run", "--input", "constant", "--onset-ms", "10"][..], "onset"),
        (&["run", "--onset-ms", "450", "--offset-ms", "100"][..], "onset"),
        (&["run", "--reset", "sideways"][..], "sideways"),
    ] {
        let (code, out, err) = somata(args, None);
        assert_ne!(code, 0, "{args:?}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(what), "{args:?}: expected `{what}` in {err}");
    }
    let (_, _, err) = somata(&["run", "--model", "Nope"], None);
    assert!(err.contains("unknown model") && err.contains("HindmarshRose"), "{err}");
    // tau applies to models that have one
    let (code, out, err) = somata(&["run", "--model", "Gif", "--tau-ms", "15", "--neurons", "2", "--duration-ms", "50"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().next().unwrap().contains("tau 15 ms"), "{out}");
}

#[test]
fn run_marks_diverged_neurons_and_exits_zero() {
    // ExpIF's exponential overflows in one step for some levels (f32, as BrainPy)
    let (code, out, err) =
        somata(&["run", "--model", "ExpIF", "--neurons", "6", "--i-min", "2.5", "--i-max", "3.5", "--reset", "hard"], None);
    assert_eq!(code, 0, "{err}");
    let diverged = out.lines().filter(|l| l.ends_with("diverged")).count();
    assert!(diverged > 0 && diverged < 6, "{out}");
    assert!(out.contains("neurons diverged"), "{out}");
    assert!(out.lines().last().unwrap().starts_with("total "), "{out}");
}

#[test]
fn train_last_line_contract_and_determinism() {
    let args = ["train", "--epochs", "2"];
    let (code, out, err) = somata(&args, None);
    assert_eq!(code, 0, "{err}");
    let last = out.lines().last().unwrap();
    let pct: f64 = last
        .strip_prefix("test accuracy: ")
        .and_then(|s| s.strip_suffix('%'))
        .unwrap_or_else(|| panic!("last line `{last}`"))
        .parse()
        .unwrap();
    assert!(pct > 80.0 && pct <= 100.0, "2 epochs on digits: {pct}%");
    // same seed and thread count, same result (the timing lines aside)
    let (_, out2, _) = somata(&args, None);
    let strip = |s: &str| {
        s.lines()
            .filter(|l| l.starts_with("epoch") || l.starts_with("test"))
            .map(|l| l.split(", ").take(3).collect::<Vec<_>>().join(", "))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&out), strip(&out2));
    // bad input: an unknown task, a missing file
    let (code, _, err) = somata(&["train", "--task", "mnist"], None);
    assert_ne!(code, 0);
    assert!(err.contains("mnist"), "{err}");
    let (code, _, err) = somata(&["train", "--data", "/nonexistent/file.csv"], None);
    assert_ne!(code, 0);
    assert!(err.contains("file.csv"), "{err}");
}

/// The `test accuracy: <percent>%` of the last line.
fn last_accuracy(out: &str) -> f64 {
    let last = out.lines().last().unwrap();
    last.strip_prefix("test accuracy: ").and_then(|s| s.strip_suffix('%')).unwrap_or_else(|| panic!("{last}")).parse().unwrap()
}

#[test]
fn train_checkpoint_resume_and_refusal() {
    let dir = std::env::temp_dir().join(format!("somata-cli-ck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = dir.join("run.safetensors");
    let ck = ck.to_str().unwrap();
    // 1 epoch with a checkpoint; the per-class line comes before the last two lines
    let (code, out, err) = somata(&["train", "--epochs", "1", "--checkpoint", ck], None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[lines.len() - 3].starts_with("per-class test accuracy: 0 "), "{out}");
    assert!(lines[lines.len() - 2].starts_with("total "), "{out}");
    assert!(last_accuracy(&out) > 0.0);
    assert!(err.is_empty(), "no progress bar when stderr is not a terminal: {err}");
    assert!(std::path::Path::new(ck).exists() && !dir.join("run.safetensors.tmp").exists());
    let saved = std::fs::read(ck).unwrap();
    // resume: --epochs 2 trains epoch 2 only, and updates the checkpoint
    let (code, out, err) = somata(&["train", "--epochs", "2", "--resume", ck, "--checkpoint", ck], None);
    assert_eq!(code, 0, "{err}");
    let epochs: Vec<&str> = out.lines().filter(|l| l.starts_with("epoch")).collect();
    assert_eq!(epochs.len(), 1, "{out}");
    assert!(epochs[0].starts_with("epoch   2:"), "{out}");
    assert!(out.contains("resumed from") && out.contains("after epoch 1"), "{out}");
    assert!(last_accuracy(&out) > 50.0, "{out}");
    assert_ne!(std::fs::read(ck).unwrap(), saved);
    let saved = std::fs::read(ck).unwrap();
    // another architecture is refused, the file untouched
    let (code, out, err) = somata(&["train", "--epochs", "3", "--hidden", "64", "--resume", ck, "--checkpoint", ck], None);
    assert_ne!(code, 0);
    assert!(!out.contains("test accuracy"), "{out}");
    assert!(err.contains("architecture mismatch") && err.contains("LIF(64→64)") && err.contains("LIF(128→128)"), "{err}");
    assert_eq!(std::fs::read(ck).unwrap(), saved);
    // a diverging run (absurd learning rate) stops naming epoch and step; the last good
    // checkpoint (epoch 2) is kept
    let (code, _, err) = somata(&["train", "--epochs", "3", "--lr", "1e38", "--resume", ck, "--checkpoint", ck], None);
    assert_ne!(code, 0);
    assert!(err.contains("training diverged at epoch 3, step "), "{err}");
    assert!(err.contains("(epoch 2) is left as it was"), "{err}");
    assert_eq!(std::fs::read(ck).unwrap(), saved);
    // a missing or corrupted checkpoint
    let (code, _, err) = somata(&["train", "--epochs", "1", "--resume", dir.join("nope").to_str().unwrap()], None);
    assert_ne!(code, 0);
    assert!(err.contains("nope"), "{err}");
    std::fs::write(ck, &saved[..saved.len() / 2]).unwrap();
    let (code, _, err) = somata(&["train", "--epochs", "1", "--resume", ck], None);
    assert_ne!(code, 0);
    assert!(err.contains("truncated or corrupted"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `--resume` into a network with another `--tau-ms` or `--dt-ms` (same architecture, so the
/// weights would fit) is refused naming the parameter and both values; the checkpoint is kept.
#[test]
fn train_resume_refuses_other_hyper_parameters() {
    let dir = std::env::temp_dir().join(format!("somata-cli-hp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = dir.join("run.safetensors");
    let ck = ck.to_str().unwrap();
    let (code, _, err) = somata(&["train", "--epochs", "1", "--hidden", "16", "--checkpoint", ck], None);
    assert_eq!(code, 0, "{err}");
    let saved = std::fs::read(ck).unwrap();
    let (code, out, err) = somata(&["train", "--epochs", "2", "--hidden", "16", "--tau-ms", "8", "--resume", ck, "--checkpoint", ck], None);
    assert_ne!(code, 0);
    assert!(!out.contains("test accuracy"), "{out}");
    assert!(err.contains("cannot resume") && err.contains("tau = 5 in the checkpoint but 8 in the network"), "{err}");
    let (code, _, err) = somata(&["train", "--epochs", "2", "--hidden", "16", "--dt-ms", "0.5", "--resume", ck], None);
    assert_ne!(code, 0);
    assert!(err.contains("dt (ms) = 1 in the checkpoint but 0.5"), "{err}");
    assert_eq!(std::fs::read(ck).unwrap(), saved);
    std::fs::remove_dir_all(&dir).ok();
}

/// `somata info` names the active and the available SIMD back ends; `SOMATA_SIMD` forces one
/// (also in `somata bench`'s output), and an unknown one or one the CPU lacks is exit code 2
/// with a message naming the variable.
#[test]
fn simd_back_end_is_reported_and_forced() {
    let run = |simd: Option<&str>, args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_somata"));
        c.args(args).env_remove("SOMATA_SIMD");
        if let Some(s) = simd {
            c.env("SOMATA_SIMD", s);
        }
        let o = c.output().unwrap();
        (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string())
    };
    let (code, out, _) = run(None, &["info"]);
    assert_eq!(code, 0);
    let line = |out: &str, key: &str| out.lines().find_map(|l| l.strip_prefix(key)).map(str::to_string).unwrap_or_default();
    let available: Vec<String> = line(&out, "simd available: ").split(", ").map(str::to_string).collect();
    assert!(available.contains(&"scalar".to_string()), "{out}");
    // the default is the widest available
    assert_eq!(&line(&out, "simd: "), available.last().unwrap(), "{out}");
    for b in &available {
        let (code, out, _) = run(Some(b), &["info"]);
        assert_eq!((code, line(&out, "simd: ")), (0, b.clone()));
        let (code, out, _) = run(Some(b), &["bench", "lif-4000", "--runs", "1"]);
        assert_eq!(code, 0);
        assert_eq!(line(&out, "simd: "), *b, "{out}");
        assert!(out.lines().last().unwrap().starts_with("lif-4000: "), "{out}");
    }
    let (code, _, err) = run(Some("neon"), &["info"]);
    assert_eq!(code, 2);
    assert!(err.contains("SOMATA_SIMD") && err.contains("neon"), "{err}");
    for b in ["scalar", "avx2", "avx512"] {
        if !available.iter().any(|a| a == b) {
            let (code, _, err) = run(Some(b), &["info"]);
            assert_eq!(code, 2);
            assert!(err.contains("not supported by this CPU"), "{err}");
        }
    }
}

#[test]
fn microcircuit_commands() {
    // the bench: its report lines and the last-line contract, at 2% scale
    let (code, out, err) = somata(&["bench", "microcircuit", "--scale", "0.02"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("construction") && out.contains("real-time factor") && out.contains("L23E"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("microcircuit: ") && last.ends_with(" ms, 1 runs)"), "{last}");
    // the network file at a scale, and its rejection of a bad scale
    let (code, toml, err) = somata(&["microcircuit", "--scale", "0.01"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(toml.matches("[[population]]").count(), 8);
    assert!(toml.contains("type = \"fixed_total_number\"") && toml.contains("type = \"poisson\""));
    let (code, _, err) = somata(&["microcircuit", "--scale", "2"], None);
    assert_ne!(code, 0);
    assert!(err.contains("scale_n"), "{err}");
    // run with --out: the summary names the 8 populations
    let dir = std::env::temp_dir().join(format!("somata-mc-{}", std::process::id()));
    let (code, out, err) = somata(&["run", "microcircuit", "--scale", "0.01", "--duration-ms", "50", "--out", dir.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("L6I"), "{out}");
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    assert!(summary.contains("\"L4E\""));
    std::fs::remove_dir_all(&dir).ok();
    let (code, _, err) = somata(&["run", "coba", "--scale", "0.1"], None);
    assert_ne!(code, 0);
    assert!(err.contains("--scale"), "{err}");
}

#[test]
fn threads_give_the_files_of_one_thread() {
    // a network file spread over 3 threads (virtual processes): every output file is byte for
    // byte the one-thread run's, and the summary counts the whole network
    let base = std::env::temp_dir().join(format!("somata-vp-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    let (code, toml, err) = somata(&["microcircuit", "--scale", "0.02", "--duration-ms", "60"], None);
    assert_eq!(code, 0, "{err}");
    let file = base.join("mc.toml");
    let extra = "\n[[monitor]]\nname = \"v\"\npopulation = \"L4E\"\nvar = \"V\"\nneurons = [400, 3, 0, 200]\n";
    std::fs::write(&file, toml + extra).unwrap();
    let (one, three) = (base.join("one"), base.join("three"));
    let (code, out1, err) = somata(&["run", file.to_str().unwrap(), "--out", one.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    let (code, out3, err) = somata(&["run", file.to_str().unwrap(), "--out", three.to_str().unwrap(), "--threads", "3"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out3.contains("1 processes × 3 threads") && out3.contains("exchange: every 1 step(s) (minimum delay 2 steps), overlapped"),
        "{out3}"
    );
    // the same population lines (neurons, spikes, rates)
    let pops = |o: &str| o.lines().filter(|l| l.contains(" neurons, ")).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(pops(&out1), pops(&out3));
    let mut n = 0;
    for entry in std::fs::read_dir(&one).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "npy") {
            let name = p.file_name().unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(three.join(name)).unwrap(), "{name:?}");
            n += 1;
        }
    }
    assert_eq!(n, 9, "8 event files and the V monitor");
    // the parts are merged and removed
    assert!(std::fs::read_dir(&three).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with(".vp-")));
    // what cannot be spread is refused by name
    let (code, _, err) = somata(&["run", "coba", "--threads", "2"], None);
    assert_eq!(code, 2);
    assert!(err.contains("runs in one process"), "{err}");
    std::fs::remove_dir_all(&base).ok();
}
