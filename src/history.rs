//! Replaying the scoring over past dates, for backtest and post-mortem: scores as of
//! each date from the same exports (each date sees only rows dated on or before it),
//! and the churn events to compare them with.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::config::Config;
use crate::error::Error;
use crate::pipeline::{Loaded, score_as_of};
use crate::scoring::AccountScore;
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
