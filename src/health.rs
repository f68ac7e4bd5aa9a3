//! Input health checks before scoring: is each export fresh, whole and about as large
//! as usual? A stale, cut-off or shrunken export would otherwise make every account
//! look quiet and flag the whole book (the checks dbt calls source freshness and data
//! teams call volume checks).
//!
//! Every limit follows the table's own cadence, learned from its dates in the year
//! before the as-of date and counted in business days ([`crate::calendar`]), so
//! daily messages go stale in days and monthly invoices in weeks, and New Year,
//! Golden Week and Obon never look like a failed export. `[tables.NAME]` can fix the
//! freshness limits instead.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::calendar::{business_days_between, touches_holiday_week};
use crate::config::{Config, TableConfig};
use crate::validate::{Table, col, date_of_day};

/// A check's outcome. `Fail` stops the run (exit 7) unless the operator allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Skipped,
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub verdict: Verdict,
    pub detail: String,
}

impl Check {
    fn new(verdict: Verdict, detail: impl Into<String>) -> Check {
        Check {
            verdict,
            detail: detail.into(),
        }
    }
}

/// What the checks found for one table (run_summary.json's `health`).
#[derive(Debug, Clone, Serialize, Default)]
pub struct TableHealth {
    /// The newest dated row on or before the as-of date.
    pub newest: Option<String>,
    /// Business days from `newest` to the as-of date.
    pub stale_business_days: Option<i64>,
    /// The table's usual business days between dated rows (95th percentile).
    pub cadence_business_days: Option<i64>,
    pub warn_after_business_days: Option<i64>,
    pub fail_after_business_days: Option<i64>,
    /// Rows dated in the 7 days up to the as-of date, and the median of the eight
    /// 7-day spans before them.
    pub rows_last_7d: Option<u64>,
    pub usual_rows_per_7d: Option<f64>,
    pub checks: BTreeMap<&'static str, Check>,
}

impl TableHealth {
    pub fn worst(&self) -> Verdict {
        self.checks
            .values()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Verdict::Skipped)
    }
}

/// The column whose date says how current a table is; `None` for tables that are not
/// a stream of dated activity (accounts, and churn_events, which is history).
pub fn dated_column(table: &str) -> Option<String> {
    Some(match table {
        "meetings" => format!("scheduled_at{}", col::DAY_SUFFIX),
        "messages" => format!("received_at{}", col::DAY_SUFFIX),
        "action_items" => "promised_on".to_owned(),
        "study_sessions" => "session_date".to_owned(),
        "invoices" => "issued_on".to_owned(),
        "outcomes" => "period_end".to_owned(),
        _ => return None,
    })
}

/// What a stale export's message tells the operator to do.
const STOPPED: &str =
    "the export has stopped; fix it, or run with --allow-stale to score knowingly";

/// Fewest distinct dated days in the last year that make a cadence.
const MIN_DAYS_FOR_CADENCE: usize = 8;
/// Fewest rows in a usual week for a drop in volume to mean anything.
const MIN_USUAL_ROWS: f64 = 14.0;
/// Tables dated at most this many business days apart are checked for volume.
const DAILY_CADENCE: i64 = 2;

/// The previous run's row counts, by table, from its run_summary.json (a file that
/// shrank since is an export that failed half-way, even when its last line is whole).
pub type PreviousRows = BTreeMap<String, (std::path::PathBuf, u64, String)>;

/// Checks every loaded table as of `as_day` (days since 1970-01-01).
pub fn check(
    cfg: &Config,
    tables: &[Table],
    as_day: i32,
    previous: &PreviousRows,
) -> BTreeMap<&'static str, TableHealth> {
    // Accounts old enough to have rows in every daily table by now.
    let seasoned: Vec<bool> = tables
        .iter()
        .find(|t| t.name == "accounts")
        .and_then(|t| t.frame.column("contract_start").ok()?.i32().ok().cloned())
        .map(|starts| {
            starts
                .iter()
                .map(|s| s.is_some_and(|s| s <= as_day - SEASONED_DAYS))
                .collect()
        })
        .unwrap_or_default();
    tables
        .iter()
        .filter(|t| !crate::config::PEOPLE_TABLES.contains(&t.name))
        .map(|t| {
            let h = check_table(cfg.table(t.name), t, as_day, previous, &seasoned);
            (t.name, h)
        })
        .collect()
}

/// An account this old has had time to leave rows in every daily table.
const SEASONED_DAYS: i32 = 90;

/// Each account's rows in a table every client has (meetings, messages): any at
/// all, and bit k of `weeks` for a row in the k-th 7-day span back from the as-of
/// date (k = 0..=4). Indexed by `acct`.
struct Coverage {
    any: Vec<bool>,
    weeks: Vec<u8>,
}

