//! The fused, multi-threaded runner: the reference step loop of [`Network::run`] for networks of
//! event-driven projections onto Expon synapses with COBA or CUBA outputs and constant inputs
//! (the Brette et al. benchmarks and most E/I networks), with the same arithmetic in the same
//! order, so its results are bitwise those of the reference loop.
//!
//! Each of `T` persistent threads owns a contiguous range of every population's neurons. A step
//! is two phases and one barrier:
//! 1. **propagation**: for every projection, the thread walks the spikes of the previous step
//!    (every thread's list of `(index, value)`, ascending) and adds the part of each row whose
//!    postsynaptic indices it owns (a binary search in the sorted row), so no two threads write
//!    the same value and each value receives its contributions in the reference order;
//! 2. **populations**, in chunks of [`CHUNK`] neurons that stay in L1: the input current from
//!    the constant inputs, the Expon decay fused with the COBA/CUBA sums, the neuron step, the
//!    list of the neurons that spiked, and the monitors' samples of those neurons.
//!
//! The spike lists are double-buffered by step parity, so the barrier at the end of a step is
//! the only synchronisation. With one thread the same code runs on the calling thread.

use super::{expon_coba, expon_cuba, for_each_spike, ExtInput, Network, Output, Src, Target};
use crate::dynamics::Clock;
use crate::engine::kernel::SyncPtr;
use crate::error::Result;
use crate::net::{Conn, RangeStep};
use std::cell::UnsafeCell;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Neurons per chunk of the population phase.
const CHUNK: usize = 256;

/// Loads of the barrier's generation before a waiting thread yields its core.
const SPINS: u32 = 1 << 17;

/// Neurons per thread below which another thread does not pay for its barrier.
const MIN_PER_THREAD: usize = 8192;

enum ConstIn {
    All(f32),
    Each(SyncPtr<f32>),
}

enum ChanOut {
    Coba,
    Cuba,
}

struct ChanPlan {
    g: SyncPtr<f32>,
    buf: SyncPtr<f32>,
    /// `[exprel(−dt/τ), dt, τ, E or scale]`
    c: [f32; 4],
    out: ChanOut,
}

struct PopPlan {
    /// Each thread's neurons.
    ranges: Vec<Range<usize>>,
    consts: Vec<ConstIn>,
    has_cond: bool,
    chans: Vec<ChanPlan>,
    spk: SyncPtr<f32>,
}

struct ProjPlan<'a> {
    pre: usize,
    range: Range<u32>,
    post: usize,
    buf: SyncPtr<f32>,
    conn: &'a Conn,
    sorted: bool,
}

enum MonSrc {
    Spike,
    State(usize),
    Cond(SyncPtr<f32>),
}

struct MonPlan {
    pop: usize,
    src: MonSrc,
    every: u64,
    cols: usize,
    /// Dense samples are kept.
    dense: bool,
    /// Spike events: one list of flat `(step, neuron)` pairs per thread, and the mask of the
    /// recorded neurons (`None`: all).
    events: Option<EventPlan>,
    /// The first value of this run's first sample.
    data: SyncPtr<f32>,
    /// Per thread: `(column, neuron)` of the recorded neurons it owns (`None`: every neuron,
    /// column = neuron).
    owned: Option<Vec<Vec<(u32, u32)>>>,
}

/// Per-thread spike event lists (flat `(step, neuron)` pairs) and the mask of recorded neurons.
type EventPlan = (Vec<Slot<Vec<i64>>>, Option<Vec<bool>>);

/// A value written by one thread at a time, with barriers in between; on cache lines of its own
/// (a spike list's length changes with every spike, and two threads' lists must not share a
/// line).
#[repr(align(128))]
struct Slot<T>(UnsafeCell<T>);

/// A value on cache lines of its own.
#[repr(align(128))]
struct Padded<T>(T);

/// The worker's chunk buffers, aligned for the vector loops.
#[repr(C, align(64))]
struct Chunk {
    i: [f32; CHUNK],
    g: [f32; CHUNK],
}
// SAFETY: every access follows the ownership rules of the runner (one writer per slot and
// step, readers only after the barrier that ends the writer's step).
unsafe impl<T: Send> Sync for Slot<T> {}

/// A sense-counting spin barrier for a few threads that meet every few microseconds.
struct Barrier {
    n: usize,
    count: Padded<AtomicUsize>,
    generation: Padded<AtomicUsize>,
    abort: AtomicBool,
}

