//! `somata train --plot FILE` (the per-epoch loss and accuracy curves, PNG or SVG) and
//! `--schedule cosine|constant`, keeping the last line `test accuracy: <percent>%`.

use std::process::Command;

fn somata(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_somata")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn last_accuracy(out: &str) -> f64 {
    let last = out.lines().last().unwrap();
    last.strip_prefix("test accuracy: ").and_then(|s| s.strip_suffix('%')).unwrap_or_else(|| panic!("last line `{last}`")).parse().unwrap()
}

#[test]
fn train_plot_png_svg_and_schedule() {
    let dir = std::env::temp_dir().join(format!("somata-cli-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("curves.png");
    let (code, out, err) = somata(&["train", "--epochs", "2", "--hidden", "32", "--plot", png.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(last_accuracy(&out) > 50.0, "{out}");
    assert!(out.contains("plot: ") && out.contains("(2 epochs)"), "{out}");
    let b = std::fs::read(&png).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: 900 × 660 (three panels)
    assert_eq!(&b[12..16], b"IHDR");
    assert_eq!((u32::from_be_bytes(b[16..20].try_into().unwrap()), u32::from_be_bytes(b[20..24].try_into().unwrap())), (900, 660));

    let svg = dir.join("curves.svg");
    let (code, out, err) = somata(&["train", "--epochs", "1", "--hidden", "32", "--schedule", "constant", "--plot", svg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    last_accuracy(&out);
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.contains("<svg") && s.contains("test accuracy"), "svg with the panel titles");

    // an unknown extension is refused before training; an unknown schedule by the parser
    let (code, out, err) = somata(&["train", "--epochs", "1", "--plot", dir.join("c.jpg").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains(".jpg") && !out.contains("epoch"), "{err}");
    let (code, _, err) = somata(&["train", "--schedule", "linear"]);
    assert_ne!(code, 0);
    assert!(err.contains("linear"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `--checkpoint F` keeps the per-epoch history in `F.history.json`; after `--resume F` the plot
/// shows the whole run at its true epoch numbers, and the history carries on.
#[test]
fn train_plot_after_resume_keeps_the_history() {
    let dir = std::env::temp_dir().join(format!("somata-cli-plot-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = dir.join("run.safetensors");
    let ck = ck.to_str().unwrap();
    let hist = dir.join("run.safetensors.history.json");
    let epochs_of =
        |v: &serde_json::Value| -> Vec<u64> { v["epochs"].as_array().unwrap().iter().map(|e| e["epoch"].as_u64().unwrap()).collect() };
    let (code, _, err) = somata(&["train", "--epochs", "2", "--hidden", "32", "--checkpoint", ck]);
    assert_eq!(code, 0, "{err}");
    let first: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&hist).unwrap()).unwrap();
    assert_eq!(epochs_of(&first), [1, 2]);
    assert!(!dir.join("run.safetensors.history.json.tmp").exists());

    let svg = dir.join("resumed.svg");
    let (code, out, err) =
        somata(&["train", "--epochs", "3", "--hidden", "32", "--resume", ck, "--checkpoint", ck, "--plot", svg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("plot: ") && out.contains("(3 epochs), epochs 1 to 3"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&hist).unwrap()).unwrap();
    assert_eq!(epochs_of(&v), [1, 2, 3]);
    assert_eq!(v["epochs"][0], first["epochs"][0], "the earlier epochs are kept as they were");
    assert_eq!(v["epochs"][1], first["epochs"][1]);
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.contains("epoch") && s.contains("test accuracy (%)") && s.contains("training loss (cross-entropy, nats)"), "axis labels");

    // without the history file: the plot starts at the first epoch of this run, numbered as such
    std::fs::remove_file(&hist).unwrap();
    let (code, out, err) =
        somata(&["train", "--epochs", "4", "--hidden", "32", "--resume", ck, "--checkpoint", ck, "--plot", svg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no training history up to epoch 3") && out.contains("(1 epochs), epochs 4 to 4"), "{out}");
    assert!(std::fs::read_to_string(&svg).unwrap().contains(">\n4\n</text>"), "epoch 4 on the axis");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&hist).unwrap()).unwrap();
    assert_eq!(epochs_of(&v), [4]);
    std::fs::remove_dir_all(&dir).ok();
}
