//! `somata run FILE --threads T` and `mpirun -np N somata run FILE`: a network file spread over
//! `N·T` virtual processes (`N` MPI ranks, each with `T` threads; NEST's scheme), each building
//! and integrating its block of every population ([`somata::net::dist`]). The spike trains and
//! recorded states are bitwise those of one process, and `--out DIR` holds the same files: each
//! virtual process streams its monitors into `DIR/.vp-K/`, and after the run rank 0 merges
//! them into `DIR/<monitor>.npy` / `.events.npy` (events in step and neuron order, columns in
//! the monitor's order), writes `summary.json` and the rasters, and removes the parts. Rank 0
//! must see every rank's files (a shared file system, as clusters have).

use somata::net::dist::{Comm, ExchangeStats, Part, ThreadComm};
use somata::net::toml_net;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The processes: this one's rank, their number, and their communicator (`None`: one process).
pub struct World {
    pub rank: usize,
    pub size: usize,
    pub comm: Option<Box<dyn Comm>>,
    #[cfg(feature = "mpi")]
    _universe: Option<mpi::environment::Universe>,
}

/// The MPI world when built with the `mpi` feature (a process started without `mpirun` is a
/// world of one), else one process.
pub fn world() -> Result<World, String> {
    #[cfg(feature = "mpi")]
    {
        mpi_comm::world()
    }
    #[cfg(not(feature = "mpi"))]
    {
        Ok(World { rank: 0, size: 1, comm: None })
    }
}

