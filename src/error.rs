//! The run's typed errors and the exit codes cron sees for them.
//!
//! Errors are typed where the caller branches on them (the exit code); the message
//! names the file, line, column or config key that an operator has to look at.

use std::path::PathBuf;

use thiserror::Error;

/// Exit codes: a documented contract (README, `--help`), each produced by a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Ok = 0,
    Internal = 1,
    Usage = 2,
    Input = 3,
    QuarantineBudget = 4,
    Output = 5,
    Locked = 6,
    Health = 7,
}

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success: outputs written
  1  internal error or panic (a bug: please report it with the log)
  2  usage or configuration error (bad flag, unreadable config, unknown key, bad
     value, an --as-of before every contract); nothing is written
  3  input error (missing, empty or header-only export, missing required column, no
     usable or no active account rows, undecodable file); nothing is written
  4  quarantine budget exceeded: a table has too many bad rows; only quarantine/
     and run_summary.json are written, the last good scores stay
  5  output error: the output folder cannot be written; previous outputs are intact
  6  another churnwatch run holds the output folder's lock
  7  an input failed a health check (stale, cut off, or far smaller than usual);
     nothing is scored or replaced (--allow-stale scores anyway)";

#[derive(Debug, Error)]
pub enum Error {
    #[error("cannot read config `{path}`: {source}")]
    ConfigRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config `{}`:\n  - {}", path.display(), problems.join("\n  - "))]
    Config {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("{0}")]
    Usage(String),
    #[error("missing {table} export `{}` (mark the table `optional = true` in the config if it is not exported)", path.display())]
    MissingFile { table: String, path: PathBuf },
    #[error("cannot read {table} export `{}`: {source}", path.display())]
    ReadFile {
        table: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{table} export `{}` is missing required column `{column}` (found: {found}; map a header to it with tables.{table}.rename)", path.display())]
    MissingColumn {
        table: String,
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("{table} export `{}`: {message}", path.display())]
    BadFile {
        table: String,
        path: PathBuf,
        message: String,
    },
    #[error("accounts export `{}` has no usable account rows", path.display())]
    EmptyAccounts { path: PathBuf },
    #[error(
        "quarantine budget exceeded: {table} has {quarantined} of {read} rows quarantined ({share:.1}%, limit {limit:.1}% = run.max_quarantine_share); top reasons: {top}"
    )]
    QuarantineBudget {
        table: String,
        quarantined: u64,
        read: u64,
        share: f64,
        limit: f64,
        top: String,
    },
    #[error("cannot write output `{}`: {source}", path.display())]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another churnwatch run is using `{}` (lock file `{}`); try again when it has finished", dir.display(), lock.display())]
    Locked { dir: PathBuf, lock: PathBuf },
    #[error(
        "no account is active on {as_of}: {why}; nothing was scored and the previous outputs stay"
    )]
    NothingToScore {
        as_of: chrono::NaiveDate,
        why: String,
        /// The date is before every contract: a mistyped `--as-of`, not the data.
        before_every_contract: bool,
    },
    #[error("input health check failed; nothing was scored and the previous outputs stay:\n  - {}", problems.join("\n  - "))]
    Health { problems: Vec<String> },
    #[error("internal error in {stage}: {message}")]
    Internal {
        stage: &'static str,
        message: String,
    },
}

impl Error {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::ConfigRead { .. } | Error::Config { .. } | Error::Usage(_) => ExitStatus::Usage,
            Error::NothingToScore {
                before_every_contract: true,
                ..
            } => ExitStatus::Usage,
            Error::NothingToScore { .. } => ExitStatus::Input,
            Error::MissingFile { .. }
            | Error::ReadFile { .. }
            | Error::MissingColumn { .. }
            | Error::BadFile { .. }
            | Error::EmptyAccounts { .. } => ExitStatus::Input,
            Error::QuarantineBudget { .. } => ExitStatus::QuarantineBudget,
            Error::Output { .. } => ExitStatus::Output,
            Error::Locked { .. } => ExitStatus::Locked,
            Error::Health { .. } => ExitStatus::Health,
            Error::Internal { .. } => ExitStatus::Internal,
        }
    }

    /// Polars failures are bugs in churnwatch, not in the data: the data was validated.
    pub fn polars(stage: &'static str) -> impl FnOnce(polars::error::PolarsError) -> Error {
        move |e| Error::Internal {
            stage,
            message: e.to_string(),
        }
    }
}
