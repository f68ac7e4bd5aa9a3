//! Replaying the scoring over past dates, for backtest and post-mortem: scores as of
//! each date from the same exports (each date sees only rows dated on or before it),
//! and the churn events to compare them with.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;

use crate::config::Config;
use crate::error::Error;
use crate::pipeline::{Cohort, Loaded, score_as_of, score_cohort_as_of};
use crate::report::{Change, CompanyTrend, Trail, WEEKS_BACK, WEEKS_SHOWN, points};
use crate::scoring::{AccountScore, Category, RiskLevel};
use crate::validate::date_of_day;

/// Scores of every account active on one date.
pub struct Scored {
    pub date: NaiveDate,
    pub scores: Vec<AccountScore>,
}

/// Scores as of each date, oldest first.
pub fn replay(loaded: &Loaded, cfg: &Config, dates: &[NaiveDate]) -> Result<Vec<Scored>, Error> {
    dates
        .iter()
        .map(|&date| {
            let (_, scores) = score_as_of(loaded, cfg, date)?;
            Ok(Scored { date, scores })
        })
        .collect()
}

/// The morning view's past, from the exports alone (a backfill gives what that night
/// gave):
/// - the accounts flagged today, scored as of each of the last `WEEKS_SHOWN - 1`
///   weeks (their own rows only, [`Cohort`]): their weekly risk, `change` and the
///   start of their flagged stretch, walked further back week by week up to
///   `WEEKS_BACK` for those flagged all along;
/// - every account scored every `COMPANY_STEP_WEEKS` weeks: the company's flagged
///   count, and the scores `trend_28d` compares with. A full scoring costs as much
///   as today's, so the company's line has a point every 4 weeks, not every week.
pub struct Morning {
    pub trails: HashMap<u32, Trail>,
    pub company: CompanyTrend,
    /// Every account's scores `k × COMPANY_STEP_WEEKS` weeks ago, `k` = 1, 2, ….
    pub full: Vec<Vec<AccountScore>>,
}

/// Weeks between the company's points.
pub const COMPANY_STEP_WEEKS: usize = 4;

/// Every account scored as of each company week (every `COMPANY_STEP_WEEKS` weeks
/// back within `WEEKS_SHOWN`), two dates at a time: `(weeks back, scores)`. Needs
/// nothing of tonight's scores, so the run computes it beside them.
pub fn company_weeks(
    loaded: &Loaded,
    cfg: &Config,
    as_of: NaiveDate,
) -> Result<Vec<(usize, Vec<AccountScore>)>, Error> {
    let weeks: Vec<usize> = (1..WEEKS_SHOWN)
        .filter(|k| k % COMPANY_STEP_WEEKS == 0)
        .collect();
    two_at_a_time(&weeks, |k| {
        Ok(score_as_of(loaded, cfg, week_before(as_of, k))?.1)
    })
}

fn week_before(as_of: NaiveDate, k: usize) -> NaiveDate {
    as_of - chrono::Duration::days(7 * k as i64)
}

/// `score(k)` for every `k` of `weeks`, on two threads (each fills the other's idle
/// time); results by `k`.
fn two_at_a_time(
    weeks: &[usize],
    score: impl Fn(usize) -> Result<Vec<AccountScore>, Error> + Sync,
) -> Result<Vec<(usize, Vec<AccountScore>)>, Error> {
    let next = AtomicUsize::new(0);
    type Scored = Vec<(usize, Vec<AccountScore>)>;
    let done: Vec<Result<Scored, Error>> = std::thread::scope(|scope| {
        let worker = || -> Result<Scored, Error> {
            let mut done = Vec::new();
            while let Some(&k) = weeks.get(next.fetch_add(1, Ordering::Relaxed)) {
                done.push((k, score(k)?));
            }
            Ok(done)
        };
        let other = scope.spawn(worker);
        let mine = worker();
        vec![mine, other.join().expect("scoring does not panic")]
    });
    let mut all = Vec::new();
    for result in done {
        all.extend(result?);
    }
    Ok(all)
}