/// What one virtual process reports.
struct VpOut {
    name: String,
    plot: bool,
    spikes: Vec<u64>,
    initial: Vec<u64>,
    rates: Vec<f64>,
    synaptic_events: u64,
    names: Vec<String>,
    sizes: Vec<usize>,
    synapses: usize,
    stats: Option<ExchangeStats>,
    build_ms: f64,
    wall_ms: f64,
    warnings: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn vp_run(
    comm: ThreadComm,
    vps: usize,
    text: &str,
    dir: &Path,
    name: &str,
    steps: Option<usize>,
    out: Option<&Path>,
    overlap: bool,
    t0: Instant,
) -> Result<VpOut, String> {
    let e = |e: somata::SomataError| e.to_string();
    let vp = comm.rank();
    let mut f = toml_net::parse_part(text, dir, name, Part::new(vp, vps).map_err(e)?).map_err(e)?;
    let steps = steps.unwrap_or(f.steps);
    if let Some(o) = out {
        f.net.record_to(o.join(format!(".vp-{vp}"))).map_err(e)?;
    }
    f.net.distribute(Box::new(comm), overlap).map_err(e)?;
    let build_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let every_s = std::env::var("SOMATA_PROGRESS_S").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(10.0);
    let mut last = Instant::now();
    let s = f
        .net
        .run_with(steps, |k| {
            if vp == 0 && last.elapsed().as_secs_f64() >= every_s && k < steps {
                last = Instant::now();
                eprintln!("progress: {k}/{steps} steps ({:.1}%)", 100.0 * k as f64 / steps.max(1) as f64);
            }
        })
        .map_err(e)?;
    let wall_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut synapses = vec![f.net.synapse_stats().0 as u64];
    if let Some(o) = out {
        write_placement(&f.net, &o.join(format!(".vp-{vp}")))?;
    }
    let c = f.net.comm_mut().ok_or("not distributed")?;
    c.sum_u64(&mut synapses).map_err(e)?;
    let ids: Vec<_> = s.names.iter().map(|p| f.net.pop_id(p)).collect::<Result<_, _>>().map_err(e)?;
    Ok(VpOut {
        name: f.name.clone(),
        plot: f.plot,
        spikes: s.spikes.clone(),
        initial: s.initial_spikes.clone(),
        rates: s.rates_hz.clone(),
        synaptic_events: s.synaptic_events,
        sizes: ids.iter().map(|&i| f.net.global_size(i)).collect(),
        names: s.names,
        synapses: synapses[0] as usize,
        stats: f.net.exchange_stats(),
        build_ms,
        wall_ms,
        warnings: f.net.warnings().to_vec(),
    })
}

/// Each monitor's columns and what it recorded, for the merge.
fn write_placement(net: &somata::net::Network, dir: &Path) -> Result<(), String> {
    use serde_json::{json, Map, Value};
    let mut m = Map::new();
    for info in net.monitor_info() {
        let (pos, cols) = match net.monitor_placement(&info.name) {
            Some((p, c)) => (p.to_vec(), c),
            None => ((0..info.cols as u32).collect(), info.cols),
        };
        m.insert(
            info.name.clone(),
            json!({"positions": pos, "cols": cols, "samples": info.samples, "every": info.every, "dense": info.dense,
                   "events": info.events, "population": info.population, "var": info.var}),
        );
    }
    std::fs::write(dir.join("placement.json"), serde_json::to_string(&Value::Object(m)).map_err(|e| e.to_string())?)
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// Run a network file over the world's processes and `threads` threads each.
#[allow(clippy::too_many_arguments)]
pub fn run(
    mut world: World,
    text: &str,
    dir: &Path,
    name: &str,
    duration_ms: Option<f64>,
    out: Option<&Path>,
    threads: usize,
    overlap: bool,
    plot: bool,
) -> Result<(), String> {
    let t0 = Instant::now();
    let threads = threads.max(1);
    let vps = world.size * threads;
    let root = world.rank == 0;
    if let Some(o) = out {
        std::fs::create_dir_all(o).map_err(|e| format!("{}: {e}", o.display()))?;
    }
    let (dt, file_steps) = toml_net::clock_of(text).map_err(|e| e.to_string())?;
    let steps = duration_ms.map(|d| (d / dt).round() as usize);
    let comms = ThreadComm::over(threads, world.comm.take());
    let outs: Vec<Result<VpOut, String>> = std::thread::scope(|s| {
        let mut it = comms.into_iter();
        let first = it.next().expect("at least one thread");
        let hs: Vec<_> = it.map(|c| s.spawn(move || vp_run(c, vps, text, dir, name, steps, out, overlap, t0))).collect();
        // thread 0 calls MPI: the main thread, which initialised it
        let mut r = vec![vp_run(first, vps, text, dir, name, steps, out, overlap, t0)];
        r.extend(hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into()))));
        r
    });
    let mut v = vec![];
    for o in outs {
        match o {
            Ok(o) => v.push(o),
            Err(e) => {
                // the other ranks wait in a collective: end them all
                eprintln!("somata: error (rank {}): {e}", world.rank);
                std::process::exit(2);
            }
        }
    }
    let o = &v[0];
    if !root {
        return Ok(());
    }
    for w in &o.warnings {
        eprintln!("somata: warning: {w}");
    }
    let steps_run = steps.unwrap_or(file_steps);
    let (name, plot) = (o.name.as_str(), o.plot && plot);
    println!(
        "network `{name}`: {} populations, {} synapses; {steps_run} steps of {dt} ms; {} processes × {threads} threads; built in {:.1} ms",
        o.names.len(),
        o.synapses,
        world.size,
        o.build_ms
    );
    for (k, p) in o.names.iter().enumerate() {
        println!("{p:>10}: {:>6} neurons, {:>9} spikes, {:8.2} Hz", o.sizes[k], o.spikes[k] + o.initial[k], o.rates[k]);
    }
    if let Some(st) = o.stats {
        println!(
            "exchange: every {} step(s) (minimum delay {} steps), {}overlapped, {} exchanges, {:.1} ms waiting",
            st.epoch_steps,
            st.span_steps,
            if st.overlap { "" } else { "not " },
            st.exchanges,
            st.wait_s * 1e3
        );
    }
    let wall_ms = v.iter().map(|o| o.wall_ms).fold(0.0, f64::max);
    if let Some(dir_out) = out {
        let mons = merge(dir_out, vps)?;
        let summary = crate::netrun::Summary {
            names: o.names.clone(),
            sizes: o.sizes.clone(),
            spikes: o.spikes.clone(),
            initial: o.initial.clone(),
            rates: o.rates.clone(),
            synaptic_events: o.synaptic_events,
            fused: false,
            threads: vps,
        };
        crate::netrun::write_summary(dir_out, name, steps_run, dt, o.build_ms, wall_ms, &summary, &mons, plot)?;
        println!("wrote {}", dir_out.display());
    }
    println!("simulated {:.1} ms in {wall_ms:.1} ms", steps_run as f64 * dt);
    Ok(())
}

