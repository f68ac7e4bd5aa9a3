//! The contract's CSV documents: scores, flagged accounts and quarantine files, built
//! from scores and validated tables (no IO; `output` writes them).

use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::config::Config;
use crate::error::Error;
use crate::output::{Cell, CsvDoc};
use crate::scoring::{AccountScore, Category, RiskLevel, describe, next_action, reasons};
use crate::validate::{Table, day_number};

/// The contract's columns of flagged_accounts.csv, in order; scores.csv adds `flagged`.
pub const SCORE_COLUMNS: [&str; 14] = [
    "as_of",
    "account_id",
    "account_name",
    "manager",
    "risk_score",
    "risk_level",
    "primary_category",
    "outcome",
    "expectation",
    "discomfort",
    "cost",
    "trend_28d",
    "days_to_renewal",
    "reasons",
];

/// The account columns the reports quote, by `acct`.
pub struct AccountInfo {
    pub id: Vec<String>,
    pub name: Vec<String>,
    pub manager: Vec<Option<String>>,
    pub renewal_day: Vec<Option<i32>>,
}

impl AccountInfo {
    pub fn from_frame(accounts: &DataFrame) -> Result<AccountInfo, Error> {
        let text = |name: &str| -> PolarsResult<Vec<Option<String>>> {
            Ok(accounts
                .column(name)?
                .str()?
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect())
        };
        let get = || -> PolarsResult<AccountInfo> {
            Ok(AccountInfo {
                id: text("account_id")?
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect(),
                name: text("account_name")?
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect(),
                manager: text("manager")?,
                renewal_day: accounts.column("renewal_date")?.i32()?.iter().collect(),
            })
        };
        get().map_err(Error::polars("report"))
    }
}

/// The morning view's columns appended to the contract's: in flagged_accounts.csv
/// after `reasons`, in scores.csv after `flagged` (every contract column keeps its
/// place).
pub const MORNING_COLUMNS: [&str; 4] = ["flagged_since", "change", "next_action", "override"];

/// Weeks of risk the digest draws per account and for the company (today included).
pub const WEEKS_SHOWN: usize = 13;
/// How far back, in weeks, `flagged_since` looks for the start of a flagged stretch.
pub const WEEKS_BACK: usize = 26;

/// What changed for a flagged account since a week ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Not flagged 7 days earlier (or not yet a client then).
    New,
    /// Risk up by at least `flags.rising_points` in 7 days.
    Rising,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Rising => "rising",
        }
    }
}

/// A flagged account's recent past, from the exports alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Trail {
    /// First date of the current unbroken flagged stretch, on the weekly grid.
    pub flagged_since: NaiveDate,
    pub change: Option<Change>,
    /// Risk score each week, oldest first, today last; `None` where it was not
    /// scored: the account was not active then, or (listed by a manager's `flag`
    /// override only) it was not among the accounts the data flagged.
    pub weekly_risk: Vec<Option<i64>>,
}

/// The company's flagged accounts each week, oldest first, today last.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanyTrend {
    pub weeks: Vec<NaiveDate>,
    pub flagged: Vec<usize>,
}

/// One row of scores.csv, with what sorting and the summary need.
pub struct ScoreRow {
    pub score: AccountScore,
    pub risk_score: i64,
    pub trend: Option<i64>,
    /// Flagged accounts only.
    pub trail: Option<Trail>,
    /// The override in force (`snooze: …` / `flag: …`), and the sentence it puts
    /// before the reasons (a manager's concern, a snooze the account outgrew).
    pub override_cell: Option<String>,
    pub first_reason: Option<String>,
}

impl ScoreRow {
    /// The `reasons` cell: an override's sentence first, then the top findings.
    pub fn reasons(&self, lang: crate::config::Language, max: usize) -> String {
        let found = reasons(&self.score, lang, max);
        match (&self.first_reason, found.is_empty()) {
            (Some(first), true) => first.clone(),
            (Some(first), false) => format!("{first} / {found}"),
            (None, _) => found,
        }
    }
}

/// Whole points, as written: the CSV shows these and flags follow the written value.
pub fn points(x: f64) -> i64 {
    x.round() as i64
}

