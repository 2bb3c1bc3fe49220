//! Fuzzing the network file reader: a deterministic mutator (own PRNG, fixed seed) rewrites
//! every example network file and the networks below (keys deleted or renamed, values of another
//! type, numbers set to 0, −1, NaN, 1e30 or 10^11, units broken, tables and arrays swapped,
//! truncation at random bytes, duplicated tables) for at least 10,000 cases. Each case is parsed
//! with `toml_net::parse` and, when it builds, run for 5 steps. No case may panic, and every
//! error of a file that is valid TOML names its line (`line N, column C`), as the TOML parser's
//! own errors do.

use somata::net::toml_net;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Cases in total (at least 10,000).
const CASES: usize = 10_400;
/// Networks larger than this are not built here (building allocates their state, which the
/// machine may have); those of 10¹⁰ neurons or more are parsed and must be refused by the
/// memory estimate, before anything is allocated.
const MAX_NEURONS: i64 = 10_000_000;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

const SOURCES_NET: &str = r#"
dt = "0.1 ms"
steps = 30
seed = 3

[[population]]
name = "P"
model = "PoissonSpike"
size = 20
rate = "200 Hz"
seed = 1

[[population]]
name = "T"
model = "SpikeTime"
size = 3
times = ["0.2 ms", "1 ms", 1.5]
indices = [0, 2, 1]
rounding = "floor"

[[population]]
name = "R"
model = "PoissonSpike"
size = 3
rates = { unit = "Hz", values = [10, 20, 30] }

[[population]]
name = "L"
model = "LIFRef"
size = 10
params = { V_rest = "-60 mV", V_th = "-50 mV", V_reset = "-60 mV", tau = "20 ms", tau_ref = "5 ms" }
init = { V = { normal = ["-55 mV", "2 mV"] } }

[[projection]]
name = "P→L"
pre = "P"
post = "L"
synapse = { model = "Expon", tau = "5 ms" }
output = { model = "COBA", E = "0 mV" }
conn = { type = "fixed_prob", prob = 0.3, weight = "0.5 S", seed = 4 }

[[projection]]
name = "T→L"
pre = "T"
post = "L"
kind = "delta"
conn = { type = "all_to_all", weight = "2 mV" }

[[monitor]]
name = "P"
population = "P"

[[monitor]]
name = "T"
population = "T"
var = "spike"
every = 2

[[monitor]]
name = "g"
population = "L"
var = "g@P→L"
neurons = [0, 3]
"#;

const DELAYS_NET: &str = r#"
dt = "0.1 ms"
duration = "3 ms"
seed = 9
check_finite = true

[[population]]
name = "A"
model = "LIFRef"
size = 6
params = { V_th = "-50 mV", V_reset = "-60 mV", V_rest = "-60 mV", tau = { unit = "ms", values = [10, 12, 14, 16, 18, 20] } }
init = { V = { uniform = ["-70 mV", "-45 mV"] } }
spk_reset = "soft"

[[population]]
name = "B"
model = "AdExIF"
size = 4

[[projection]]
name = "AB"
pre = "A"
post = "B"
kind = "align_pre"
synapse = { model = "AMPA" }
output = { model = "COBA", E = "0 mV" }
stp = { model = "STD", tau = "200 ms" }
delay = "1.5 ms"
conn = { type = "fixed_in_degree", degree = 2, weight = 0.5 }

[[projection]]
name = "BA"
pre = "B"
post = "A"
kind = "current"
output = "CUBA"
conn = { type = "triplets", synapses = [[0, 1, "1 mS", "0.3 ms"], [3, 5, 2.0, 1]] }

[[projection]]
name = "AA"
pre = "A"
post = "A"
pre_range = [0, 2]
kind = "align_post"
synapse = { model = "DualExpon", tau_decay = "10 ms", tau_rise = "1 ms" }
output = { model = "MgBlock", E = 0 }
delay = ["0.2 ms", "0.4 ms"]
conn = { type = "dense", unit = "mS", values = [[1, 0, 2, 0, 0, 1], [0, 1, 0, 0, 3, 0]] }

[[projection]]
name = "BB"
pre = "B"
post = "B"
synapse = "Alpha"
output = { model = "CUBA", scale = "1 mV" }
conn = { type = "one_to_one", weight = "1 mS" }

[[gap_junction]]
name = "gj"
pre = "A"
post = "A"
pairs = [[0, 1], [2, 3]]
weight = "5 nS"