impl Barrier {
    /// Wait for every thread; `false` when a thread panicked (the others stop too).
    fn wait(&self) -> bool {
        let r#gen = self.generation.0.load(Ordering::Acquire);
        if self.count.0.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            self.count.0.store(0, Ordering::Relaxed);
            self.generation.0.fetch_add(1, Ordering::Release);
            return !self.abort.load(Ordering::Relaxed);
        }
        // A plain load loop, no `pause`: in the test VM a `pause` loop cost coba-4k 2-3x on two
        // vCPUs (likely pause-loop exiting: the hypervisor deschedules the waiting vCPU, and the
        // next step starts microseconds late). After about 100 µs it yields.
        let mut spins = 0u32;
        while self.generation.0.load(Ordering::Acquire) == r#gen {
            if self.abort.load(Ordering::Relaxed) {
                return false;
            }
            spins += 1;
            if spins >= SPINS {
                std::thread::yield_now();
                spins = 0;
            }
        }
        !self.abort.load(Ordering::Relaxed)
    }
}

/// Sets the abort flag when its thread unwinds, so that the others leave their barrier.
struct AbortOnPanic<'a>(&'a AtomicBool);
impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

struct Ctx<'a> {
    threads: usize,
    start: u64,
    clock: Clock,
    pops: Vec<PopPlan>,
    projs: Vec<ProjPlan<'a>>,
    mons: Vec<MonPlan>,
    steppers: Vec<Box<dyn RangeStep + 'a>>,
    /// `[pop][thread][parity]`: the `(index, value)` of the neurons that spiked.
    lists: Vec<Slot<Vec<(u32, f32)>>>,
    barrier: Barrier,
}

impl Ctx<'_> {
    fn list(&self, pop: usize, t: usize, parity: usize) -> *mut Vec<(u32, f32)> {
        self.lists[(pop * self.threads + t) * 2 + parity].0.get()
    }
}

/// Unused counters around a thread's counts, so that they share no cache line with another
/// thread's heap data.
const PAD: usize = 16;

/// What one thread counted (from index [`PAD`] on).
struct Tally {
    spikes: Vec<u64>,
    events: Vec<u64>,
}

/// Samples of a monitor taken before step `s` of a run from step 0: `⌈s / every⌉`.
fn due_before(s: u64, every: u64) -> u64 {
    s.div_ceil(every)
}

/// `SOMATA_REFERENCE=1`: every network on the one-step reference loop (for A/B measurements).
fn reference_from_env() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SOMATA_REFERENCE").is_some_and(|v| v == "1"))
}

impl Network {
    /// The number of threads the fused runner uses for `n` neurons in all: [`Network::threads`]
    /// if set, else `SOMATA_THREADS`, else one per core (at most 8) with at least 8192 neurons
    /// each; `None` when neither is set and that rule gives one thread: the reference loop is
    /// then as fast (coba-4k 61–67 ms either way on the 2-vCPU test machine) or faster
    /// (coba-hh-4k 310 against 345–363 ms: the neuron kernel's set-up per chunk), and below
    /// 8192 neurons per thread a second thread costs more than it saves there (coba-4k 74 ms).
    fn runner_threads(&self, n: usize) -> Option<usize> {
        let want = if self.threads > 0 {
            self.threads
        } else if let Some(t) = std::env::var("SOMATA_THREADS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|&t| t > 0) {
            t
        } else {
            let cores = std::thread::available_parallelism().map_or(1, |c| c.get()).min(8);
            match cores.min(n / MIN_PER_THREAD) {
                0 | 1 => return None,
                t => t,
            }
        };
        Some(want.clamp(1, 64))
    }

    /// Whether the fused runner reproduces this network: event-driven projections into Expon
    /// synapses with COBA/CUBA outputs, constant inputs, no gap junctions, delta inputs,
    /// delays, STP or divergence check.
    fn fused_eligible(&mut self) -> bool {
        if self.dist.is_some()
            || self.pops.iter().any(|p| p.win.is_some())
            || self.reference
            || self.check_finite
            || !self.gaps.is_empty()
            || reference_from_env()
        {
            return false;
        }
        if !self.projs.iter().all(|p| p.fast && !p.same_step && matches!(p.target, Target::Channel(_))) {
            return false;
        }
        if !self.monitors.iter().all(|m| matches!(m.src, Src::Spike | Src::State(_) | Src::ChanG(_))) {
            return false;
        }
        self.pops.iter_mut().all(|p| {
            p.deltas.is_empty()
                && p.inputs.iter().all(|i| matches!(i, ExtInput::Constant(_)))
                && p.channels.iter_mut().all(|c| {
                    matches!(c.out, Output::Coba { .. } | Output::Cuba { .. }) && c.syn.as_mut().is_some_and(|s| s.as_expon_mut().is_some())
                })
        })
    }

