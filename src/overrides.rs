//! Overrides (overrides.csv): a manager's judgement applied to the night's scores.
//! A `snooze` hides a flag only while the account does not get worse than it was
//! when the snooze was set; a `flag` lists a calm account with the manager's reason
//! first. Each holds from its `set_on` to its `until`, never before `set_on`, so a
//! backfill for an earlier date gives what that night gave.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::config::{Config, Language};
use crate::error::Error;
use crate::output::{ExpiredOverride, OverrideSummary};
use crate::pipeline::{Cohort, Loaded, score_cohort_as_of};
use crate::report::points;
use crate::scoring::{AccountScore, Category, RiskLevel, combine, level_of};
use crate::validate::date_of_day;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Snooze,
    Flag,
}

/// One row of overrides.csv, validated.
#[derive(Debug, Clone)]
pub struct Override {
    pub acct: u32,
    pub action: Action,
    /// `None`: the whole account.
    pub category: Option<Category>,
    pub until: NaiveDate,
    pub comment: String,
    pub set_by: Option<String>,
    pub set_on: NaiveDate,
}

/// What the override in force did to one account, for its row.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The `override` column.
    pub cell: String,
    /// Written before the account's reasons.
    pub first_reason: Option<String>,
    /// The date from which a `flag` override lists the account.
    pub flag_set_on: Option<NaiveDate>,
}

/// The overrides table's rows (quarantined ones are already out).
pub fn read(loaded: &Loaded) -> Result<Vec<Override>, Error> {
    let Some(table) = loaded.tables.iter().find(|t| t.name == "overrides") else {
        return Ok(Vec::new());
    };
    let frame = &table.frame;
    let get = || -> PolarsResult<Vec<Override>> {
        if frame.height() == 0 {
            return Ok(Vec::new());
        }
        let acct = frame.column("acct")?.u32()?;
        let text = |name: &str| frame.column(name).and_then(|c| c.str().cloned());
        let day = |name: &str| frame.column(name).and_then(|c| c.i32().cloned());
        let (action, category, comment, set_by) = (
            text("action")?,
            text("category")?,
            text("comment")?,
            text("set_by")?,
        );
        let (until, set_on) = (day("until")?, day("set_on")?);
        let mut out = Vec::with_capacity(frame.height());
        for i in 0..frame.height() {
            let (Some(acct), Some(until), Some(set_on)) =
                (acct.get(i), until.get(i), set_on.get(i))
            else {
                continue; // required: validation quarantined such rows
            };
            out.push(Override {
                acct,
                action: if action.get(i) == Some("flag") {
                    Action::Flag
                } else {
                    Action::Snooze
                },
                category: category
                    .get(i)
                    .and_then(|c| Category::ALL.into_iter().find(|k| k.as_str() == c)),
                until: date_of_day(until),
                comment: comment.get(i).unwrap_or("").trim().to_owned(),
                set_by: set_by
                    .get(i)
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty()),
                set_on: date_of_day(set_on),
            });
        }
        Ok(out)
    };
    get().map_err(Error::polars("overrides"))
}

