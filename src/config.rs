//! `config.toml`: the serde mirror of the file, and its validation into a [`Config`].
//!
//! Two steps, as in Vector: serde structs with `deny_unknown_fields` (a typo must not
//! silently change nightly scores), then [`RawConfig::validate`], which reports *every*
//! problem at once with its key path and the expected vs found value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use crate::error::Error;

/// Every table of the contract, in the order the run reads them: the eight exports,
/// then what people add ([`PEOPLE_TABLES`]).
pub const TABLES: [&str; 10] = [
    "accounts",
    "meetings",
    "messages",
    "action_items",
    "study_sessions",
    "invoices",
    "outcomes",
    "churn_events",
    "overrides",
    "exit_interviews",
];

/// Tables people keep by hand (contract.md, "Extensions"): their sections may be left
/// out of the config (the table is then absent), and the input health checks, which
/// are about machine exports, skip them.
pub const PEOPLE_TABLES: [&str; 2] = ["overrides", "exit_interviews"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub run: RawRun,
    pub tables: BTreeMap<String, RawTable>,
    pub windows: Windows,
    pub flags: Flags,
    pub evidence: Evidence,
    pub signals: BTreeMap<String, SignalParams>,
    /// What to do about a flag: keyed by category, or by signal key where the top
    /// finding's own advice is more precise (optional; without it `next_action` is
    /// empty).
    #[serde(default)]
    pub playbook: BTreeMap<String, Action>,
}

/// How a signal's change is judged against chance for the account (see
/// `crate::evidence`). A signal's severity is its size ramp times its evidence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Tail probability at which a change starts to count as evidence (0 above).
    pub p_start: f64,
    /// Tail probability at and below which the evidence is full.
    pub p_full: f64,
    /// Counts of held meetings and promises are this many times more variable than
    /// Poisson (weeks cluster).
    pub overdispersion: f64,
    /// A client's four-weekly activity (meetings held, messages) moves by at least
    /// this coefficient of variation beyond chance before its own blocks say
    /// otherwise; by the team's, learned from the exports, where that is larger
    /// (optional, default 0.2)...
    #[serde(default = "default_activity_cv")]
    pub activity_cv: f64,
    /// ...weighing as much as this many blocks (optional, default 4).
    #[serde(default = "default_activity_cv_blocks")]
    pub activity_cv_blocks: f64,
    /// The spread of monthly KPI attainment an account is assumed to have before
    /// its own months say otherwise, and how many months that assumption weighs.
    pub kpi_sd_prior: f64,
    pub kpi_sd_prior_months: f64,
    /// Spread of single reply times on a log scale (natural log).
    pub reply_log_sd: f64,
    /// Spread of single invoices' days late.
    pub payment_sd_days: f64,
}

fn default_activity_cv() -> f64 {
    0.2
}

fn default_activity_cv_blocks() -> f64 {
    4.0
}

/// An account's usual activity and its own over-dispersion are read from its
/// counts in up to this many blocks...
pub const ACTIVITY_BLOCKS: usize = 12;
/// ...of this many days each (four weeks: a client's busy or quiet phase shows
/// within a block as much as between two 60-day windows).
pub const ACTIVITY_BLOCK_DAYS: i32 = 28;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub input_dir: PathBuf,
    pub output_dir: PathBuf,
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Checked in [`RawConfig::validate`] (not by serde), so that a bad value is
    /// reported with every other problem instead of alone.
    pub language: String,
    /// Largest share of a table's rows that may be quarantined before the run fails.
    pub max_quarantine_share: f64,
    /// Score even when an input fails a health check (`--allow-stale` does the same
    /// for one run); the run summary then says so.
    #[serde(default)]
    pub allow_stale: bool,
}

/// Whether a chrono format reads a time of day: a datetime format without one can
/// never match a datetime.
fn has_time_of_day(format: &str) -> bool {
    use chrono::format::{Fixed, Item, Numeric};
    chrono::format::StrftimeItems::new(format).any(|item| {
        matches!(
            item,
            Item::Numeric(
                Numeric::Hour | Numeric::Hour12 | Numeric::Minute | Numeric::Timestamp,
                _
            ) | Item::Fixed(Fixed::TimezoneOffset)
        )
    })
}

