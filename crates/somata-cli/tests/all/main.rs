//! The command-line tests, one module per file, in one test binary.

mod cli;
mod coba_hh;
mod net_stream;
mod netrun;
mod train_plot;
