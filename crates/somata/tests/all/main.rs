//! The integration tests, one module per file, in one test binary: the library's generic
//! kernels are instantiated, optimised and linked once for all of them instead of once per file
//! (31 binaries took about 25 minutes of a 2-core build before; see BENCHMARKS.md, build time).

mod api;
mod checkpoint;
mod common;
mod cond_bptt;
mod conformance;
mod distributed;
mod fused_runner;
mod fuzz_netfile;
mod gap_junction;
mod gate_tables;
mod getting_started;
mod gradients;
mod guards;
mod inputs;
mod io_plot;
mod microcircuit;
mod models;
mod net_bptt;
mod net_delays;
mod net_record;
mod network;
mod new_user;
mod nn;
mod nn_extra;
mod sequential;
mod simd;
mod simd_bptt;
mod sources;
mod surrogates;
mod synapse;
mod toml_inputs;
mod traub;
mod user_neuron;
