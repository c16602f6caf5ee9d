//! Helpers shared by the benchmarks: cargo, the nl6d guard, /proc readers, statistics.

pub mod cargo;
pub mod daemon;
pub mod procfs;
pub mod stats;
