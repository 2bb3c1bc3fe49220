//! Rasters of the spike monitors of `somata run --out`, drawn from the streamed event files
//! (read in blocks: memory bounded for any run).

use std::path::{Path, PathBuf};

/// One raster per spike monitor (`DIR/<monitor>.png`) and one of all of them
/// (`DIR/raster.png`, populations stacked in monitor order); `mons`: (monitor, population,
/// neurons, events file).
pub fn write(dir: &Path, name: &str, mons: &[(String, String, usize, PathBuf)], steps: usize, dt_ms: f64) -> Result<(), String> {
    let e = |e: somata::SomataError| e.to_string();
    let all: Vec<(&str, usize)> = mons.iter().map(|(_, p, n, _)| (p.as_str(), *n)).collect();
    let mut combined = RasterBins::new(steps, dt_ms, &all);
    for (k, (mname, pop, n, file)) in mons.iter().enumerate() {
        let mut one = RasterBins::new(steps, dt_ms, &[(pop.as_str(), *n)]);
        somata::io::npy_stream::for_each_i64_pair(file, |step, j| {
            if step >= 0 {
                one.add(0, step as usize, j as usize);
                combined.add(k, step as usize, j as usize);
            }
        })
        .map_err(e)?;
        one.draw(dir.join(format!("{mname}.png")), &format!("{name}: {pop}")).map_err(e)?;
    }
    if mons.len() > 1 {
        combined.draw(dir.join("raster.png"), name).map_err(e)?;
    }
    Ok(())
}

/// Stand-in until `somata::plot::RasterBins` lands: time × neuron bins, every occupied bin drawn.
struct RasterBins {
    tb: usize,
    nb: usize,
    steps: usize,
    dt_ms: f64,
    offsets: Vec<usize>,
    total: usize,
    bins: Vec<f32>,
}

impl RasterBins {
    fn new(steps: usize, dt_ms: f64, pops: &[(&str, usize)]) -> RasterBins {
        let total: usize = pops.iter().map(|p| p.1).sum();
        let offsets = pops.iter().scan(0, |a, p| {
            let o = *a;
            *a += p.1;
            Some(o)
        });
        let (tb, nb) = (steps.clamp(1, 1000), total.clamp(1, 800));
        RasterBins { tb, nb, steps: steps.max(1), dt_ms, offsets: offsets.collect(), total: total.max(1), bins: vec![0.0; tb * nb] }
    }
    fn add(&mut self, pop: usize, step: usize, neuron: usize) {
        let t = (step * self.tb / self.steps).min(self.tb - 1);
        let j = ((self.offsets[pop] + neuron) * self.nb / self.total).min(self.nb - 1);
        self.bins[t * self.nb + j] = 1.0;
    }
    fn draw(&self, path: impl AsRef<Path>, title: &str) -> somata::Result<()> {
        somata::plot::raster(path, &self.bins, self.tb, self.nb, self.dt_ms * self.steps as f64 / self.tb as f64, title)
    }
}
