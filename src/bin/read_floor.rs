//! The `read_floor` binary: the benchmark's floor (issue 5). It owns one measurement:
//! how long polars' own CSV reader needs just to read and parse the eight contract
//! exports of a data folder, with no validation, features, scoring or output. The
//! nightly job cannot be faster than reading its input, so `bench/run.sh` reports the
//! job's time as a multiple of this floor.
//!
//! Schema: by default polars infers each column's type from the first rows, as it
//! likes (integers, floats and booleans become typed columns; dates and datetimes stay
//! strings, since `try_parse_dates` is off and the crate builds polars without its
//! temporal features). `--all-strings` reads every column as String instead, the
//! cheapest full parse (split, unquote, UTF-8 check, copy). Either way every column of
//! every row is parsed: no projection, no row limit.
//!
//! Output on stdout, one line per table then a total, e.g.
//! `table=meetings rows=160120 cols=5 ms=41.7` and `floor total_rows=... total_ms=...`.
//! Not part of the job: nothing in `churnwatch` calls it, and tests and CI do not run it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use polars::prelude::*;

// The contract's exports, in the order the job validates them. File names are the
// defaults of the shipped `config.toml` (`<table>.csv`).
use churnwatch::config::TABLES;

/// Time polars' CSV reader on the contract exports of a data folder (the benchmark's floor).
#[derive(Parser)]
#[command(name = "read_floor", version)]
struct Cli {
    /// Folder holding accounts.csv, meetings.csv, … (as written by `churnwatch sample`).
    data_dir: PathBuf,
    /// Read every column as String instead of letting polars infer types.
    #[arg(long)]
    all_strings: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("read_floor: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    if !cli.data_dir.is_dir() {
        return Err(format!("{}: not a folder", cli.data_dir.display()));
    }
    let mut total_rows = 0usize;
    let started = Instant::now();
    for table in TABLES {
        let path = cli.data_dir.join(format!("{table}.csv"));
        let t0 = Instant::now();
        let frame =
            read_csv(&path, cli.all_strings).map_err(|e| format!("{}: {e}", path.display()))?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        println!(
            "table={table} rows={} cols={} ms={ms:.1}",
            frame.height(),
            frame.width()
        );
        total_rows += frame.height();
    }
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    let schema = if cli.all_strings {
        "strings"
    } else {
        "inferred"
    };
    println!("floor total_rows={total_rows} total_ms={total_ms:.1} schema={schema}");
    Ok(())
}

/// Reads one CSV file fully into a DataFrame with polars' eager reader (multithreaded,
/// all columns). The frame is returned so the parse cannot be optimised away.
fn read_csv(path: &Path, all_strings: bool) -> PolarsResult<DataFrame> {
    // infer_schema_length 0 makes polars type every column as String; the default
    // (Some(100)) infers from the first 100 rows.
    let infer_rows = if all_strings { Some(0) } else { Some(100) };
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(infer_rows)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))?
        .finish()
}