[[input]]
target = "A"
value = "5 mA"

[[input]]
target = "B"
type = "per_step"
unit = "nA"
values = [[1, 2, 3, 4], [4, 3, 2, 1]]

[[input]]
target = "A"
type = "poisson"
rate = "10 Hz"
count = 100
weight = "0.1 mA"

[[input]]
target = "A"
type = "section"
values = ["1 mA", "2 mA"]
durations = ["1 ms", "2 ms"]

[[input]]
target = "B"
type = "ou"
mean = 1
sigma = 0.5
tau = "5 ms"
duration = "10 ms"
seed = 2

[[input]]
target = "A"
type = "sinusoidal"
amplitude = "1 mA"
frequency = "10 Hz"
duration = "100 ms"

[[monitor]]
name = "V"
population = "A"
var = "V"

[[monitor]]
population = "B"
var = "w"
neurons = [1, 2]
"#;

const HH_NET: &str = r#"
dt = 0.05
steps = 10

[[population]]
name = "H"
model = "HH"
size = 5
params = { gNa = "120 mS", ENa = "50 mV" }

[[population]]
name = "Q"
model = "Izhikevich"
size = 5

[[projection]]
pre = "Q"
post = "H"
synapse = { model = "GABAa" }
kind = "align_pre"
output = { model = "COBA", E = "-80 mV" }
conn = { type = "fixed_out_degree", degree = 3, weight = 0.1 }

[[input]]
target = "H"
type = "step"
amplitudes = [1, 5]
times = ["0 ms", "0.2 ms"]

[[input]]
target = "Q"
type = "ramp"
start = 0
end = "10 mA"
duration = "1 ms"

[[input]]
target = "Q"
type = "wiener"
sigma = 0.1
duration = "1 ms"

[[monitor]]
population = "H"
var = "V"
"#;

/// Every `.toml` under `examples/networks/` (name, text), and the networks above.
fn bases() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/networks");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        // the full-scale microcircuit (3·10⁸ synapses) is fuzzed at 1/100 of its scale below
        .filter(|p| p.file_name().is_none_or(|n| n != "microcircuit.toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no example networks in {}", dir.display());
    let mut out: Vec<(String, String)> =
        files.iter().map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(p).unwrap())).collect();
    // the examples at 1/100 of their size (the bulk of the cases: building 4000 neurons and
    // 320,000 synapses per case would take minutes)
    let small: Vec<(String, String)> = out.iter().map(|(n, t)| (format!("{n} (small)"), shrink(t))).collect();
    out.extend(small);
    let mc = somata::net::microcircuit::McConfig { duration_ms: 1.0, ..somata::net::microcircuit::McConfig::scaled(0.01) };
    out.push(("microcircuit (scale 0.01)".into(), mc.toml().unwrap()));
    out.push(("sources".into(), SOURCES_NET.into()));
    out.push(("delays".into(), DELAYS_NET.into()));
    out.push(("hh".into(), HH_NET.into()));
    out
}