/// Pairs today's scores with the scores of `TREND_DAYS` earlier; sorted by risk
/// (highest first), then account id.
pub fn score_rows(
    today: Vec<AccountScore>,
    earlier: &[AccountScore],
    info: &AccountInfo,
) -> Vec<ScoreRow> {
    let before: HashMap<u32, i64> = earlier.iter().map(|s| (s.acct, points(s.risk))).collect();
    let mut rows: Vec<ScoreRow> = today
        .into_iter()
        .map(|score| {
            let risk_score = points(score.risk);
            let trend = before.get(&score.acct).map(|b| risk_score - b);
            ScoreRow {
                score,
                risk_score,
                trend,
                trail: None,
                override_cell: None,
                first_reason: None,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.risk_score
            .cmp(&a.risk_score)
            .then_with(|| info.id[a.score.acct as usize].cmp(&info.id[b.score.acct as usize]))
    });
    rows
}

/// scores.csv (`with_flag`) or flagged_accounts.csv (only flagged rows).
pub fn scores_csv(
    rows: &[ScoreRow],
    info: &AccountInfo,
    cfg: &Config,
    as_of: NaiveDate,
    with_flag: bool,
) -> Vec<u8> {
    let all: Vec<&ScoreRow> = rows.iter().collect();
    scores_csv_of(&all, info, cfg, as_of, with_flag)
}

/// Names Windows and Unix shares both accept, one per manager: letters and digits of
/// any script kept, characters Windows forbids (`<>:"/\|?*`, controls) and spaces
/// made `_`, no trailing dot, no reserved device name (`CON`, `COM1`, …), at most 80
/// characters, and a `-2`, `-3`, … where two managers would share a name.
/// Accounts without a manager go to `_no_manager`.
pub fn manager_file_names(managers: &[Option<&str>]) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    managers
        .iter()
        .map(|m| {
            let base = match m {
                None => "_no_manager".to_owned(),
                Some(name) => {
                    let mut safe: String = name
                        .trim()
                        .chars()
                        .map(|c| {
                            if c.is_control() || "<>:\"/\\|?*".contains(c) || c.is_whitespace() {
                                '_'
                            } else {
                                c
                            }
                        })
                        .collect();
                    // At most 200 bytes (Linux allows 255 per name, and the commit
                    // keeps a `.churnwatch-previous-` copy beside it).
                    while safe.len() > 200 {
                        safe.pop();
                    }
                    while safe.ends_with('.') {
                        safe.pop();
                    }
                    let stem = safe.split('.').next().unwrap_or("").to_ascii_uppercase();
                    let reserved = ["CON", "PRN", "AUX", "NUL"].contains(&stem.as_str())
                        || ["COM", "LPT"].iter().any(|p| {
                            stem.strip_prefix(p).is_some_and(|n| {
                                let mut chars = n.chars();
                                chars
                                    .next()
                                    .is_some_and(|c| c.is_ascii_digit() || "¹²³".contains(c))
                                    && chars.next().is_none()
                            })
                        });
                    if safe.is_empty() || reserved {
                        safe.insert(0, '_');
                    }
                    safe
                }
            };
            // Case-insensitive file systems: `Sato` and `sato` would be one file.
            let mut name = base.clone();
            let mut n = 1;
            while !taken.insert(name.to_lowercase()) {
                n += 1;
                name = format!("{base}-{n}");
            }
            format!("{name}.csv")
        })
        .collect()
}

/// [`scores_csv`] of some rows (a manager's).
pub fn scores_csv_of(
    rows: &[&ScoreRow],
    info: &AccountInfo,
    cfg: &Config,
    as_of: NaiveDate,
    with_flag: bool,
) -> Vec<u8> {
    let mut header = SCORE_COLUMNS.to_vec();
    if with_flag {
        header.push("flagged");
    }
    header.extend(MORNING_COLUMNS);
    let mut doc = CsvDoc::new(&header);
    let as_of_text = as_of.format("%Y-%m-%d").to_string();
    let as_of_day = day_number(as_of);
    for &row in rows {
        let flagged = row.score.level != RiskLevel::Low;
        if !with_flag && !flagged {
            continue;
        }
        let i = row.score.acct as usize;
        let reasons = row.reasons(cfg.language, cfg.flags.max_reasons);
        let mut cells = vec![
            Cell::Text(&as_of_text),
            Cell::Text(&info.id[i]),
            Cell::Text(&info.name[i]),
            info.manager[i].as_deref().map_or(Cell::Empty, Cell::Text),
            Cell::Number(row.risk_score.to_string()),
            Cell::Text(row.score.level.as_str()),
            row.score
                .primary
                .map_or(Cell::Empty, |c| Cell::Text(c.as_str())),
        ];
        for c in Category::ALL {
            cells.push(Cell::Number(points(row.score.category(c)).to_string()));
        }
        cells.push(
            row.trend
                .map_or(Cell::Empty, |t| Cell::Number(t.to_string())),
        );
        cells.push(
            info.renewal_day[i].map_or(Cell::Empty, |r| Cell::Number((r - as_of_day).to_string())),
        );
        cells.push(Cell::Text(&reasons));
        if with_flag {
            cells.push(Cell::Text(if flagged { "true" } else { "false" }));
        }
        let since = row
            .trail
            .as_ref()
            .map(|t| t.flagged_since.format("%Y-%m-%d").to_string());
        cells.push(since.as_deref().map_or(Cell::Empty, Cell::Text));
        let change = row.trail.as_ref().and_then(|t| t.change);
        cells.push(change.map_or(Cell::Empty, |c| Cell::Text(c.as_str())));
        let action = flagged.then(|| next_action(&row.score, cfg)).flatten();
        cells.push(action.map_or(Cell::Empty, Cell::Text));
        cells.push(row.override_cell.as_deref().map_or(Cell::Empty, Cell::Text));
        doc.row(&cells);
    }
    doc.into_bytes()
}

