//! Spike sources as populations (`PoissonSpike`, `SpikeTime`, `SpikeFile` replay): rates,
//! sequences equal to `somata::input`'s generators, exact spike steps through a network, the
//! replay of recorded files, and the errors of bad files.

use somata::input::{InputGen, PoissonSpike, TimeRounding};
use somata::net::{read_spike_file, toml_net, Network, PoissonSource, SpikeEvents, SpikeFileSource, SpikeTimeSource};
use std::path::{Path, PathBuf};

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("somata-sources-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A `.npy` of `descr` (`<i8`, `<f8`, ...) with shape `(rows, 2)` and the given raw data.
fn npy_bytes(descr: &str, rows: usize, data: &[u8]) -> Vec<u8> {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, 2), }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(data);
    b
}

fn write_i64(path: &Path, rows: &[(i64, i64)]) {
    let data: Vec<u8> = rows.iter().flat_map(|&(s, j)| s.to_le_bytes().into_iter().chain(j.to_le_bytes())).collect();
    std::fs::write(path, npy_bytes("<i8", rows.len(), &data)).unwrap();
}

fn write_f64(path: &Path, rows: &[(f64, f64)]) {
    let data: Vec<u8> = rows.iter().flat_map(|&(s, j)| s.to_le_bytes().into_iter().chain(j.to_le_bytes())).collect();
    std::fs::write(path, npy_bytes("<f8", rows.len(), &data)).unwrap();
}

/// `(step, neuron)` of every nonzero entry of a `[steps][cols]` spike monitor.
fn events(data: &[f32], cols: usize) -> Vec<(i64, i64)> {
    data.iter().enumerate().filter(|&(_, &v)| v != 0.0).map(|(k, _)| ((k / cols) as i64, (k % cols) as i64)).collect()
}

#[test]
fn poisson_source_rate_and_sequence() {
    // rate: 1000 neurons × 1 s at 20 Hz, dt 0.1 ms; the expected count is n·steps·p
    let (n, steps, dt) = (1000usize, 10_000usize, 0.1);
    let mut net = Network::from_ms(dt).unwrap();
    let p = net.add_poisson("P", n, &[20.0], 3).unwrap();
    let s = net.run(steps).unwrap();
    let prob = -(-(20.0 * dt / 1000.0f64)).exp_m1();
    let mean = (n * steps) as f64 * prob;
    let sd = (mean * (1.0 - prob)).sqrt();
    assert!(((s.spikes[p.0] as f64) - mean).abs() < 5.0 * sd, "{} spikes, expected {mean} ± {sd}", s.spikes[p.0]);
    assert!((s.rates_hz[p.0] - 20.0).abs() < 1.0, "{}", s.rates_hz[p.0]);

    // per-neuron rates: the same sequence as PoissonSpike, step by step
    let rates: Vec<f64> = (0..50).map(|i| i as f64 * 10.0).collect();
    let mut net = Network::from_ms(0.5).unwrap();
    let p = net.add_boxed(Box::new(PoissonSource::new(50, &rates, 11).unwrap()), "P").unwrap();
    net.monitor_spikes("P", p, None, 1).unwrap();
    net.run(400).unwrap();
    let expect = PoissonSpike::new(50, &rates, 11).unwrap().generate(400, 0.5).unwrap();
    assert_eq!(net.monitor_data("P").unwrap().0, &expect[..]);
    assert_eq!(net.population(p).state("spike").unwrap(), &expect[399 * 50..]);

    // the network file gives the same spikes for the same seed
    let text = r#"
dt = "0.5 ms"
steps = 400
[[population]]
name = "P"
model = "PoissonSpike"
size = 50
rates = { unit = "kHz", values = [RATES] }
seed = 11
[[monitor]]
name = "P"
population = "P"
"#
    .replace("RATES", &rates.iter().map(|r| format!("{}", r / 1000.0)).collect::<Vec<_>>().join(", "));
    let mut f = toml_net::parse(&text, Path::new("."), "t").unwrap();
    f.net.run(f.steps).unwrap();
    assert_eq!(f.net.monitor_data("P").unwrap().0, &expect[..]);
    // one shared rate as a string, and as a bare number (Hz)
    for rate in ["\"20 Hz\"", "20", "\"0.02 kHz\""] {
        let text = format!(
            "dt = 0.1\nsteps = 300\n[[population]]\nname = \"P\"\nmodel = \"PoissonSpike\"\nsize = 40\nrate = {rate}\nseed = 4\n[[monitor]]\nname = \"P\"\npopulation = \"P\"\n"
        );
        let mut f = toml_net::parse(&text, Path::new("."), "t").unwrap();
        f.net.run(f.steps).unwrap();
        let expect = PoissonSpike::new(40, &[20.0], 4).unwrap().generate(300, 0.1).unwrap();
        assert_eq!(f.net.monitor_data("P").unwrap().0, &expect[..], "rate = {rate}");
    }
}

