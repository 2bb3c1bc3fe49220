//! `somata run`: the main job.
use clap::Args;

#[derive(Args)]
pub struct RunArgs {}

pub fn run(_a: &RunArgs) -> Result<(), String> {
    Err("not yet".into())
}