/// Hex sha256 of `bytes`: the config's digest, and each output's in the run summary.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            s.push_str(&format!("{b:02x}"));
            s
        })
}

fn default_time_zone() -> String {
    "Asia/Tokyo".to_owned()
}

pub use crate::vocabulary::Language;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingChoice {
    /// UTF-8 (BOM or not) when the bytes are valid UTF-8, else Shift_JIS (CP932).
    Auto,
    Utf8,
    ShiftJis,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    pub file: PathBuf,
    /// A missing optional export is read as an empty table; a missing required one is
    /// an error, so that a failed export never makes every account look quiet.
    #[serde(default)]
    pub optional: bool,
    /// `auto`, `utf8` or `shift_jis`; checked with the other problems.
    #[serde(default = "default_encoding")]
    pub encoding: String,
    /// Extra `chrono` formats tried after `%Y-%m-%d` for date columns.
    #[serde(default)]
    pub date_formats: Vec<String>,
    /// Extra `chrono` formats (without offset) tried after ISO 8601 for datetime columns.
    #[serde(default)]
    pub datetime_formats: Vec<String>,
    /// Source header → contract column.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Business days after its newest dated row before the export is suspicious /
    /// stale (exit 7); by default learned from the table's own cadence.
    pub fresh_warn_days: Option<i64>,
    pub fresh_fail_days: Option<i64>,
}

fn default_encoding() -> String {
    "auto".to_owned()
}

/// Look-back windows in days. "Recent" is compared with the account's own earlier
/// "baseline" window, which ends `baseline_gap_days` before the recent one starts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    pub replies_recent_days: i32,
    pub replies_baseline_days: i32,
    pub meetings_recent_days: i32,
    pub meetings_baseline_days: i32,
    pub team_behaviour_days: i32,
    pub attendance_recent_days: i32,
    pub attendance_baseline_days: i32,
    pub outcomes_recent_days: i32,
    pub outcomes_baseline_days: i32,
    pub invoices_recent_days: i32,
    pub invoices_baseline_days: i32,
    pub disputes_days: i32,
    pub touchpoint_baseline_days: i32,
    pub baseline_gap_days: i32,
    pub unanswered_after_hours: i64,
    pub unanswered_lookback_days: i32,
    pub late_minutes: i64,
    pub promise_grace_days: i32,
    pub payment_terms_days: i32,
    /// Accounts younger than this have no baseline: relative signals stay silent.
    pub min_history_days: i32,
    pub min_baseline_events: i64,
    pub min_recent_events: i64,
    /// Pseudo-events at the account's own baseline that every recent share or rate
    /// is blended with, so that "2 of 4" weighs less than "10 of 20".
    pub prior_events: f64,
}

impl Windows {
    /// The baseline compared with a recent window of `length` days: the `base` days
    /// that end `baseline_gap_days` before the recent window starts, as `(from, to)`
    /// days before the as-of date (it holds the days after `from` up to and including
    /// `to`). Features and scoring both take the geometry from here.
    pub fn baseline(&self, length: i32, base: i32) -> (i32, i32) {
        let to = length + self.baseline_gap_days;
        (to + base, to)
    }

    /// Whole weeks between the meetings baseline and the as-of date (the recent
    /// window and the gap before it): the stretch the engagement CUSUM watches.
    pub fn engagement_weeks(&self) -> usize {
        ((self.meetings_recent_days + self.baseline_gap_days) / 7).max(1) as usize
    }

    /// Days before the as-of date that the activity blocks reach back to: the
    /// engagement weeks, then [`ACTIVITY_BLOCKS`] blocks of
    /// [`ACTIVITY_BLOCK_DAYS`] before them (a year at the shipped windows).
    pub fn activity_reach(&self) -> i32 {
        7 * self.engagement_weeks() as i32 + ACTIVITY_BLOCKS as i32 * ACTIVITY_BLOCK_DAYS
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flags {
    pub medium: f64,
    pub high: f64,
    /// How much the non-primary categories add to `risk_score` (0 = only the worst).
    pub secondary_weight: f64,
    pub max_reasons: usize,
    /// A flagged account whose risk rose by at least this many points in 7 days is
    /// `rising` (the `change` column). Optional, default 10.
    #[serde(default = "default_rising_points")]
    pub rising_points: f64,
    /// A snoozed account comes back once its risk (or the snoozed category's score)
    /// is this many points above what it was on the override's `set_on`. Optional,
    /// default 10.
    #[serde(default = "default_rising_points")]
    pub snooze_margin: f64,
}

fn default_rising_points() -> f64 {
    10.0
}

/// One playbook entry: what to do, in each language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub ja: String,
    pub en: String,
}

impl Action {
    pub fn text(&self, lang: Language) -> &str {
        match lang {
            Language::Ja => &self.ja,
            Language::En => &self.en,
        }
    }
}

/// One signal's scoring: `severity = clamp((value - start) / (full - start), 0, 1)`,
/// points = `weight × severity`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalParams {
    pub weight: f64,
    pub start: f64,
    pub full: f64,
}