/// A SpikeTime source drives a LIF through a delta projection: the source fires at exactly the
/// rounded steps, and the LIF's V jumps at the next step (projections read the previous step's
/// spikes).
#[test]
fn spike_time_source_drives_a_lif_at_the_exact_steps() {
    let text = r#"
dt = "0.1 ms"
steps = 60
[[population]]
name = "S"
model = "SpikeTime"
size = 3
times = ["0.25 ms", "1 ms", "2.04 ms", "4.96 ms", 3.0]
indices = [0, 2, 1, 0, 2]

[[population]]
name = "L"
model = "LIF"
size = 3
params = { V_th = "1e6 mV", tau = "1e9 ms", V_rest = "0 mV", R = "1 ohm" }
init = { V = "0 mV" }

[[projection]]
name = "S→L"
pre = "S"
post = "L"
kind = "delta"
conn = { type = "one_to_one", weight = "1 mV" }

[[monitor]]
name = "S"
population = "S"

[[monitor]]
name = "V"
population = "L"
var = "V"
"#;
    let mut f = toml_net::parse(text, Path::new("."), "t").unwrap();
    f.net.run(f.steps).unwrap();
    let (s, cols) = f.net.monitor_data("S").unwrap();
    // 0.25 → 2.5 → 2 (ties to even), 1 → 10, 2.04 → 20.4 → 20, 4.96 → 49.6 → 50, 3.0 → 30
    let mut want = vec![(2, 0), (10, 2), (20, 1), (30, 2), (50, 0)];
    want.sort();
    assert_eq!(events(s, cols), want);
    // the same through the API
    let mut net = Network::from_ms(0.1).unwrap();
    let src = SpikeTimeSource::new(3, &[0, 2, 1, 0, 2], &[0.25, 1.0, 2.04, 4.96, 3.0], TimeRounding::Round).unwrap();
    let id = net.add_boxed(Box::new(src), "S").unwrap();
    net.monitor_spikes("S", id, None, 1).unwrap();
    net.run(60).unwrap();
    assert_eq!(net.monitor_data("S").unwrap().0, s);
    // V of each LIF steps by 1 mV one step after each of its source's spikes
    let (v, _) = f.net.monitor_data("V").unwrap();
    for j in 0..3 {
        for k in 1..60 {
            let jump = v[k * 3 + j] - v[(k - 1) * 3 + j];
            let fired = want.contains(&((k - 1) as i64, j as i64));
            assert!(if fired { (jump - 1.0).abs() < 1e-4 } else { jump.abs() < 1e-4 }, "neuron {j} step {k}: jump {jump}");
        }
    }
    // floor rounding
    let ft = text.replace("indices = [0, 2, 1, 0, 2]", "indices = [0, 2, 1, 0, 2]\nrounding = \"floor\"");
    let mut f = toml_net::parse(&ft, Path::new("."), "t").unwrap();
    f.net.run(f.steps).unwrap();
    let (s, cols) = f.net.monitor_data("S").unwrap();
    assert!(events(s, cols).contains(&(49, 0)));
}