/// evidence.csv: every finding behind every score, one row each, in the order of
/// scores.csv and, within an account, most points first. The `reasons` cell shows
/// the top `max_reasons` of these; analysts filter and pivot the rest.
pub fn evidence_csv(
    rows: &[ScoreRow],
    info: &AccountInfo,
    cfg: &Config,
    as_of: NaiveDate,
) -> Vec<u8> {
    let mut doc = CsvDoc::new(&[
        "as_of",
        "account_id",
        "category",
        "signal",
        "value",
        "severity",
        "points",
        "evidence",
        "chance",
    ]);
    let as_of_text = as_of.format("%Y-%m-%d").to_string();
    for row in rows {
        let id = &info.id[row.score.acct as usize];
        for f in &row.score.findings {
            let evidence = describe(f, cfg.language);
            doc.row(&[
                Cell::Text(&as_of_text),
                Cell::Text(id),
                Cell::Text(f.signal.category().as_str()),
                Cell::Text(f.signal.key()),
                Cell::Number(format!("{:.4}", f.measure.value)),
                Cell::Number(format!("{:.3}", f.severity)),
                Cell::Number(format!("{:.1}", f.points)),
                Cell::Text(&evidence),
                // How often a change this large happens by chance for this account;
                // empty for facts, which are not tested.
                f.chance
                    .map_or(Cell::Empty, |p| Cell::Number(format!("{p:.3e}"))),
            ]);
        }
    }
    doc.into_bytes()
}

/// A source cell as it was: a plain number stays a number (`-5` is not a formula, and
/// an apostrophe would change what the operator sees), anything else is text and
/// neutralised.
fn raw_cell(v: &str) -> Cell<'_> {
    let b = v.as_bytes();
    let starts_numeric = match b {
        [b'-', d, ..] | [d, ..] => d.is_ascii_digit(),
        [] => false,
    };
    let plain = b
        .iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'e' | b'E'));
    if starts_numeric && plain && v.parse::<f64>().is_ok_and(f64::is_finite) {
        Cell::Number(v.to_owned())
    } else {
        Cell::Text(v)
    }
}

/// quarantine/TABLE.csv: the source columns as they were, then `line`, `reason`,
/// `field`, `message`, and `extra_fields` for cells beyond the header's width.
pub fn quarantine_csv(table: &Table) -> Vec<u8> {
    let mut header: Vec<&str> = table.source_header.iter().map(String::as_str).collect();
    header.extend(["line", "reason", "field", "message", "extra_fields"]);
    let width = table.source_header.len();
    let mut doc = CsvDoc::new(&header);
    for q in &table.quarantine {
        let mut cells: Vec<Cell> = (0..width)
            .map(|i| q.raw.get(i).map_or(Cell::Empty, |v| raw_cell(v)))
            .collect();
        let extra = q.raw.get(width..).map(|e| e.join(",")).unwrap_or_default();
        cells.push(Cell::Number(q.line.to_string()));
        cells.push(Cell::Text(q.reason.as_str()));
        cells.push(Cell::Text(&q.field));
        cells.push(Cell::Text(&q.message));
        cells.push(Cell::Text(&extra));
        doc.row(&cells);
    }
    doc.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_file_names_are_safe_and_distinct() {
        let names = manager_file_names(&[
            Some("中村 亮"),
            Some("Sato/Ken"),
            Some("sato_ken"),
            Some("CON"),
            Some("a:b?."),
            None,
            Some("  "),
        ]);
        assert_eq!(
            names,
            [
                "中村_亮.csv",
                "Sato_Ken.csv",
                "sato_ken-2.csv",
                "_CON.csv",
                "a_b_.csv",
                "_no_manager.csv",
                "_.csv"
            ]
        );
        let long = "長".repeat(100);
        let names = manager_file_names(&[Some(&long), Some("COM¹"), Some("COM10")]);
        assert_eq!(
            names[0].len(),
            198 + ".csv".len(),
            "66 three-byte characters"
        );
        assert_eq!(names[1..], ["_COM¹.csv", "COM10.csv"]);
    }

    #[test]
    fn quarantined_numbers_stay_numbers() {
        assert!(matches!(raw_cell("-5"), Cell::Number(n) if n == "-5"));
        assert!(matches!(raw_cell("12.5"), Cell::Number(_)));
        for text in ["-5+cmd", "=1+1", "-", "1-2-3", "+5", "abc", "", "-inf"] {
            assert!(matches!(raw_cell(text), Cell::Text(_)), "{text}");
        }
    }
}