/// `size = N` → `size = ⌈N/100⌉`.
fn shrink(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("size = ").and_then(|v| v.trim().parse::<usize>().ok()) {
            Some(n) => format!("size = {}", n.div_ceil(100)),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const VALUES: &[&str] = &[
    "\"text\"",
    "\"\"",
    "42",
    "0",
    "-1",
    "1e30",
    "-1e30",
    "nan",
    "inf",
    "-inf",
    "100000000000",
    "9223372036854775807",
    "-9223372036854775808",
    "0.5",
    "-0.0",
    "true",
    "[]",
    "[1, 2]",
    "[[1, 2], [3]]",
    "{}",
    "{ a = 1 }",
    "{ unit = \"mV\", values = [1, 2, 3] }",
    "{ npy = \"missing.npy\" }",
    "{ normal = [\"1 mV\"] }",
    "\"5 mV\"",
    "\"5 parsec\"",
    "\"nan ms\"",
    "\"-1 ms\"",
    "\"1e30 ms\"",
    "\"100000000000 Hz\"",
    "1979-05-27T07:32:00Z",
];
const NUMBERS: &[&str] = &["0", "-1", "NaN", "nan", "1e30", "100000000000", "-0", "1e-30", "3.5", "-2.5", "inf", "18446744073709551616"];
const UNITS: &[&str] = &["mS", "mV", "ms", "s", "Hz", "kHz", "parsec", "ohm", "", "mV/ms", "nA", "uS", "1/ms", "mM", "S", "m V", "%"];
const KEYS: &[&str] = &[
    "colour", "name", "model", "size", "dt", "steps", "seed", "rate", "rates", "times", "indices", "file", "conn", "type", "weight", "pre",
    "post", "kind", "delay", "var", "every", "neurons", "target", "value", "params", "init", "prob", "degree", "synapse", "output",
];

/// One mutation of `text`, described.
fn mutate(text: &str, rng: &mut Rng) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    let kv: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains(" = ") && !lines[i].trim_start().starts_with('#')).collect();
    let set = |i: usize, l: String| {
        let mut v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        v[i] = l;
        v.join("\n")
    };
    match rng.below(10) {
        0 => {
            let i = rng.below(lines.len());
            let mut v: Vec<&str> = lines.clone();
            v.remove(i);
            (v.join("\n"), format!("delete line {}", i + 1))
        }
        1 if !kv.is_empty() => {
            let i = *rng.pick(&kv);
            let (k, v) = lines[i].split_once(" = ").unwrap();
            let nk = if rng.below(3) == 0 { format!("{}x", k.trim()) } else { rng.pick(KEYS).to_string() };
            (set(i, format!("{nk} = {v}")), format!("rename key `{}` on line {} to `{nk}`", k.trim(), i + 1))
        }
        2 if !kv.is_empty() => {
            let i = *rng.pick(&kv);
            let (k, _) = lines[i].split_once(" = ").unwrap();
            let v = rng.pick(VALUES);
            (set(i, format!("{k} = {v}")), format!("line {}: `{}` = {v}", i + 1, k.trim()))
        }
        3 | 4 => {
            // a number anywhere (keys' values, inside strings and arrays)
            let nums: Vec<(usize, usize)> = number_spans(text);
            if nums.is_empty() {
                return mutate_truncate(text, rng);
            }
            let (a, b) = *rng.pick(&nums);
            let n = rng.pick(NUMBERS);
            (format!("{}{n}{}", &text[..a], &text[b..]), format!("number `{}` at byte {a} → {n}", &text[a..b]))
        }
        5 => {
            // a unit inside a quantity string
            let units: Vec<(usize, usize)> = unit_spans(text);
            if units.is_empty() {
                return mutate_truncate(text, rng);
            }
            let (a, b) = *rng.pick(&units);
            let u = rng.pick(UNITS);
            (format!("{}{u}{}", &text[..a], &text[b..]), format!("unit `{}` at byte {a} → `{u}`", &text[a..b]))
        }
        6 => {
            // nesting: [[x]] ↔ [x], inline table ↔ array
            let heads: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with('[')).collect();
            if !heads.is_empty() && rng.below(2) == 0 {
                let i = *rng.pick(&heads);
                let l = lines[i];
                let nl = if l.starts_with("[[") { l.replace("[[", "[").replace("]]", "]") } else { format!("[{l}]") };
                return (set(i, nl.clone()), format!("line {}: `{l}` → `{nl}`", i + 1));
            }
            let inl: Vec<usize> = kv.iter().copied().filter(|&i| lines[i].contains('{') || lines[i].contains('[')).collect();
            if inl.is_empty() {
                return mutate_truncate(text, rng);
            }
            let i = *rng.pick(&inl);
            let (k, v) = lines[i].split_once(" = ").unwrap();
            let nv = if v.contains('{') {
                v.replacen('{', "[", 1).chars().rev().collect::<String>().replacen('}', "]", 1).chars().rev().collect()
            } else {
                format!("{{ values = {v} }}")
            };
            (set(i, format!("{k} = {nv}")), format!("line {}: `{}` nesting changed", i + 1, k.trim()))
        }
        7 => mutate_truncate(text, rng),
        8 => {
            // duplicate a table (or a line)
            let heads: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with("[[")).collect();
            if heads.is_empty() || rng.below(4) == 0 {
                let i = rng.below(lines.len());
                let mut v = lines.clone();
                v.insert(i, lines[i]);
                return (v.join("\n"), format!("duplicate line {}", i + 1));
            }
            let h = *rng.pick(&heads);
            let end = (h + 1..lines.len()).find(|&j| lines[j].starts_with('[')).unwrap_or(lines.len());
            let mut v = lines.clone();
            let block: Vec<&str> = lines[h..end].to_vec();
            let at = end;
            for (k, l) in block.iter().enumerate() {
                v.insert(at + k, l);
            }
            (v.join("\n"), format!("duplicate table at line {}", h + 1))
        }
        _ => {
            // two mutations
            let (t1, d1) = mutate(text, rng);
            let (t2, d2) = mutate(&t1, rng);
            (t2, format!("{d1}; then {d2}"))
        }
    }
}