/// Per-account coverage of a daily table, as warnings (a partial export is likely,
/// not certain): a share of the seasoned accounts with no rows at all (a file cut
/// at a line end, sorted by account, loses its last accounts whole), and a share of
/// the accounts active in each of the four weeks before that went silent in the
/// last seven days while the table as a whole did not.
fn check_accounts(h: &mut TableHealth, coverage: &Coverage, as_day: i32, seasoned: &[bool]) {
    let Coverage { any, weeks } = coverage;
    // A share over `limit` of `n` accounts is a warning, with `hint`.
    let share_check = |count: usize, n: usize, limit: f64, detail: String, hint: &str| {
        if count as f64 > limit * n as f64 {
            Check::new(Verdict::Warn, format!("{detail}: {hint}"))
        } else {
            Check::new(Verdict::Ok, detail)
        }
    };
    let old: Vec<usize> = (0..seasoned.len()).filter(|&a| seasoned[a]).collect();
    if old.len() >= 20 {
        let missing = old.iter().filter(|&&a| !any[a]).count();
        let detail = format!(
            "{missing} of {} accounts older than {SEASONED_DAYS} days have no rows at all",
            old.len()
        );
        let hint = "an export cut at a line end, or filtered?";
        h.checks.insert(
            "accounts_present",
            share_check(missing, old.len(), 0.25, detail, hint),
        );
    }
    let steady: Vec<usize> = old
        .iter()
        .copied()
        .filter(|&a| weeks[a] & 0b11110 == 0b11110)
        .collect();
    if steady.len() >= 20 && !touches_holiday_week(as_day - 6, as_day) {
        let silent = steady.iter().filter(|&&a| weeks[a] & 1 == 0).count();
        let detail = format!(
            "{silent} of {} accounts with rows in each of the four weeks before have none in the last 7 days",
            steady.len()
        );
        let hint = "part of the export missing?";
        h.checks.insert(
            "steady_accounts",
            share_check(silent, steady.len(), 0.3, detail, hint),
        );
    }
}

