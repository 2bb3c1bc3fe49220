//! Distributed simulation: a network's neurons spread over ranks (processes, or threads in
//! tests), each rank integrating its own neurons and creating only the synapses onto them,
//! spikes exchanged once per minimum delay.
//!
//! * **Partition** ([`Part`]): every population is cut into `size` contiguous blocks, rank `r`
//!   owning neurons `⌊N·r/size⌋ .. ⌊N·(r+1)/size⌋` of it. Each rank thus holds about `1/size`
//!   of every population (the load balance NEST's round-robin gives, for models of different
//!   cost), its neurons' states are contiguous (the kernels stay vectorised), and the owner of
//!   a neuron is one multiplication. Spike sources (`PoissonSpike`, `SpikeTime`, `SpikeFile`
//!   populations) are replicated: every rank runs them whole, so their spikes need no
//!   exchange.
//! * **Rank independence**: what is random is drawn from streams keyed by global indices
//!   (per postsynaptic neuron for `fixed_total_number`, per neuron for the Poisson
//!   background) or drawn whole on every rank and cut (initial states, other rules), so one
//!   file and one seed give the same network on any number of ranks.
//! * **Exchange** ([`Comm`]): each rank's spikes of an interval, as `(step, global id,
//!   value)` records, are all-gathered; every rank sorts them by step and id and pushes them
//!   into its delay lines with the lag they waited, so each synapse's events sum in the same
//!   order as on one rank: results are bitwise identical. The interval is the network's
//!   minimum delay `D` (in steps, counting BrainPy's one step of reading the previous step's
//!   spikes): with `D ≥ 2` the exchange of one half-interval overlaps the integration of the
//!   next (Arbor's scheme), otherwise it blocks every step.
//!
//! [`ThreadComm`] runs ranks as threads of one process (the tests use it, and it needs no MPI);
//! the `somata` CLI built with its `mpi` feature provides an MPI communicator.

use super::{Network, PopId, Window};
use crate::error::{Result, SomataError};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A communicator: the collectives the distributed runner needs. Every rank calls the same
/// methods in the same order.
pub trait Comm: Send {
    /// This rank, `0..size`.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// Begin gathering `local` from every rank; [`Comm::finish_gather`] completes it. At most
    /// one gather is in flight.
    fn start_gather(&mut self, local: &[u32]) -> Result<()>;
    /// Let an in-flight gather progress (MPI implementations without a progress thread need
    /// calls); never blocks.
    fn progress(&mut self) {}
    /// Complete the gather begun: every rank's data, concatenated in rank order.
    fn finish_gather(&mut self, out: &mut Vec<u32>) -> Result<()>;
    /// Element-wise sum over the ranks, in place.
    fn sum_u64(&mut self, v: &mut [u64]) -> Result<()>;
    /// Element-wise minimum over the ranks, in place.
    fn min_u64(&mut self, v: &mut [u64]) -> Result<()>;
    /// Wait for every rank.
    fn barrier(&mut self) -> Result<()>;
}

/// The rank's place in the partition: `rank` of `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// This rank.
    pub rank: usize,
    /// Number of ranks.
    pub size: usize,
}

impl Default for Part {
    fn default() -> Self {
        Part { rank: 0, size: 1 }
    }
}

impl Part {
    /// Rank `rank` of `size` (an error unless `rank < size`).
    pub fn new(rank: usize, size: usize) -> Result<Part> {
        if size == 0 || rank >= size {
            return Err(SomataError::param("partition", "rank", rank as f64, "must be below the number of ranks"));
        }
        Ok(Part { rank, size })
    }
    /// Whether this is the whole network (one rank).
    pub fn is_whole(&self) -> bool {
        self.size == 1
    }
    /// The neurons of a population of `n` that rank `r` owns.
    ///
    /// ```
    /// use somata::net::dist::Part;
    /// let p = Part::new(1, 3).unwrap();
    /// assert_eq!(p.block(10, 0), 0..3);
    /// assert_eq!(p.window(10), 3..6);
    /// assert_eq!(p.block(10, 2), 6..10);
    /// assert_eq!(p.owner(10, 5), 1);
    /// ```
    pub fn block(&self, n: usize, r: usize) -> Range<usize> {
        let f = |r: usize| ((n as u128 * r as u128) / self.size as u128) as usize;
        f(r)..f(r + 1)
    }
    /// This rank's neurons of a population of `n`.
    pub fn window(&self, n: usize) -> Range<usize> {
        self.block(n, self.rank)
    }
    /// The rank that owns neuron `i` of a population of `n`.
    pub fn owner(&self, n: usize, i: usize) -> usize {
        // the last r with ⌊n·r/size⌋ ≤ i
        let mut r = ((i as u128 * self.size as u128) / n.max(1) as u128) as usize;
        while r + 1 < self.size && self.block(n, r + 1).start <= i {
            r += 1;
        }
        while r > 0 && self.block(n, r).start > i {
            r -= 1;
        }
        r
    }
}

