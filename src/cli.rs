//! Command line: flags, subcommands, logging set-up and the mapping of results to exit
//! codes. `main.rs` only calls [`main`].

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use tracing::error;

use crate::config::Config;
use crate::error::{EXIT_CODES_HELP, Error, ExitStatus};
use crate::signals::Signal;

#[derive(Debug, Parser)]
#[command(
    name = "churnwatch",
    version,
    about = "Flags B2B service accounts that are about to cancel, and says why.",
    long_about = "Flags B2B service accounts that are about to cancel, and says why.\n\n\
        Scores every active account in the CRM exports against four stress categories \
        (outcome, expectation, discomfort, cost) and writes flagged_accounts.csv for \
        account managers, scores.csv, evidence.csv (every finding behind the scores), \
        digest.html (the morning page: the company, then a section per manager), \
        by_manager/<manager>.csv (each manager's flagged rows), run_summary.json and \
        quarantine/ for rejected rows.",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    /// Log only warnings and errors (stage lines are at info level).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Score every active account as of a date and write the outputs (the nightly job):
    /// flagged_accounts.csv, scores.csv, evidence.csv, digest.html, by_manager/*.csv,
    /// quarantine/*.csv and run_summary.json, as one batch.
    #[command(after_help = EXIT_CODES_HELP)]
    Run {
        #[command(flatten)]
        common: Common,
        /// Score as of this date (YYYY-MM-DD); only data dated on or before it counts.
        /// Default: today in the configured time zone.
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<NaiveDate>,
        /// Score even when an input fails a health check (stale, cut off, far smaller
        /// than usual); run_summary.json then lists the failed checks it scored
        /// despite. Same as `run.allow_stale = true` for one run.
        #[arg(long)]
        allow_stale: bool,
    },
    /// Replay the scoring as of past dates and measure it against the cancellations
    /// that followed (lead time, precision, alert load, calibration). Writes
    /// backtest.csv to the output folder and prints a table.
    #[command(after_help = EXIT_CODES_HELP)]
    Backtest {
        #[command(flatten)]
        common: Common,
        /// First replayed date.
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: NaiveDate,
        /// Last replayed date.
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: NaiveDate,
        /// Days between replayed dates, as `7d` or `7`.
        #[arg(long, value_name = "DAYS", default_value = "7d", value_parser = parse_step)]
        step: i64,
    },
    /// For every past cancellation: the stated reason beside the stress the data
    /// showed in the 90 days before. Writes postmortem.csv, postmortem_crosstab.csv and
    /// postmortem.txt (in the configured language) and prints the text.
    #[command(after_help = EXIT_CODES_HELP)]
    Postmortem {
        #[command(flatten)]
        common: Common,
        /// Cancellations up to this date (default: today in the configured time zone).
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<NaiveDate>,
    },
    /// List every signal: its category, what it measures, how it is judged, the
    /// windows it reads and its weight, start and full in the config (markdown).
    #[command(after_help = EXIT_CODES_HELP)]
    Signals {
        #[command(flatten)]
        common: Common,
    },
    /// Write realistic sample exports (and a ground-truth file outside them).
    #[command(after_help = EXIT_CODES_HELP)]
    Sample {
        /// Seed of the generator: the same seed gives byte-identical files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of accounts.
        #[arg(long, default_value_t = 300)]
        accounts: usize,
        /// Last day of generated history (the sample's "today").
        #[arg(long, value_name = "YYYY-MM-DD", default_value = "2026-11-20")]
        end: NaiveDate,
        /// Months of history.
        #[arg(long, default_value_t = 18)]
        months: u32,
        /// Folder for the CSV exports.
        #[arg(long, value_name = "DIR", default_value = "data")]
        out: PathBuf,
        /// Ground-truth file (scenario per account); keep it outside the data folder.
        #[arg(long, value_name = "FILE", default_value = "truth/sample_truth.csv")]
        truth: PathBuf,
        /// Vary what real exports vary: sparse, medium and dense accounts, each
        /// account's own KPI spread, the New Year, Golden Week and Obon weeks,
        /// clients writing in phases, price revisions and extra invoices.
        #[arg(long)]
        varied: bool,
        /// With --varied: the widest spread (log scale) of an account's four-weekly
        /// message rate; each account's own is drawn from 0 to this. Larger makes
        /// clients burstier than the exports the thresholds were chosen on.
        #[arg(long, value_name = "MAX", default_value_t = crate::sample::PHASE_SPREAD, requires = "varied")]
        phase_spread: f64,
        /// With --varied: the widest month-to-month spread of an account's KPI
        /// attainment (0.15 is ±15%); each account's own is drawn from 0 to this.
        #[arg(long, value_name = "MAX", default_value_t = crate::sample::KPI_NOISE, requires = "varied")]
        kpi_noise: f64,
    },
}

