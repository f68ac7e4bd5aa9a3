//! The nightly job: sequences load → health → scoring → reports → output, with one
//! log line per stage, on the shared pipeline.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::NaiveDate;
use tracing::{info, warn};

use crate::config::Config;
use crate::digest::{ManagerRows, digest_html};
use crate::error::Error;
use crate::features::{Series, Snapshot};
use crate::output::{Outcome, OutputBatch, OutputLock, RunSummary, TableSummary};
use crate::pipeline::{Loaded, check_budget, load, score_as_of};
use crate::report::{
    CompanyTrend, ScoreRow, evidence_csv, manager_file_names, quarantine_csv, score_rows,
    scores_csv, scores_csv_of,
};
use crate::scoring::RiskLevel;
use crate::validate::Table;

/// `trend_28d` compares with the score as of this many days earlier (the contract
/// fixes the column's name, so the span is not configurable).
pub const TREND_DAYS: i64 = 28;
// trend_28d reads the morning view's weekly scores.
const _: () = assert!(TREND_DAYS % (7 * crate::history::COMPANY_STEP_WEEKS as i64) == 0);

fn table_summaries(tables: &[Table]) -> BTreeMap<&'static str, TableSummary> {
    tables
        .iter()
        .map(|t| {
            let mut reasons = BTreeMap::new();
            for q in &t.quarantine {
                *reasons.entry(q.reason.as_str().to_owned()).or_default() += 1;
            }
            let summary = TableSummary {
                file: t.path.clone(),
                encoding: t.encoding.to_owned(),
                rows_read: t.rows_read,
                rows_accepted: t.rows_accepted(),
                rows_quarantined: t.quarantine.len() as u64,
                quarantine_reasons: reasons,
                lines: t.lines,
            };
            assert_eq!(
                summary.rows_read,
                summary.rows_accepted + summary.rows_quarantined,
                "row conservation for {}",
                t.name
            );
            (t.name, summary)
        })
        .collect()
}