/// Applies the overrides in force on `as_of` to `scores` (the night's, every active
/// account): per account the one set last (a later row wins a tie). Returns what
/// each did, by account, and the night's summary.
pub fn apply(
    loaded: &Loaded,
    cfg: &Config,
    as_of: NaiveDate,
    overrides: &[Override],
    scores: &mut [AccountScore],
) -> Result<(HashMap<u32, Applied>, OverrideSummary), Error> {
    let mut summary = OverrideSummary::default();
    // Per account, the override set last by the date (a later row wins a tie): if it
    // has expired, nothing is in force; an older one never comes back.
    let mut latest: BTreeMap<u32, &Override> = BTreeMap::new();
    for o in overrides {
        if o.set_on > as_of {
            summary.not_yet_set += 1;
        } else if let Some(previous) = latest.insert(o.acct, o) {
            summary.superseded += 1;
            if previous.set_on > o.set_on {
                latest.insert(o.acct, previous);
            }
        }
    }
    let mut in_force: BTreeMap<u32, &Override> = BTreeMap::new();
    for (&acct, &o) in &latest {
        if o.until < as_of {
            summary.expired.push(ExpiredOverride {
                account_id: loaded.info.id[acct as usize].clone(),
                action: action_str(o.action).to_owned(),
                category: o.category.map(|c| c.as_str().to_owned()),
                until: o.until.to_string(),
                set_by: o.set_by.clone(),
            });
        } else {
            in_force.insert(acct, o);
        }
    }
    // Snoozes are judged against the account as it was when they were set: one
    // cohort of the snoozed accounts, scored on each day a snooze was set.
    let mut snoozed: Vec<u32> = in_force
        .values()
        .filter(|o| o.action == Action::Snooze)
        .map(|o| o.acct)
        .collect();
    snoozed.sort_unstable();
    let dates: std::collections::BTreeSet<NaiveDate> = in_force
        .values()
        .filter(|o| o.action == Action::Snooze)
        .map(|o| o.set_on)
        .collect();
    let mut then: HashMap<(u32, NaiveDate), AccountScore> = HashMap::new();
    if !dates.is_empty() {
        let cohort = Cohort::new(&loaded.frames, &snoozed, &loaded.norms)?;
        for date in dates {
            for s in score_cohort_as_of(&cohort, cfg, date)? {
                then.insert((s.acct, date), s);
            }
        }
    }
    let lang = cfg.language;
    let mut applied = HashMap::new();
    for score in scores.iter_mut() {
        let Some(&o) = in_force.get(&score.acct) else {
            continue;
        };
        summary.in_force += 1;
        let by = o.set_by.as_deref().unwrap_or("?");
        let what = o.category.map_or_else(
            || match lang {
                Language::Ja => "口座全体".to_owned(),
                Language::En => "whole account".to_owned(),
            },
            |c| c.label(lang).to_owned(),
        );
        let result = match o.action {
            Action::Flag => {
                if score.level == RiskLevel::Low {
                    score.level = RiskLevel::Medium;
                    summary.flagged_by_manager += 1;
                }
                if score.primary.is_none() {
                    score.primary = o.category;
                }
                Applied {
                    cell: cell(o, &what, by, lang),
                    first_reason: Some(match lang {
                        Language::Ja => {
                            format!("担当者の懸念（{by}、{}）: {}", o.set_on, o.comment)
                        }
                        Language::En => {
                            format!("manager's concern ({by}, {}): {}", o.set_on, o.comment)
                        }
                    }),
                    flag_set_on: Some(o.set_on),
                }
            }
            Action::Snooze => {
                let before = then.get(&(score.acct, o.set_on));
                let measure = |s: &AccountScore| match o.category {
                    Some(c) => points(s.category(c)),
                    None => points(s.risk),
                };
                // An account not yet active on set_on is judged from tonight on.
                let now = measure(score);
                let was = before.map_or(now, measure);
                if (now as f64) < was as f64 + cfg.flags.snooze_margin {
                    let flagged = score.level != RiskLevel::Low;
                    // The scores stay what the data says (evidence.csv adds up to
                    // them); only the flag follows the manager: decided without the
                    // snoozed category (which no longer drives it), or not at all.
                    match o.category {
                        Some(c) => {
                            let mut others = score.categories;
                            others[c as usize] = 0.0;
                            let (risk, primary) = combine(others, cfg.flags.secondary_weight);
                            score.level = level_of(risk, cfg);
                            score.primary = primary;
                        }
                        None => score.level = RiskLevel::Low,
                    }
                    summary.snoozed += usize::from(flagged && score.level == RiskLevel::Low);
                    Applied {
                        cell: cell(o, &what, by, lang),
                        first_reason: None,
                        flag_set_on: None,
                    }
                } else {
                    summary.snoozes_broken += 1;
                    Applied {
                        cell: match lang {
                            Language::Ja => {
                                format!("snooze解除: {was}→{now}（{what}、{by}: {}）", o.comment)
                            }
                            Language::En => format!(
                                "snooze lifted: from {was} to {now} ({what}, {by}: {})",
                                o.comment
                            ),
                        },
                        first_reason: Some(match lang {
                            Language::Ja => {
                                format!("{}にスヌーズ（{what}）した後に悪化: {was}→{now}", o.set_on)
                            }
                            Language::En => format!(
                                "worse since it was snoozed on {} ({what}): from {was} to {now}",
                                o.set_on
                            ),
                        }),
                        flag_set_on: None,
                    }
                }
            }
        };
        applied.insert(score.acct, result);
    }
    Ok((applied, summary))
}

/// The `override` column of an override in force: its action, comment, scope, who
/// and until when.
fn cell(o: &Override, what: &str, by: &str, lang: Language) -> String {
    let action = action_str(o.action);
    match lang {
        Language::Ja => format!("{action}: {}（{what}、{by}、{}まで）", o.comment, o.until),
        Language::En => format!("{action}: {} ({what}, {by}, until {})", o.comment, o.until),
    }
}

fn action_str(a: Action) -> &'static str {
    match a {
        Action::Snooze => "snooze",
        Action::Flag => "flag",
    }
}