/// A network records a Poisson source; the recording, written as each spike-file format, is
/// replayed as a population and gives the same spikes.
#[test]
fn spike_file_replay_round_trips() {
    let dir = tmp_dir("replay");
    let (n, steps) = (20usize, 300usize);
    let mut net = Network::from_ms(0.1).unwrap();
    let p = net.add_poisson("P", n, &[200.0], 9).unwrap();
    net.monitor_spikes("P", p, None, 1).unwrap();
    net.run(steps).unwrap();
    let rec = net.monitor_data("P").unwrap().0.to_vec();
    let ev = events(&rec, n);
    assert!(ev.len() > 50);
    write_i64(&dir.join("P_spikes.npy"), &ev);
    // times of the steps (exactly representable multiples of 0.5 ms at dt 0.5)
    write_f64(&dir.join("P_times.npy"), &ev.iter().map(|&(s, j)| (s as f64 * 0.5, j as f64)).collect::<Vec<_>>());
    let csv: String = ev.iter().map(|&(s, j)| format!("{},{j}\n", s as f64 * 0.5)).collect();
    std::fs::write(dir.join("P_times.csv"), format!("time_ms,neuron\n{csv}")).unwrap();
    let csv_steps: String = ev.iter().rev().map(|&(s, j)| format!("{s}, {j}\n")).collect();
    std::fs::write(dir.join("P_steps.csv"), format!("# recorded\nstep,neuron\n{csv_steps}")).unwrap();

    for (file, dt) in [("P_spikes.npy", "0.1 ms"), ("P_times.npy", "0.5 ms"), ("P_times.csv", "0.5 ms"), ("P_steps.csv", "0.1 ms")] {
        let text = format!(
            "dt = \"{dt}\"\nsteps = {steps}\n[[population]]\nname = \"R\"\nmodel = \"SpikeFile\"\nsize = {n}\nfile = \"{file}\"\n[[monitor]]\nname = \"R\"\npopulation = \"R\"\n"
        );
        let mut f = toml_net::parse(&text, &dir, "t").unwrap_or_else(|e| panic!("{file}: {e}"));
        f.net.run(f.steps).unwrap();
        assert_eq!(f.net.monitor_data("R").unwrap().0, &rec[..], "{file}");
    }
    // the files with times also make a SpikeTime source
    let text = format!(
        "dt = 0.5\nsteps = {steps}\n[[population]]\nname = \"R\"\nmodel = \"SpikeTime\"\nsize = {n}\nfile = \"P_times.csv\"\n[[monitor]]\nname = \"R\"\npopulation = \"R\"\n"
    );
    let mut f = toml_net::parse(&text, &dir, "t").unwrap();
    f.net.run(f.steps).unwrap();
    assert_eq!(f.net.monitor_data("R").unwrap().0, &rec[..]);
    // the API
    let src = SpikeFileSource::open(n, dir.join("P_spikes.npy")).unwrap();
    assert_eq!(src.events().len(), ev.len());
    let mut net = Network::from_ms(0.1).unwrap();
    let r = net.add_spike_file("R", n, dir.join("P_spikes.npy")).unwrap();
    net.monitor_spikes("R", r, None, 1).unwrap();
    net.run(steps).unwrap();
    assert_eq!(net.monitor_data("R").unwrap().0, &rec[..]);
    // an empty recording replays as silence
    write_i64(&dir.join("empty.npy"), &[]);
    let mut net = Network::from_ms(0.1).unwrap();
    net.add_spike_file("R", 3, dir.join("empty.npy")).unwrap();
    assert_eq!(net.run(10).unwrap().spikes, [0]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_spike_files_and_sources_are_typed_errors() {
    let dir = tmp_dir("bad");
    let msg = |r: somata::Result<SpikeEvents>| r.unwrap_err().to_string();
    std::fs::write(dir.join("a.csv"), "time_ms,neuron\n1,0\n2,7\n").unwrap();
    let e = msg(read_spike_file(dir.join("a.csv"), 5));
    assert!(e.contains("a.csv") && e.contains("row 3") && e.contains("neuron 7 out of range"), "{e}");
    std::fs::write(dir.join("b.csv"), "t,i\n-1,0\n").unwrap();
    let e = msg(read_spike_file(dir.join("b.csv"), 5));
    assert!(e.contains("b.csv") && e.contains("row 2") && e.contains("time -1"), "{e}");
    std::fs::write(dir.join("c.csv"), "t,i\nNaN,0\n").unwrap();
    assert!(msg(read_spike_file(dir.join("c.csv"), 5)).contains("time NaN"));
    std::fs::write(dir.join("d.csv"), "when,who\n1,0\n").unwrap();
    assert!(msg(read_spike_file(dir.join("d.csv"), 5)).contains("header `when,who`"));
    std::fs::write(dir.join("e.csv"), "t,i\n1,0.5\n").unwrap();
    assert!(msg(read_spike_file(dir.join("e.csv"), 5)).contains("not a non-negative integer"));
    std::fs::write(dir.join("f.csv"), "t,i\n1,0,3\n").unwrap();
    assert!(msg(read_spike_file(dir.join("f.csv"), 5)).contains("expected 2 values"));
    write_i64(&dir.join("g.npy"), &[(0, 1), (-3, 1)]);
    let e = msg(read_spike_file(dir.join("g.npy"), 5));
    assert!(e.contains("g.npy") && e.contains("row 2") && e.contains("negative"), "{e}");
    write_i64(&dir.join("h.npy"), &[(0, 1), (4, 5)]);
    assert!(msg(read_spike_file(dir.join("h.npy"), 5)).contains("row 2: neuron 5 out of range"));
    write_f64(&dir.join("i.npy"), &[(f64::NAN, 1.0)]);
    assert!(msg(read_spike_file(dir.join("i.npy"), 5)).contains("row 1: time NaN"));
    somata::io::npy::write_f32(dir.join("j.npy"), &[1.0, 2.0, 3.0], &[1, 3]).unwrap();
    assert!(msg(read_spike_file(dir.join("j.npy"), 5)).contains("expected (k, 2)"));
    let mut trunc = npy_bytes("<i8", 2, &[0u8; 16]);
    trunc.truncate(trunc.len() - 3);
    std::fs::write(dir.join("k.npy"), trunc).unwrap();
    assert!(msg(read_spike_file(dir.join("k.npy"), 5)).contains("data bytes"));
    assert!(matches!(read_spike_file(dir.join("missing.npy"), 5), Err(somata::SomataError::Io(_))));
    // a file of steps is not a SpikeTime source
    let e = SpikeTimeSource::from_file(5, dir.join("h.npy"), TimeRounding::Round).unwrap_err().to_string();
    assert!(e.contains("SpikeFile") || e.contains("out of range"), "{e}");

    // rates and times
    assert!(PoissonSource::new(3, &[-1.0], 0).is_err());
    assert!(PoissonSource::new(3, &[f64::NAN], 0).is_err());
    assert!(PoissonSource::new(3, &[1.0, 2.0], 0).is_err());
    assert!(SpikeTimeSource::new(3, &[0], &[-0.5], TimeRounding::Round).is_err());
    assert!(SpikeTimeSource::new(3, &[3], &[0.5], TimeRounding::Round).is_err());
    assert!(SpikeTimeSource::new(3, &[0, 1], &[0.5], TimeRounding::Round).is_err());

    // network files: errors name the key (and its line)
    let head = "dt = 0.1\nsteps = 10\n[[population]]\nname = \"S\"\nsize = 5\n";
    for (body, want) in [
        ("model = \"PoissonSpike\"\nrate = \"-5 Hz\"\n", "must be finite"),
        ("model = \"PoissonSpike\"\nrate = \"5 mV\"\n", "wrong dimension"),
        ("model = \"PoissonSpike\"\n", "give `rate`"),
        ("model = \"PoissonSpike\"\nrate = 5\nrates = [1, 2, 3, 4, 5]\n", "not both"),
        ("model = \"PoissonSpike\"\nrates = [1, 2]\n", "shape mismatch"),
        ("model = \"PoissonSpike\"\nrate = 5\ntau = 3\n", "unknown key `tau`"),
        ("model = \"SpikeTime\"\ntimes = [1.0]\n", "give `times` and `indices`"),
        ("model = \"SpikeTime\"\ntimes = [\"1 ms\"]\nindices = [9]\n", "out of range"),
        ("model = \"SpikeTime\"\ntimes = [\"-1 ms\"]\nindices = [0]\n", "must be finite and >= 0"),
        ("model = \"SpikeTime\"\ntimes = [\"1 mV\"]\nindices = [0]\n", "wrong dimension"),
        ("model = \"SpikeTime\"\ntimes = [1]\nindices = [0]\nrounding = \"nearest\"\n", "time_as_step"),
        ("model = \"SpikeTime\"\ntimes = [1]\nindices = [0]\nseed = 3\n", "unknown key `seed`"),
        ("model = \"SpikeFile\"\n", "missing key `file`"),
        ("model = \"SpikeFile\"\nfile = \"a.csv\"\n", "row 3"),
        ("model = \"SpikeFile\"\nfile = \"nope.npy\"\n", "nope.npy"),
        ("model = \"SpikeFile\"\nfile = \"h.npy\"\nrate = 3\n", "unknown key `rate`"),
    ] {
        let text = format!("{head}{body}");
        let e = match toml_net::parse(&text, &dir, "t") {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(want), "{e}\n---\n{text}");
        assert!(e.contains("population `S`") || e.contains("population[0]"), "{e}");
    }
    // a source ignores projections and inputs onto it, and cannot take delta input
    let text = format!(
        "{head}model = \"SpikeTime\"\ntimes = [1]\nindices = [0]\n[[input]]\ntarget = \"S\"\nvalue = \"5 mA\"\n[[monitor]]\nname = \"S\"\npopulation = \"S\"\n"
    );
    let mut f = toml_net::parse(&text, &dir, "t").unwrap();
    assert_eq!(f.net.run(20).unwrap().spikes, [1]);
    let mut net = Network::from_ms(0.1).unwrap();
    let s = net.add_spike_times("S", 2, &[0], &[0.0], TimeRounding::Round).unwrap();
    assert!(net.population_mut(s).state_mut("spike").is_err());
    assert!(net.population(s).state("V").is_err());
    std::fs::remove_dir_all(&dir).ok();
}