    /// Run `steps` steps on the fused runner: `Ok(Some(threads))`, or `Ok(None)` (nothing done)
    /// when the network does not qualify.
    pub(super) fn run_fused(&mut self, steps: usize, progress: &mut dyn FnMut(usize)) -> Result<Option<usize>> {
        if steps == 0 || !self.fused_eligible() {
            return Ok(None);
        }
        let total: usize = self.pops.iter().map(|p| p.pop.n()).sum();
        let Some(threads) = self.runner_threads(total) else {
            return Ok(None);
        };
        let clock = self.clock;
        let start = clock.step();
        let dt = clock.dt_ms() as f32;

        // plans: raw pointers into the network's buffers, taken before the steppers borrow
        let mut pops = Vec::with_capacity(self.pops.len());
        for p in &mut self.pops {
            let n = p.pop.n();
            let ranges = split(n, threads);
            let consts = p
                .inputs
                .iter_mut()
                .map(|i| match i {
                    ExtInput::Constant(v) if v.len() == 1 => ConstIn::All(v[0]),
                    ExtInput::Constant(v) => ConstIn::Each(SyncPtr(v.as_mut_ptr())),
                    _ => unreachable!("checked by fused_eligible"),
                })
                .collect();
            let chans = p
                .channels
                .iter_mut()
                .map(|ch| {
                    let ex = ch.syn.as_mut().and_then(|s| s.as_expon_mut()).expect("checked by fused_eligible");
                    let tau = ex.tau as f32;
                    let k = crate::dynamics::Scalar::exprel(dt * (-1.0 / tau));
                    let (out, last) = match ch.out {
                        Output::Coba { e } => (ChanOut::Coba, e as f32),
                        Output::Cuba { scale } => (ChanOut::Cuba, scale as f32),
                        Output::MgBlock { .. } => unreachable!("checked by fused_eligible"),
                    };
                    ChanPlan { g: SyncPtr(ex.g.as_mut_ptr()), buf: SyncPtr(ch.buf.as_mut_ptr()), c: [k, dt, tau, last], out }
                })
                .collect();
            pops.push(PopPlan { ranges, consts, has_cond: p.has_cond, chans, spk: SyncPtr(p.spk.as_mut_ptr()) });
        }
        let mut projs = Vec::with_capacity(self.projs.len());
        for pr in &self.projs {
            let Target::Channel(c) = pr.target else { unreachable!("checked by fused_eligible") };
            projs.push(ProjPlan {
                pre: pr.pre,
                range: pr.range.start as u32..pr.range.end as u32,
                post: pr.post,
                buf: pops[pr.post].chans[c].buf,
                conn: &pr.conn,
                sorted: pr.conn.rows_sorted(),
            });
        }
        let mut mons = Vec::with_capacity(self.monitors.len());
        for m in &mut self.monitors {
            let p = &mut self.pops[m.pop];
            let n = p.pop.n();
            let every = m.every as u64;
            let new = (due_before(start + steps as u64, every) - due_before(start, every)) as usize;
            let cols = m.neurons.as_ref().map_or(n, |v| v.len());
            let at = m.data.len();
            if m.dense {
                m.data.resize(at + new * cols, 0.0);
            }
            let src = match &m.src {
                Src::Spike => MonSrc::Spike,
                Src::State(s) => {
                    let names = p.pop.state_names();
                    MonSrc::State(names.iter().position(|x| x == s).expect("checked when the monitor was added"))
                }
                Src::ChanG(c) => MonSrc::Cond(pops[m.pop].chans[*c].g),
                _ => unreachable!("checked by fused_eligible"),
            };
            let owned = m.neurons.as_ref().map(|ix| {
                pops[m.pop]
                    .ranges
                    .iter()
                    .map(|r| ix.iter().enumerate().filter(|&(_, &j)| r.contains(&j)).map(|(c, &j)| (c as u32, j as u32)).collect())
                    .collect()
            });
            let events = m.events.then(|| ((0..threads).map(|_| Slot(UnsafeCell::new(Vec::new()))).collect(), m.mask.clone()));
            if m.dense {
                m.samples += new;
            }
            // SAFETY (of the pointer's later use): `data` holds `new` samples from `at` when dense
            let data = SyncPtr(if m.dense { m.data[at..].as_mut_ptr() } else { std::ptr::null_mut() });
            mons.push(MonPlan { pop: m.pop, src, every, cols, dense: m.dense, events, data, owned });
        }
        // spike lists: the previous step's spikes (the initial state's at step 0) in parity 1
        let mut lists = Vec::with_capacity(self.pops.len() * threads * 2);
        for (p, plan) in self.pops.iter().zip(&pops) {
            for r in &plan.ranges {
                let prev: Vec<(u32, f32)> =
                    p.active.iter().filter(|&&i| r.contains(&(i as usize))).map(|&i| (i, p.spk[i as usize])).collect();
                lists.push(Slot(UnsafeCell::new(Vec::with_capacity(r.len()))));
                let mut v = Vec::with_capacity(r.len());
                v.extend_from_slice(&prev);
                lists.push(Slot(UnsafeCell::new(v)));
            }
        }
        let npops = self.pops.len();
        let mut steppers = Vec::with_capacity(npops);
        for p in &mut self.pops {
            match p.pop.range_stepper(&clock)? {
                Some(s) => steppers.push(s),
                None => return Ok(None),
            }
        }
        let mut ctx = Ctx {
            threads,
            start,
            clock,
            pops,
            projs,
            mons,
            steppers,
            lists,
            barrier: Barrier {
                n: threads,
                count: Padded(AtomicUsize::new(0)),
                generation: Padded(AtomicUsize::new(0)),
                abort: AtomicBool::new(false),
            },
        };
        let tallies: Vec<Tally> = if threads == 1 {
            vec![worker(&ctx, 0, steps, Some(progress))]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (1..threads)
                    .map(|t| {
                        s.spawn({
                            let ctx = &ctx;
                            move || worker(ctx, t, steps, None)
                        })
                    })
                    .collect();
                let mut all = vec![worker(&ctx, 0, steps, Some(progress))];
                for h in handles {
                    all.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
                }
                all
            })
        };
        // spike events: each thread's are in step order; merged by (step, neuron)
        for (m, plan) in self.monitors.iter_mut().zip(ctx.mons.iter_mut()) {
            if let Some((lists, _)) = plan.events.as_mut() {
                let mut pairs: Vec<[i64; 2]> = Vec::new();
                for l in lists.iter_mut() {
                    pairs.extend(l.0.get_mut().chunks_exact(2).map(|c| [c[0], c[1]]));
                }
                pairs.sort_unstable();
                m.n_events += pairs.len() as u64;
                m.ev.extend(pairs.iter().flatten());
            }
        }
        let last = (steps - 1) & 1;
        let mut actives: Vec<Vec<u32>> = Vec::with_capacity(npops);
        for (pi, plan) in ctx.pops.iter().enumerate() {
            let mut a = Vec::new();
            for t in 0..plan.ranges.len() {
                // SAFETY: the workers have finished.
                a.extend(unsafe { &*ctx.list(pi, t, last) }.iter().map(|&(i, _)| i));
            }
            actives.push(a);
        }
        drop(ctx);
        for (pi, p) in self.pops.iter_mut().enumerate() {
            p.active = std::mem::take(&mut actives[pi]);
            p.count += tallies.iter().map(|t| t.spikes[PAD + pi]).sum::<u64>();
            p.pop.mark_steps(start, steps);
        }
        for (q, pr) in self.projs.iter_mut().enumerate() {
            pr.events += tallies.iter().map(|t| t.events[PAD + q]).sum::<u64>();
        }
        self.clock.set_step(start + steps as u64);
        Ok(Some(threads))
    }
}