/// `full` is [`company_weeks`]' result.
pub fn morning(
    loaded: &Loaded,
    cfg: &Config,
    as_of: NaiveDate,
    today: &[AccountScore],
    full: Vec<(usize, Vec<AccountScore>)>,
) -> Result<Morning, Error> {
    let week = |k: usize| week_before(as_of, k);
    let flagged = |s: &AccountScore| s.level != RiskLevel::Low;
    // Ascending, as a cohort wants them (`today` is in account order).
    let mut accts: Vec<u32> = today
        .iter()
        .filter(|s| flagged(s))
        .map(|s| s.acct)
        .collect();
    accts.sort_unstable();
    let cohort = Cohort::new(&loaded.frames, &accts, &loaded.norms)?;
    let company_weeks: Vec<usize> = full.iter().map(|(k, _)| *k).collect();
    let cohort_weeks: Vec<usize> = (1..WEEKS_SHOWN)
        .filter(|k| !company_weeks.contains(k))
        .collect();
    let done = two_at_a_time(&cohort_weeks, |k| score_cohort_as_of(&cohort, cfg, week(k)))?;
    let mut company_weeks = company_weeks;
    company_weeks.sort_unstable();
    let mut by_week: Vec<Vec<AccountScore>> = vec![Vec::new(); WEEKS_SHOWN];
    for (k, scores) in done.into_iter().chain(full) {
        by_week[k] = scores;
    }
    let company = CompanyTrend {
        weeks: company_weeks
            .iter()
            .rev()
            .map(|&k| week(k))
            .chain([as_of])
            .collect(),
        flagged: company_weeks
            .iter()
            .rev()
            .map(|&k| by_week[k].iter().filter(|s| flagged(s)).count())
            .chain([accts.len()])
            .collect(),
    };
    let at_week: Vec<HashMap<u32, &AccountScore>> = by_week
        .iter()
        .map(|scores| scores.iter().map(|s| (s.acct, s)).collect())
        .collect();

    let mut trails = HashMap::new();
    let mut open = Vec::new(); // flagged at every week looked at so far
    for s in today.iter().filter(|s| flagged(s)) {
        let at = |k: usize| at_week[k].get(&s.acct).copied();
        let mut weekly_risk: Vec<Option<i64>> = (1..WEEKS_SHOWN)
            .rev()
            .map(|k| at(k).map(|p| points(p.risk)))
            .collect();
        weekly_risk.push(Some(points(s.risk)));
        let change = match at(1) {
            Some(p) if flagged(p) => {
                let rise = points(s.risk) - points(p.risk);
                (rise as f64 >= cfg.flags.rising_points).then_some(Change::Rising)
            }
            _ => Some(Change::New),
        };
        let stretch = (1..WEEKS_SHOWN)
            .take_while(|&k| at(k).is_some_and(flagged))
            .count();
        if stretch == WEEKS_SHOWN - 1 {
            open.push(s.acct);
        }
        let trail = Trail {
            flagged_since: week(stretch),
            change,
            weekly_risk,
        };
        trails.insert(s.acct, trail);
    }
    // Further back: only the accounts flagged all along, only their rows, two weeks
    // at a time (at most one week is scored in vain), the cohort narrowed to the
    // accounts still flagged after each pair.
    open.sort_unstable();
    let further: Vec<usize> = (WEEKS_SHOWN..=WEEKS_BACK).collect();
    for pair in further.chunks(2) {
        if open.is_empty() {
            break;
        }
        let cohort = Cohort::new(&loaded.frames, &open, &loaded.norms)?;
        let mut scored = two_at_a_time(pair, |k| score_cohort_as_of(&cohort, cfg, week(k)))?;
        scored.sort_unstable_by_key(|(k, _)| *k);
        for (k, scores) in scored {
            let still: HashSet<u32> = scores
                .iter()
                .filter(|s| flagged(s))
                .map(|s| s.acct)
                .collect();
            open.retain(|a| still.contains(a));
            if open.is_empty() {
                break;
            }
            for a in &open {
                if let Some(t) = trails.get_mut(a) {
                    t.flagged_since = week(k);
                }
            }
        }
    }
    let full = company_weeks
        .iter()
        .map(|&k| std::mem::take(&mut by_week[k]))
        .collect();
    Ok(Morning {
        trails,
        company,
        full,
    })
}

