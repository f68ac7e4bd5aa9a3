//! `churnwatch backtest`: replays the scoring over past dates and measures it against
//! the cancellations that followed — how early, how precise, how noisy, how calibrated.
//!
//! Definitions (also in the README):
//! - evaluated cancellations: churn events with `churned_on` in `(from + 90 d, to]`, so
//!   that 90 days of replayed history precede each;
//! - "flagged ≥ N days before": some replayed date `t` with the account flagged and
//!   `churned_on − t ≥ N`; lead time: `churned_on −` the first flagged date;
//! - precision: of the (account, date) flags with `t + 90 ≤ to`, the share whose
//!   account churned within 90 days after `t`;
//! - alerts per manager per week: accounts newly flagged (not flagged on the previous
//!   replayed date), per manager, scaled to a 7-day week;
//! - calibration: every scored (account, date) with `t + 90 ≤ to`, by risk band, with
//!   the share that churned within 90 days.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Instant;

use chrono::NaiveDate;
use tracing::info;

use crate::config::Config;
use crate::error::Error;
use crate::history::{Churn, churns, date_grid, median, replay};
use crate::output::{Cell, CsvDoc, OutputLock, write_atomic};
use crate::pipeline::{Loaded, check_budget, load};
use crate::scoring::{Category, RiskLevel};

const HORIZON_DAYS: i64 = 90;
const LEADS: [i64; 3] = [30, 60, 90];

/// One figure of the report: `section`, `scope` (overall, a category or a band), name.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub section: &'static str,
    pub scope: String,
    pub metric: &'static str,
    pub value: Option<f64>,
}

pub struct BacktestReport {
    pub metrics: Vec<Metric>,
    pub text: String,
}

impl BacktestReport {
    pub fn csv(&self) -> Vec<u8> {
        let mut doc = CsvDoc::new(&["section", "scope", "metric", "value"]);
        for m in &self.metrics {
            doc.row(&[
                Cell::Text(m.section),
                Cell::Text(&m.scope),
                Cell::Text(m.metric),
                m.value.map_or(Cell::Empty, |v| {
                    // Counts are whole numbers; shares, rates and days keep decimals.
                    Cell::Number(if COUNT_METRICS.contains(&m.metric) {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.4}")
                    })
                }),
            ]);
        }
        doc.into_bytes()
    }
}

/// Metrics that count things, written as whole numbers.
const COUNT_METRICS: [&str; 3] = ["churned_accounts", "flags", "scores"];

/// Days as the CSV holds them: whole, or with the half a median of two can have.
fn days_text(d: f64) -> String {
    if d.fract() == 0.0 {
        format!("{d:.0} d")
    } else {
        format!("{d:.1} d")
    }
}

/// One replayed score of one account.
#[derive(Clone, Copy)]
struct Point {
    date: NaiveDate,
    risk: i64,
    flagged: bool,
    primary: Option<Category>,
}

/// How early one cancellation was flagged.
struct ChurnLead {
    /// Flagged at least `LEADS[i]` days before, per lead.
    flagged_before: Vec<bool>,
    /// Days from the first flag to the cancellation.
    first_flag_days: Option<i64>,
}

fn days(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days()
}

fn scope_name(c: Option<Category>) -> String {
    c.map_or("none", Category::as_str).to_owned()
}