/// `n` split into `t` contiguous ranges, their boundaries multiples of 64 where possible.
fn split(n: usize, t: usize) -> Vec<Range<usize>> {
    let per = n.div_ceil(t).next_multiple_of(64);
    (0..t).map(|k| (k * per).min(n)..((k + 1) * per).min(n)).collect()
}

/// Thread `t`'s part of `steps` steps.
fn worker(ctx: &Ctx<'_>, t: usize, steps: usize, mut progress: Option<&mut dyn FnMut(usize)>) -> Tally {
    let _guard = AbortOnPanic(&ctx.barrier.abort);
    // counted in locals of this thread (no line shared with another thread's counts)
    let mut tally = Tally { spikes: vec![0; ctx.pops.len() + 2 * PAD], events: vec![0; ctx.projs.len() + 2 * PAD] };
    let mut buf = Box::new(Chunk { i: [0.0; CHUNK], g: [0.0; CHUNK] });
    let Chunk { i: ib, g: gb } = &mut *buf;
    let mut clock = ctx.clock;
    for k in 0..steps {
        let step = ctx.start + k as u64;
        clock.set_step(step);
        let (wpar, rpar) = (k & 1, (k + 1) & 1);
        // 1. projections: the previous step's spikes, the rows' part this thread owns
        for (q, pr) in ctx.projs.iter().enumerate() {
            let own = &ctx.pops[pr.post].ranges[t];
            if own.is_empty() {
                continue;
            }
            let mut ev = 0;
            for s in 0..ctx.threads {
                // SAFETY: thread `s` wrote this list during the previous step, before the barrier.
                let list = unsafe { &*ctx.list(pr.pre, s, rpar) };
                for &(i, v) in list {
                    if pr.range.contains(&i) {
                        // SAFETY: this thread alone writes `own` of the post population's buffers.
                        ev += unsafe {
                            pr.conn.propagate_row_part((i - pr.range.start) as usize, v, pr.buf.0, own.start, own.end, pr.sorted)
                        };
                    }
                }
            }
            tally.events[PAD + q] += ev as u64;
        }
        // 2. populations, chunk by chunk
        for (pi, pp) in ctx.pops.iter().enumerate() {
            let own = pp.ranges[t].clone();
            // SAFETY: this thread alone writes its list of this parity during this step.
            let list = unsafe { &mut *ctx.list(pi, t, wpar) };
            list.clear();
            let stepper = &ctx.steppers[pi];
            let mut a = own.start;
            while a < own.end {
                let len = CHUNK.min(own.end - a);
                let i = &mut ib[..len];
                i.iter_mut().for_each(|x| *x = 0.0);
                for c in &pp.consts {
                    match c {
                        ConstIn::All(v) => i.iter_mut().for_each(|x| *x += v),
                        // SAFETY: `len` values from `a` of the input's `n`.
                        ConstIn::Each(p) => {
                            i.iter_mut().zip(unsafe { std::slice::from_raw_parts(p.0.add(a), len) }).for_each(|(x, c)| *x += c)
                        }
                    }
                }
                let g = &mut gb[..len];
                if pp.has_cond {
                    g.iter_mut().for_each(|x| *x = 0.0);
                }
                for ch in &pp.chans {
                    // SAFETY: this thread alone touches elements `a..a + len` of its population.
                    let (gs, buf) = unsafe {
                        (std::slice::from_raw_parts_mut(ch.g.0.add(a), len), std::slice::from_raw_parts_mut(ch.buf.0.add(a), len))
                    };
                    match ch.out {
                        ChanOut::Coba => expon_coba(gs, buf, i, g, ch.c),
                        ChanOut::Cuba => expon_cuba(gs, buf, i, ch.c),
                    }
                }
                // SAFETY: as above.
                let spk = unsafe { std::slice::from_raw_parts_mut(pp.spk.0.add(a), len) };
                // SAFETY: disjoint ranges per thread.
                unsafe { stepper.step(&clock, a, len, i, if pp.has_cond { Some(g) } else { None }, spk) };
                for_each_spike(spk, |j, v| list.push(((a + j) as u32, v)));
                a += len;
            }
            tally.spikes[PAD + pi] += list.len() as u64;
            for m in ctx.mons.iter().filter(|m| m.pop == pi && step.is_multiple_of(m.every)) {
                if let Some((lists, mask)) = &m.events {
                    // SAFETY: this thread alone writes its event list during the run.
                    let ev = unsafe { &mut *lists[t].0.get() };
                    for &(j, _) in list.iter() {
                        if mask.as_ref().is_none_or(|mk| mk[j as usize]) {
                            ev.extend_from_slice(&[step as i64, j as i64]);
                        }
                    }
                }
                if !m.dense {
                    continue;
                }
                let row = (due_before(step, m.every) - due_before(ctx.start, m.every)) as usize;
                let src: *const f32 = match &m.src {
                    MonSrc::Spike => pp.spk.0,
                    MonSrc::State(j) => stepper.state_ptr(*j),
                    MonSrc::Cond(g) => g.0,
                };
                // SAFETY: the sample row exists (sized before the run); this thread writes only
                // the columns of the neurons it owns, and reads only those.
                unsafe {
                    let dst = m.data.0.add(row * m.cols);
                    match &m.owned {
                        None => std::ptr::copy_nonoverlapping(src.add(own.start), dst.add(own.start), own.len()),
                        Some(o) => {
                            for &(c, j) in &o[t] {
                                *dst.add(c as usize) = *src.add(j as usize);
                            }
                        }
                    }
                }
            }
        }
        if let Some(p) = progress.as_mut()
            && (k + 1) % 1000 == 0
        {
            p(k + 1);
        }
        if ctx.threads > 1 && !ctx.barrier.wait() {
            break;
        }
    }
    tally
}
