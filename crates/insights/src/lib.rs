//! Frontdesk insights: a strictly online anomaly detector for tenant metrics and the
//! Numenta Anomaly Benchmark (NAB) scorer used to measure it.
//!
//! - [`detector`]: one [`Detector`] per metric; feed it `(timestamp, value)` in time order and
//!   compare [`Observation::score`] with the tenant's sensitivity threshold.
//! - [`nab`]: the NAB scoring rules and a corpus runner.
#![forbid(unsafe_code)]

pub mod detector;
pub mod nab;

pub use detector::{Detector, DetectorParams, Observation};
pub use nab::{run_corpus, score_corpus, NabError, NabReport};