/// Flags every data command takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Configuration file; relative folders in it resolve against its own folder.
    #[arg(long, value_name = "PATH", default_value = "config.toml")]
    pub config: PathBuf,
    /// Folder of the CRM exports (overrides run.input_dir).
    #[arg(long, value_name = "DIR")]
    pub input_dir: Option<PathBuf>,
    /// Folder for the outputs (overrides run.output_dir).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

impl Common {
    fn load(&self) -> Result<Config, Error> {
        Ok(Config::load(&self.config, &Signal::keys())?
            .with_dirs(self.input_dir.clone(), self.output_dir.clone()))
    }
}

/// Report text on stdout; a closed pipe (`| head`) is not a crash: the files were
/// already written.
fn print_text(text: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Output {
            path: "<stdout>".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn parse_step(s: &str) -> Result<i64, String> {
    let n: i64 = s
        .strip_suffix('d')
        .unwrap_or(s)
        .parse()
        .map_err(|_| format!("expected a number of days such as `7d`, found `{s}`"))?;
    if (1..=366).contains(&n) {
        Ok(n)
    } else {
        Err(format!("expected 1 to 366 days, found {n}"))
    }
}

fn today_in(cfg: &Config) -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&cfg.time_zone)
        .date_naive()
}

/// Runs a parsed command line. Callable in-process from tests: no `process::exit`.
pub fn execute(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run {
            common,
            as_of,
            allow_stale,
        } => {
            let mut cfg = common.load()?;
            cfg.allow_stale |= allow_stale;
            let as_of = as_of.unwrap_or_else(|| today_in(&cfg));
            crate::run::run(&cfg, as_of).map(|_| ())
        }
        Command::Backtest {
            common,
            from,
            to,
            step,
        } => {
            if from > to {
                return Err(Error::Usage(format!("--from {from} is after --to {to}")));
            }
            let cfg = common.load()?;
            let report = crate::backtest::command(&cfg, from, to, step)?;
            print_text(&report.text)
        }
        Command::Postmortem { common, as_of } => {
            let cfg = common.load()?;
            let as_of = as_of.unwrap_or_else(|| today_in(&cfg));
            print_text(&crate::postmortem::command(&cfg, as_of)?)
        }
        Command::Signals { common } => print_text(&crate::signals::table(&common.load()?)),
        Command::Sample {
            seed,
            accounts,
            end,
            months,
            out,
            truth,
            varied,
            phase_spread,
            kpi_noise,
        } => {
            for (flag, value, max) in [
                ("--phase-spread", phase_spread, 2.0),
                ("--kpi-noise", kpi_noise, 1.0),
            ] {
                if !(value > 0.0 && value <= max) {
                    return Err(Error::Usage(format!(
                        "{flag} must be above 0 and at most {max}, not {value}"
                    )));
                }
            }
            let opts = crate::sample::SampleOptions {
                varied,
                phase_spread,
                kpi_noise,
                seed,
                accounts,
                end,
                months,
                out_dir: out.clone(),
                truth_path: truth,
            };
            let summary = crate::sample::generate(&opts)
                .map_err(|source| Error::Output { path: out, source })?;
            tracing::info!(
                accounts = summary.accounts,
                rows = summary.rows_written,
                "sample written"
            );
            Ok(())
        }
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout with exit 0, usage errors with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                ExitStatus::Usage as u8
            } else {
                ExitStatus::Ok as u8
            });
        }
    };
    let level = if cli.quiet {
        tracing::Level::WARN
    } else {
        tracing::Level::INFO
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    // A panic is a bug: the hook has printed it; cron sees the documented code 1.
    match std::panic::catch_unwind(|| execute(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            error!("{e}");
            ExitCode::from(e.exit_status() as u8)
        }
        Err(_) => ExitCode::from(ExitStatus::Internal as u8),
    }
}
