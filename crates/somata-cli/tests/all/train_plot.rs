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