/// `from`, `from + step`, … up to and including `to`.
pub fn date_grid(from: NaiveDate, to: NaiveDate, step_days: i64) -> Vec<NaiveDate> {
    let mut dates = Vec::new();
    let mut d = from;
    while d <= to {
        dates.push(d);
        d += chrono::Duration::days(step_days);
    }
    dates
}

/// A past cancellation: the first churn event of an account.
#[derive(Debug, Clone)]
pub struct Churn {
    pub acct: u32,
    pub churned_on: NaiveDate,
    pub stated_reason: String,
}

/// First churn event per account, by account.
pub fn churns(loaded: &Loaded) -> Result<BTreeMap<u32, Churn>, Error> {
    let frame = &loaded.frames.churn_events;
    let read = || -> polars::prelude::PolarsResult<BTreeMap<u32, Churn>> {
        let acct = frame.column("acct")?.u32()?;
        let day = frame.column("churned_on")?.i32()?;
        let reason = frame.column("stated_reason")?.str()?;
        let mut out: BTreeMap<u32, Churn> = BTreeMap::new();
        for ((a, d), r) in acct.iter().zip(day.iter()).zip(reason.iter()) {
            let (Some(a), Some(d)) = (a, d) else { continue };
            let churn = Churn {
                acct: a,
                churned_on: date_of_day(d),
                stated_reason: r.unwrap_or("").trim().to_owned(),
            };
            match out.get(&a) {
                Some(existing) if existing.churned_on <= churn.churned_on => {}
                _ => {
                    out.insert(a, churn);
                }
            }
        }
        Ok(out)
    };
    read().map_err(Error::polars("history"))
}

/// The latest exit interview of each account: heard reason and notes.
pub fn exit_interviews(loaded: &Loaded) -> Result<HashMap<u32, (String, String)>, Error> {
    let Some(table) = loaded.tables.iter().find(|t| t.name == "exit_interviews") else {
        return Ok(HashMap::new());
    };
    let frame = &table.frame;
    let read = || -> polars::prelude::PolarsResult<HashMap<u32, (String, String)>> {
        let mut out: HashMap<u32, (i32, String, String)> = HashMap::new();
        if frame.height() == 0 {
            return Ok(HashMap::new());
        }
        let acct = frame.column("acct")?.u32()?;
        let on = frame.column("interviewed_on")?.i32()?;
        let heard = frame.column("heard_category")?.str()?;
        let notes = frame.column("notes")?.str()?;
        for i in 0..frame.height() {
            let (Some(a), Some(d), Some(h)) = (acct.get(i), on.get(i), heard.get(i)) else {
                continue;
            };
            let note = notes.get(i).unwrap_or("").trim().to_owned();
            if out.get(&a).is_none_or(|e| e.0 <= d) {
                out.insert(a, (d, h.to_owned(), note));
            }
        }
        Ok(out.into_iter().map(|(a, (_, h, n))| (a, (h, n))).collect())
    };
    read().map_err(Error::polars("history"))
}

/// Whether what an exit interview heard agrees with the data's category: the same
/// category, or `external` where the data shows none (the post-mortem's and the
/// backtest's one rule).
pub fn heard_agrees(heard: &str, data: Option<Category>) -> bool {
    data.map_or(heard == "external", |c| heard == c.as_str())
}

/// Median of whole days, `None` for no values.
pub fn median(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2] as f64
    } else {
        (values[n / 2 - 1] + values[n / 2]) as f64 / 2.0
    })
}