/// One process, one rank: gathers return the local data.
#[derive(Debug, Default)]
pub struct SelfComm {
    held: Vec<u32>,
}

impl Comm for SelfComm {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn start_gather(&mut self, local: &[u32]) -> Result<()> {
        self.held.clear();
        self.held.extend_from_slice(local);
        Ok(())
    }
    fn finish_gather(&mut self, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        out.extend_from_slice(&self.held);
        Ok(())
    }
    fn sum_u64(&mut self, _v: &mut [u64]) -> Result<()> {
        Ok(())
    }
    fn min_u64(&mut self, _v: &mut [u64]) -> Result<()> {
        Ok(())
    }
    fn barrier(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A barrier that spins (then yields): an exchange every step of a 0.1 ms grid meets it
/// thousands of times a second, and a sleeping barrier's wake-up costs tens of microseconds.
struct SpinBarrier {
    n: usize,
    count: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn new(n: usize) -> SpinBarrier {
        SpinBarrier { n, count: AtomicUsize::new(0), generation: AtomicUsize::new(0) }
    }
    fn wait(&self) {
        let g = self.generation.load(Ordering::Acquire);
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            self.count.store(0, Ordering::Relaxed);
            self.generation.store(g.wrapping_add(1), Ordering::Release);
            return;
        }
        let mut k = 0u32;
        while self.generation.load(Ordering::Acquire) == g {
            if k < 1 << 12 {
                std::hint::spin_loop();
                k += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

struct Shared {
    barrier: SpinBarrier,
    slots: Mutex<Vec<Vec<u32>>>,
    sums: Mutex<Vec<u64>>,
    /// What the outer communicator gathered (threads over processes).
    gathered: Mutex<Vec<u32>>,
}

/// Ranks as threads of one process (shared memory and a barrier): what the tests use to run
/// a network on 1–4 ranks without MPI, and the threads of each process over MPI
/// ([`ThreadComm::over`]).
///
/// ```
/// use somata::net::dist::{Comm, ThreadComm};
/// let comms = ThreadComm::group(3);
/// let out: Vec<Vec<u32>> = std::thread::scope(|s| {
///     let hs: Vec<_> = comms
///         .into_iter()
///         .map(|mut c| s.spawn(move || {
///             let r = c.rank() as u32;
///             c.start_gather(&vec![r; r as usize + 1]).unwrap();
///             let mut v = vec![];
///             c.finish_gather(&mut v).unwrap();
///             v
///         }))
///         .collect();
///     hs.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// assert!(out.iter().all(|v| v == &[0, 1, 1, 2, 2, 2]));
/// ```
pub struct ThreadComm {
    /// Thread index within the process.
    t: usize,
    threads: usize,
    shared: Arc<Shared>,
    /// The processes' communicator (held by thread 0), its rank and size.
    outer: Option<Box<dyn Comm>>,
    outer_rank: usize,
    outer_size: usize,
}

impl ThreadComm {
    /// `n` communicators, one per rank, to move into `n` threads.
    pub fn group(n: usize) -> Vec<ThreadComm> {
        Self::over(n, None)
    }

    /// `n` threads in each process of `outer` (NEST's virtual processes: `outer.size()·n`
    /// ranks, thread `t` of process `r` being rank `r·n + t`). Thread 0's communicator calls
    /// `outer` (MPI's "funneled" threading: run it on the thread that initialised MPI).
    pub fn over(n: usize, outer: Option<Box<dyn Comm>>) -> Vec<ThreadComm> {
        let n = n.max(1);
        let shared = Arc::new(Shared {
            barrier: SpinBarrier::new(n),
            slots: Mutex::new(vec![vec![]; n]),
            sums: Mutex::new(vec![]),
            gathered: Mutex::new(vec![]),
        });
        let (outer_rank, outer_size) = outer.as_ref().map_or((0, 1), |o| (o.rank(), o.size()));
        let mut outer = outer;
        (0..n)
            .map(|t| ThreadComm {
                t,
                threads: n,
                shared: shared.clone(),
                outer: if t == 0 { outer.take() } else { None },
                outer_rank,
                outer_size,
            })
            .collect()
    }

    fn reduce(&mut self, v: &mut [u64], init: u64, op: impl Fn(&mut u64, &u64)) -> Result<()> {
        if self.t == 0 {
            let mut s = self.shared.sums.lock().map_err(|_| poisoned())?;
            s.clear();
            s.resize(v.len(), init);
        }
        self.shared.barrier.wait();
        {
            let mut s = self.shared.sums.lock().map_err(|_| poisoned())?;
            s.iter_mut().zip(v.iter()).for_each(|(a, b)| op(a, b));
        }
        self.shared.barrier.wait();
        if let Some(o) = self.outer.as_mut() {
            let mut s = self.shared.sums.lock().map_err(|_| poisoned())?;
            if init == 0 {
                o.sum_u64(&mut s)?;
            } else {
                o.min_u64(&mut s)?;
            }
        }
        self.shared.barrier.wait();
        {
            let s = self.shared.sums.lock().map_err(|_| poisoned())?;
            v.copy_from_slice(&s);
        }
        self.shared.barrier.wait();
        Ok(())
    }
}

fn poisoned() -> SomataError {
    SomataError::Format("a rank thread panicked".into())
}

impl Comm for ThreadComm {
    fn rank(&self) -> usize {
        self.outer_rank * self.threads + self.t
    }
    fn size(&self) -> usize {
        self.outer_size * self.threads
    }
    fn start_gather(&mut self, local: &[u32]) -> Result<()> {
        {
            let mut s = self.shared.slots.lock().map_err(|_| poisoned())?;
            s[self.t].clear();
            s[self.t].extend_from_slice(local);
        }
        if self.outer_size > 1 {
            // the process's records leave through thread 0 now, and travel while the threads
            // integrate the next interval
            self.shared.barrier.wait();
            if let Some(o) = self.outer.as_mut() {
                let all: Vec<u32> = self.shared.slots.lock().map_err(|_| poisoned())?.concat();
                o.start_gather(&all)?;
            }
        }
        Ok(())
    }
    fn progress(&mut self) {
        if let Some(o) = self.outer.as_mut() {
            o.progress();
        }
    }
    fn finish_gather(&mut self, out: &mut Vec<u32>) -> Result<()> {
        if self.outer_size > 1 {
            if let Some(o) = self.outer.as_mut() {
                let mut g = self.shared.gathered.lock().map_err(|_| poisoned())?;
                o.finish_gather(&mut g)?;
            }
            self.shared.barrier.wait();
            {
                let g = self.shared.gathered.lock().map_err(|_| poisoned())?;
                out.clear();
                out.extend_from_slice(&g);
            }
            self.shared.barrier.wait();
            return Ok(());
        }
        self.shared.barrier.wait();
        {
            let s = self.shared.slots.lock().map_err(|_| poisoned())?;
            out.clear();
            for v in s.iter() {
                out.extend_from_slice(v);
            }
        }
        // nobody writes a slot again before everybody has read them
        self.shared.barrier.wait();
        Ok(())
    }
    fn sum_u64(&mut self, v: &mut [u64]) -> Result<()> {
        self.reduce(v, 0, |a, b| *a += b)
    }
    fn min_u64(&mut self, v: &mut [u64]) -> Result<()> {
        self.reduce(v, u64::MAX, |a, b| *a = (*a).min(*b))
    }
    fn barrier(&mut self) -> Result<()> {
        self.shared.barrier.wait();
        if let Some(o) = self.outer.as_mut() {
            o.barrier()?;
        }
        self.shared.barrier.wait();
        Ok(())
    }
}

/// A 64-bit mix of two values (SplitMix64's finaliser): seeds of keyed random streams, so that
/// `Rng::new(key(seed, i))` for neighbouring `i` gives unrelated streams.
#[inline]
pub fn key(seed: u64, i: u64) -> u64 {
    let mut z = seed ^ i.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the exchange did during a run ([`Network::exchange_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExchangeStats {
    /// The minimum delay, in steps (counting the step every projection waits).
    pub span_steps: usize,
    /// Steps per exchange.
    pub epoch_steps: usize,
    /// Whether each exchange overlaps the next interval's integration.
    pub overlap: bool,
    /// Exchanges (all-gathers) so far.
    pub exchanges: u64,
    /// Spike records received (all ranks').
    pub records: u64,
    /// Seconds spent waiting for exchanges to complete.
    pub wait_s: f64,
}

/// The exchange state of a rank.
pub(super) struct DistRun {
    comm: Box<dyn Comm>,
    overlap: bool,
    /// First step of the interval being integrated.
    base: i64,
    /// This interval's spikes: `(step − base + 1, global id, value bits)` triples.
    local: Vec<u32>,
    /// The base of the gather in flight.
    in_flight: Option<i64>,
    /// The base of the gathered records in `recv`, injected at the next step.
    ready: Option<i64>,
    recv: Vec<u32>,
    sorted: Vec<(i64, u32, u32)>,
    /// `(global id of neuron 0, population)` of the spread populations, ascending.
    gids: Vec<(u32, usize)>,
    started: bool,
    stats: ExchangeStats,
}

impl Network {
    /// Declare population `p` to be this rank's block `lo..lo + size(p)` of a population of `n`
    /// neurons spread over ranks ([`Part::window`]): projections from it read all `n` neurons'
    /// spikes (their connectivity has `n` rows), monitors of it take global indices, and a run
    /// needs [`Network::distribute`]. The network-file builder does this for every population
    /// when it builds one rank's part.
    pub fn set_window(&mut self, p: PopId, n: usize, lo: usize) -> Result<()> {
        self.check_pop(p)?;
        let e = &mut self.pops[p.0];
        let k = e.pop.n();
        if lo.checked_add(k).is_none_or(|hi| hi > n) {
            return Err(SomataError::ShapeMismatch {
                what: format!("block of population `{}` on this rank (start, size)", e.name),
                expected: vec![n],
                got: vec![lo, k],
            });
        }
        e.win = Some(Window { n, lo, gid0: 0, spk: vec![0.0; n], active: vec![], arrived: vec![] });
        self.prepared = false;
        Ok(())
    }

    /// Neurons of population `p` on all ranks (its [`Network::size`] unless it is spread).
    pub fn global_size(&self, p: PopId) -> usize {
        let e = &self.pops[p.0];
        e.win.as_ref().map_or(e.pop.n(), |w| w.n)
    }

    /// The global indices of population `p`'s neurons on this rank.
    pub fn local_range(&self, p: PopId) -> Range<usize> {
        let e = &self.pops[p.0];
        let lo = e.win.as_ref().map_or(0, |w| w.lo);
        lo..lo + e.pop.n()
    }

    /// Run this rank's part with the other ranks of `comm`: after each interval of the
    /// minimum delay (at least one step) every rank's spikes are all-gathered and pushed into
    /// the delay lines with the lag they waited, so spike trains and states are bitwise those
    /// of one process. With `overlap` and a minimum delay of two steps or more, the exchange
    /// of one half-interval runs while the next is integrated.
    ///
    /// ```
    /// use somata::net::dist::{Part, SelfComm};
    /// use somata::net::toml_net;
    /// let text = r#"
    /// dt = "0.1 ms"
    /// duration = "100 ms"
    /// [[population]]
    /// name = "E"
    /// model = "LIF"
    /// size = 50
    /// [[input]]
    /// target = "E"
    /// value = "30 mA"
    /// "#;
    /// let mut f = toml_net::parse_part(text, std::path::Path::new("."), "demo", Part::default()).unwrap();
    /// f.net.distribute(Box::new(SelfComm::default()), true).unwrap();
    /// let s = f.net.run(1000).unwrap();
    /// assert!(s.spikes[0] > 0);
    /// ```
    pub fn distribute(&mut self, comm: Box<dyn Comm>, overlap: bool) -> Result<()> {
        if self.clock.step() != 0 {
            return Err(SomataError::Format("a network is distributed before its first step".into()));
        }
        self.dist = Some(DistRun {
            comm,
            overlap,
            base: 0,
            local: vec![],
            in_flight: None,
            ready: None,
            recv: vec![],
            sorted: vec![],
            gids: vec![],
            started: false,
            stats: ExchangeStats::default(),
        });
        self.prepared = false;
        Ok(())
    }

    /// This rank and the number of ranks (`(0, 1)` when not distributed).
    pub fn rank(&self) -> (usize, usize) {
        self.dist.as_ref().map_or((0, 1), |d| (d.comm.rank(), d.comm.size()))
    }

    /// The communicator of a distributed network (for collectives after a run).
    pub fn comm_mut(&mut self) -> Option<&mut dyn Comm> {
        match self.dist.as_mut() {
            Some(d) => Some(d.comm.as_mut()),
            None => None,
        }
    }

    /// What the exchange did so far (`None` when not distributed or not yet run).
    pub fn exchange_stats(&self) -> Option<ExchangeStats> {
        self.dist.as_ref().filter(|d| d.started).map(|d| d.stats)
    }

    /// For a monitor of a spread population: each column's position in the whole monitor and
    /// the whole monitor's columns (`None` otherwise).
    pub fn monitor_placement(&self, name: &str) -> Option<(&[u32], usize)> {
        self.monitors.iter().find(|m| m.name == name).and_then(|m| m.placed.as_ref()).map(|(p, n)| (&p[..], *n))
    }

    pub(super) fn dist_prepare(&mut self) -> Result<()> {
        let spread = self.pops.iter().any(|p| p.win.is_some());
        let Some(d) = self.dist.as_mut() else {
            if spread {
                return Err(SomataError::Format(
                    "populations spread over ranks (set_window) run with a communicator (Network::distribute)".into(),
                ));
            }
            return Ok(());
        };
        if spread && !self.gaps.is_empty() {
            return Err(SomataError::Format("gap junctions are not supported on more than one rank yet".into()));
        }
        let mut gids = vec![];
        let mut next = 0u64;
        for (k, p) in self.pops.iter_mut().enumerate() {
            if let Some(w) = p.win.as_mut() {
                w.gid0 = u32::try_from(next).map_err(|_| SomataError::Format("more than 2³² neurons spread over ranks".into()))?;
                gids.push((w.gid0, k));
                next += w.n as u64;
            }
        }
        if next > u32::MAX as u64 {
            return Err(SomataError::Format("more than 2³² neurons spread over ranks".into()));
        }
        // the minimum delay in whole steps of the projections from spread populations: what
        // reads the spikes of every step (no delay line, STP, an align-pre synapse, the same
        // step) needs them every step
        let mut k_min = u64::MAX;
        for pr in &self.projs {
            // nothing to deliver on this rank (a sparse projection's block can be empty)
            if self.pops[pr.pre].win.is_none() || pr.conn.num_synapses() == 0 {
                continue;
            }
            if pr.same_step {
                return Err(SomataError::Format(format!(
                    "projection `{}` reads the spikes of the same step; on more than one rank a projection reads the previous step's",
                    pr.name
                )));
            }
            let k = match &pr.line {
                Some(l) if pr.stp.is_none() && pr.pre_syn.is_none() => l.min_steps(),
                _ => 0,
            };
            k_min = k_min.min(k);
        }
        let mut v = [k_min];
        d.comm.min_u64(&mut v)?;
        let span = (v[0].min(999) + 1) as usize;
        let overlap = d.overlap && span >= 2;
        let epoch = if overlap { span / 2 } else { span };
        d.gids = gids;
        d.stats.span_steps = span;
        d.stats.epoch_steps = epoch;
        d.stats.overlap = overlap;
        if self.clock.step() == 0 && !d.started {
            // the initial state's spikes, read at step 0 as the previous step's
            d.local.clear();
            for p in &self.pops {
                if let Some(w) = &p.win {
                    for &l in &p.active {
                        d.local.extend_from_slice(&[0, w.gid0 + (w.lo as u32) + l, p.spk[l as usize].to_bits()]);
                    }
                }
            }
            d.comm.start_gather(&d.local)?;
            d.comm.finish_gather(&mut d.recv)?;
            d.local.clear();
            d.ready = Some(0);
            d.base = 0;
            d.started = true;
        }
        Ok(())
    }

    /// Put the gathered records into the windows (at the start of a step).
    pub(super) fn dist_inject(&mut self, step: u64) {
        let Some(d) = self.dist.as_mut() else { return };
        let Some(base) = d.ready.take() else { return };
        d.sorted.clear();
        d.sorted.extend(d.recv.chunks_exact(3).map(|r| (base - 1 + r[0] as i64, r[1], r[2])));
        d.sorted.sort_unstable_by_key(|r| (r.0, r.1));
        d.stats.records += d.sorted.len() as u64;
        for &(s, gid, bits) in &d.sorted {
            let k = d.gids.partition_point(|g| g.0 <= gid) - 1;
            let (gid0, pi) = d.gids[k];
            if let Some(w) = self.pops[pi].win.as_mut() {
                w.arrived.push((s, gid - gid0, f32::from_bits(bits)));
            }
        }
        if d.stats.span_steps == 1 {
            // exchanged every step: the whole population's spikes of the previous step
            for p in &mut self.pops {
                if let Some(w) = p.win.as_mut() {
                    for &i in &w.active {
                        w.spk[i as usize] = 0.0;
                    }
                    w.active.clear();
                    for &(s, i, v) in &w.arrived {
                        debug_assert_eq!(s, step as i64 - 1);
                        w.spk[i as usize] = v;
                        w.active.push(i);
                    }
                }
            }
        }
    }

    /// Add this step's local spikes to the interval's records (after the updates).
    pub(super) fn dist_collect(&mut self, step: u64) {
        let Some(d) = self.dist.as_mut() else { return };
        let rel = (step as i64 - d.base + 1) as u32;
        for p in &self.pops {
            if let Some(w) = &p.win {
                for &l in &p.active {
                    d.local.extend_from_slice(&[rel, w.gid0 + (w.lo as u32) + l, p.spk[l as usize].to_bits()]);
                }
            }
        }
        d.comm.progress();
    }

    /// End of a step: the injected records are used up; at the end of an interval, exchange.
    pub(super) fn dist_end_step(&mut self, step: u64) -> Result<()> {
        for p in &mut self.pops {
            if let Some(w) = p.win.as_mut() {
                w.arrived.clear();
            }
        }
        let Some(d) = self.dist.as_mut() else { return Ok(()) };
        if ((step as i64 + 1 - d.base) as usize) < d.stats.epoch_steps {
            return Ok(());
        }
        let t0 = Instant::now();
        if d.stats.overlap {
            // the interval before this one has been in flight while this one was integrated
            if let Some(b) = d.in_flight.take() {
                d.comm.finish_gather(&mut d.recv)?;
                d.ready = Some(b);
            }
            d.comm.start_gather(&d.local)?;
            d.in_flight = Some(d.base);
        } else {
            d.comm.start_gather(&d.local)?;
            d.comm.finish_gather(&mut d.recv)?;
            d.ready = Some(d.base);
        }
        d.stats.wait_s += t0.elapsed().as_secs_f64();
        d.stats.exchanges += 1;
        d.local.clear();
        d.base = step as i64 + 1;
        Ok(())
    }

    /// Whole-network totals of a run's counts: spread populations summed over ranks,
    /// replicated ones (spike sources) counted once.
    pub(super) fn dist_totals(&mut self, spikes: &mut [u64], initial: &mut [u64], events: &mut u64) -> Result<()> {
        let Some(d) = self.dist.as_mut() else { return Ok(()) };
        let rank0 = d.comm.rank() == 0;
        let mut v: Vec<u64> = Vec::with_capacity(2 * spikes.len() + 1);
        for (k, p) in self.pops.iter().enumerate() {
            let keep = p.win.is_some() || rank0;
            v.push(if keep { spikes[k] } else { 0 });
            v.push(if keep { initial[k] } else { 0 });
        }
        v.push(*events);
        d.comm.sum_u64(&mut v)?;
        for k in 0..spikes.len() {
            spikes[k] = v[2 * k];
            initial[k] = v[2 * k + 1];
        }
        *events = v[2 * spikes.len()];
        Ok(())
    }
}
