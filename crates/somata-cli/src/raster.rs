//! Rasters of the spike monitors of `somata run --out`, drawn from the streamed event files
//! (read in blocks, binned by pixel: memory bounded for any run, every spike drawn).

use somata::plot::RasterBins;
use std::path::{Path, PathBuf};

/// One raster per spike monitor (`DIR/<monitor>.png`) and, with several, one of all of them
/// (`DIR/raster.png`, populations stacked in monitor order, one colour each); `mons`:
/// (monitor, population, neurons, events file). The initial state's spikes (step −1) are not
/// drawn.
pub fn write(dir: &Path, name: &str, mons: &[(String, String, usize, PathBuf)], steps: usize, dt_ms: f64) -> Result<(), String> {
    let e = |e: somata::SomataError| e.to_string();
    let all: Vec<(&str, usize)> = mons.iter().map(|(_, p, n, _)| (p.as_str(), *n)).collect();
    let steps = steps.max(1);
    let mut combined = RasterBins::new(steps, dt_ms, &all).map_err(e)?;
    for (k, (mname, pop, n, file)) in mons.iter().enumerate() {
        let mut one = RasterBins::new(steps, dt_ms, &[(pop.as_str(), *n)]).map_err(e)?;
        let mut bad = None;
        somata::io::npy_stream::for_each_i64_pair(file, |step, j| {
            if step >= 0 && bad.is_none() {
                let (s, j) = (step as usize, j as usize);
                if let Err(x) = one.add(0, s, j).and_then(|_| combined.add(k, s, j)) {
                    bad = Some(x);
                }
            }
        })
        .map_err(e)?;
        if let Some(x) = bad {
            return Err(format!("{}: {x}", file.display()));
        }
        one.draw(dir.join(format!("{mname}.png")), &format!("{name}: {pop}")).map_err(e)?;
    }
    if mons.len() > 1 {
        combined.draw(dir.join("raster.png"), name).map_err(e)?;
    }
    Ok(())
}