pub fn backtest(
    loaded: &Loaded,
    cfg: &Config,
    from: NaiveDate,
    to: NaiveDate,
    step_days: i64,
) -> Result<BacktestReport, Error> {
    let dates = date_grid(from, to, step_days);
    let series = replay(loaded, cfg, &dates)?;
    let mut by_account: BTreeMap<u32, Vec<Point>> = BTreeMap::new();
    for s in &series {
        for score in &s.scores {
            by_account.entry(score.acct).or_default().push(Point {
                date: s.date,
                risk: crate::report::points(score.risk),
                flagged: score.level != RiskLevel::Low,
                primary: score.primary,
            });
        }
    }
    let churns = churns(loaded)?;
    let horizon = chrono::Duration::days(HORIZON_DAYS);
    let mut metrics = Vec::new();
    let mut push =
        |section: &'static str, scope: String, metric: &'static str, value: Option<f64>| {
            metrics.push(Metric {
                section,
                scope,
                metric,
                value,
            })
        };

    // Lead time of flags before each evaluated cancellation, grouped by the category
    // that was worst at the riskiest replayed date of its last 90 days.
    let evaluated: Vec<&Churn> = churns
        .values()
        .filter(|c| c.churned_on > from + horizon && c.churned_on <= to)
        .collect();
    let mut groups: BTreeMap<String, Vec<ChurnLead>> = BTreeMap::new();
    let interviews = crate::history::exit_interviews(loaded)?;
    // (interviewed, agreeing): the data's category against the heard one, where an
    // exit interview says what the client really meant (`external` agrees with no
    // category, as in the post-mortem).
    let mut heard = (0usize, 0usize);
    for churn in &evaluated {
        let before: Vec<Point> = by_account
            .get(&churn.acct)
            .map(|p| {
                p.iter()
                    .filter(|p| {
                        p.date < churn.churned_on && days(p.date, churn.churned_on) <= HORIZON_DAYS
                    })
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let all_before: Vec<&Point> = by_account
            .get(&churn.acct)
            .map(|p| p.iter().filter(|p| p.date < churn.churned_on).collect())
            .unwrap_or_default();
        let category = before
            .iter()
            .max_by_key(|p| (p.risk, p.date))
            .and_then(|p| p.primary);
        if let Some((h, _)) = interviews.get(&churn.acct) {
            heard.0 += 1;
            heard.1 += usize::from(crate::history::heard_agrees(h, category));
        }
        let leads: Vec<bool> = LEADS
            .iter()
            .map(|&n| {
                all_before
                    .iter()
                    .any(|p| p.flagged && days(p.date, churn.churned_on) >= n)
            })
            .collect();
        let first_flag = all_before
            .iter()
            .find(|p| p.flagged)
            .map(|p| days(p.date, churn.churned_on));
        for scope in ["overall".to_owned(), scope_name(category)] {
            groups.entry(scope).or_default().push(ChurnLead {
                flagged_before: leads.clone(),
                first_flag_days: first_flag,
            });
        }
    }
    for (scope, rows) in &groups {
        let n = rows.len() as f64;
        push("lead_time", scope.clone(), "churned_accounts", Some(n));
        for (i, lead) in LEADS.iter().enumerate() {
            let share = rows.iter().filter(|r| r.flagged_before[i]).count() as f64 / n;
            let metric = match lead {
                30 => "flagged_30d_before",
                60 => "flagged_60d_before",
                _ => "flagged_90d_before",
            };
            push("lead_time", scope.clone(), metric, Some(share));
        }
        let mut leads: Vec<i64> = rows.iter().filter_map(|r| r.first_flag_days).collect();
        push(
            "lead_time",
            scope.clone(),
            "median_lead_days",
            median(&mut leads),
        );
    }

    push(
        "heard",
        "overall".to_owned(),
        "interviewed",
        Some(heard.0 as f64),
    );
    push(
        "heard",
        "overall".to_owned(),
        "agreement",
        (heard.0 > 0).then(|| heard.1 as f64 / heard.0 as f64),
    );

    // Precision and calibration over observable (account, date) pairs.
    let churned_within = |acct: u32, t: NaiveDate| {
        churns
            .get(&acct)
            .is_some_and(|c| c.churned_on > t && c.churned_on <= t + horizon)
    };
    let mut precision: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let bands = [
        (0.0, cfg.flags.medium / 2.0),
        (cfg.flags.medium / 2.0, cfg.flags.medium),
        (cfg.flags.medium, cfg.flags.high),
        (cfg.flags.high, 100.5),
    ];
    let mut calibration = vec![(0u64, 0u64); bands.len()];
    for (&acct, points) in &by_account {
        for p in points.iter().filter(|p| p.date + horizon <= to) {
            let churned = churned_within(acct, p.date);
            if p.flagged {
                for scope in ["overall".to_owned(), scope_name(p.primary)] {
                    let e = precision.entry(scope).or_default();
                    e.0 += 1;
                    e.1 += u64::from(churned);
                }
            }
            if let Some(b) = bands
                .iter()
                .position(|(lo, hi)| (p.risk as f64) >= *lo && (p.risk as f64) < *hi)
            {
                calibration[b].0 += 1;
                calibration[b].1 += u64::from(churned);
            }
        }
    }
    for (scope, (n, hits)) in &precision {
        push("precision", scope.clone(), "flags", Some(*n as f64));
        push(
            "precision",
            scope.clone(),
            "churned_within_90d",
            Some(*hits as f64 / *n as f64),
        );
    }
    for ((lo, hi), (n, hits)) in bands.iter().zip(&calibration) {
        let scope = format!("{:.0}-{:.0}", lo, hi.min(100.0));
        push("calibration", scope.clone(), "scores", Some(*n as f64));
        push(
            "calibration",
            scope,
            "churned_within_90d",
            (*n > 0).then(|| *hits as f64 / *n as f64),
        );
    }

    // Alert load: newly flagged accounts per manager per week.
    let managers: HashSet<&str> = loaded
        .info
        .manager
        .iter()
        .map(|m| m.as_deref().unwrap_or(""))
        .collect();
    let mut new_alerts = 0u64;
    let mut flagged_now = 0u64;
    let mut previous: HashSet<u32> = HashSet::new();
    for (i, s) in series.iter().enumerate() {
        let current: HashSet<u32> = s
            .scores
            .iter()
            .filter(|x| x.level != RiskLevel::Low)
            .map(|x| x.acct)
            .collect();
        if i > 0 {
            new_alerts += current.difference(&previous).count() as u64;
        }
        flagged_now += current.len() as u64;
        previous = current;
    }
    let weeks = (series.len().saturating_sub(1)) as f64 * step_days as f64 / 7.0;
    let m = managers.len().max(1) as f64;
    push(
        "alerts",
        "overall".to_owned(),
        "new_alerts_per_manager_week",
        (weeks > 0.0).then(|| new_alerts as f64 / m / weeks),
    );
    push(
        "alerts",
        "overall".to_owned(),
        "flagged_per_manager",
        (!series.is_empty()).then(|| flagged_now as f64 / m / series.len() as f64),
    );

    let text = render(&metrics, from, to, step_days, dates.len(), evaluated.len());
    Ok(BacktestReport { metrics, text })
}

fn render(
    metrics: &[Metric],
    from: NaiveDate,
    to: NaiveDate,
    step: i64,
    n_dates: usize,
    n_churns: usize,
) -> String {
    let get: HashMap<(&str, &str, &str), Option<f64>> = metrics
        .iter()
        .map(|m| ((m.section, m.scope.as_str(), m.metric), m.value))
        .collect();
    let v = |s: &str, scope: &str, m: &str| get.get(&(s, scope, m)).copied().flatten();
    let pct = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{:.0}%", x * 100.0));
    let num = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.0}"));
    let mut t = String::new();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let _ = writeln!(
        t,
        "backtest {from} .. {to}, every {step} days ({}), {} evaluated\n",
        plural(n_dates, "date", "dates"),
        plural(n_churns, "cancellation", "cancellations"),
    );
    let _ = writeln!(
        t,
        "{:<12} {:>8} {:>8} {:>8} {:>8} {:>12} {:>10} {:>7}",
        "scope", "churned", "≥30d", "≥60d", "≥90d", "median lead", "precision", "flags"
    );
    let mut scopes: Vec<&str> = vec!["overall"];
    scopes.extend(Category::ALL.iter().map(|c| c.as_str()));
    scopes.push("none");
    for scope in scopes {
        let churned = v("lead_time", scope, "churned_accounts");
        let flags = v("precision", scope, "flags");
        if churned.is_none() && flags.is_none() {
            continue;
        }
        let _ = writeln!(
            t,
            "{:<12} {:>8} {:>8} {:>8} {:>8} {:>12} {:>10} {:>7}",
            scope,
            num(churned),
            pct(v("lead_time", scope, "flagged_30d_before")),
            pct(v("lead_time", scope, "flagged_60d_before")),
            pct(v("lead_time", scope, "flagged_90d_before")),
            v("lead_time", scope, "median_lead_days").map_or("-".to_owned(), days_text),
            pct(v("precision", scope, "churned_within_90d")),
            num(flags),
        );
    }
    // New flags need two dates to be new between; with one there is no rate.
    let new_per_week = v("alerts", "overall", "new_alerts_per_manager_week").map_or_else(
        || "- (one date: no new flags to count)".to_owned(),
        |x| format!("{x:.2}"),
    );
    let _ = writeln!(
        t,
        "\nalerts: {new_per_week} new flags per manager per week; {} flagged accounts per manager on a given day",
        v("alerts", "overall", "flagged_per_manager").map_or("-".to_owned(), |x| format!("{x:.1}")),
    );
    if let Some(rate) = v("heard", "overall", "agreement") {
        let _ = writeln!(
            t,
            "exit interviews: the data's category matches the heard reason for {} of {} interviewed cancellations",
            pct(Some(rate)),
            num(v("heard", "overall", "interviewed")),
        );
    }
    let _ = writeln!(t, "\ncalibration (risk band → churned within 90 days):");
    for m in metrics
        .iter()
        .filter(|m| m.section == "calibration" && m.metric == "scores")
    {
        let _ = writeln!(
            t,
            "  {:<8} {:>7} scores  {:>5} churned",
            m.scope,
            num(m.value),
            pct(v("calibration", &m.scope, "churned_within_90d"))
        );
    }
    t
}

/// `churnwatch backtest`: replays and measures, writes `backtest.csv`.
pub fn command(
    cfg: &Config,
    from: NaiveDate,
    to: NaiveDate,
    step_days: i64,
) -> Result<BacktestReport, Error> {
    let _lock = OutputLock::acquire(&cfg.output_dir)?;
    let loaded = load(cfg)?;
    check_budget(cfg, &loaded.tables)?;
    let t = Instant::now();
    let report = backtest(&loaded, cfg, from, to, step_days)?;
    write_atomic(&cfg.output_dir.join("backtest.csv"), &report.csv())?;
    info!(from = %from, to = %to, step_days, elapsed_ms = t.elapsed().as_millis() as u64, "backtest written");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_days_print_as_the_csv_holds_them() {
        assert_eq!(days_text(70.0), "70 d");
        assert_eq!(days_text(70.5), "70.5 d");
    }
}