/// Merge the virtual processes' monitor files into `dir` and remove them.
fn merge(dir: &Path, vps: usize) -> Result<Vec<crate::netrun::MonOut>, String> {
    use serde_json::Value;
    let e = |e: somata::SomataError| e.to_string();
    let parts: Vec<PathBuf> = (0..vps).map(|k| dir.join(format!(".vp-{k}"))).collect();
    let places: Vec<serde_json::Map<String, Value>> = parts
        .iter()
        .map(|p| {
            let t = std::fs::read_to_string(p.join("placement.json")).map_err(|e| format!("{}: {e}", p.display()))?;
            match serde_json::from_str(&t) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(format!("{}: not a placement file", p.display())),
            }
        })
        .collect::<Result<_, String>>()?;
    let mut mons = vec![];
    for (name, m0) in &places[0] {
        let get = |m: &Value, k: &str| m.get(k).cloned().unwrap_or(Value::Null);
        let cols = get(m0, "cols").as_u64().unwrap_or(0) as usize;
        let samples = get(m0, "samples").as_u64().unwrap_or(0) as usize;
        let mut files = vec![];
        let mut n_events = None;
        if !get(m0, "events").is_null() {
            // blocks are in rank order, so within a step the events of part k precede part k+1's
            let evs: Vec<Vec<[i64; 2]>> = parts
                .iter()
                .map(|p| somata::io::npy_stream::read_i64_pairs(p.join(format!("{name}.events.npy"))))
                .collect::<Result<_, _>>()
                .map_err(e)?;
            let path = dir.join(format!("{name}.events.npy"));
            let mut s = somata::io::npy_stream::NpyStream::create(&path, "<i8", 2).map_err(e)?;
            let mut cur = vec![0usize; evs.len()];
            let mut buf: Vec<i64> = Vec::with_capacity(1 << 16);
            loop {
                let next = evs.iter().zip(&cur).filter_map(|(v, &c)| v.get(c).map(|r| r[0])).min();
                let Some(step) = next else { break };
                for (v, c) in evs.iter().zip(cur.iter_mut()) {
                    while let Some(r) = v.get(*c).filter(|r| r[0] == step) {
                        buf.extend_from_slice(r);
                        *c += 1;
                    }
                }
                if buf.len() >= 1 << 16 {
                    s.append_i64(&buf).map_err(e)?;
                    buf.clear();
                }
            }
            s.append_i64(&buf).map_err(e)?;
            s.flush().map_err(e)?;
            n_events = Some(s.rows());
            files.push(path);
        }
        if get(m0, "dense").as_bool() == Some(true) {
            let path = dir.join(format!("{name}.npy"));
            let mut s = somata::io::npy_stream::NpyStream::create(&path, "<f4", cols).map_err(e)?;
            let data: Vec<(Vec<f32>, Vec<usize>)> = parts
                .iter()
                .zip(&places)
                .map(|(p, pl)| {
                    let pos: Vec<usize> = pl
                        .get(name)
                        .and_then(|m| m.get("positions"))
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_u64).map(|x| x as usize).collect())
                        .unwrap_or_default();
                    let d = if pos.is_empty() { vec![] } else { somata::io::npy::read(p.join(format!("{name}.npy"))).map_err(e)?.to_f32() };
                    Ok((d, pos))
                })
                .collect::<Result<_, String>>()?;
            let mut row = vec![0f32; cols];
            for r in 0..samples {
                for (d, pos) in &data {
                    for (c, &at) in pos.iter().enumerate() {
                        row[at] = d[r * pos.len() + c];
                    }
                }
                s.append_f32(&row).map_err(e)?;
            }
            s.flush().map_err(e)?;
            files.push(path);
        }
        mons.push(crate::netrun::MonOut {
            name: name.clone(),
            population: get(m0, "population").as_str().unwrap_or("").to_string(),
            var: get(m0, "var").as_str().unwrap_or("").to_string(),
            samples,
            cols,
            every: get(m0, "every").as_u64().unwrap_or(1) as usize,
            dense: get(m0, "dense").as_bool().unwrap_or(false),
            events: n_events,
            files,
        });
    }
    for p in &parts {
        std::fs::remove_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(mons)
}

#[cfg(feature = "mpi")]
mod mpi_comm {
    //! The MPI communicator: blocking collectives through rsmpi, and the spike exchange as a
    //! non-blocking `MPI_Iallgather` of fixed-size blocks (a count, then the records), grown and
    //! repeated with `MPI_Allgatherv` when a rank's records outgrow the block.
    use super::World;
    use mpi::collective::SystemOperation;
    use mpi::datatype::PartitionMut;
    use mpi::ffi;
    use mpi::raw::AsRaw;
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::*;
    use somata::net::dist::Comm;
    use somata::{Result, SomataError};

    pub fn world() -> std::result::Result<World, String> {
        let Some((universe, _)) = mpi::initialize_with_threading(mpi::Threading::Funneled) else {
            return Err("MPI was initialised already".into());
        };
        let w = universe.world();
        let (rank, size) = (w.rank() as usize, w.size() as usize);
        let comm: Option<Box<dyn Comm>> =
            if size > 1 { Some(Box::new(MpiComm { w, cap: 1024, send: vec![], recv: vec![], req: None, local: vec![] })) } else { None };
        Ok(World { rank, size, comm, _universe: Some(universe) })
    }

