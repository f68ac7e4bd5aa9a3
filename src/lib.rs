//! churnwatch: a nightly batch job that scores B2B service accounts for cancellation
//! risk in four stress categories and explains every flag.
//!
//! Layers, lowest first (ARCHITECTURE.md lists them, `tests/layers.rs` enforces
//! them): the domain ([`contract`], [`calendar`], [`vocabulary`], [`evidence`]),
//! [`error`] and [`config`], the stages in pipeline order ([`ingest`] → [`validate`]
//! → [`health`] → [`features`] → [`signals`] (the registry) → [`scoring`] →
//! [`output`] / [`report`] / [`digest`]), the shared
//! [`pipeline`] and [`history`], the commands ([`run`], [`backtest`],
//! [`postmortem`], [`sample`]) and [`cli`].

pub mod backtest;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod contract;
pub mod digest;
pub mod error;
pub mod evidence;
pub mod features;
pub mod health;
pub mod history;
pub mod ingest;
pub mod output;
pub mod overrides;
pub mod pipeline;
pub mod postmortem;
pub mod report;
pub mod run;
pub mod sample;
pub mod scoring;
pub mod signals;
pub mod validate;
pub mod vocabulary;
