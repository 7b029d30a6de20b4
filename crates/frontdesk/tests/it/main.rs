//! Integration tests: the real application on a random port with a fresh database, against
//! SQLite and PostgreSQL. One test binary (fast to link); modules by subject.

mod harness;

mod idempotency;
mod insights;

mod access;
mod auth;
mod browser;
mod browser_chat;
mod business;
mod channels;
mod cli;
mod conversations;
mod isolation;
mod jobs;
mod knowledge;
mod payments;
mod replicas;
mod storage;
mod webdriver;