    struct MpiComm {
        w: SimpleCommunicator,
        /// u32 per rank and exchange (a count and the records).
        cap: usize,
        send: Vec<u32>,
        recv: Vec<u32>,
        req: Option<ffi::MPI_Request>,
        /// This rank's records of the exchange in flight (resent when a block overflows).
        local: Vec<u32>,
    }

    // SAFETY: the communicator is used from one thread at a time (MPI "funneled": the main
    // thread's virtual process); it moves there once.
    unsafe impl Send for MpiComm {}

    fn mpi_err(what: &str, rc: i32) -> Result<()> {
        if rc == 0 {
            Ok(())
        } else {
            Err(SomataError::Format(format!("MPI: {what} failed ({rc})")))
        }
    }

    impl Comm for MpiComm {
        fn rank(&self) -> usize {
            self.w.rank() as usize
        }
        fn size(&self) -> usize {
            self.w.size() as usize
        }
        fn start_gather(&mut self, local: &[u32]) -> Result<()> {
            let n = self.size();
            self.local.clear();
            self.local.extend_from_slice(local);
            self.send.clear();
            self.send.resize(self.cap, 0);
            self.send[0] = local.len() as u32;
            let k = local.len().min(self.cap - 1);
            self.send[1..1 + k].copy_from_slice(&local[..k]);
            self.recv.clear();
            self.recv.resize(self.cap * n, 0);
            let mut req: ffi::MPI_Request = unsafe { std::mem::zeroed() };
            // SAFETY: both buffers live in `self` and are not touched until the request
            // completes in `finish_gather` (the only other user of them).
            let rc = unsafe {
                ffi::MPI_Iallgather(
                    self.send.as_ptr().cast(),
                    self.cap as i32,
                    ffi::RSMPI_UINT32_T,
                    self.recv.as_mut_ptr().cast(),
                    self.cap as i32,
                    ffi::RSMPI_UINT32_T,
                    self.w.as_raw(),
                    &mut req,
                )
            };
            mpi_err("MPI_Iallgather", rc)?;
            self.req = Some(req);
            Ok(())
        }
        fn progress(&mut self) {
            if let Some(req) = self.req.as_mut() {
                let mut flag = 0;
                // SAFETY: an active request of this communicator
                unsafe { ffi::MPI_Test(req, &mut flag, ffi::RSMPI_STATUS_IGNORE) };
            }
        }
        fn finish_gather(&mut self, out: &mut Vec<u32>) -> Result<()> {
            let Some(mut req) = self.req.take() else {
                return Err(SomataError::Format("MPI: finish_gather without start_gather".into()));
            };
            // SAFETY: the request started in `start_gather`
            mpi_err("MPI_Wait", unsafe { ffi::MPI_Wait(&mut req, ffi::RSMPI_STATUS_IGNORE) })?;
            let n = self.size();
            let counts: Vec<usize> = (0..n).map(|r| self.recv[r * self.cap] as usize).collect();
            let max = counts.iter().copied().max().unwrap_or(0);
            out.clear();
            if max < self.cap {
                for (r, &c) in counts.iter().enumerate() {
                    out.extend_from_slice(&self.recv[r * self.cap + 1..r * self.cap + 1 + c]);
                }
                return Ok(());
            }
            // a block overflowed: gather everything by counts, and grow the blocks
            let ci: Vec<i32> = counts.iter().map(|&c| c as i32).collect();
            let displs: Vec<i32> = ci.iter().scan(0, |a, &c| Some(std::mem::replace(a, *a + c))).collect();
            out.resize(counts.iter().sum(), 0);
            let mut part = PartitionMut::new(&mut out[..], ci, displs);
            self.w.all_gather_varcount_into(&self.local[..], &mut part);
            self.cap = (2 * max + 2).next_power_of_two();
            Ok(())
        }
        fn sum_u64(&mut self, v: &mut [u64]) -> Result<()> {
            let send = v.to_vec();
            self.w.all_reduce_into(&send[..], v, SystemOperation::sum());
            Ok(())
        }
        fn min_u64(&mut self, v: &mut [u64]) -> Result<()> {
            let send = v.to_vec();
            self.w.all_reduce_into(&send[..], v, SystemOperation::min());
            Ok(())
        }
        fn barrier(&mut self) -> Result<()> {
            self.w.barrier();
            Ok(())
        }
    }
}
