//! The shared pipeline: loading and validating every export once, and scoring every
//! active account as of a date. The nightly run, backtest and post-mortem all stand
//! on it, so what they measure is what runs at night.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::NaiveDate;
use tracing::{info, warn};

use crate::config::{Config, TABLES};
use crate::error::Error;
pub use crate::features::{Cohort, TeamNorms};
use crate::features::{Frames, Snapshot, kpi_periods, snapshot};
use crate::ingest::open_source;
use crate::report::AccountInfo;
use crate::scoring::{AccountScore, score};
use crate::validate::{AccountIndex, ReasonCode, Table, account_index, empty_table, validate};

/// Every validated table of a run, and the frames feature extraction reads.
pub struct Loaded {
    pub tables: Vec<Table>,
    pub frames: Frames,
    pub info: AccountInfo,
    /// The team's norms on any date, from every account's rows.
    pub norms: TeamNorms,
}

fn load_table(
    cfg: &Config,
    name: &'static str,
    index: Option<&AccountIndex>,
) -> Result<Table, Error> {
    let t = Instant::now();
    let table = match cfg.table(name) {
        Some(tc) => match open_source(tc)? {
            Some(source) => validate(source, tc, cfg.time_zone, index)?,
            None => {
                // A missing export is news; a company without overrides or exit
                // interviews yet is not.
                if crate::config::PEOPLE_TABLES.contains(&name) {
                    info!(table = name, path = %tc.path.display(), "optional table absent; no rows");
                } else {
                    warn!(table = name, path = %tc.path.display(), "optional export absent; read as empty");
                }
                empty_table(name)?
            }
        },
        None => empty_table(name)?,
    };
    info!(
        table = name,
        read = table.rows_read,
        accepted = table.rows_accepted(),
        quarantined = table.quarantine.len(),
        encoding = table.encoding,
        frame_mb = table.frame.estimated_size() / 1_000_000,
        elapsed_ms = t.elapsed().as_millis() as u64,
        "validated"
    );
    Ok(table)
}

/// Reads and validates every configured table: accounts first, since the other
/// tables are checked against its ids, then the others in parallel (each file is
/// independent; errors are reported in table order, so the message is stable).
pub fn load(cfg: &Config) -> Result<Loaded, Error> {
    let accounts = load_table(cfg, "accounts", None)?;
    let index = account_index(&accounts)?;
    let rest = &TABLES[1..];
    let slots: Vec<Mutex<Option<Result<Table, Error>>>> =
        rest.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(rest.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&name) = rest.get(i) else { break };
                    let table = load_table(cfg, name, Some(&index));
                    *slots[i].lock().expect("a slot is written once") = Some(table);
                }
            });
        }
    });
    let mut tables = vec![accounts];
    for slot in slots {
        let table = slot.into_inner().expect("a slot is written once");
        tables.push(table.expect("every table was loaded")?);
    }
    let frame = |name: &str| {
        tables
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.frame.clone())
            .expect("every contract table is loaded")
    };
    let frames = Frames {
        accounts: frame("accounts"),
        meetings: frame("meetings"),
        messages: frame("messages"),
        action_items: frame("action_items"),
        study_sessions: frame("study_sessions"),
        invoices: frame("invoices"),
        outcomes: kpi_periods(&frame("outcomes")).map_err(Error::polars("features"))?,
        churn_events: frame("churn_events"),
    };
    let info = AccountInfo::from_frame(&frames.accounts)?;
    let norms = TeamNorms::new(&frames, &cfg.windows)?;
    Ok(Loaded {
        tables,
        frames,
        info,
        norms,
    })
}

/// Fails the run when a table's quarantined share is over the budget: a shifted
/// column must not become a morning of false flags.
pub fn check_budget(cfg: &Config, tables: &[Table]) -> Result<(), Error> {
    for t in tables {
        // A hand-kept table of a few rows would fail the night on one typo; its bad
        // rows are quarantined and named, and the run goes on.
        if crate::config::PEOPLE_TABLES.contains(&t.name) {
            if !t.quarantine.is_empty() {
                warn!(
                    table = t.name,
                    quarantined = t.quarantine.len(),
                    "rows set aside (see quarantine/{}.csv); the others apply",
                    t.name
                );
            }
            continue;
        }
        // Rows of a quarantined account are that account row's fault: they count
        // against the accounts table (which holds the row to fix), not this one.
        let quarantined = t
            .quarantine
            .iter()
            .filter(|q| q.reason != ReasonCode::AccountQuarantined)
            .count() as u64;
        if t.rows_read == 0 || quarantined == 0 {
            continue;
        }
        let share = quarantined as f64 / t.rows_read as f64;
        if share > cfg.max_quarantine_share {
            let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
            for q in &t.quarantine {
                *counts.entry(q.reason.as_str()).or_default() += 1;
            }
            let mut top: Vec<(&str, u64)> = counts.into_iter().collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let example = |code: &str| {
                t.quarantine
                    .iter()
                    .find(|q| q.reason.as_str() == code)
                    .map(|q| format!("line {}: {}", q.line, q.message))
                    .unwrap_or_default()
            };
            let top = top
                .iter()
                .take(3)
                .map(|(code, n)| format!("{code} ×{n} (e.g. {})", example(code)))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::QuarantineBudget {
                table: t.name.to_owned(),
                quarantined,
                read: t.rows_read,
                share: share * 100.0,
                limit: cfg.max_quarantine_share * 100.0,
                top,
            });
        }
    }
    Ok(())
}

/// Scores every account active on `as_of`.
pub fn score_as_of(
    loaded: &Loaded,
    cfg: &Config,
    as_of: NaiveDate,
) -> Result<(Snapshot, Vec<AccountScore>), Error> {
    let snap = snapshot(
        &loaded.frames,
        &loaded.norms,
        &cfg.windows,
        as_of,
        cfg.time_zone,
    )?;
    let scores = snap.accounts.iter().map(|f| score(f, &snap, cfg)).collect();
    Ok((snap, scores))
}

/// Scores of a [`Cohort`] of accounts as of `as_of`: the same as their entries of
/// [`score_as_of`], reading only their rows (and the team's norms).
pub fn score_cohort_as_of(
    cohort: &Cohort,
    cfg: &Config,
    as_of: NaiveDate,
) -> Result<Vec<AccountScore>, Error> {
    let snap = cohort.snapshot(&cfg.windows, as_of, cfg.time_zone)?;
    Ok(snap.accounts.iter().map(|f| score(f, &snap, cfg)).collect())
}
