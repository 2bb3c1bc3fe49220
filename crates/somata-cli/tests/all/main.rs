//! The command-line tests, one module per file, in one test binary.

mod cli;
mod coba_hh;
mod netrun;
mod train_plot;
