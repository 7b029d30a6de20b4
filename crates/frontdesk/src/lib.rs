//! The Frontdesk binary's library: configuration, wiring, the server and the CLI commands.
//! A library so that integration tests and benchmarks start the very same application.
#![forbid(unsafe_code)]

pub mod app;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod serve;