/// Each signal's parameters, in the order of the keys [`Config::load`] was given
/// (`[signals]` is a map from the signal's key, checked against those keys: an
/// unknown or a missing key is an error naming it, so a typo never silently zeroes
/// a weight).
#[derive(Debug, Clone)]
pub struct Signals(Vec<SignalParams>);

impl Signals {
    /// The parameters of the `index`-th key given to [`Config::load`].
    pub fn get(&self, index: usize) -> SignalParams {
        self.0[index]
    }
}

/// A table's validated settings, with its path resolved.
#[derive(Debug, Clone)]
pub struct TableConfig {
    pub name: &'static str,
    pub path: PathBuf,
    pub optional: bool,
    pub encoding: EncodingChoice,
    pub date_formats: Vec<String>,
    pub datetime_formats: Vec<String>,
    pub rename: BTreeMap<String, String>,
    pub fresh_warn_days: Option<i64>,
    pub fresh_fail_days: Option<i64>,
}

/// The validated configuration the run uses.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub digest: String,
    pub input_dir: PathBuf,
    pub output_dir: PathBuf,
    pub time_zone: Tz,
    pub language: Language,
    pub max_quarantine_share: f64,
    /// Score despite failed input health checks (exit 7 otherwise).
    pub allow_stale: bool,
    /// In [`TABLES`] order; tables the config does not list are absent.
    pub tables: Vec<TableConfig>,
    pub windows: Windows,
    pub flags: Flags,
    pub evidence: Evidence,
    pub signals: Signals,
    /// `[playbook]`: advice by category name or signal key.
    pub playbook: BTreeMap<String, Action>,
}

impl Config {
    /// Reads and validates `path`. Relative directories resolve against its folder.
    ///
    /// `signals` are the signal keys `[signals]` must hold, in the order
    /// [`Signals::get`] indexes them: the signal registry's (`Signal::keys()`),
    /// which sits on a layer above config and so is handed in.
    ///
    /// A top-level `base = "other.toml"` (relative to this file) extends that file:
    /// every table and key given here replaces the base's, the rest is the base's,
    /// so an installation's config can name its own exports and keep the shipped
    /// scoring. One level only: a base that has a base is an error.
    pub fn load(path: &Path, signals: &[&str]) -> Result<Config, Error> {
        let read = |path: &Path| -> Result<(String, toml::Table), Error> {
            let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
                path: path.to_path_buf(),
                source,
            })?;
            let table = text.parse::<toml::Table>().map_err(|e| Error::Config {
                path: path.to_path_buf(),
                problems: vec![e.to_string().trim_end().to_owned()],
            })?;
            Ok((text, table))
        };
        let (text, mut table) = read(path)?;
        let folder = path.parent().unwrap_or(Path::new("."));
        let mut base_text = None;
        if let Some(base) = table.remove("base") {
            let problem = |problem: String| Error::Config {
                path: path.to_path_buf(),
                problems: vec![problem],
            };
            let Some(file) = base.as_str() else {
                return Err(problem(format!("base: expected a file name, found {base}")));
            };
            let base_path = folder.join(file);
            let (text_of_base, mut merged) = read(&base_path)?;
            if merged.contains_key("base") {
                return Err(problem(format!(
                    "base: {} has a base of its own; only one level is supported",
                    base_path.display()
                )));
            }
            merge(&mut merged, table);
            table = merged;
            base_text = Some(text_of_base);
        }
        let unreadable = |e: toml::de::Error| Error::Config {
            path: path.to_path_buf(),
            problems: vec![e.to_string().trim_end().to_owned()],
        };
        // Without a base, serde reads the text itself, so that its errors quote the
        // line and column; a merged table has no lines to quote.
        let raw: RawConfig = match &base_text {
            None => toml::from_str(&text).map_err(unreadable)?,
            Some(_) => table.try_into().map_err(unreadable)?,
        };
        // The digest covers the base too: a change to it changes the scores.
        let digested = text + base_text.as_deref().unwrap_or("");
        let digest = format!("sha256:{}", sha256_hex(digested.as_bytes()));
        raw.validate(path, folder, digest, signals)
    }

    pub fn table(&self, name: &str) -> Option<&TableConfig> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// `--input-dir` / `--output-dir` override the config; table files that were given
    /// relative to the old input folder follow it.
    pub fn with_dirs(mut self, input: Option<PathBuf>, output: Option<PathBuf>) -> Config {
        if let Some(input) = input {
            for t in &mut self.tables {
                if let Ok(rel) = t.path.strip_prefix(&self.input_dir) {
                    t.path = input.join(rel);
                }
            }
            self.input_dir = input;
        }
        if let Some(output) = output {
            self.output_dir = output;
        }
        self
    }
}

