//! churnwatch: a nightly batch job that scores B2B service accounts for cancellation
//! risk in four stress categories and explains every flag.
//!
//! The pipeline, one module per stage: [`cli`] → [`config`] → [`ingest`] →
//! [`validate`] → [`features`] → [`scoring`] → [`report`] / [`output`], sequenced by
//! [`run`]. See ARCHITECTURE.md.

pub mod backtest;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod error;
pub mod evidence;
pub mod features;
pub mod health;
pub mod history;
pub mod ingest;
pub mod output;
pub mod postmortem;
pub mod report;
pub mod run;
pub mod sample;
pub mod scoring;
pub mod validate;
