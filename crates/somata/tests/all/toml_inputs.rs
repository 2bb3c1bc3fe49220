//! Network files' input generators (section, step, ramp, sinusoidal, ou, wiener, poisson) against
//! the same currents given step by step (`per_step`) from `somata::input`'s generators in Rust.

use somata::input::{InputGen, OUProcessInput, RampInput, SectionInput, SinusoidalInput, StepInput, WienerProcessInput};
use somata::net::toml_net;
use std::path::Path;

const STEPS: usize = 300;
const N: usize = 3;

/// A LIF population of 3 that never fires (V_th 1e6 mV), `input` onto it, V recorded every step.
fn head(input: &str) -> String {
    format!(
        r#"
dt = "0.1 ms"
steps = {STEPS}
seed = 5

[[population]]
name = "P"
model = "LIF"
size = {N}
params = {{ V_th = "1e6 mV" }}

[[input]]
target = "P"
{input}

[[monitor]]
name = "V"
population = "P"
var = "V"
"#
    )
}

fn v_trace(input: &str) -> Vec<f32> {
    let mut f = toml_net::parse(&head(input), Path::new("."), "t").unwrap_or_else(|e| panic!("{e}\n{input}"));
    f.net.run(f.steps).unwrap();
    f.net.monitor_data("V").unwrap().0.to_vec()
}

/// The same population driven by `per_step` values taken from a Rust generator.
fn v_trace_rust(mut g: Box<dyn InputGen>) -> Vec<f32> {
    let x = g.generate(STEPS, 0.1).unwrap();
    let rows: Vec<String> =
        x.chunks(N).map(|r| format!("[{}]", r.iter().map(|v| format!("{v:e}")).collect::<Vec<_>>().join(", "))).collect();
    v_trace(&format!("type = \"per_step\"\nunit = \"mA\"\nvalues = [{}]", rows.join(", ")))
}

fn check(input: &str, g: Box<dyn InputGen>) {
    let a = v_trace(input);
    let b = v_trace_rust(g);
    assert_eq!(a.len(), STEPS * N);
    assert_eq!(a, b, "{input}");
    let spread = a.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) - a.iter().fold(f32::INFINITY, |m, &v| m.min(v));
    assert!(spread > 0.01, "the input moves V ({spread} mV): {input}");
}

#[test]
fn current_generators_match_the_rust_generators() {
    check(
        "type = \"section\"\nvalues = [\"2 mA\", 0.0, \"-1 mA\"]\ndurations = [\"5 ms\", \"10 ms\", 10]",
        Box::new(SectionInput::new(N, &[2.0, 0.0, -1.0], &[5.0, 10.0, 10.0]).unwrap()),
    );
    check(
        "type = \"step\"\namplitudes = [1.5, \"3 mA\"]\ntimes = [\"2 ms\", \"12 ms\"]",
        Box::new(StepInput::new(N, &[1.5, 3.0], &[2.0, 12.0]).unwrap()),
    );
    check(
        "type = \"ramp\"\nstart = \"0 mA\"\nend = \"4 mA\"\nduration = \"20 ms\"\nt_start = \"3 ms\"",
        Box::new(RampInput::new(N, 0.0, 4.0, 20.0, 3.0).unwrap()),
    );
    check(
        "type = \"sinusoidal\"\namplitude = \"2 mA\"\nfrequency = \"100 Hz\"\nduration = \"25 ms\"\nbias = 0.5",
        Box::new(SinusoidalInput::new(N, 2.0, 100.0, 25.0, 0.5).unwrap()),
    );
    check(
        "type = \"ou\"\nmean = \"1 mA\"\nsigma = 0.5\ntau = \"5 ms\"\nduration = \"30 ms\"\nseed = 9",
        Box::new(OUProcessInput::new(N, 1.0, 0.5, 5.0, 30.0, 9).unwrap()),
    );
    check("type = \"wiener\"\nsigma = 2.0\nduration = \"30 ms\"\nseed = 3", Box::new(WienerProcessInput::new(N, 2.0, 30.0, 3).unwrap()));
}

#[test]
fn a_bare_frequency_is_hz_and_a_string_is_converted() {
    let bare = "type = \"sinusoidal\"\namplitude = 2.0\nfrequency = 100\nduration = 25";
    let khz = "type = \"sinusoidal\"\namplitude = 2.0\nfrequency = \"0.1 kHz\"\nduration = 25";
    assert_eq!(v_trace(bare), v_trace(khz));
}

#[test]
fn poisson_rate_as_a_string_equals_the_bare_number_in_hz() {
    // 200 sources per neuron at 50 Hz, 0.1 mA each: a mean drive of 200·50 Hz·0.1 ms·0.1 mA = 0.1 mA
    let bare = v_trace("type = \"poisson\"\nrate = 50\ncount = 200\nweight = \"0.1 mA\"\nseed = 4");
    let unit = v_trace("type = \"poisson\"\nrate = \"50 Hz\"\ncount = 200\nweight = \"0.1 mA\"\nseed = 4");
    assert_eq!(bare, unit);
    // LIF at rest 0 mV, R 1, tau 10 ms: V approaches R·I = 0.1 mV; after 30 ms (3 tau) about 95% of it
    let last = &bare[(STEPS - 1) * N..];
    let mean = last.iter().sum::<f32>() / N as f32;
    assert!(mean > 0.05 && mean < 0.15, "V after 30 ms: {mean} mV (expected ≈ 0.095)");
}

#[test]
fn generator_inputs_report_bad_keys_and_units() {
    let e = toml_net::parse(&head("type = \"ramp\"\nstart = \"1 mV\"\nend = 1\nduration = 10"), Path::new("."), "t").err().unwrap();
    assert!(e.to_string().contains("start"), "{e}");
    let e = toml_net::parse(&head("type = \"step\"\namplitudes = [1]\ntimez = [1]"), Path::new("."), "t").err().unwrap();
    assert!(e.to_string().contains("timez"), "{e}");
    let e = toml_net::parse(&head("type = \"section\"\nvalues = [1, 2]\ndurations = [1]"), Path::new("."), "t").err().unwrap();
    assert!(e.to_string().contains("durations"), "{e}");
    let e = toml_net::parse(&head("type = \"ou\"\nmean = 1\nsigma = 1\nduration = 10"), Path::new("."), "t").err().unwrap();
    assert!(e.to_string().contains("tau"), "{e}");
}