/// The nightly run. Writes nothing unless every stage succeeded.
pub fn run(cfg: &Config, as_of: NaiveDate) -> Result<RunSummary, Error> {
    let mut timings = BTreeMap::new();
    let _lock = OutputLock::acquire(&cfg.output_dir)?;

    let t = Instant::now();
    let loaded = load(cfg)?;
    timings.insert("ingest_validate", t.elapsed().as_millis());
    info!(
        elapsed_ms = t.elapsed().as_millis() as u64,
        peak_rss_mb = peak_rss_mb(),
        "loaded"
    );
    let health = crate::health::check(
        cfg,
        &loaded.tables,
        crate::validate::day_number(as_of),
        &crate::output::previous_rows(&cfg.output_dir),
    );
    let scored_despite = judge_health(cfg, &loaded.tables, &health)?;
    if let Err(e) = check_budget(cfg, &loaded.tables) {
        // The operator needs the rejected rows to see what shifted; the last good
        // flagged_accounts.csv and scores.csv stay as they were.
        let mut batch = OutputBatch::in_dir(&cfg.output_dir);
        stage_quarantine(&mut batch, cfg, &loaded.tables)?;
        let summary = RunSummary {
            outcome: Outcome::Error {
                error: e.to_string(),
                exit_code: e.exit_status() as i32,
            },
            health,
            scored_despite_failed_checks: scored_despite,
            ..summary_base(cfg, as_of, &loaded.tables, timings)
        };
        stage_summary(&mut batch, cfg, summary)?;
        batch.commit()?;
        return Err(e);
    }

    let t = Instant::now();
    // Tonight and the company's past weeks (trend_28d, the digest's line) side by
    // side; then the flagged accounts' weeks, which need tonight's flags.
    let (today, full) = std::thread::scope(|scope| {
        let full = scope.spawn(|| crate::history::company_weeks(&loaded, cfg, as_of));
        let today = score_as_of(&loaded, cfg, as_of);
        (today, full.join().expect("scoring does not panic"))
    });
    let (snap, today) = today?;
    if today.is_empty() {
        // Empty outputs would replace good ones: a mistyped year is not a quiet day.
        return Err(nothing_to_score(&loaded, as_of));
    }
    // Stage times stay disjoint (bench/run.sh sums them): tonight with the
    // company's weeks, then the morning view's flagged weeks and the overrides.
    timings.insert("features_scoring", t.elapsed().as_millis());
    let t_morning = Instant::now();
    let mut morning = crate::history::morning(&loaded, cfg, as_of, &today, full?)?;
    // Then what managers said: snoozes and flags in force tonight.
    let mut today = today;
    let overrides = crate::overrides::read(&loaded)?;
    let (mut applied, override_summary) =
        crate::overrides::apply(&loaded, cfg, as_of, &overrides, &mut today)?;
    let earlier = std::mem::take(
        &mut morning.full[TREND_DAYS as usize / 7 / crate::history::COMPANY_STEP_WEEKS - 1],
    );
    timings.insert("morning_view", t_morning.elapsed().as_millis());
    info!(
        as_of = %as_of,
        accounts = snap.accounts.len(),
        team_reply_h = snap.team_reply_h.map_or(f64::NAN, |h| (h * 10.0).round() / 10.0),
        // The team's spread of four-weekly activity (coefficient of variation) as
        // learned, before `activity_cv`'s floor.
        team_activity_cv = team_cv(&snap, Series::Engagement),
        team_message_cv = team_cv(&snap, Series::Messages),
        elapsed_ms = t.elapsed().as_millis() as u64,
        peak_rss_mb = peak_rss_mb(),
        "scored"
    );

    let t = Instant::now();
    let mut rows = score_rows(today, &earlier, &loaded.info);
    for row in &mut rows {
        let acct = row.score.acct;
        let flagged = row.score.level != RiskLevel::Low;
        row.trail = morning.trails.remove(&acct).filter(|_| flagged);
        if let Some(a) = applied.remove(&acct) {
            // A calm account a manager flagged: listed from the first weekly date on
            // or after the day it was flagged, `new` in its first week.
            if let (None, Some(set_on), true) = (&row.trail, a.flag_set_on, flagged) {
                let weeks_ago =
                    ((as_of - set_on).num_days().max(0) / 7).min(crate::report::WEEKS_BACK as i64);
                let since = as_of - chrono::Duration::days(7 * weeks_ago);
                row.trail = Some(crate::report::Trail {
                    flagged_since: since,
                    change: (weeks_ago == 0).then_some(crate::report::Change::New),
                    weekly_risk: vec![None; crate::report::WEEKS_SHOWN - 1]
                        .into_iter()
                        .chain([Some(row.risk_score)])
                        .collect(),
                });
            }
            row.override_cell = Some(a.cell);
            row.first_reason = a.first_reason;
        }
    }
    let mut by_level = BTreeMap::new();
    let mut by_category = BTreeMap::new();
    for row in rows.iter().filter(|r| r.score.level != RiskLevel::Low) {
        *by_level.entry(row.score.level.as_str()).or_default() += 1;
        if let Some(c) = row.score.primary {
            *by_category.entry(c.as_str()).or_default() += 1;
        }
    }
    let flagged: usize = by_level.values().sum();
    let out = &cfg.output_dir;
    // The evidence document is the largest; it is written out on a second core.
    let (documents, evidence) = std::thread::scope(|scope| {
        let evidence = scope.spawn(|| evidence_csv(&rows, &loaded.info, cfg, as_of));
        let documents = [
            (
                "scores.csv",
                scores_csv(&rows, &loaded.info, cfg, as_of, true),
            ),
            (
                "flagged_accounts.csv",
                scores_csv(&rows, &loaded.info, cfg, as_of, false),
            ),
        ];
        (
            documents,
            evidence.join().expect("formatting does not panic"),
        )
    });
    let mut batch = OutputBatch::in_dir(&cfg.output_dir);
    stage_quarantine(&mut batch, cfg, &loaded.tables)?;
    for (name, bytes) in documents {
        batch.stage(&out.join(name), &bytes)?;
    }
    batch.stage(&out.join("evidence.csv"), &evidence)?;
    let managers = stage_morning(&mut batch, cfg, as_of, &rows, &loaded, &morning.company)?;
    timings.insert("output", t.elapsed().as_millis());

    let summary = RunSummary {
        accounts_scored: rows.len(),
        accounts_flagged: flagged,
        flagged_by_level: by_level,
        flagged_by_category: by_category,
        health,
        scored_despite_failed_checks: scored_despite,
        overrides: override_summary,
        ..summary_base(cfg, as_of, &loaded.tables, timings)
    };
    // The summary goes last: its presence with `outcome: ok` means the rest is new.
    let summary = stage_summary(&mut batch, cfg, summary)?;
    batch.commit()?;
    for path in managers {
        match std::fs::remove_file(&path) {
            Ok(()) => {
                info!(file = %path.display(), "removed the file of a manager with no account left")
            }
            Err(e) => {
                warn!(file = %path.display(), error = %e, "could not remove a stale manager file")
            }
        }
    }
    info!(
        scored = summary.accounts_scored,
        flagged = summary.accounts_flagged,
        high = summary.flagged_by_level.get("high").copied().unwrap_or(0),
        medium = summary.flagged_by_level.get("medium").copied().unwrap_or(0),
        output = %out.display(),
        elapsed_ms = t.elapsed().as_millis() as u64,
        "wrote outputs"
    );
    Ok(summary)
}