/// `over`'s keys into `base`: tables merge key by key, any other value replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(value)) => merge(inner, value),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

impl RawConfig {
    fn validate(
        self,
        path: &Path,
        base: &Path,
        digest: String,
        known: &[&str],
    ) -> Result<Config, Error> {
        let mut problems = Vec::new();
        let time_zone = match self.run.time_zone.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                problems.push(format!(
                    "run.time_zone: expected an IANA time zone such as `Asia/Tokyo`, found `{}`",
                    self.run.time_zone
                ));
                None
            }
        };
        let language = match self.run.language.as_str() {
            "ja" => Some(Language::Ja),
            "en" => Some(Language::En),
            other => {
                problems.push(format!(
                    "run.language: expected \"ja\" or \"en\", found `{other}`"
                ));
                None
            }
        };
        let share = self.run.max_quarantine_share;
        if !(0.0..=1.0).contains(&share) {
            problems.push(format!(
                "run.max_quarantine_share: expected a share from 0 to 1, found {share}"
            ));
        }
        let input_dir = base.join(&self.run.input_dir);
        let output_dir = base.join(&self.run.output_dir);

        // Every table needs its section: a table left out by mistake would silently
        // read as "no activity". An export a company does not have is declared with
        // `optional = true` instead.
        for name in TABLES.iter().filter(|t| !PEOPLE_TABLES.contains(t)) {
            if !self.tables.contains_key(*name) {
                problems.push(format!(
                    "tables.{name}: missing section; give its `file` (and `optional = true` if it is not exported)"
                ));
            }
        }
        let mut tables = Vec::new();
        for key in self.tables.keys() {
            if !TABLES.contains(&key.as_str()) {
                problems.push(format!(
                    "tables.{key}: unknown table; expected one of {}",
                    TABLES.join(", ")
                ));
            }
        }
        for name in TABLES {
            let Some(t) = self.tables.get(name) else {
                continue;
            };
            let encoding = match t.encoding.as_str() {
                "auto" => EncodingChoice::Auto,
                "utf8" | "utf-8" => EncodingChoice::Utf8,
                "shift_jis" | "cp932" => EncodingChoice::ShiftJis,
                other => {
                    problems.push(format!(
                        "tables.{name}.encoding: expected \"auto\", \"utf8\" or \"shift_jis\", found `{other}`"
                    ));
                    EncodingChoice::Auto
                }
            };
            match (t.fresh_warn_days, t.fresh_fail_days) {
                (Some(w), _) if !(1..=3660).contains(&w) => problems.push(format!(
                    "tables.{name}.fresh_warn_days: expected business days from 1 to 3660, found {w}"
                )),
                (_, Some(f)) if !(1..=3660).contains(&f) => problems.push(format!(
                    "tables.{name}.fresh_fail_days: expected business days from 1 to 3660, found {f}"
                )),
                (Some(w), Some(f)) if w > f => problems.push(format!(
                    "tables.{name}.fresh_warn_days: must not exceed fresh_fail_days ({f}), found {w}"
                )),
                _ => {}
            }
            if t.file.as_os_str().is_empty() {
                problems.push(format!(
                    "tables.{name}.file: expected a file name, found an empty string"
                ));
            }
            if name == "accounts" && t.optional {
                problems.push("tables.accounts.optional: accounts cannot be optional".to_owned());
            }
            for (key, formats) in [
                ("date_formats", &t.date_formats),
                ("datetime_formats", &t.datetime_formats),
            ] {
                for (i, f) in formats.iter().enumerate() {
                    let broken = chrono::format::StrftimeItems::new(f)
                        .any(|item| matches!(item, chrono::format::Item::Error));
                    if broken || f.trim().is_empty() {
                        problems.push(format!(
                            "tables.{name}.{key}[{i}]: `{f}` is not a valid chrono format"
                        ));
                    } else if key == "datetime_formats" && !has_time_of_day(f) {
                        problems.push(format!(
                            "tables.{name}.{key}[{i}]: `{f}` has no time of day (%H, %M, %T…), so no datetime can match it; put date-only formats in date_formats"
                        ));
                    }
                }
            }
            for (from, to) in &t.rename {
                if !crate::contract::spec(name).has_column(to) {
                    problems.push(format!(
                        "tables.{name}.rename.\"{from}\": `{to}` is not a column of {name}"
                    ));
                }
            }
            tables.push(TableConfig {
                name,
                path: input_dir.join(&t.file),
                optional: t.optional,
                encoding,
                date_formats: t.date_formats.clone(),
                datetime_formats: t.datetime_formats.clone(),
                rename: t.rename.clone(),
                fresh_warn_days: t.fresh_warn_days,
                fresh_fail_days: t.fresh_fail_days,
            });
        }

        let w = &self.windows;
        for (key, value) in [
            ("replies_recent_days", w.replies_recent_days),
            ("replies_baseline_days", w.replies_baseline_days),
            ("meetings_recent_days", w.meetings_recent_days),
            ("meetings_baseline_days", w.meetings_baseline_days),
            ("team_behaviour_days", w.team_behaviour_days),
            ("attendance_recent_days", w.attendance_recent_days),
            ("attendance_baseline_days", w.attendance_baseline_days),
            ("outcomes_recent_days", w.outcomes_recent_days),
            ("outcomes_baseline_days", w.outcomes_baseline_days),
            ("invoices_recent_days", w.invoices_recent_days),
            ("invoices_baseline_days", w.invoices_baseline_days),
            ("disputes_days", w.disputes_days),
            ("touchpoint_baseline_days", w.touchpoint_baseline_days),
            ("unanswered_lookback_days", w.unanswered_lookback_days),
            ("payment_terms_days", w.payment_terms_days),
        ] {
            if !(1..=3660).contains(&value) {
                problems.push(format!(
                    "windows.{key}: expected whole days from 1 to 3660, found {value}"
                ));
            }
        }
        // Upper bounds keep window arithmetic far from overflow.
        for (key, value, max) in [
            ("min_history_days", i64::from(w.min_history_days), 3660),
            ("baseline_gap_days", i64::from(w.baseline_gap_days), 3660),
            ("promise_grace_days", i64::from(w.promise_grace_days), 3660),
            ("unanswered_after_hours", w.unanswered_after_hours, 87_840),
            ("late_minutes", w.late_minutes, 1440),
            ("min_baseline_events", w.min_baseline_events, 1_000_000),
            ("min_recent_events", w.min_recent_events, 1_000_000),
        ] {
            if !(0..=max).contains(&value) {
                problems.push(format!("windows.{key}: expected 0 to {max}, found {value}"));
            }
        }

        if !(w.prior_events.is_finite() && (0.0..=1000.0).contains(&w.prior_events)) {
            problems.push(format!(
                "windows.prior_events: expected 0 or more, found {}",
                w.prior_events
            ));
        }
        let f = &self.flags;
        if !(1.0..=100.0).contains(&f.medium) || !(1.0..=100.0).contains(&f.high) {
            problems.push(format!(
                "flags.medium / flags.high: expected scores from 1 to 100 (at 0 every account would be flagged), found {} / {}",
                f.medium, f.high
            ));
        } else if f.medium > f.high {
            problems.push(format!(
                "flags.medium: must not exceed flags.high ({}), found {}",
                f.high, f.medium
            ));
        }
        if !(0.0..=1.0).contains(&f.secondary_weight) {
            problems.push(format!(
                "flags.secondary_weight: expected a number from 0 to 1, found {}",
                f.secondary_weight
            ));
        }
        if f.max_reasons == 0 {
            problems.push("flags.max_reasons: expected at least 1, found 0".to_owned());
        }
        if !(f.snooze_margin.is_finite() && (0.0..=100.0).contains(&f.snooze_margin)) {
            problems.push(format!(
                "flags.snooze_margin: expected points from 0 to 100, found {}",
                f.snooze_margin
            ));
        }
        if !(f.rising_points.is_finite() && (1.0..=100.0).contains(&f.rising_points)) {
            problems.push(format!(
                "flags.rising_points: expected points from 1 to 100, found {}",
                f.rising_points
            ));
        }
        // Advice for a key nobody looks up would never show: name it.
        for (key, action) in &self.playbook {
            let category = crate::vocabulary::Category::ALL
                .iter()
                .any(|c| c.as_str() == key);
            if !category && !known.contains(&key.as_str()) {
                problems.push(format!(
                    "playbook.{key}: neither a category (outcome, expectation, discomfort, cost) nor a signal; signals are {}",
                    known.join(", ")
                ));
            }
            if action.ja.trim().is_empty() || action.en.trim().is_empty() {
                problems.push(format!("playbook.{key}: expected advice in both ja and en"));
            }
        }

        let e = &self.evidence;
        if !(e.p_full > 0.0 && e.p_full < e.p_start && e.p_start <= 1.0) {
            problems.push(format!(
                "evidence.p_start / evidence.p_full: expected 0 < p_full < p_start <= 1, found {} / {}",
                e.p_start, e.p_full
            ));
        }
        for (key, value) in [
            ("overdispersion", e.overdispersion),
            ("activity_cv", e.activity_cv),
            ("activity_cv_blocks", e.activity_cv_blocks),
            ("kpi_sd_prior", e.kpi_sd_prior),
            ("kpi_sd_prior_months", e.kpi_sd_prior_months),
            ("reply_log_sd", e.reply_log_sd),
            ("payment_sd_days", e.payment_sd_days),
        ] {
            if !(value.is_finite() && value > 0.0) {
                problems.push(format!(
                    "evidence.{key}: expected a number above 0, found {value}"
                ));
            }
        }
        if e.overdispersion < 1.0 {
            problems.push(format!(
                "evidence.overdispersion: expected 1 (Poisson) or more, found {}",
                e.overdispersion
            ));
        }
        for key in self.signals.keys() {
            if !known.contains(&key.as_str()) {
                problems.push(format!(
                    "signals.{key}: unknown signal; expected one of {}",
                    known.join(", ")
                ));
            }
        }
        let mut signals = Vec::with_capacity(known.len());
        for &key in known {
            let Some(&p) = self.signals.get(key) else {
                problems.push(format!(
                    "signals.{key}: missing; give its weight, start and full (a signal left out would silently add nothing)"
                ));
                continue;
            };
            signals.push(p);
            if !(p.weight.is_finite() && (0.0..=100.0).contains(&p.weight)) {
                problems.push(format!(
                    "signals.{key}.weight: expected points from 0 to 100, found {}",
                    p.weight
                ));
            }
            if !(p.start.is_finite() && p.full.is_finite() && p.full > p.start) {
                problems.push(format!(
                    "signals.{key}: expected `full` greater than `start`, found start = {}, full = {}",
                    p.start, p.full
                ));
            }
        }

        match (problems.is_empty(), time_zone, language) {
            (true, Some(time_zone), Some(language)) => Ok(Config {
                path: path.to_path_buf(),
                digest,
                input_dir,
                output_dir,
                time_zone,
                language,
                max_quarantine_share: share,
                allow_stale: self.run.allow_stale,
                tables,
                windows: self.windows,
                flags: self.flags,
                evidence: self.evidence,
                signals: Signals(signals),
                playbook: self.playbook,
            }),
            _ => Err(Error::Config {
                path: path.to_path_buf(),
                problems,
            }),
        }
    }
}