fn mutate_truncate(text: &str, rng: &mut Rng) -> (String, String) {
    let mut at = rng.below(text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    (text[..at].to_string(), format!("truncate at byte {at}"))
}

/// Byte ranges of decimal numbers (`-1.5e3`, `20`) that are not part of a name.
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let prev_ok = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'.');
        if b[i].is_ascii_digit() && prev_ok {
            let s = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'e' || (b[i] == b'-' && b[i - 1] == b'e')) {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

/// Byte ranges of the unit in `"<number> <unit>"` strings.
fn unit_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = vec![];
    let mut parts = text.match_indices('"').map(|(i, _)| i);
    while let (Some(a), Some(b)) = (parts.next(), parts.next()) {
        let s = &text[a + 1..b];
        if let Some(sp) = s.find(' ')
            && s[..sp].parse::<f64>().is_ok()
        {
            out.push((a + 1 + sp + 1, b));
        }
    }
    out
}

/// The total size of the populations, if the text is TOML with such sizes (`None`: not TOML).
fn total_size(text: &str) -> Option<i64> {
    let doc: toml::Table = text.parse().ok()?;
    let pops = doc.get("population").and_then(|p| p.as_array()).cloned().unwrap_or_default();
    Some(pops.iter().filter_map(|p| p.get("size").and_then(|s| s.as_integer())).map(|s| s.max(0)).fold(0i64, i64::saturating_add))
}