/// Why no account is active on `as_of`, for the operator.
fn nothing_to_score(loaded: &Loaded, as_of: NaiveDate) -> Error {
    let first_start = loaded
        .frames
        .accounts
        .column("contract_start")
        .ok()
        .and_then(|c| c.i32().ok().and_then(|days| days.iter().flatten().min()))
        .map(crate::validate::date_of_day);
    match first_start {
        Some(first) if as_of < first => Error::NothingToScore {
            as_of,
            why: format!("every contract starts later (the first on {first}); check --as-of"),
            before_every_contract: true,
        },
        _ => Error::NothingToScore {
            as_of,
            why: "every account has started later or churned on or before it (churn_events)"
                .to_owned(),
            before_every_contract: false,
        },
    }
}

fn summary_base(
    cfg: &Config,
    as_of: NaiveDate,
    tables: &[Table],
    timings_ms: BTreeMap<&'static str, u128>,
) -> RunSummary {
    RunSummary {
        as_of: as_of.format("%Y-%m-%d").to_string(),
        version: env!("CARGO_PKG_VERSION"),
        config: cfg.path.clone(),
        config_digest: cfg.digest.clone(),
        language: cfg.language,
        tables: table_summaries(tables),
        accounts_scored: 0,
        accounts_flagged: 0,
        flagged_by_level: BTreeMap::new(),
        flagged_by_category: BTreeMap::new(),
        timings_ms,
        health: BTreeMap::new(),
        scored_despite_failed_checks: Vec::new(),
        outputs: Vec::new(),
        overrides: Default::default(),
        outcome: Outcome::Ok("ok"),
    }
}

/// Logs every warning of the health checks and fails the run on a failed check,
/// unless the operator allowed it; returns the failed checks scored despite.
fn judge_health(
    cfg: &Config,
    tables: &[Table],
    health: &BTreeMap<&'static str, crate::health::TableHealth>,
) -> Result<Vec<String>, Error> {
    use crate::health::Verdict;
    let mut failed = Vec::new();
    for (&name, h) in health {
        let file = tables
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| t.path.as_ref())
            .map_or_else(String::new, |p| p.display().to_string());
        for (check, c) in &h.checks {
            match c.verdict {
                Verdict::Warn => {
                    warn!(table = name, file = %file, check = *check, "{}", c.detail)
                }
                Verdict::Fail => failed.push(format!("{name} `{file}` ({check}): {}", c.detail)),
                Verdict::Ok | Verdict::Skipped => {}
            }
        }
    }
    if failed.is_empty() {
        return Ok(failed);
    }
    if !cfg.allow_stale {
        return Err(Error::Health { problems: failed });
    }
    for f in &failed {
        warn!("scoring despite a failed health check (allow_stale): {f}");
    }
    Ok(failed)
}