fn check_table(
    tc: Option<&TableConfig>,
    table: &Table,
    as_day: i32,
    previous: &PreviousRows,
    seasoned: &[bool],
) -> TableHealth {
    let mut h = TableHealth::default();
    if table.path.is_none() {
        return h;
    }
    // Cut off: the last record is short without a line end, or a quote is open.
    h.checks.insert(
        "complete",
        match table.cut_off {
            Some(line) => Check::new(
                Verdict::Fail,
                format!(
                    "the last record (line {line}) is cut off, too few fields and no line end or a quote still open at the end of the file: re-run the export"
                ),
            ),
            None => Check::new(Verdict::Ok, "the last line is whole"),
        },
    );
    // Shrunk since the last run of the same file.
    if let (Some((file, rows, as_of)), Some(path)) = (previous.get(table.name), &table.path)
        && file == path
        && *rows > 0
    {
        let ratio = table.rows_read as f64 / *rows as f64;
        let detail = format!(
            "{} rows, {} at the last successful run (as of {as_of})",
            table.rows_read, rows
        );
        let verdict = if ratio < 0.8 {
            Verdict::Fail
        } else if ratio < 0.95 {
            Verdict::Warn
        } else {
            Verdict::Ok
        };
        let detail = match verdict {
            Verdict::Ok => detail,
            _ => format!("{detail}: the file shrank; an export that stopped half-way?"),
        };
        h.checks.insert("not_shrunk", Check::new(verdict, detail));
    }
    let Some(column) = dated_column(table.name) else {
        return h;
    };
    let (Ok(days), Ok(acct)) = (
        table.frame.column(&column).and_then(|c| c.i32().cloned()),
        table.frame.column(col::ACCT).and_then(|c| c.u32().cloned()),
    ) else {
        return h;
    };
    // One pass: newest and first dated day, which days of the last year have rows,
    // rows per 7-day span back from the as-of date (span 0 is the last 7 days), and
    // for meetings and messages, which every client has, each account's coverage.
    let mut seen = vec![false; 366];
    let mut spans = [0u64; 9];
    let (mut newest, mut first) = (i32::MIN, i32::MAX);
    let tracked = if matches!(table.name, "meetings" | "messages") {
        seasoned.len()
    } else {
        0
    };
    let mut coverage = Coverage {
        any: vec![false; tracked],
        weeks: vec![0; tracked],
    };
    for (a, d) in acct.iter().zip(days.iter()) {
        let Some(d) = d.filter(|&d| d <= as_day) else {
            continue;
        };
        newest = newest.max(d);
        first = first.min(d);
        let back = (as_day - d) as usize;
        if back < seen.len() {
            seen[back] = true;
        }
        if back < 7 * spans.len() {
            spans[back / 7] += 1;
        }
        if let Some(a) = a.map(|a| a as usize).filter(|&a| a < tracked) {
            coverage.any[a] = true;
            if back < 7 * 5 {
                coverage.weeks[a] |= 1 << (back / 7);
            }
        }
    }
    if newest == i32::MIN {
        h.checks.insert(
            "fresh",
            Check::new(
                Verdict::Skipped,
                "no dated rows on or before the as-of date",
            ),
        );
        return h;
    }
    h.newest = Some(date_of_day(newest).to_string());
    let stale = business_days_between(newest, as_day);
    h.stale_business_days = Some(stale);

    // The cadence: business days between the distinct dated days of the last year.
    let distinct: Vec<i32> = (0..seen.len())
        .rev()
        .filter(|&i| seen[i])
        .map(|i| as_day - i as i32)
        .collect();
    let cadence = if distinct.len() >= MIN_DAYS_FOR_CADENCE {
        let mut gaps: Vec<i64> = distinct
            .windows(2)
            .map(|w| business_days_between(w[0], w[1]).max(1))
            .collect();
        gaps.sort_unstable();
        Some(gaps[(gaps.len() * 95).div_ceil(100).saturating_sub(1)])
    } else {
        None
    };
    h.cadence_business_days = cadence;
    let warn_after = tc
        .and_then(|t| t.fresh_warn_days)
        .or(cadence.map(|c| (c + 1).max(2 * c)));
    let fail_after = tc
        .and_then(|t| t.fresh_fail_days)
        .or(cadence.map(|c| (c + 3).max(3 * c)));
    h.warn_after_business_days = warn_after;
    h.fail_after_business_days = fail_after;
    let newest_text = date_of_day(newest);
    h.checks.insert(
        "fresh",
        match (warn_after, fail_after) {
            (_, Some(fail)) if stale > fail => Check::new(
                Verdict::Fail,
                format!(
                    "newest row {newest_text}, {stale} business days before the as-of date (stale after {fail}): {STOPPED}"
                ),
            ),
            (Some(warn), _) if stale > warn => Check::new(
                Verdict::Warn,
                format!(
                    "newest row {newest_text}, {stale} business days before the as-of date (usually at most {warn})"
                ),
            ),
            // Nothing dated in the last year is a stopped export, cadence or not.
            (None, None) if stale > 260 => Check::new(
                Verdict::Fail,
                format!(
                    "newest row {newest_text}, over a year before the as-of date: {STOPPED}"
                ),
            ),
            (None, None) => Check::new(
                Verdict::Skipped,
                format!("newest row {newest_text}; too little history to know the table's cadence"),
            ),
            _ => Check::new(
                Verdict::Ok,
                format!("newest row {newest_text}, {stale} business days before the as-of date"),
            ),
        },
    );

    // Volume: the last 7 days against the eight 7-day spans before them, for tables
    // with rows nearly every business day (a monthly table's weeks are all or nothing).
    let span = |k: i32| (as_day - 7 * k - 6, as_day - 7 * k);
    let recent = spans[0];
    h.rows_last_7d = Some(recent);
    // Only spans the export covers in full (a history that starts recently).
    let mut usual: Vec<u64> = (1..=8)
        .filter(|&k| span(k).0 >= first)
        .map(|k| spans[k as usize])
        .collect();
    usual.sort_unstable();
    let usual = (usual.len() >= 4).then(|| {
        let n = usual.len();
        (usual[(n - 1) / 2] + usual[n / 2]) as f64 / 2.0
    });
    h.usual_rows_per_7d = usual;
    let stale_export = h.checks["fresh"].verdict == Verdict::Fail;
    let volume = match (usual, cadence) {
        // A stopped export has no recent rows: `fresh` says so already.
        _ if stale_export => Check::new(Verdict::Skipped, "the export is stale (see fresh)"),
        (Some(usual), Some(c)) if c <= DAILY_CADENCE && usual >= MIN_USUAL_ROWS => {
            let (from, to) = span(0);
            let ratio = recent as f64 / usual;
            let detail = format!("{recent} rows in the last 7 days, usually {usual:.0}");
            if touches_holiday_week(from, to) {
                Check::new(Verdict::Skipped, format!("{detail} (a holiday week)"))
            } else if ratio < 0.2 {
                Check::new(
                    Verdict::Fail,
                    format!("{detail}: far below usual; an export that stopped half-way?"),
                )
            } else if ratio < 0.5 {
                Check::new(Verdict::Warn, format!("{detail}: less than half of usual"))
            } else {
                Check::new(Verdict::Ok, detail)
            }
        }
        _ => Check::new(
            Verdict::Skipped,
            "too few rows or weeks, or not a daily table, to judge volume",
        ),
    };
    h.checks.insert("volume", volume);
    let daily =
        cadence.is_some_and(|c| c <= DAILY_CADENCE) && usual.is_some_and(|u| u >= MIN_USUAL_ROWS);
    if tracked > 0 && daily {
        check_accounts(&mut h, &coverage, as_day, seasoned);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_order_from_skipped_to_fail() {
        assert!(Verdict::Fail > Verdict::Warn);
        assert!(Verdict::Warn > Verdict::Ok);
        assert!(Verdict::Ok > Verdict::Skipped);
    }
}
