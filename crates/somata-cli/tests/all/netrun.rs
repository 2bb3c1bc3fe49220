//! The `somata run FILE --out DIR` contract: monitors as float32 .npy [samples][neurons],
//! summary.json with rates per population, raster PNGs; typed errors for bad files.

use std::path::PathBuf;
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("somata-netrun-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Parse a float32 .npy: (shape, values).
fn npy(path: &std::path::Path) -> (Vec<usize>, Vec<f32>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..6], b"\x93NUMPY");
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    let h = std::str::from_utf8(&b[10..10 + hl]).unwrap();
    assert!(h.contains("'descr': '<f4'") && h.contains("'fortran_order': False"), "{h}");
    let sh = &h[h.find("'shape': (").unwrap() + 10..];
    let sh: Vec<usize> =
        sh[..sh.find(')').unwrap()].split(',').filter(|s| !s.trim().is_empty()).map(|s| s.trim().parse().unwrap()).collect();
    let vals = b[10 + hl..].chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    (sh, vals)
}

#[test]
fn run_file_writes_monitors_and_summary() {
    let d = tmp("ok");
    // two LIF neurons driven above threshold by a constant current, one silent neuron; a delta
    // projection from neuron 0 of A onto B
    let file = d.join("net.toml");
    std::fs::write(
        &file,
        r#"
dt = "0.1 ms"
duration = "50 ms"
[[population]]
name = "A"
model = "LIF"
size = 3
params = { tau = "10 ms", V_th = "1 mV" }
[[population]]
name = "B"
model = "LIF"
size = 1
params = { tau = "10 ms", V_th = "100 mV" }
[[projection]]
name = "AB"
pre = "A"
post = "B"
kind = "delta"
conn = { type = "triplets", synapses = [[0, 0, "0.5 mV"]] }
[[input]]
target = "A"
unit = "mA"
values = [2.0, 2.0, 0.0]
[[monitor]]
name = "A_spike"
population = "A"
[[monitor]]
name = "B_V"
population = "B"
var = "V"
every = 10
"#,
    )
    .unwrap();
    let out = d.join("out");
    let o =
        Command::new(env!("CARGO_BIN_EXE_somata")).args(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (sh, spk) = npy(&out.join("A_spike.npy"));
    assert_eq!(sh, [500, 3]);
    let count = |j: usize| (0..500).map(|k| spk[k * 3 + j]).sum::<f32>();
    // LIF, tau 10 ms, 2 mA: V_inf = 2 mV, threshold 1 mV: period τ·ln 2 ≈ 6.93 ms → 7 spikes in 50 ms
    assert_eq!(count(0), 7.0);
    assert_eq!(count(1), 7.0);
    assert_eq!(count(2), 0.0);
    assert!(spk.iter().all(|&s| s == 0.0 || s == 1.0));
    let (sh, v) = npy(&out.join("B_V.npy"));
    assert_eq!(sh, [50, 1]);
    assert!(v.iter().any(|&x| x > 0.3), "B receives A's delta inputs");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["steps"], 500);
    let rate = s["populations"]["A"]["rate_hz"].as_f64().unwrap();
    assert!((rate - 14.0 / 3.0 / 0.05).abs() < 1e-9, "{rate}");
    assert_eq!(s["monitors"]["B_V"]["shape"], serde_json::json!([50, 1]));
    let png = std::fs::read(out.join("A_spike.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn bad_file_is_a_clear_error() {
    let d = tmp("bad");
    let file = d.join("bad.toml");
    std::fs::write(
        &file,
        "dt = \"0.1 ms\"\nsteps = 10\n[[population]]\nname = \"A\"\nmodel = \"LIF\"\nsize = 2\nparams = { tau = \"3 mV\" }\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_somata")).args(["run", file.to_str().unwrap()]).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("tau"), "{err}");
}

#[test]
fn run_coba_is_in_the_published_rate_range() {
    let o = Command::new(env!("CARGO_BIN_EXE_somata")).args(["run", "coba", "--duration-ms", "300"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    for pop in ["E:", "I:"] {
        let line = text.lines().find(|l| l.trim_start().starts_with(pop)).unwrap_or_else(|| panic!("{text}"));
        let hz: f64 = line.split(',').next_back().unwrap().trim().trim_end_matches("Hz").trim().parse().unwrap();
        assert!((10.0..30.0).contains(&hz), "{line}");
    }
}
