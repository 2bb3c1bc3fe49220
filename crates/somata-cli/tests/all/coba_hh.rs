//! `somata run coba-hh --out DIR --duration-ms 100`: the COBA-HH benchmark network (4000
//! TraubHH neurons) writes its spike monitors as float32 .npy, summary.json and raster PNGs.

use std::process::Command;

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
fn run_coba_hh_writes_npy_summary_and_png() {
    let out = std::env::temp_dir().join(format!("somata-coba-hh-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_somata"))
        .args(["run", "coba-hh", "--out", out.to_str().unwrap(), "--duration-ms", "100"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("network `coba-hh`"), "{text}");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["name"], "coba-hh");
    assert_eq!(s["steps"], 1000);
    assert_eq!(s["dt_ms"], 0.1);
    for (pop, n) in [("E", 3200usize), ("I", 800)] {
        let p = &s["populations"][pop];
        assert_eq!(p["size"], n, "{s}");
        let rate = p["rate_hz"].as_f64().unwrap();
        assert!(rate > 1.0 && rate < 200.0, "{pop}: {rate} Hz");
        let (sh, spk) = npy(&out.join(format!("{pop}_spike.npy")));
        assert_eq!(sh, [1000, n]);
        assert!(spk.iter().all(|&x| x == 0.0 || x == 1.0));
        let count = spk.iter().sum::<f32>() as u64;
        assert_eq!(p["spikes"].as_u64().unwrap(), count, "{pop}: summary vs .npy");
        // the summary's rate is the .npy's count over 100 ms
        assert!((rate - count as f64 / (n as f64 * 0.1)).abs() < 1e-9);
        let png = std::fs::read(out.join(format!("{pop}_spike.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
    let _ = std::fs::remove_dir_all(&out);
}
