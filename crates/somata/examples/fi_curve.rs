//! Print the f-I curve (firing rate against constant input) of any model by name.
//!
//! Run: `cargo run --release --example fi_curve -- HH 0 20 11`
//! (model, smallest and largest input in the model's input unit, number of levels).

use somata::sim::{fi_curve_by_name, FiOptions};

fn main() -> somata::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = args.first().map(String::as_str).unwrap_or("LIF");
    let num = |i: usize, d: f64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (lo, hi, n) = (num(1, 0.0), num(2, 5.0), num(3, 11.0) as usize);
    let levels: Vec<f64> = (0..n.max(2)).map(|i| lo + (hi - lo) * i as f64 / (n.max(2) - 1) as f64).collect();
    let (pts, unit) = fi_curve_by_name(model, &levels, &FiOptions::default())?;
    println!("{model}: input ({unit}) -> rate (Hz)");
    for p in pts {
        match p.rate_hz {
            Some(r) => println!("{:10.4} {:10.2}", p.input, r),
            None => println!("{:10.4}   diverged", p.input),
        }
    }
    Ok(())
}