/// Max resident memory of this process so far (kB), where /proc tells it.
fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn mutated_network_files_fail_with_typed_errors_that_name_the_line() {
    let t0 = Instant::now();
    let bases = bases();
    let dir = std::env::temp_dir();
    // every base is a valid network
    for (name, text) in &bases {
        let mut f = toml_net::parse(text, &dir, "base").unwrap_or_else(|e| panic!("base {name}: {e}"));
        f.net.run(2).unwrap_or_else(|e| panic!("base {name}: {e}"));
    }
    let mut rng = Rng(0x5EED_2026);
    let (mut panics, mut no_line, mut at_top) = (Vec::new(), Vec::new(), Vec::new());
    let (mut built, mut errors, mut skipped, mut run_errors) = (0usize, 0usize, 0usize, 0usize);
    for case in 0..CASES {
        // the full-size examples get a few cases each, the small networks the rest
        let b = if case % 40 == 0 { case / 40 % bases.len() } else { bases.len() / 2 + rng.below(bases.len() - bases.len() / 2) };
        let (name, base) = &bases[b];
        let (text, what) = mutate(base, &mut rng);
        if let Some(n) = total_size(&text).filter(|&n| n > MAX_NEURONS) {
            if n >= 10_000_000_000 {
                // beyond any machine: the memory estimate refuses the file before allocating
                let e = toml_net::parse(&text, &dir, "fuzz").err().unwrap_or_else(|| panic!("{n} neurons accepted ({what})"));
                assert!(e.to_string().contains("line "), "{what}: {e}");
            }
            skipped += 1;
            continue;
        }
        let r = catch_unwind(AssertUnwindSafe(|| match toml_net::parse(&text, &dir, "fuzz") {
            Ok(mut f) => Ok(f.net.run(5).err().map(|e| e.to_string())),
            Err(e) => Err(e.to_string()),
        }));
        match r {
            Err(_) => panics.push(format!("case {case} ({name}: {what}):\n{text}")),
            Ok(Err(msg)) => {
                errors += 1;
                if !msg.contains("line ") {
                    no_line.push(format!("case {case} ({name}: {what}): {msg}"));
                } else if msg.contains("line 1, column 1") && !text.starts_with("dt") {
                    // nothing better than the top of the file was found (allowed, counted)
                    at_top.push(format!("case {case} ({name}: {what}): {msg}"));
                }
            }
            Ok(Ok(run_err)) => {
                built += 1;
                run_errors += run_err.is_some() as usize;
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "fuzz_netfile: {CASES} cases in {secs:.1} s: {built} built and ran 5 steps ({run_errors} run errors), {errors} errors, {skipped} skipped (> {MAX_NEURONS} neurons), peak RSS {:?} kB",
        peak_rss_kb()
    );
    eprintln!("{} errors placed at line 1, e.g.:\n{}", at_top.len(), at_top[..at_top.len().min(8)].join("\n"));
    assert!(panics.is_empty(), "{} panics; the first:\n{}", panics.len(), panics[..panics.len().min(3)].join("\n-----\n"));
    assert!(no_line.is_empty(), "{} errors without a line; the first:\n{}", no_line.len(), no_line[..no_line.len().min(10)].join("\n"));
    assert!(CASES - skipped >= 10_000, "only {} cases parsed", CASES - skipped);
    assert!(built > 500 && errors > 2000, "{built} built, {errors} errors: the mutator is too tame or too wild");
    // bounded: about 20 s in release on 2 busy cores; the limit leaves room for slow machines
    assert!(secs < 600.0, "{secs} s");
}

/// Errors name the line (and column) of the key they are about, also when the message comes
/// from a check outside the file reader (a model's parameters, a connectivity, a name lookup).
#[test]
fn errors_name_the_line_of_their_key() {
    let base = "dt = \"0.1 ms\"\nsteps = 10\n\n[[population]]\nname = \"A\"\nmodel = \"LIF\"\nsize = 4\n";
    let proj = "\n[[projection]]\nname = \"AA\"\npre = \"A\"\npost = \"A\"\nsynapse = \"Expon\"\noutput = \"CUBA\"\n";
    let cases: Vec<(String, &str)> = vec![
        // line 8: the params line
        (format!("{base}params = {{ tau = \"5 mV\" }}\n"), "line 8, column 12"),
        (format!("{base}params = {{ taux = 5 }}\n"), "line 8, column 12"),
        (format!("{base}params = {{ tau = -5 }}\n"), "line 8, column 12"),
        (format!("{base}colour = 3\n"), "line 8, column 1"),
        (format!("colour = 3\n{base}"), "line 1, column 1"),
        (format!("{base}model = 3\n").replace("model = \"LIF\"\n", ""), "line 7, column 1"),
        (base.replace("\"LIF\"", "\"LIFF\""), "line 6, column 9"),
        (base.replace("0.1 ms", "0.1 mV"), "line 1, column 1"),
        (base.replace("0.1 ms", "-1 ms"), "line 1, column 1"),
        (format!("{base}{proj}conn = {{ type = \"fixed_prob\", prob = 2.0, weight = \"1 S\" }}\n"), "line 15, column 31"),
        (format!("{base}{proj}conn = {{ type = \"all_to_all\", weight = \"1 mV\" }}\n"), "line 15, column 31"),
        (
            format!("{base}{proj}conn = {{ type = \"one_to_one\", weight = 1 }}\n").replace("post = \"A\"", "post = \"B\""),
            "line 12, column 8",
        ),
        (format!("{base}{proj}conn = {{ type = \"dense\", values = [1, 2] }}\n"), "line 9"),
        (format!("{base}\n[[monitor]]\npopulation = \"A\"\nneurons = [7]\n"), "line 9"),
        (format!("{base}\n[[monitor]]\npopulation = \"A\"\nevery = 0\n"), "line 11, column 1"),
        (format!("{base}\n[[input]]\ntarget = \"A\"\ntype = \"poisson\"\nrate = \"-5 Hz\"\ncount = 1\nweight = 1\n"), "line 12, column 1"),
        (format!("{base}\n[[population]]\nname = \"A\"\nmodel = \"LIF\"\nsize = 2\n"), "line 10, column 8"),
        (
            format!("{base}\n[[population]]\nname = \"S\"\nmodel = \"SpikeTime\"\nsize = 2\ntimes = [1]\nindices = [5]\n"),
            "line 14, column 1",
        ),
        ("dt = 0.1\nsteps = 10\n".to_string(), "line 1"),
    ];
    let mut bad = vec![];
    for (text, want) in &cases {
        let e = toml_net::parse(text, Path::new("."), "x").err().unwrap_or_else(|| panic!("accepted:\n{text}")).to_string();
        if !e.contains(want) {
            bad.push(format!("`{e}` does not name {want}:\n{text}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n-----\n"));
}