/// Every table gets its quarantine file, empty ones included, so a file never shows
/// rows from an earlier run.
fn stage_quarantine(batch: &mut OutputBatch, cfg: &Config, tables: &[Table]) -> Result<(), Error> {
    for table in tables {
        let path = cfg
            .output_dir
            .join("quarantine")
            .join(format!("{}.csv", table.name));
        batch.stage(&path, &quarantine_csv(table))?;
    }
    Ok(())
}

/// Stages each manager's flagged rows (`by_manager/<manager>.csv`, for every manager
/// with an active account) and digest.html; returns the files of managers no longer
/// there, which the run removes once the batch is in place.
fn stage_morning(
    batch: &mut OutputBatch,
    cfg: &Config,
    as_of: NaiveDate,
    rows: &[ScoreRow],
    loaded: &Loaded,
    company: &CompanyTrend,
) -> Result<Vec<std::path::PathBuf>, Error> {
    let info = &loaded.info;
    // Managers by name (accounts without one last), each with their flagged rows by
    // risk as in flagged_accounts.csv.
    let mut by_manager: BTreeMap<(bool, &str), Vec<&ScoreRow>> = BTreeMap::new();
    for row in rows {
        let manager = info.manager[row.score.acct as usize].as_deref();
        let rows = by_manager
            .entry((manager.is_none(), manager.unwrap_or("")))
            .or_default();
        if row.score.level != RiskLevel::Low {
            rows.push(row);
        }
    }
    let names: Vec<Option<&str>> = by_manager
        .keys()
        .map(|&(none, name)| (!none).then_some(name))
        .collect();
    let files = manager_file_names(&names);
    let folder = cfg.output_dir.join("by_manager");
    let mut sections = Vec::with_capacity(files.len());
    for ((manager, rows), file) in names.iter().zip(by_manager.into_values()).zip(&files) {
        batch.stage(
            &folder.join(file),
            &scores_csv_of(&rows, info, cfg, as_of, false),
        )?;
        sections.push(ManagerRows {
            manager: *manager,
            file: format!("by_manager/{file}"),
            rows,
        });
    }
    let html = digest_html(&sections, info, cfg, as_of, company);
    batch.stage(&cfg.output_dir.join("digest.html"), &html)?;
    // Files of managers with no active account left: stale once the batch lands.
    // Compared without case: on a Windows or macOS share `SATO.csv` is `Sato.csv`,
    // and removing it would remove tonight's file.
    let current: std::collections::HashSet<String> =
        files.iter().map(|f| f.to_lowercase()).collect();
    let stale = std::fs::read_dir(&folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "csv")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !current.contains(&n.to_lowercase()))
        })
        .collect();
    Ok(stale)
}

/// Stages run_summary.json last, listing every file staged before it.
fn stage_summary(
    batch: &mut OutputBatch,
    cfg: &Config,
    mut summary: RunSummary,
) -> Result<RunSummary, Error> {
    summary.outputs = batch.manifest(&cfg.output_dir);
    let mut json = serde_json::to_vec_pretty(&summary).expect("summary serialises");
    json.push(b'\n');
    batch.stage(&cfg.output_dir.join("run_summary.json"), &json)?;
    Ok(summary)
}

/// The process's peak resident memory so far, for the stage log lines (Linux; `0`
/// where /proc is not there).
/// The team's coefficient of variation of a series, to two decimals (NaN unknown).
fn team_cv(snap: &Snapshot, series: Series) -> f64 {
    snap.activity_cv2[series as usize].map_or(f64::NAN, |v| (v.sqrt() * 100.0).round() / 100.0)
}

fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb / 1024)
}
