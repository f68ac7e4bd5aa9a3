//! Per-account signals as of a date: polars lazy aggregations over the validated
//! frames, and plain passes over each account's rows where a grouped expression cost
//! too much. Only rows dated on or before the as-of date are looked at.
//!
//! Each table is filtered to "known by the as-of date", grouped by account once, and
//! every windowed figure is a filtered aggregation inside that one `group_by`. The
//! results are left-joined onto the accounts frame and collected once per date. The
//! weekly and four-weekly activity counts, the meetings' counts, every message
//! figure, the promises', the study sessions' and the invoices' figures come from
//! plain passes over the rows (`meeting_figures`, `message_figures`, both counting
//! activity with `count_activity`; `promise_figures`, `session_figures`,
//! `invoice_figures`). The plan keeps the meetings' gaps and the outcomes.

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use polars::prelude::*;

use crate::calendar::is_holiday_week;
use crate::config::{ACTIVITY_BLOCK_DAYS, ACTIVITY_BLOCKS, Windows};
use crate::error::Error;
use crate::evidence::block_x2;
use crate::validate::{col as c, day_number, epoch_minutes, status_code};

/// The validated frames of one run; absent optional tables are empty frames.
pub struct Frames {
    pub accounts: DataFrame,
    pub meetings: DataFrame,
    pub messages: DataFrame,
    pub action_items: DataFrame,
    pub study_sessions: DataFrame,
    pub invoices: DataFrame,
    /// One reading per account and period ([`kpi_periods`]), not the export's rows.
    pub outcomes: DataFrame,
    pub churn_events: DataFrame,
}

/// Declares [`AccountFeatures`] and the reading of its columns in one list, so the
/// struct and its extraction cannot drift apart: a field listed under `counts` or
/// `nums` is read from the joined frame's column of the same name (a count is 0
/// where an account had no rows; a number is `None`). `derived` fields are set in
/// [`extract`] and by the plain passes.
macro_rules! account_features {
    (
        derived { $( $(#[$dm:meta])* $dfield:ident: $dty:ty, )* }
        counts { $( $(#[$cm:meta])* $cfield:ident, )* }
        nums { $( $(#[$nm:meta])* $nfield:ident, )* }
    ) => {
        /// Everything scoring needs to know about one account on one date. Counts
        /// are 0 where the account has no rows; averages and medians are `None`
        /// where nothing was measured.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct AccountFeatures {
            $( $(#[$dm])* pub $dfield: $dty, )*
            $( $(#[$cm])* pub $cfield: i64, )*
            $( $(#[$nm])* pub $nfield: Option<f64>, )*
        }

        /// Reads every declared column into the field of the same name.
        fn fill_declared(
            out: &mut [AccountFeatures],
            counts: impl Fn(&str) -> PolarsResult<Vec<i64>>,
            nums: impl Fn(&str) -> PolarsResult<Vec<Option<f64>>>,
        ) -> PolarsResult<()> {
            $( for (f, v) in out.iter_mut().zip(counts(stringify!($cfield))?) { f.$cfield = v; } )*
            $( for (f, v) in out.iter_mut().zip(nums(stringify!($nfield))?) { f.$nfield = v; } )*
            Ok(())
        }
    };
}

account_features! {
    derived {
        acct: u32,
        history_days: i32,
        outcome_agreed: Option<bool>,
        last_touch_day: Option<i32>,
        touches_recent: i64,
        touches_base: i64,
        /// Replies in `replies_recent_days` and in `unanswered_lookback_days`
        /// against each window's baseline: twice the Mann–Whitney statistic (pairs
        /// of a recent and an earlier reply in which the recent one is slower, ties
        /// half; the pairs are `reply_recent_n × reply_base_n` and
        /// `reply_long_n × reply_long_base_n`), from [`AsOf::message_figures`].
        reply_recent_u2: i64,
        reply_long_u2: i64,
        /// Meetings scheduled by the date, from [`AsOf::meeting_figures`]: in the
        /// meetings' recent window and its baseline, held, scheduled (any status)
        /// and missed by the client; in `team_behaviour_days` and its baseline,
        /// held, held with the team late, scheduled, and missed by the team
        /// (cancelled, no-show or rescheduled).
        held_recent: i64,
        held_base: i64,
        scheduled_recent: i64,
        scheduled_base: i64,
        client_cancelled_recent: i64,
        client_cancelled_base: i64,
        held_team_window: i64,
        held_team_base: i64,
        late_team_window: i64,
        late_team_base: i64,
        scheduled_team_window: i64,
        scheduled_team_base: i64,
        team_cancelled_window: i64,
        team_cancelled_base: i64,
        /// The last held proposal, the last held meeting, the first meeting.
        last_proposal_day: Option<i32>,
        last_meeting_day: Option<i32>,
        first_meeting_day: Option<i32>,
        /// Replies (messages received) in `replies_recent_days`, its baseline,
        /// `unanswered_lookback_days` and its baseline, and their median delay in
        /// business hours (`None` for none), from the same pass.
        reply_recent_n: i64,
        reply_base_n: i64,
        reply_long_n: i64,
        reply_long_base_n: i64,
        reply_recent_h: Option<f64>,
        reply_base_h: Option<f64>,
        reply_long_h: Option<f64>,
        reply_long_base_h: Option<f64>,
        /// Messages of the look-back and its baseline that have waited
        /// `unanswered_after_hours` by the cutoff, and those of them still unanswered.
        waited_recent: i64,
        unanswered: i64,
        waited_base: i64,
        unanswered_base: i64,
        /// Client messages in the meetings' recent window and its baseline.
        client_messages_recent: i64,
        client_messages_base: i64,
        /// Held meetings plus client messages in each of the
        /// [`Windows::engagement_weeks`] weeks before the as-of date, week 0 the last
        /// seven days: what the engagement CUSUM accumulates week by week.
        engagement_weeks: Vec<u32>,
        /// Held meetings plus client messages, and client messages alone, in each
        /// of the `ACTIVITY_BLOCKS` four-week blocks before the engagement weeks
        /// (block 0 the nearest, a year in all): the account's usual activity and
        /// how much more than Poisson it varies ([`Windows::activity_reach`]).
        engagement_blocks: Vec<u32>,
        message_blocks: Vec<u32>,
        /// Promises made by the date, from [`AsOf::promise_figures`]: still open
        /// past their due date and grace, and the oldest of them in days overdue;
        /// come due (plus grace) in `team_behaviour_days` and its baseline, and kept
        /// late or still open among them; made in the meetings' recent window and
        /// its baseline.
        overdue_open: i64,
        overdue_oldest_days: Option<i32>,
        due_recent: i64,
        late_recent: i64,
        due_base: i64,
        late_base: i64,
        promised_recent: i64,
        promised_base: i64,
        /// Study sessions by the date, invited and attended, in the attendance
        /// window and its baseline, from [`AsOf::session_figures`].
        invited_recent: i64,
        attended_recent: i64,
        invited_base: i64,
        attended_base: i64,
        /// Invoices issued by the date, from [`AsOf::invoice_figures`]: the median
        /// fee (positive amounts) in the invoices' recent window and its baseline
        /// (medians on both sides: one-off extra invoices are not a fee increase),
        /// the baseline's invoices and how many of them are the flat fee (within
        /// [`FLAT_FEE_SPREAD`] of its median); the mean days late of the positive
        /// invoices that came due in each window and how many (an unpaid one is late
        /// by the days it has waited so far); disputed and all invoices in
        /// `disputes_days` and its baseline; invoices in the meetings' recent window.
        fee_recent: Option<f64>,
        fee_base: Option<f64>,
        fee_base_n: i64,
        fee_base_flat: i64,
        /// The latest invoice in the recent window at the contracted `monthly_fee`
        /// (within [`CONTRACT_MATCH`]): the fee the contract confirms, whatever
        /// extra invoices come after it.
        fee_contracted: Option<f64>,
        pay_late_recent: Option<f64>,
        pay_late_recent_n: i64,
        pay_late_base: Option<f64>,
        pay_late_base_n: i64,
        disputes: i64,
        invoiced_dispute_window: i64,
        disputes_base: i64,
        invoiced_dispute_base: i64,
        invoiced_recent: i64,
    }
    counts {
        kpi_recent_n,
        kpi_base_n,
        meeting_gaps_base_n,
        meeting_gaps_recent_n,
    }
    nums {
        /// The contracted monthly fee, from the accounts export.
        monthly_fee,
        kpi_recent,
        /// The latest recent month's attainment (the mean of its metrics): a decline
        /// that holds reaches it, a bad month before it is over.
        kpi_recent_last,
        kpi_base,
        /// Standard deviation of the baseline attainments (`None` below two).
        kpi_base_sd,
        /// Days between held meetings in the baseline: mean, spread, how many gaps; and
        /// the longest gap ending in the recent window.
        meeting_gap_base,
        meeting_gap_base_sd,
        meeting_gap_recent_max,
        /// Median and number of the gaps ending in the last `2 × meetings_recent_days`.
        meeting_gap_recent_median,
    }
}

/// Features of every account active on the as-of date, plus the team's norms.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub as_of: NaiveDate,
    pub day: i32,
    /// Median reply delay (hours) over every account's baseline window.
    pub team_reply_h: Option<f64>,
    /// Whether the export records proposals at all (some account has a held
    /// `proposal` meeting): without that, "no proposal in N days" says nothing.
    pub proposals_recorded: bool,
    /// Study sessions attended of those invited, over every account's baseline
    /// window: what a short baseline of one account is blended towards.
    pub team_attendance: Option<f64>,
    /// First day of the meetings and messages exports (`None` when a table is
    /// empty): an export that starts a year ago says nothing about the time before,
    /// so rates are taken over the days it covers.
    pub meetings_from: Option<i32>,
    pub messages_from: Option<i32>,
    /// Open days (outside the New Year, Golden Week and Obon weeks) counted back
    /// from the as-of date over the engagement weeks and the activity blocks
    /// ([`OpenDays`], [`Windows::activity_reach`]).
    pub open: OpenDays,
    /// How much the team's clients' four-weekly activity varies beyond chance
    /// (the squared coefficient of variation), by [`Series`]: what an account with a
    /// short record of its own is judged with ([`ActivityLog::spread`]).
    pub activity_cv2: [Option<f64>; 2],
    pub accounts: Vec<AccountFeatures>,
}

/// The activity series whose spread is learned: held meetings and client messages
/// together (engagement), and client messages alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Engagement = 0,
    Messages = 1,
}

/// How open for business the days before an as-of date are, as cumulative counts:
/// an ordinary day counts 1, a day of the New Year, Golden Week and Obon weeks the
/// share of an ordinary day's activity clients keep then ([`HolidayActivity`]).
/// Rates are per open day, so a holiday week in a recent window is not read as a
/// quieter client, nor one in a baseline as a quieter usual.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenDays {
    /// `cum[i]`: open days among the `i` days ending on the as-of date.
    cum: Vec<f64>,
}

impl OpenDays {
    /// Counts back from `day` over `reach` days (days further back count as open),
    /// a holiday-week day as `holiday` of a day.
    pub fn new(day: i32, reach: i32, holiday: f64) -> OpenDays {
        let mut cum = Vec::with_capacity(reach.max(0) as usize + 1);
        cum.push(0.0);
        for i in 0..reach.max(0) {
            let open = if is_holiday_week(day - i) {
                holiday
            } else {
                1.0
            };
            cum.push(cum[i as usize] + open);
        }
        OpenDays { cum }
    }

    /// Open days among the days `from` back (excluded) to `to` back (included)
    /// before the as-of date: `(d − from, d − to]`.
    pub fn between(&self, from: i32, to: i32) -> f64 {
        let at = |back: i32| {
            let last = self.cum.len() as i32 - 1;
            // Beyond the reach every day counts as open.
            self.cum[back.clamp(0, last) as usize] + f64::from((back - last).max(0))
        };
        at(from.max(to)) - at(to)
    }
}

/// How active clients are in the New Year, Golden Week and Obon weeks, as a share of
/// an ordinary day: every account's held meetings and client messages per holiday
/// day over those per ordinary day, counted from the exports' first day up to each
/// as-of date (so a backfill gives what that night gave), between 0 and 1. Learned,
/// not assumed: exports whose clients keep working through the holidays are judged
/// with holiday days as ordinary ones, and exports with no holiday yet the same
/// (1).
#[derive(Debug, Default)]
struct HolidayActivity {
    first_day: i32,
    /// Per day from `first_day`, cumulative up to and including it: events on
    /// holiday days, holiday days, events on ordinary days, ordinary days.
    cum: Vec<[f64; 4]>,
}

impl HolidayActivity {
    /// From the events (held meetings and client messages) of each day from
    /// `first`, counted in [`TeamNorms::new`]'s pass over them.
    fn new(first: i32, events: &[u64]) -> HolidayActivity {
        let mut sums = [0.0; 4];
        let cum = events
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let side = if is_holiday_week(first + i as i32) {
                    0
                } else {
                    2
                };
                sums[side] += n as f64;
                sums[side + 1] += 1.0;
                sums
            })
            .collect();
        HolidayActivity {
            first_day: first,
            cum,
        }
    }

    /// The share as of day `d`.
    fn on(&self, d: i32) -> f64 {
        if self.cum.is_empty() || d < self.first_day {
            return 1.0;
        }
        let i = ((d - self.first_day) as usize).min(self.cum.len() - 1);
        let [holiday, holidays, ordinary, ordinary_days] = self.cum[i];
        if holidays == 0.0 || ordinary == 0.0 {
            return 1.0;
        }
        ((holiday / holidays) / (ordinary / ordinary_days)).clamp(0.0, 1.0)
    }
}

/// Aggregating a value only where a predicate holds, as a plain column expression
/// (the value, or null elsewhere): grouped `median`/`mean`/`max` then run vectorised
/// over the whole frame instead of filtering inside every group, which is what makes
/// the feature stage scale.
trait OnlyWhere {
    fn only_where(self, predicate: Expr) -> Expr;
}

impl OnlyWhere for Expr {
    fn only_where(self, predicate: Expr) -> Expr {
        when(predicate).then(self).otherwise(lit(NULL))
    }
}

/// `from < day <= to`, with both ends as day numbers.
fn within(column: &str, from: i32, to: i32) -> Expr {
    col(column).gt(lit(from)).and(col(column).lt_eq(lit(to)))
}

fn count(predicate: Expr) -> Expr {
    predicate.fill_null(lit(false)).sum()
}

/// First instant of the day after `as_of` in the zone, in epoch seconds: the end of
/// "on or before".
fn cutoff_ts(as_of: NaiveDate, tz: Tz) -> i64 {
    let next = as_of
        .succ_opt()
        .unwrap_or(as_of)
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    // Where a DST change skips local midnight, the day starts at the first local
    // time that exists (zones shift by at most a few hours).
    (0..=4)
        .find_map(|h| {
            tz.from_local_datetime(&(next + chrono::Duration::hours(h)))
                .earliest()
        })
        .map_or_else(|| next.and_utc().timestamp(), |t| t.timestamp())
}

/// One as-of date: the day number, the end of that day as a timestamp, and the
/// windows. Each method builds one table's lazy aggregation per account.
#[derive(Clone, Copy)]
struct AsOf<'a> {
    d: i32,
    /// [`cutoff_ts`] in the datetime columns' unit ([`epoch_minutes`]).
    cutoff: i32,
    w: &'a Windows,
}

impl<'a> AsOf<'a> {
    fn new(w: &'a Windows, as_of: NaiveDate, tz: Tz) -> AsOf<'a> {
        AsOf {
            d: day_number(as_of),
            cutoff: epoch_minutes(cutoff_ts(as_of, tz)),
            w,
        }
    }
}

impl AsOf<'_> {
    /// `column` within the `length` days ending on the as-of date.
    fn recent(&self, column: &str, length: i32) -> Expr {
        within(column, self.d - length, self.d)
    }

    /// `column` within the baseline ([`Windows::baseline`]) of the recent window of
    /// `length` days. Every share and rate compares a `recent` with a `base` of the
    /// same `length`.
    fn base(&self, column: &str, length: i32, base: i32) -> Expr {
        let (from, to) = self.w.baseline(length, base);
        within(column, self.d - from, self.d - to)
    }

    /// Accounts active on the date: started, and not churned on or before it.
    fn accounts(&self, frames: &Frames) -> LazyFrame {
        let d = self.d;
        let acct = || col(c::ACCT);
        let churned = frames
            .churn_events
            .clone()
            .lazy()
            .filter(col("churned_on").lt_eq(lit(d)))
            .group_by([acct()])
            .agg([col("churned_on").min().alias("churned_day")]);
        frames
            .accounts
            .clone()
            .lazy()
            .filter(col("contract_start").lt_eq(lit(d)))
            .left_join(churned, acct(), acct())
            .filter(col("churned_day").is_null())
            .select([
                acct(),
                (lit(d) - col("contract_start")).alias("history_days"),
                col("outcome_agreed"),
                col("monthly_fee"),
            ])
    }

    /// The account's own meeting cadence: the days between consecutive held meetings
    /// whose later meeting falls in the meetings baseline window (mean, spread and
    /// how many), and the longest such gap ending in the recent window. The open gap
    /// since the last meeting is `last_meeting_day`'s.
    fn meeting_gaps(&self, frame: &DataFrame) -> LazyFrame {
        let AsOf { d, w, .. } = *self;
        let (mr, mb) = (w.meetings_recent_days, w.meetings_baseline_days);
        let day = "scheduled_at_day";
        let acct = || col(c::ACCT);
        let previous = |name: &str| col(name).shift(lit(1));
        let gap = when(acct().eq(previous(c::ACCT)))
            .then(col(day) - previous(day))
            .otherwise(lit(NULL));
        let base = || self.base(day, mr, mb);
        frame
            .clone()
            .lazy()
            .filter(
                col(day)
                    .lt_eq(lit(d))
                    .and(col("status").eq(lit(status_code("held")))),
            )
            .select([acct(), col(day)])
            .sort([c::ACCT, day], SortMultipleOptions::default())
            .with_columns([gap.cast(DataType::Float64).alias("gap")])
            .group_by([acct()])
            .agg([
                col("gap")
                    .only_where(base())
                    .mean()
                    .alias("meeting_gap_base"),
                col("gap")
                    .only_where(base())
                    .std(1)
                    .alias("meeting_gap_base_sd"),
                count(col("gap").is_not_null().and(base())).alias("meeting_gaps_base_n"),
                col("gap")
                    .only_where(self.recent(day, mr))
                    .max()
                    .alias("meeting_gap_recent_max"),
                // A sparse account's cadence needs several gaps: twice the window.
                col("gap")
                    .only_where(self.recent(day, 2 * mr))
                    .median()
                    .alias("meeting_gap_recent_median"),
                count(col("gap").is_not_null().and(self.recent(day, 2 * mr)))
                    .alias("meeting_gaps_recent_n"),
            ])
    }

    /// Days back from the date that the message windows reach: the start of the
    /// earliest baseline (each one reaches further back than its recent window).
    /// Messages received or answered before it are never read (at 18 months of
    /// history, about half of them).
    fn message_reach(&self) -> i32 {
        let w = self.w;
        [
            w.baseline(w.replies_recent_days, w.replies_baseline_days),
            w.baseline(w.unanswered_lookback_days, w.replies_baseline_days),
            w.baseline(w.meetings_recent_days, w.meetings_baseline_days),
            w.baseline(w.meetings_recent_days, w.touchpoint_baseline_days),
        ]
        .into_iter()
        .map(|(from, _)| from)
        .max()
        .expect("four windows")
    }

    /// KPI attainment per account, from its periods' readings ([`kpi_periods`]).
    fn outcomes(&self, frame: &DataFrame) -> LazyFrame {
        let AsOf { d, w, .. } = *self;
        let acct = || col(c::ACCT);
        let (or, ob) = (w.outcomes_recent_days, w.outcomes_baseline_days);
        let latest_month = col("period_end")
            .only_where(self.recent("period_end", or))
            .max();
        frame
            .clone()
            .lazy()
            .filter(col("period_end").lt_eq(lit(d)))
            .group_by([acct()])
            .agg([
                // Summed in sorted order: a float sum depends on its order, and the
                // same export with its rows shuffled must give the same figures.
                col("attainment")
                    .only_where(self.recent("period_end", or))
                    .sort(SortOptions::default())
                    .mean()
                    .alias("kpi_recent"),
                count(self.recent("period_end", or)).alias("kpi_recent_n"),
                col("attainment")
                    .only_where(self.base("period_end", or, ob))
                    .sort(SortOptions::default())
                    .mean()
                    .alias("kpi_base"),
                count(self.base("period_end", or, ob)).alias("kpi_base_n"),
                // The account's own month-to-month spread, which decides whether a
                // lower month is news.
                col("attainment")
                    .only_where(self.base("period_end", or, ob))
                    .sort(SortOptions::default())
                    .std(1)
                    .alias("kpi_base_sd"),
                // The latest recent month's attainment, the mean of its metrics.
                col("attainment")
                    .only_where(col("period_end").eq(latest_month))
                    .sort(SortOptions::default())
                    .mean()
                    .alias("kpi_recent_last"),
            ])
    }
}

/// The outcomes export as one reading per account and period: the mean attainment
/// of the metrics the period reports, by account and then period. A bad month pulls
/// a client's metrics down together, so the three metrics of one month are one
/// reading, not three independent ones (read as three, one bad month looked like a
/// trend to the KPI tests). Summed in sorted order, and flagged sorted by account as
/// `validate` flags its frames, so that a cohort's accounts get exactly the full
/// run's figures.
pub fn kpi_periods(outcomes: &DataFrame) -> PolarsResult<DataFrame> {
    let rows = outcomes
        .clone()
        .lazy()
        .select([
            col(c::ACCT),
            col("period_end"),
            attainment().alias("attainment"),
        ])
        .collect()?;
    let (acct, day, attained) = (
        one_chunk(&rows, c::ACCT, Column::u32)?,
        one_chunk(&rows, "period_end", Column::i32)?,
        one_chunk(&rows, "attainment", Column::f64)?,
    );
    let (acct, day, attained) = (Values::of(&acct), Values::of(&day), Values::of(&attained));
    let mut readings: Vec<(u32, i32, f64)> = (0..acct.len())
        .filter_map(|row| Some((acct.get(row)?, day.get(row)?, attained.get(row)?)))
        .collect();
    readings.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(a.2.total_cmp(&b.2)));
    let periods: Vec<&[(u32, i32, f64)]> =
        readings.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)).collect();
    let mean = |p: &&[(u32, i32, f64)]| p.iter().map(|r| r.2).sum::<f64>() / p.len() as f64;
    let mut acct = Column::new(
        c::ACCT.into(),
        periods.iter().map(|p| p[0].0).collect::<Vec<_>>(),
    );
    acct.set_sorted_flag(polars::series::IsSorted::Ascending);
    DataFrame::new_infer_height(vec![
        acct,
        Column::new(
            "period_end".into(),
            periods.iter().map(|p| p[0].1).collect::<Vec<_>>(),
        ),
        Column::new(
            "attainment".into(),
            periods.iter().map(mean).collect::<Vec<_>>(),
        ),
    ])
}

/// A KPI row's attainment: actual / target, inverted where lower is better, and
/// clipped to 0..2 so one runaway month cannot hide a decline elsewhere.
fn attainment() -> Expr {
    let raw = when(col("higher_is_better").fill_null(lit(true)))
        .then(col("actual") / col("target"))
        .otherwise(
            when(col("actual").gt(lit(0.0)))
                .then(col("target") / col("actual"))
                .otherwise(lit(2.0)),
        );
    when(raw.clone().lt(lit(0.0)))
        .then(lit(0.0))
        .otherwise(when(raw.clone().gt(lit(2.0))).then(lit(2.0)).otherwise(raw))
}

/// Accounts whose features are computed in one polars plan. The plan's intermediate
/// arrays grow with the rows it covers; slices of accounts bound that memory at scale
/// while small exports stay one slice.
const ACCOUNTS_PER_PLAN: u32 = 25_000;

impl Frames {
    /// The rows of accounts `from..to` (by `acct`) of every table: a zero-copy
    /// slice, since validation leaves every frame sorted by `acct`.
    fn slice(&self, from: u32, to: u32) -> PolarsResult<Frames> {
        let part = |frame: &DataFrame| -> PolarsResult<DataFrame> {
            let acct = frame.column(c::ACCT)?.u32()?;
            let first_at_or_after = |a: u32| {
                // Binary search over the (sorted) chunks of the column.
                let mut offset = 0;
                for chunk in acct.downcast_iter() {
                    let values = chunk.values().as_slice();
                    if values.last().is_some_and(|&last| last >= a) {
                        return offset + values.partition_point(|&v| v < a);
                    }
                    offset += values.len();
                }
                offset
            };
            let (lo, hi) = (first_at_or_after(from), first_at_or_after(to));
            Ok(frame.slice(lo as i64, hi - lo))
        };
        self.map(part)
    }
}

impl Frames {
    /// Every table through `part`.
    fn map(&self, part: impl Fn(&DataFrame) -> PolarsResult<DataFrame>) -> PolarsResult<Frames> {
        Ok(Frames {
            accounts: part(&self.accounts)?,
            meetings: part(&self.meetings)?,
            messages: part(&self.messages)?,
            action_items: part(&self.action_items)?,
            study_sessions: part(&self.study_sessions)?,
            invoices: part(&self.invoices)?,
            outcomes: part(&self.outcomes)?,
            churn_events: part(&self.churn_events)?,
        })
    }

    /// The rows of the accounts `accts` (ascending) of every table, in their order.
    fn subset(&self, accts: &[u32]) -> PolarsResult<Frames> {
        let part = |frame: &DataFrame| -> PolarsResult<DataFrame> {
            let column = frame.column(c::ACCT)?.u32()?.rechunk();
            let values = column.cont_slice()?;
            let mut rows: Vec<IdxSize> = Vec::new();
            for &a in accts {
                let lo = values.partition_point(|&v| v < a);
                let hi = values.partition_point(|&v| v <= a);
                rows.extend((lo as IdxSize)..(hi as IdxSize));
            }
            let mut part = frame.take(&IdxCa::from_vec("rows".into(), rows))?;
            // Still grouped by account: flagged so, as `validate` flags whole frames,
            // so that polars aggregates (and rounds) exactly as for every account.
            let mut acct = part.column(c::ACCT)?.clone();
            acct.set_sorted_flag(polars::series::IsSorted::Ascending);
            part.with_column(acct)?;
            Ok(part)
        };
        self.map(part)
    }
}

/// Every message's reply delay as the team's reply norm reads it, grouped by the day
/// received: the norm for any date is then a median over one contiguous run (plus
/// the few messages whose delay depends on the date) instead of a pass over every
/// message per date.
struct ReplyLog {
    /// The first day received held, and where each day's delays start in `settled`.
    first_day: i32,
    starts: Vec<usize>,
    /// Business-minute delays of messages answered soon enough that every date
    /// whose baseline holds them sees them answered (delays are then fixed, and
    /// under the window's gap in minutes: `i32` holds them at half the memory).
    settled: Vec<i32>,
    /// The rest (unanswered, or answered very late): `(day, received, answer as
    /// (minute, day))`, by day received; their delay depends on the date.
    unsettled: Vec<Unsettled>,
}

/// `(day received, minute received, first answer as (minute, day))`.
type Unsettled = (i32, i32, Option<(i32, i32)>);

/// Saturdays on or before a day number (1970-01-01 was a Thursday, so day 2 was the
/// first Saturday); the difference of two counts is the Saturdays in between.
fn saturdays_before_day(day: i32) -> i64 {
    (i64::from(day) + 5) / 7
}

/// Business minutes from `received` (on `day`) to `until` (on `until_day`): each
/// Saturday in between takes 48 h off, never below 0.
fn business_minutes(day: i32, received: i32, until: i32, until_day: i32) -> i64 {
    let clock = i64::from(until) - i64::from(received);
    let saturdays = saturdays_before_day(until_day) - saturdays_before_day(day);
    (clock - saturdays * 48 * 60).max(0)
}

impl ReplyLog {
    /// From every message, all received within `span` (the table's first and last
    /// day received, `None` for none).
    fn new(messages: &DataFrame, w: &Windows, span: Option<(i32, i32)>) -> PolarsResult<ReplyLog> {
        let (_, to) = w.baseline(w.replies_recent_days, w.replies_baseline_days);
        // A message in a baseline was received at least `to` days before its date's
        // cutoff; answered within `to - 2` days (a margin for time zones and DST),
        // it is answered by that cutoff on every such date.
        let settled_within = i64::from(to - 2).max(0) * 24 * 60;
        let int = |name: &str| one_chunk(messages, name, Column::i32);
        let (day, at) = (int("received_at_day")?, int("received_at")?);
        let (resp, resp_day) = (int("first_response_at")?, int("first_response_at_day")?);
        // Every day a message was received, so that any date's baseline is in the log.
        let (first_day, last_day) = span.unwrap_or((0, -1));
        let (day, at) = (Values::of(&day), Values::of(&at));
        let (resp, resp_day) = (Values::of(&resp), Values::of(&resp_day));
        // A row's day received and, if settled, its delay.
        let read = |row: usize| -> Option<(i32, Result<i64, Unsettled>)> {
            let (d, r) = (day.get(row)?, at.get(row)?);
            let answer = resp.get(row).zip(resp_day.get(row));
            Some((
                d,
                match answer {
                    Some((a, ad)) if i64::from(a) - i64::from(r) < settled_within => {
                        Ok(business_minutes(d, r, a, ad))
                    }
                    _ => Err((d, r, answer)),
                },
            ))
        };
        // A counting sort by day received, in two passes (counts, then places) rather
        // than holding every delay twice.
        let span = (last_day - first_day + 1).max(0) as usize;
        let mut starts = vec![0usize; span + 1];
        let mut unsettled = Vec::new();
        for row in 0..day.len() {
            match read(row) {
                Some((d, Ok(_))) => starts[(d - first_day) as usize + 1] += 1,
                Some((_, Err(u))) => unsettled.push(u),
                None => {}
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut settled = vec![0i32; starts[span]];
        let mut next = starts.clone();
        for row in 0..day.len() {
            if let Some((d, Ok(delay))) = read(row) {
                let slot = &mut next[(d - first_day) as usize];
                settled[*slot] =
                    i32::try_from(delay).expect("a settled delay is under the window's gap");
                *slot += 1;
            }
        }
        unsettled.sort_unstable_by_key(|u| u.0);
        Ok(ReplyLog {
            first_day,
            starts,
            settled,
            unsettled,
        })
    }

    /// The median delay, in hours, of the messages in the replies' baseline window
    /// of `at`, a message unanswered by the cutoff counting the business time it has
    /// waited (the mean of the two middle values of an even count).
    fn norm(&self, at: &AsOf) -> Option<f64> {
        let w = at.w;
        let (from, to) = w.baseline(w.replies_recent_days, w.replies_baseline_days);
        // Days received in (d - from, d - to].
        let (lo, hi) = (at.d - from + 1, at.d - to);
        let index = |day: i32| {
            let i = (day - self.first_day).clamp(0, self.starts.len() as i32 - 1);
            self.starts[i as usize]
        };
        let mut delays: Vec<i64> = self.settled[index(lo)..index(hi + 1)]
            .iter()
            .map(|&d| i64::from(d))
            .collect();
        let start = self.unsettled.partition_point(|u| u.0 < lo);
        let end = self.unsettled.partition_point(|u| u.0 <= hi);
        for &(day, received, answer) in &self.unsettled[start..end] {
            if received >= at.cutoff {
                continue;
            }
            delays.push(match answer {
                Some((minute, answer_day)) if minute < at.cutoff => {
                    business_minutes(day, received, minute, answer_day)
                }
                _ => business_minutes(day, received, at.cutoff, at.d),
            });
        }
        if delays.is_empty() {
            return None;
        }
        // The two middle values (equal for an odd count).
        let n = delays.len();
        let (lo, hi) = ((n - 1) / 2, n / 2);
        let high = *delays.select_nth_unstable(hi).1;
        let low = if lo == hi {
            high
        } else {
            *delays[..hi].iter().max()?
        };
        Some((low + high) as f64 / 2.0 / 60.0)
    }
}

/// The team's norms on any date, from every account's rows, arranged so that a
/// date's norms take no pass over the tables: made once when the exports are
/// loaded and read by every scoring (every account or a [`Cohort`], on tonight's
/// date, the morning view's weeks, each day a snooze was set, a backtest's grid).
pub struct TeamNorms {
    replies: ReplyLog,
    team: TeamLog,
    holidays: HolidayActivity,
    activity: ActivityLog,
    /// The exports' first days: the same on every date.
    meetings_from: Option<i32>,
    messages_from: Option<i32>,
}

impl TeamNorms {
    /// From every account's rows, for any as-of date.
    pub fn new(frames: &Frames, w: &Windows) -> Result<TeamNorms, Error> {
        let norms = || -> PolarsResult<TeamNorms> {
            let meetings = day_span(&frames.meetings, "scheduled_at_day")?;
            let messages = day_span(&frames.messages, "received_at_day")?;
            // Both tables' days: the span the holiday activity counts over.
            let span = match (meetings, messages) {
                (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
                (one, other) => one.or(other),
            };
            // One pass over every held meeting and client message: their days for
            // the holiday activity, and a sample of accounts' weeks for the log.
            let (first, last) = span.unwrap_or((0, -1));
            let mut daily = vec![0u64; (last - first + 1).max(0) as usize];
            let mut activity = ActivityLog::new(&frames.accounts, span)?;
            engagement_events(frames, |acct, day, message| {
                if let Some(n) = daily.get_mut((day - first) as usize) {
                    *n += 1;
                }
                if let Some(acct) = acct {
                    activity.add(acct, day, message);
                }
            })?;
            let holidays = HolidayActivity::new(first, &daily);
            Ok(TeamNorms {
                replies: ReplyLog::new(&frames.messages, w, messages)?,
                team: TeamLog::new(frames)?,
                holidays,
                activity,
                meetings_from: meetings.map(|(first, _)| first),
                messages_from: messages.map(|(first, _)| first),
            })
        };
        norms().map_err(Error::polars("features"))
    }

    /// `accounts`' features as of `at` with the team's norms on that date.
    fn snapshot(&self, at: &AsOf, as_of: NaiveDate, accounts: Vec<AccountFeatures>) -> Snapshot {
        let (proposals_recorded, team_attendance) = self.team.norms(at);
        let open = OpenDays::new(at.d, at.w.activity_reach(), self.holidays.on(at.d));
        let touch_from = self.meetings_from.max(self.messages_from);
        let activity_cv2 = [
            (Series::Engagement, touch_from),
            (Series::Messages, self.messages_from),
        ]
        .map(|(series, from)| {
            from.and_then(|from| self.activity.spread(at, &open, &self.team, series, from))
        });
        Snapshot {
            as_of,
            day: at.d,
            team_reply_h: self.replies.norm(at),
            proposals_recorded,
            team_attendance,
            meetings_from: self.meetings_from,
            messages_from: self.messages_from,
            open,
            activity_cv2,
            accounts,
        }
    }
}

/// A set of accounts scored on many dates (the morning view's flagged accounts, week
/// after week): their rows taken out once, and the team's norms from every account.
/// [`Cohort::snapshot`] gives the same as those accounts' entries of [`snapshot`].
pub struct Cohort<'n> {
    part: Frames,
    norms: &'n TeamNorms,
}

impl<'n> Cohort<'n> {
    /// `accts` ascending.
    pub fn new(frames: &Frames, accts: &[u32], norms: &'n TeamNorms) -> Result<Cohort<'n>, Error> {
        Ok(Cohort {
            part: frames.subset(accts).map_err(Error::polars("features"))?,
            norms,
        })
    }

    /// The cohort's features as of `as_of`, with the team's norms.
    pub fn snapshot(&self, w: &Windows, as_of: NaiveDate, tz: Tz) -> Result<Snapshot, Error> {
        let at = AsOf::new(w, as_of, tz);
        Ok(self.norms.snapshot(&at, as_of, plan(&at, &self.part)?))
    }
}

/// What the team's norms read of every account, arranged so that any date's norms
/// take no pass over the tables (a cohort is scored on dozens of dates: the morning
/// view's weeks and each day a snooze was set, where a polars plan over every
/// meeting and study session cost a fifth of the cohort's time): when each account
/// is active, its first held proposal, and the study sessions by day.
struct TeamLog {
    /// By `acct`: the contract's start, the first churn day, the first held proposal.
    started: Vec<Option<i32>>,
    churned: Vec<Option<i32>>,
    first_proposal: Vec<Option<i32>>,
    /// Every study session as (day, acct, attended), by day.
    sessions: Vec<(i32, u32, bool)>,
}

impl TeamLog {
    fn new(frames: &Frames) -> PolarsResult<TeamLog> {
        let ids = |frame: &DataFrame| one_chunk(frame, c::ACCT, Column::u32);
        let days = |frame: &DataFrame, name: &str| one_chunk(frame, name, Column::i32);
        let (accounts, starts) = (
            ids(&frames.accounts)?,
            days(&frames.accounts, "contract_start")?,
        );
        let n = accounts.max().map_or(0, |a| a as usize + 1);
        // The earliest of each account's days in `column` where `keep` holds.
        let earliest = |frame: &DataFrame,
                        column: &str,
                        keep: &dyn Fn(usize) -> bool|
         -> PolarsResult<Vec<Option<i32>>> {
            let (ids, days) = (ids(frame)?, days(frame, column)?);
            let (ids, days) = (Values::of(&ids), Values::of(&days));
            let mut first = vec![None; n];
            for row in 0..ids.len() {
                if let (Some(a), Some(day)) = (ids.get(row), days.get(row))
                    && keep(row)
                    && let Some(slot) = first.get_mut(a as usize)
                {
                    *slot = Some(day.min(slot.unwrap_or(day)));
                }
            }
            Ok(first)
        };
        let mut started = vec![None; n];
        let (accounts, starts) = (Values::of(&accounts), Values::of(&starts));
        for row in 0..accounts.len() {
            if let Some(a) = accounts.get(row) {
                started[a as usize] = starts.get(row);
            }
        }
        let churned = earliest(&frames.churn_events, "churned_on", &|_| true)?;
        let meetings = &frames.meetings;
        let held = days(meetings, "status")?;
        let held = Values::of(&held);
        let proposal = one_chunk(meetings, "is_proposal", Column::bool)?;
        let proposal = Bools::of(&proposal);
        let first_proposal = earliest(meetings, "scheduled_at_day", &|row| {
            held.get(row) == Some(status_code("held")) && proposal.get(row) == Some(true)
        })?;
        let study = &frames.study_sessions;
        let (study_ids, study_days) = (ids(study)?, days(study, "session_date")?);
        let (study_ids, study_days) = (Values::of(&study_ids), Values::of(&study_days));
        let attended = one_chunk(study, "attended", Column::bool)?;
        let attended = Bools::of(&attended);
        let mut sessions: Vec<(i32, u32, bool)> = (0..study_ids.len())
            .filter_map(|row| {
                Some((
                    study_days.get(row)?,
                    study_ids.get(row)?,
                    attended.get(row) == Some(true),
                ))
            })
            .collect();
        sessions.sort_unstable();
        Ok(TeamLog {
            started,
            churned,
            first_proposal,
            sessions,
        })
    }

    /// Whether account `a` is under contract on day `d`: started, not yet gone.
    fn active(&self, a: usize, d: i32) -> bool {
        self.started
            .get(a)
            .copied()
            .flatten()
            .is_some_and(|s| s <= d)
            && self.churned.get(a).copied().flatten().is_none_or(|c| c > d)
    }

    /// Whether any account active on the date (started, and not churned on or
    /// before it) has a held proposal on record, and the study-session attendance
    /// of every active account's baseline: what [`snapshot`] reads off all
    /// accounts' features.
    fn norms(&self, at: &AsOf) -> (bool, Option<f64>) {
        let d = at.d;
        let active = |a: usize| self.active(a, d);
        let proposals = (0..self.started.len())
            .any(|a| self.first_proposal[a].is_some_and(|p| p <= d) && active(a));
        let w = at.w;
        let (from, to) = w.baseline(w.attendance_recent_days, w.attendance_baseline_days);
        // The baseline `d − from < day ≤ d − to`, and never after the date.
        let (first, last) = (d - from + 1, (d - to).min(d));
        let start = self.sessions.partition_point(|s| s.0 < first);
        let (attended, invited) = self.sessions[start..]
            .iter()
            .take_while(|s| s.0 <= last)
            .filter(|s| active(s.1 as usize))
            .fold((0u64, 0u64), |(a, i), s| (a + u64::from(s.2), i + 1));
        (
            proposals,
            (invited > 0).then(|| attended as f64 / invited as f64),
        )
    }
}

/// Computes every account's features as of `as_of`, with the team's norms.
pub fn snapshot(
    frames: &Frames,
    norms: &TeamNorms,
    w: &Windows,
    as_of: NaiveDate,
    tz: Tz,
) -> Result<Snapshot, Error> {
    let at = AsOf::new(w, as_of, tz);
    let n = frames.accounts.height() as u32;
    let mut accounts = Vec::with_capacity(n as usize);
    let mut from: u32 = 0;
    loop {
        let to = from.saturating_add(ACCOUNTS_PER_PLAN);
        let slice;
        let part = if from == 0 && to >= n {
            frames
        } else {
            slice = frames.slice(from, to).map_err(Error::polars("features"))?;
            &slice
        };
        accounts.extend(plan(&at, part)?);
        if to >= n {
            break;
        }
        from = to;
    }
    Ok(norms.snapshot(&at, as_of, accounts))
}

/// The first and last day of a day-number column, `None` for an empty table.
fn day_span(frame: &DataFrame, column: &str) -> PolarsResult<Option<(i32, i32)>> {
    let days = frame.column(column)?.i32()?;
    Ok(days.min().zip(days.max()))
}

/// Every held meeting and client message: its account (where known), its day, and
/// whether it is a message. What the holiday activity and the activity log count.
fn engagement_events(
    frames: &Frames,
    mut each: impl FnMut(Option<u32>, i32, bool),
) -> PolarsResult<()> {
    let held = status_code("held");
    let meetings = &frames.meetings;
    let statuses = one_chunk(meetings, "status", Column::i32)?;
    let statuses = Values::of(&statuses);
    for (frame, column, message) in [
        (meetings, "scheduled_at_day", false),
        (&frames.messages, "received_at_day", true),
    ] {
        let (ids, days) = (
            one_chunk(frame, c::ACCT, Column::u32)?,
            one_chunk(frame, column, Column::i32)?,
        );
        let (ids, days) = (Values::of(&ids), Values::of(&days));
        for row in 0..days.len() {
            if let Some(day) = days.get(row)
                && (message || statuses.get(row) == Some(held))
            {
                each(ids.get(row), day, message);
            }
        }
    }
    Ok(())
}

/// Baseline invoices within this share of their median are the flat fee (a
/// monthly fee, not usage-based amounts that vary month to month).
pub const FLAT_FEE_SPREAD: f64 = 0.05;

/// How close an invoice must be to the accounts export's `monthly_fee` to be the
/// contracted fee (half a percent: rounding, not a different amount).
pub const CONTRACT_MATCH: f64 = 0.005;

/// Days in an average month, for the whole months between two invoices.
const DAYS_PER_MONTH: f64 = 365.25 / 12.0;

/// An invoice's amount per month billed, and the months it bills. Many accounts
/// are not billed every month: skipped months are billed with the next one, so an
/// invoice three months after the previous one may bill three months at once
/// (three times the fee is not a tripled fee); or an invoice is missing from the
/// export, and the next one bills its own month. Of the two readings, the one
/// nearer the contracted fee (`monthly_fee`, by ratio) holds: every whole month
/// since the previous invoice that billed a month (`previous`), or one month. Read
/// against the contract only to count months, so an earlier, lower fee billed
/// three months at once still reads as that lower fee. An extra invoice under
/// half the contracted fee bills no month (its own amount; the months after it
/// count from the invoice before it). Without a previous invoice or a contracted
/// fee, an invoice bills one month.
fn per_month(amount: f64, issued: i32, previous: Option<i32>, contract: Option<f64>) -> (f64, f64) {
    let Some(contract) = contract.filter(|&c| c > 0.0) else {
        return (amount, 1.0);
    };
    if (amount / contract).round() < 1.0 {
        return (amount, 0.0);
    }
    let since = previous.map_or(1.0, |p| (f64::from(issued - p) / DAYS_PER_MONTH).round());
    let off = |months: f64| (amount / months / contract).ln().abs();
    let months = if since > 1.0 && off(since) < off(1.0) {
        since
    } else {
        1.0
    };
    (amount / months, months)
}

/// Accounts whose weeks [`ActivityLog`] keeps, at most: the team's spread is one
/// figure, which a few thousand accounts estimate to within a few percent, and the
/// log stays small at any size.
const SPREAD_ACCOUNTS: usize = 4096;

/// How much clients' activity varies beyond chance from one four-week block to the
/// next, across the team, on any date ([`ActivityLog::spread`]), without a pass over
/// the tables: the held meetings and client messages of every `stride`-th account,
/// by week since the exports' first day.
struct ActivityLog {
    /// The first day of week 0.
    from: i32,
    weeks: usize,
    stride: usize,
    /// Account `stride × k`'s weekly counts at `[k × weeks ..][.. weeks]`, by
    /// [`Series`].
    counts: [Vec<u16>; 2],
}

impl ActivityLog {
    /// An empty log for the accounts of `accounts` over the days of `span`.
    fn new(accounts: &DataFrame, span: Option<(i32, i32)>) -> PolarsResult<ActivityLog> {
        let (from, last) = span.unwrap_or((0, -1));
        let weeks = ((last - from) / 7 + 1) as usize;
        let ids = one_chunk(accounts, c::ACCT, Column::u32)?;
        let n = ids.max().map_or(0, |a| a as usize + 1);
        let stride = n.div_ceil(SPREAD_ACCOUNTS).max(1);
        let kept = n.div_ceil(stride);
        Ok(ActivityLog {
            from,
            weeks,
            stride,
            counts: [vec![0; kept * weeks], vec![0; kept * weeks]],
        })
    }

    /// Counts a held meeting (engagement) or a client message (engagement and
    /// messages) of account `acct` on `day`, if the log keeps that account. Days
    /// outside the span and accounts outside the accounts frame have no slot
    /// (validation leaves none; the log does not rely on it).
    fn add(&mut self, acct: u32, day: i32, message: bool) {
        let a = acct as usize;
        let last = self.from + 7 * self.weeks as i32 - 1;
        let kept = self.counts[0].len() / self.weeks.max(1);
        if !a.is_multiple_of(self.stride)
            || a / self.stride >= kept
            || !(self.from..=last).contains(&day)
        {
            return;
        }
        let at = (a / self.stride) * self.weeks + ((day - self.from) / 7) as usize;
        let series: &[Series] = if message {
            &[Series::Engagement, Series::Messages]
        } else {
            &[Series::Engagement]
        };
        for &s in series {
            let slot = &mut self.counts[s as usize][at];
            *slot = slot.saturating_add(1);
        }
    }

    /// The team's squared coefficient of variation of four-weekly activity beyond
    /// Poisson, as of `at`, for the series whose export starts on `series_from`
    /// (`None` where no kept account has two blocks holding events): over every
    /// kept account under contract, its blocks of four of the log's weeks before
    /// the engagement weeks that the exports and its contract cover (a year at
    /// most, nearest first), each expecting the account's rate times its open
    /// days. The blocks follow the log's weeks, so they end up to six days before
    /// an account's own ([`AsOf::count_activity`]): a team figure needs the same
    /// year, not the same days. By moments: Pearson's X² over an account's B
    /// blocks is about (B − 1)(1 + μ c²) for a mean block count μ, so
    /// c² = Σ(X² − (B − 1)) / Σ (B − 1) μ, never below 0.
    fn spread(
        &self,
        at: &AsOf,
        open: &OpenDays,
        team: &TeamLog,
        series: Series,
        series_from: i32,
    ) -> Option<f64> {
        let d = at.d;
        // Blocks hold days up to `end`; week k holds `from + 7k ..= from + 7k + 6`,
        // and the nearest block ends with the last week complete by `end`.
        let end = d - 7 * at.w.engagement_weeks() as i32;
        let complete = (end - self.from + 1).div_euclid(7).min(self.weeks as i32);
        let counts = &self.counts[series as usize];
        let (mut excess, mut weight) = (0.0, 0.0);
        let mut blocks: Vec<(f64, f64)> = Vec::with_capacity(ACTIVITY_BLOCKS);
        for (k, weeks) in counts.chunks_exact(self.weeks.max(1)).enumerate() {
            let a = k * self.stride;
            if !team.active(a, d) {
                continue;
            }
            // Active, so started: the blocks its contract and the export cover.
            let known = team.started[a].map_or(series_from, |s| s.max(series_from));
            blocks.clear();
            for b in 0..ACTIVITY_BLOCKS as i32 {
                let first_week = complete - 4 * (b + 1);
                let first = self.from + 7 * first_week;
                if first_week < 0 || first < known {
                    break;
                }
                let n: u32 = weeks[first_week as usize..][..4]
                    .iter()
                    .map(|&c| u32::from(c))
                    .sum();
                // The block holds days (d − far, d − near].
                let (far, near) = (d - first + 1, d - (first + 27));
                blocks.push((f64::from(n), open.between(far, near)));
            }
            if let Some((x2, dof, mean)) = block_x2(&blocks) {
                excess += x2 - dof;
                weight += dof * mean;
            }
        }
        (weight > 0.0).then(|| (excess / weight).max(0.0))
    }
}

/// One polars plan: every table aggregated per account, joined onto the active
/// accounts, collected once and read into structs; then the plain passes.
fn plan(at: &AsOf, frames: &Frames) -> Result<Vec<AccountFeatures>, Error> {
    let acct = || col(c::ACCT);
    let tables = [
        at.meeting_gaps(&frames.meetings),
        at.outcomes(&frames.outcomes),
    ];
    let joined = tables
        .into_iter()
        .fold(at.accounts(frames), |lf, other| {
            lf.left_join(other, acct(), acct())
        })
        .sort([c::ACCT], SortMultipleOptions::default())
        .collect()
        .map_err(Error::polars("features"))?;
    let mut accounts = extract(&joined).map_err(Error::polars("features"))?;
    // The activity counts the two passes fill (`AsOf::count_activity`).
    for f in accounts.iter_mut() {
        f.engagement_weeks = vec![0; at.w.engagement_weeks()];
        f.engagement_blocks = vec![0; ACTIVITY_BLOCKS];
        f.message_blocks = vec![0; ACTIVITY_BLOCKS];
    }
    at.meeting_figures(&mut accounts, &frames.meetings)
        .and_then(|()| at.message_figures(&mut accounts, &frames.messages))
        .and_then(|()| at.promise_figures(&mut accounts, &frames.action_items))
        .and_then(|()| at.session_figures(&mut accounts, &frames.study_sessions))
        .and_then(|()| at.invoice_figures(&mut accounts, &frames.invoices))
        .map_err(Error::polars("features"))?;
    Ok(accounts)
}

/// A column's values as one slice and its validity, for the plain passes over rows
/// (a chunked array's own per-row iterator cost more than the work on each row).
struct Values<'a, T> {
    values: &'a [T],
    valid: Option<&'a polars_arrow::bitmap::Bitmap>,
}

impl<'a, T: polars_arrow::types::NativeType> Values<'a, T> {
    /// `ca` in one chunk (rechunked by the caller).
    fn of<P>(ca: &'a ChunkedArray<P>) -> Values<'a, T>
    where
        P: PolarsNumericType<Native = T>,
    {
        match ca.downcast_iter().next() {
            Some(array) => Values {
                values: array.values().as_slice(),
                valid: array.validity(),
            },
            None => Values {
                values: &[],
                valid: None,
            },
        }
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn get(&self, row: usize) -> Option<T> {
        self.valid
            .is_none_or(|valid| valid.get_bit(row))
            .then(|| self.values[row])
    }
}

/// `frame`'s column `name` as `typed` reads it, in one chunk for [`Values`] and
/// [`Bools`] (validation builds one; a slice or a cohort's rows may hold more).
fn one_chunk<T: PolarsDataType>(
    frame: &DataFrame,
    name: &str,
    typed: impl Fn(&Column) -> PolarsResult<&ChunkedArray<T>>,
) -> PolarsResult<ChunkedArray<T>> {
    Ok(typed(frame.column(name)?)?.rechunk().into_owned())
}

/// A boolean column's values and validity, as [`Values`] for numbers.
struct Bools<'a> {
    values: Option<&'a polars_arrow::bitmap::Bitmap>,
    valid: Option<&'a polars_arrow::bitmap::Bitmap>,
}

impl<'a> Bools<'a> {
    /// `ca` in one chunk (rechunked by the caller).
    fn of(ca: &'a BooleanChunked) -> Bools<'a> {
        let array = ca.downcast_iter().next();
        Bools {
            values: array.map(|a| a.values()),
            valid: array.and_then(|a| a.validity()),
        }
    }

    fn get(&self, row: usize) -> Option<bool> {
        let values = self.values?;
        self.valid
            .is_none_or(|valid| valid.get_bit(row))
            .then(|| values.get_bit(row))
    }
}

/// The index in `accounts` (sorted by `acct`) of each row's account, for a pass over
/// rows grouped by `acct`: looked up once per run of an account's rows. `None` for
/// rows of accounts not scored (not active on the date).
#[derive(Default)]
struct AccountRuns {
    current: Option<(u32, Option<usize>)>,
}

impl AccountRuns {
    /// The row's account index, and whether the row starts a new account's run.
    fn next(&mut self, accounts: &[AccountFeatures], acct: u32) -> (Option<usize>, bool) {
        match self.current {
            Some((seen, index)) if seen == acct => (index, false),
            _ => {
                let index = accounts.binary_search_by_key(&acct, |f| f.acct).ok();
                self.current = Some((acct, index));
                (index, true)
            }
        }
    }

    /// The account of the run in progress.
    fn index(&self) -> Option<usize> {
        self.current.and_then(|(_, index)| index)
    }
}

/// Calls `each` with every row dated on or before `d` of the scored accounts: the
/// account's features, their index in `accounts`, the row and its day. The loop
/// every pass over a table's rows shares (`acct` and `days` of one table,
/// contiguous by `acct`).
fn each_row_by(
    d: i32,
    accounts: &mut [AccountFeatures],
    acct: &Values<u32>,
    days: &Values<i32>,
    mut each: impl FnMut(&mut AccountFeatures, usize, usize, i32),
) {
    let mut runs = AccountRuns::default();
    for row in 0..acct.len() {
        let (Some(a), Some(day)) = (acct.get(row), days.get(row)) else {
            continue;
        };
        if day > d {
            continue;
        }
        if let (Some(i), _) = runs.next(accounts, a) {
            each(&mut accounts[i], i, row, day);
        }
    }
}

impl AsOf<'_> {
    /// Every per-account count of the meetings scheduled by the date, in one pass
    /// over `meetings` (the slice's rows, contiguous by `acct`): held, scheduled
    /// and missed in the meetings' windows and the team-behaviour windows, late
    /// held meetings, the first meeting, the last held one and the last held
    /// proposal, and held meetings as touchpoints (`touches_*`, `last_touch_day`,
    /// which [`AsOf::message_figures`] adds the replies to). A polars `group_by` of
    /// the same twenty filtered aggregations was the largest part of the plan left.
    fn meeting_figures(
        &self,
        accounts: &mut [AccountFeatures],
        meetings: &DataFrame,
    ) -> PolarsResult<()> {
        let (w, d) = (self.w, self.d);
        let (mr, mb, tw) = (
            w.meetings_recent_days,
            w.meetings_baseline_days,
            w.team_behaviour_days,
        );
        let meetings_window = (recent(mr), w.baseline(mr, mb));
        let team_window = (recent(tw), w.baseline(tw, mb));
        let touch_base = w.baseline(mr, w.touchpoint_baseline_days);
        let code =
            |statuses: &[&str]| -> Vec<i32> { statuses.iter().map(|s| status_code(s)).collect() };
        let held_code = status_code("held");
        let client_missed = code(&["cancelled_by_client", "no_show_client"]);
        let team_missed = code(&["cancelled_by_team", "no_show_team", "rescheduled"]);

        let acct = one_chunk(meetings, c::ACCT, Column::u32)?;
        let days = one_chunk(meetings, "scheduled_at_day", Column::i32)?;
        let statuses = one_chunk(meetings, "status", Column::i32)?;
        let late = one_chunk(meetings, "late_minutes", Column::i64)?;
        let proposals = one_chunk(meetings, "is_proposal", Column::bool)?;
        let (acct, days) = (Values::of(&acct), Values::of(&days));
        let (statuses, late) = (Values::of(&statuses), Values::of(&late));
        let proposals = Bools::of(&proposals);
        each_row_by(d, accounts, &acct, &days, |f, _, row, day| {
            let status = statuses.get(row);
            let held = status == Some(held_code);
            let back = d - day;
            let [m_recent, m_base] = inside_each(back, meetings_window);
            let [t_recent, t_base] = inside_each(back, team_window);
            let n = |yes: bool| i64::from(yes);
            f.scheduled_recent += n(m_recent);
            f.scheduled_base += n(m_base);
            f.scheduled_team_window += n(t_recent);
            f.scheduled_team_base += n(t_base);
            if held {
                f.held_recent += n(m_recent);
                f.held_base += n(m_base);
                f.held_team_window += n(t_recent);
                f.held_team_base += n(t_base);
                let team_late = late
                    .get(row)
                    .is_some_and(|minutes| minutes >= w.late_minutes);
                f.late_team_window += n(team_late && t_recent);
                f.late_team_base += n(team_late && t_base);
                f.last_meeting_day = f.last_meeting_day.max(Some(day));
                if proposals.get(row) == Some(true) {
                    f.last_proposal_day = f.last_proposal_day.max(Some(day));
                }
                f.last_touch_day = f.last_touch_day.max(Some(day));
                self.count_activity(f, day, Activity::HeldMeetings);
                f.touches_recent += n(m_recent);
                f.touches_base += n(inside(back, touch_base));
            }
            if status.is_some_and(|s| client_missed.contains(&s)) {
                f.client_cancelled_recent += n(m_recent);
                f.client_cancelled_base += n(m_base);
            }
            if status.is_some_and(|s| team_missed.contains(&s)) {
                f.team_cancelled_window += n(t_recent);
                f.team_cancelled_base += n(t_base);
            }
            f.first_meeting_day = Some(f.first_meeting_day.map_or(day, |first| first.min(day)));
        });
        Ok(())
    }

    /// Every per-account figure of the messages, in one pass over `messages` (the
    /// slice's rows, contiguous by `acct`):
    /// - per reply window (`replies_recent_days`, `unanswered_lookback_days`) and its
    ///   baseline: the replies (`reply_*_n`), their median delay (`reply_*_h`), and
    ///   the recent ones ranked among the earlier ones (`reply_*_u2`, the
    ///   Mann–Whitney statistic);
    /// - over the look-back and its baseline, the messages that have waited
    ///   `unanswered_after_hours` by the cutoff and those of them still unanswered;
    /// - client messages in the meetings' windows, and replies as touchpoints
    ///   (`touches_*`, `last_touch_day`, added to the meetings' from the plan).
    ///
    /// A message received by the cutoff counts; one not answered by then counts
    /// with the time it has waited so far, so silence raises the median instead of
    /// vanishing from it. Delays are in business minutes ([`business_minutes`]): a
    /// Friday-evening message answered on Monday morning is not a slow reply.
    ///
    /// A polars plan of the same figures (the messages filtered and their delays
    /// computed as columns, then a `group_by` of filtered aggregations and grouped
    /// medians) cost about half of the feature stage on every scored date.
    fn message_figures(
        &self,
        accounts: &mut [AccountFeatures],
        messages: &DataFrame,
    ) -> PolarsResult<()> {
        let (w, d, cutoff) = (self.w, self.d, self.cutoff);
        let (rr, rb, lb) = (
            w.replies_recent_days,
            w.replies_baseline_days,
            w.unanswered_lookback_days,
        );
        let (mr, mb) = (w.meetings_recent_days, w.meetings_baseline_days);
        let replies = [rr, lb].map(|length| (recent(length), w.baseline(length, rb)));
        let messages_window = (recent(mr), w.baseline(mr, mb));
        let touches = (recent(mr), w.baseline(mr, w.touchpoint_baseline_days));
        let after = w.unanswered_after_hours * 60;
        let reach = d - self.message_reach();
        // Business minutes a message received on `day` had waited by the cutoff.
        let saturdays_to_date = saturdays_before_day(d);

        let acct = one_chunk(messages, c::ACCT, Column::u32)?;
        let int = |name: &str| one_chunk(messages, name, Column::i32);
        let (days, received) = (int("received_at_day")?, int("received_at")?);
        let (answers, answer_days) = (int("first_response_at")?, int("first_response_at_day")?);
        let acct = Values::of(&acct);
        let (days, received) = (Values::of(&days), Values::of(&received));
        let (answers, answer_days) = (Values::of(&answers), Values::of(&answer_days));

        let mut base: [Vec<i64>; 2] = Default::default();
        let mut recent_delays: [Vec<i64>; 2] = Default::default();
        // Medians and ranks of the finished run's replies, into its account.
        let finish = |index: Option<usize>,
                      accounts: &mut [AccountFeatures],
                      base: &mut [Vec<i64>; 2],
                      recent: &mut [Vec<i64>; 2]| {
            if let Some(i) = index {
                let f = &mut accounts[i];
                [
                    f.reply_recent_n,
                    f.reply_base_n,
                    f.reply_long_n,
                    f.reply_long_base_n,
                ] = [
                    recent[0].len(),
                    base[0].len(),
                    recent[1].len(),
                    base[1].len(),
                ]
                .map(|n| n as i64);
                [f.reply_recent_h, f.reply_base_h] =
                    [&mut recent[0], &mut base[0]].map(|v| median_hours(v));
                [f.reply_long_h, f.reply_long_base_h] =
                    [&mut recent[1], &mut base[1]].map(|v| median_hours(v));
                f.reply_recent_u2 = twice_mann_whitney(&mut recent[0], &mut base[0]);
                f.reply_long_u2 = twice_mann_whitney(&mut recent[1], &mut base[1]);
            }
            for v in base.iter_mut().chain(recent.iter_mut()) {
                v.clear();
            }
        };
        let mut runs = AccountRuns::default();
        for row in 0..acct.len() {
            let (Some(a), Some(day)) = (acct.get(row), days.get(row)) else {
                continue;
            };
            let finished = runs.index();
            let (index, starts) = runs.next(accounts, a);
            if starts {
                finish(finished, accounts, &mut base, &mut recent_delays);
            }
            // Every message row counts as activity: the blocks reach a year back,
            // beyond the windows below.
            if let Some(i) = index {
                self.count_activity(&mut accounts[i], day, Activity::ClientMessages);
            }
            let Some(received) = received.get(row) else {
                continue;
            };
            let answer_day = answer_days.get(row);
            // Received by the cutoff, and received or answered within the reach.
            if received >= cutoff || !(day > reach || answer_day.is_some_and(|r| r > reach)) {
                continue;
            }
            let answer = answers.get(row).filter(|&minute| minute < cutoff);
            let answered = answer.is_some();
            let delay = match answer {
                Some(minute) => {
                    answer_day.map(|until| business_minutes(day, received, minute, until))
                }
                None => Some(business_minutes(day, received, cutoff, d)),
            };
            let back = d - day;
            let Some(i) = index else { continue };
            let f = &mut accounts[i];
            if let Some(delay) = delay {
                for (k, (recent, baseline)) in replies.into_iter().enumerate() {
                    if inside(back, recent) {
                        recent_delays[k].push(delay);
                    }
                    if inside(back, baseline) {
                        base[k].push(delay);
                    }
                }
            }
            // How long it had waited by the cutoff, in the same business time ("unanswered
            // after 48 h" must not count a weekend that the delay skips).
            let age = i64::from(cutoff)
                - i64::from(received)
                - (saturdays_to_date - saturdays_before_day(day)) * 48 * 60;
            if age > after {
                let [recent_lb, base_lb] = inside_each(back, replies[1]);
                f.waited_recent += i64::from(recent_lb);
                f.unanswered += i64::from(recent_lb && !answered);
                f.waited_base += i64::from(base_lb);
                f.unanswered_base += i64::from(base_lb && !answered);
            }
            f.client_messages_recent += i64::from(inside(back, messages_window.0));
            f.client_messages_base += i64::from(inside(back, messages_window.1));
            // A reply is a touchpoint on the day it was sent.
            if let (true, Some(reply_day)) = (answered, answer_day) {
                f.last_touch_day = f.last_touch_day.max(Some(reply_day));
                let back = d - reply_day;
                f.touches_recent += i64::from(inside(back, touches.0));
                f.touches_base += i64::from(inside(back, touches.1));
            }
        }
        finish(runs.index(), accounts, &mut base, &mut recent_delays);
        Ok(())
    }

    /// Every per-account figure of the promises made by the date, in one pass over
    /// `action_items` (contiguous by `acct`). A promise is open while it has no
    /// `done_on` by the date; it "came due" once its grace has passed, so one due
    /// yesterday is not judged yet; it was kept late if done more than the grace
    /// after its due date, or not yet.
    fn promise_figures(
        &self,
        accounts: &mut [AccountFeatures],
        items: &DataFrame,
    ) -> PolarsResult<()> {
        let (w, d) = (self.w, self.d);
        let (tw, tb, mr) = (
            w.team_behaviour_days,
            w.meetings_baseline_days,
            w.meetings_recent_days,
        );
        let grace = w.promise_grace_days;
        // Due dates are judged `grace` days behind the date.
        let due_windows = (recent(tw), w.baseline(tw, tb));
        let promised_windows = (recent(mr), w.baseline(mr, tb));
        let day_column = |name: &str| one_chunk(items, name, Column::i32);
        let acct = one_chunk(items, c::ACCT, Column::u32)?;
        let (promised, due, done) = (
            day_column("promised_on")?,
            day_column("due_on")?,
            day_column("done_on")?,
        );
        let acct = Values::of(&acct);
        let (promised, due, done) = (Values::of(&promised), Values::of(&due), Values::of(&done));
        each_row_by(d, accounts, &acct, &promised, |f, _, row, promised| {
            let Some(due) = due.get(row) else { return };
            let done = done.get(row).filter(|&day| day <= d);
            let open = done.is_none();
            let late = done.is_none_or(|day| day - due > grace);
            if open && due < d - grace {
                f.overdue_open += 1;
                f.overdue_oldest_days = f.overdue_oldest_days.max(Some(d - due));
            }
            let [due_recent, due_base] = inside_each(d - grace - due, due_windows);
            f.due_recent += i64::from(due_recent);
            f.late_recent += i64::from(due_recent && late);
            f.due_base += i64::from(due_base);
            f.late_base += i64::from(due_base && late);
            let back = d - promised;
            f.promised_recent += i64::from(inside(back, promised_windows.0));
            f.promised_base += i64::from(inside(back, promised_windows.1));
        });
        Ok(())
    }

    /// Study-session invitations and attendance by the date, in the attendance
    /// window and its baseline, in one pass over `sessions` (contiguous by `acct`).
    fn session_figures(
        &self,
        accounts: &mut [AccountFeatures],
        sessions: &DataFrame,
    ) -> PolarsResult<()> {
        let (w, d) = (self.w, self.d);
        let (ar, ab) = (w.attendance_recent_days, w.attendance_baseline_days);
        let windows = (recent(ar), w.baseline(ar, ab));
        let acct = one_chunk(sessions, c::ACCT, Column::u32)?;
        let days = one_chunk(sessions, "session_date", Column::i32)?;
        let attended = one_chunk(sessions, "attended", Column::bool)?;
        let (acct, days, attended) = (Values::of(&acct), Values::of(&days), Bools::of(&attended));
        each_row_by(d, accounts, &acct, &days, |f, _, row, day| {
            let came = attended.get(row) == Some(true);
            let back = d - day;
            let [in_recent, in_base] = inside_each(back, windows);
            f.invited_recent += i64::from(in_recent);
            f.attended_recent += i64::from(in_recent && came);
            f.invited_base += i64::from(in_base);
            f.attended_base += i64::from(in_base && came);
        });
        Ok(())
    }

    /// Every per-account figure of the invoices issued by the date, in one pass over
    /// `invoices` (contiguous by `acct`). An invoice without a due date is due
    /// `payment_terms_days` after it was issued; it is late by the days from its
    /// due date to its payment, or to the date while unpaid, never below 0.
    fn invoice_figures(
        &self,
        accounts: &mut [AccountFeatures],
        invoices: &DataFrame,
    ) -> PolarsResult<()> {
        let (w, d) = (self.w, self.d);
        let (ir, ib, dd) = (
            w.invoices_recent_days,
            w.invoices_baseline_days,
            w.disputes_days,
        );
        let invoices_window = (recent(ir), w.baseline(ir, ib));
        let disputes_window = (recent(dd), w.baseline(dd, ib));
        let billed_window = recent(w.meetings_recent_days);
        let day_column = |name: &str| one_chunk(invoices, name, Column::i32);
        let acct = one_chunk(invoices, c::ACCT, Column::u32)?;
        let amounts = one_chunk(invoices, "amount", Column::f64)?;
        let disputed = one_chunk(invoices, "disputed", Column::bool)?;
        let (issued, due, paid) = (
            day_column("issued_on")?,
            day_column("due_on")?,
            day_column("paid_on")?,
        );
        let acct = Values::of(&acct);
        let (amounts, disputed) = (Values::of(&amounts), Bools::of(&disputed));
        let (issued, due, paid) = (Values::of(&issued), Values::of(&due), Values::of(&paid));

        // Every positive invoice as (account index, issued, amount, due, days
        // late): taken per account after the pass (rows are contiguous by account,
        // so these are too).
        let mut bills: Vec<(usize, i32, f64, i32, f64)> = Vec::new();
        each_row_by(d, accounts, &acct, &issued, |f, i, row, issued| {
            let back = d - issued;
            let disputed = disputed.get(row) == Some(true);
            let [in_recent, in_base] = inside_each(back, disputes_window);
            f.invoiced_dispute_window += i64::from(in_recent);
            f.disputes += i64::from(in_recent && disputed);
            f.invoiced_dispute_base += i64::from(in_base);
            f.disputes_base += i64::from(in_base && disputed);
            f.invoiced_recent += i64::from(inside(back, billed_window));
            let Some(amount) = amounts.get(row).filter(|&a| a > 0.0) else {
                return;
            };
            let due = due.get(row).unwrap_or(issued + w.payment_terms_days);
            let until = paid.get(row).filter(|&p| p <= d).unwrap_or(d);
            bills.push((i, issued, amount, due, f64::from((until - due).max(0))));
        });
        // Fees by the window they were issued in, days late by the window they
        // came due in: [recent, baseline].
        let (mut fees, mut late): ([Vec<f64>; 2], [Vec<f64>; 2]) = Default::default();
        for run in bills.chunk_by_mut(|a, b| a.0 == b.0) {
            // By day issued (then amount, so that the order of the export's rows
            // does not matter), for the months each invoice bills.
            run.sort_unstable_by(|a, b| a.1.cmp(&b.1).then(a.2.total_cmp(&b.2)));
            let f = &mut accounts[run[0].0];
            for v in fees.iter_mut().chain(late.iter_mut()) {
                v.clear();
            }
            let mut previous = None;
            for &(_, issued, amount, due, days_late) in run.iter() {
                let (fee, months) = per_month(amount, issued, previous, f.monthly_fee);
                if months > 0.0 {
                    previous = Some(issued);
                }
                let fee_in = inside_each(d - issued, invoices_window);
                // The latest (issued last) recent invoice at the contracted fee.
                let at_contract = f
                    .monthly_fee
                    .is_some_and(|contract| (fee - contract).abs() <= CONTRACT_MATCH * contract);
                if fee_in[0] && at_contract {
                    f.fee_contracted = Some(fee);
                }
                let due_in = inside_each(d - due, invoices_window);
                for k in 0..2 {
                    if fee_in[k] {
                        fees[k].push(fee);
                    }
                    if due_in[k] {
                        late[k].push(days_late);
                    }
                }
            }
            let [fee_recent, fee_base] = &mut fees;
            f.fee_recent = median_f64(fee_recent);
            f.fee_base = median_f64(fee_base);
            f.fee_base_n = fee_base.len() as i64;
            f.fee_base_flat = f.fee_base.map_or(0, |median| {
                let flat = |fee: &&f64| (*fee - median).abs() <= FLAT_FEE_SPREAD * median;
                fee_base.iter().filter(flat).count() as i64
            });
            let [late_recent, late_base] = &late;
            // Whole days, so the sum is exact in any order: the mean as polars had it.
            let mean = |days: &[f64]| {
                (!days.is_empty()).then(|| days.iter().sum::<f64>() / days.len() as f64)
            };
            [f.pay_late_recent, f.pay_late_base] = [mean(late_recent), mean(late_base)];
            [f.pay_late_recent_n, f.pay_late_base_n] =
                [late_recent.len(), late_base.len()].map(|n| n as i64);
        }
        Ok(())
    }

    /// Counts one engagement event on `day` into the account's `engagement_weeks`
    /// (week 0 the last seven days up to the as-of date) or `engagement_blocks`,
    /// client messages into `message_blocks` too; nothing after the date or beyond
    /// the blocks' reach. The meetings' and the messages' passes call it for each
    /// held meeting and each message (a filtered `group_by` over the messages cost
    /// 0.4 s per date at 100,000 accounts).
    fn count_activity(&self, f: &mut AccountFeatures, day: i32, events: Activity) {
        if day <= self.d - self.w.activity_reach() || day > self.d {
            return;
        }
        let weeks_back = 7 * self.w.engagement_weeks() as i32;
        let back = self.d - day;
        if back < weeks_back {
            f.engagement_weeks[(back / 7) as usize] += 1;
        } else {
            let block = ((back - weeks_back) / ACTIVITY_BLOCK_DAYS) as usize;
            f.engagement_blocks[block] += 1;
            if events == Activity::ClientMessages {
                f.message_blocks[block] += 1;
            }
        }
    }
}

/// The plain passes' windows are `(from, to)` in days before the as-of date, as
/// [`Windows::baseline`] gives a baseline: a day `back` days before the date is
/// inside when `to ≤ back < from` (the plan's `d − from < day ≤ d − to`).
fn inside(back: i32, (from, to): (i32, i32)) -> bool {
    (to..from).contains(&back)
}

/// Whether a day `back` days before the date is inside each of a recent window and
/// its baseline, as [`inside`] reads them.
fn inside_each(back: i32, (recent, base): ((i32, i32), (i32, i32))) -> [bool; 2] {
    [inside(back, recent), inside(back, base)]
}

/// The recent window of `length` days, as a `(from, to)` window of [`inside`].
fn recent(length: i32) -> (i32, i32) {
    (length, 0)
}

/// The events that make a client's engagement, counted by [`AsOf::count_activity`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Activity {
    HeldMeetings,
    ClientMessages,
}

/// The median (`None` for none) to the last bit as polars' grouped median has it:
/// the middle value, or the lower middle one plus half the distance to the upper.
/// Reorders `values` (a selection, not a sort).
fn median_f64(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (_, lower, above) = values.select_nth_unstable_by((n - 1) / 2, f64::total_cmp);
    let lower = *lower;
    if n % 2 == 1 {
        return Some(lower);
    }
    let upper = above.iter().copied().reduce(f64::min)?;
    Some(midpoint(lower, upper))
}

/// Polars' interpolation between the two middle values of an even count.
fn midpoint(lower: f64, upper: f64) -> f64 {
    if lower == upper {
        lower
    } else {
        0.5 * (upper - lower) + lower
    }
}

/// The median of delays in business minutes, in hours (`None` for none), to the
/// last bit as the polars plan had it: hours as minutes × (1/60), the middle value,
/// or the lower middle one plus half the distance to the upper. Reorders `minutes`;
/// a selection, not a sort (a polars grouped median sorted every account's window:
/// a tenth of the run at 100,000 accounts).
fn median_hours(minutes: &mut [i64]) -> Option<f64> {
    let hours = |m: i64| m as f64 * (1.0 / 60.0);
    let n = minutes.len();
    if n == 0 {
        return None;
    }
    let (_, lower, above) = minutes.select_nth_unstable((n - 1) / 2);
    let lower = hours(*lower);
    if n % 2 == 1 {
        return Some(lower);
    }
    let upper = hours(*above.iter().min()?);
    Some(midpoint(lower, upper))
}

/// Twice the Mann–Whitney statistic of `recent` against `base`: the pairs in which
/// the recent value is larger, a tie counting half. The smaller side is sorted and
/// the other searched in it (one recent reply against a year of earlier ones, or
/// the reverse, costs a short sort).
fn twice_mann_whitney(recent: &mut [i64], base: &mut [i64]) -> i64 {
    let pairs = |sorted: &[i64], other: &[i64], larger: bool| -> usize {
        other
            .iter()
            .map(|&v| {
                let below = sorted.partition_point(|&x| x < v);
                let up_to = sorted.partition_point(|&x| x <= v);
                // 2·#(x < v) + #(x = v) for a recent v among sorted earlier x;
                // 2·#(x > v) + #(x = v) for an earlier v among sorted recent x.
                if larger {
                    below + up_to
                } else {
                    2 * sorted.len() - below - up_to
                }
            })
            .sum()
    };
    if base.len() <= recent.len() {
        base.sort_unstable();
        pairs(base, recent, true) as i64
    } else {
        recent.sort_unstable();
        pairs(recent, base, false) as i64
    }
}

/// Reads the joined frame into plain structs for the (row-wise, pure) scoring.
/// Counts read as 0 where an account had no rows in a table (a left join's null).
fn extract(df: &DataFrame) -> PolarsResult<Vec<AccountFeatures>> {
    let column = |name: &str, dtype: DataType| df.column(name)?.cast(&dtype);
    let counts = |name: &str| -> PolarsResult<Vec<i64>> {
        let s = column(name, DataType::Int64)?;
        Ok(s.i64()?.iter().map(|v| v.unwrap_or(0)).collect())
    };
    let nums = |name: &str| -> PolarsResult<Vec<Option<f64>>> {
        Ok(column(name, DataType::Float64)?.f64()?.iter().collect())
    };
    let acct: Vec<u32> = df
        .column(c::ACCT)?
        .u32()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let outcome_agreed: Vec<Option<bool>> = df.column("outcome_agreed")?.bool()?.iter().collect();
    let history = counts("history_days")?;

    let mut out: Vec<AccountFeatures> = (0..df.height())
        .map(|i| AccountFeatures {
            acct: acct[i],
            history_days: history[i] as i32,
            outcome_agreed: outcome_agreed[i],
            ..AccountFeatures::default()
        })
        .collect();
    fill_declared(&mut out, counts, nums)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Either side sorted, the same count as comparing every pair.
    #[test]
    fn mann_whitney_pairs_counted_from_either_side() {
        let direct = |recent: &[i64], base: &[i64]| -> i64 {
            let mut u2 = 0;
            for r in recent {
                for b in base {
                    u2 += if r > b {
                        2
                    } else if r == b {
                        1
                    } else {
                        0
                    };
                }
            }
            u2
        };
        let cases: [(&[i64], &[i64]); 4] = [
            (&[30, 5, 900], &[10, 20, 30, 40, 50, 60]),
            (&[10, 20, 30, 40, 50, 60, 70], &[35, 5]),
            (&[7, 7, 7], &[7, 1, 9]),
            (&[100], &[1, 2, 3]),
        ];
        for (recent, base) in cases {
            let want = direct(recent, base);
            let got = twice_mann_whitney(&mut recent.to_vec(), &mut base.to_vec());
            assert_eq!(got, want, "{recent:?} against {base:?}");
        }
    }

    /// Clients who keep a quarter of their activity in Golden Week: learned from
    /// the events up to each date (a backfill before the holiday knows nothing of
    /// it), and a holiday day then counts a quarter of an open day.
    #[test]
    fn holiday_activity_is_learned_up_to_each_date() {
        let day = |m, d| crate::calendar::day_number(NaiveDate::from_ymd_opt(2026, m, d).unwrap());
        // Four events every day from April 1 to May 31, one on Golden Week's days.
        let first = day(4, 1);
        let events: Vec<u64> = (first..=day(5, 31))
            .map(|d| if is_holiday_week(d) { 1 } else { 4 })
            .collect();
        let h = HolidayActivity::new(first, &events);
        assert_eq!(h.on(day(4, 20)), 1.0, "no holiday seen yet");
        assert_eq!(h.on(day(3, 1)), 1.0, "before the first event");
        assert_eq!(h.on(day(5, 31)), 0.25);
        assert_eq!(h.on(day(12, 31)), 0.25, "after the last event: all of it");
        // No holiday quieter than an ordinary day: every day open.
        let flat = vec![1u64; events.len()];
        assert_eq!(HolidayActivity::new(first, &flat).on(day(5, 31)), 1.0);
        assert_eq!(HolidayActivity::new(0, &[]).on(day(5, 31)), 1.0);
        // The 10 days to May 10 hold Golden Week's last five (May 1–5).
        let open = OpenDays::new(day(5, 10), 60, 0.25);
        assert_eq!(open.between(10, 0), 5.0 + 5.0 * 0.25);
        assert_eq!(OpenDays::new(day(5, 10), 60, 1.0).between(10, 0), 10.0);
    }

    /// The team's spread of four-weekly activity, by moments over its accounts'
    /// blocks: none for steady clients, the phases' for clients whose blocks swing
    /// between 10 and 30; only accounts under contract count, and nothing after the
    /// blocks' last day (a backfill learns what that night learned).
    #[test]
    fn the_teams_activity_spread_is_learned_from_its_accounts_blocks() {
        let w = shipped_windows();
        let weeks = 100;
        // Week k of a steady client: 5 events; of a phased one: 2, 3, 2, 3 (10) in
        // even four-week blocks, 7, 8, 7, 8 (30) in odd ones.
        let steady = vec![5u16; weeks];
        let phased: Vec<u16> = (0..weeks)
            .map(|k| [[2, 3, 2, 3], [7, 8, 7, 8]][(k / 4) % 2][k % 4])
            .collect();
        let log = |accounts: &[&[u16]]| {
            let counts: Vec<u16> = accounts.concat();
            ActivityLog {
                from: 0,
                weeks,
                stride: 1,
                counts: [counts.clone(), counts],
            }
        };
        let team = |churned: Vec<Option<i32>>| TeamLog {
            started: vec![Some(0); churned.len()],
            first_proposal: vec![None; churned.len()],
            churned,
            sessions: Vec::new(),
        };
        // The blocks end with week 79: twelve whole blocks, each one phase.
        let d = 7 * 80 + 7 * w.engagement_weeks() as i32 - 1;
        let at = AsOf {
            d,
            cutoff: 0,
            w: &w,
        };
        let open = OpenDays::new(d, w.activity_reach(), 1.0);
        let spread =
            |log: &ActivityLog, team: &TeamLog| log.spread(&at, &open, team, Series::Engagement, 0);
        // Twelve blocks of 10 and 30 around 20: X² = 12 × 100 / 20 = 60 on 11
        // degrees of freedom, so c² = (60 − 11) / (11 × 20).
        let phases = (60.0 - 11.0) / (11.0 * 20.0);
        let one = spread(&log(&[&phased]), &team(vec![None]));
        assert!((one.unwrap() - phases).abs() < 1e-12, "{one:?}");
        assert_eq!(spread(&log(&[&steady]), &team(vec![None])), Some(0.0));
        // A steady account of the same volume halves the excess's weight's share.
        let both = spread(&log(&[&phased, &steady]), &team(vec![None, None])).unwrap();
        assert!(
            (both - (60.0 - 22.0) / (22.0 * 20.0)).abs() < 1e-12,
            "{both}"
        );
        // An account gone by the date is not the team's any more.
        let gone = spread(&log(&[&phased, &steady]), &team(vec![None, Some(d)]));
        assert_eq!(gone, one);
        // Mid-week, the blocks are the same whole weeks.
        let later_day = AsOf {
            d: d + 3,
            cutoff: 0,
            w: &w,
        };
        let open_later = OpenDays::new(d + 3, w.activity_reach(), 1.0);
        let mid_week = log(&[&phased]).spread(
            &later_day,
            &open_later,
            &team(vec![None]),
            Series::Engagement,
            0,
        );
        assert_eq!(mid_week, one);
        // Weeks after the blocks (the engagement weeks and later) change nothing.
        let mut later = phased.clone();
        later[80..].fill(60);
        assert_eq!(spread(&log(&[&later]), &team(vec![None])), one);
        // An export starting after the date's first blocks: only what it covers.
        let young =
            log(&[&phased]).spread(&at, &open, &team(vec![None]), Series::Engagement, 7 * 72);
        let (x2, dof) = (2.0 * 100.0 / 20.0, 1.0);
        assert!(
            (young.unwrap() - (x2 - dof) / (dof * 20.0)).abs() < 1e-12,
            "{young:?}"
        );
    }

    #[test]
    fn slices_take_each_accounts_rows_across_chunks() {
        let acct =
            |v: &[u32]| DataFrame::new_infer_height(vec![Column::new(c::ACCT.into(), v)]).unwrap();
        let mut frame = acct(&[0, 1, 1, 3]);
        frame.vstack_mut(&acct(&[3, 4, 6])).unwrap();
        assert_eq!(frame.first_col_n_chunks(), 2);
        let frames = Frames {
            accounts: acct(&[0, 1, 2, 3, 4, 5, 6]),
            meetings: frame.clone(),
            messages: frame.clone(),
            action_items: frame.clone(),
            study_sessions: frame.clone(),
            invoices: frame.clone(),
            outcomes: frame.clone(),
            churn_events: acct(&[]),
        };
        let rows = |from, to| -> Vec<u32> {
            let part = frames.slice(from, to).unwrap();
            assert_eq!(part.accounts.height() as u32, to.min(7) - from.min(7));
            let values = part
                .meetings
                .column(c::ACCT)
                .unwrap()
                .u32()
                .unwrap()
                .clone();
            values.into_no_null_iter().collect()
        };
        assert_eq!(rows(1, 4), [1, 1, 3, 3]);
        assert_eq!(rows(0, 1), [0]);
        assert_eq!(rows(5, 6), Vec::<u32>::new());
        assert_eq!(rows(4, 100), [4, 6]);
    }

    #[test]
    fn a_windows_median_is_the_middle_of_its_sorted_delays() {
        // Against a full sort: odd and even counts, ties, a lone value, none.
        let by_sorting = |minutes: &[i64]| -> Option<f64> {
            let mut sorted = minutes.to_vec();
            sorted.sort_unstable();
            let n = sorted.len();
            let hours = |m: i64| m as f64 * (1.0 / 60.0);
            let lower = hours(*sorted.get((n.max(1) - 1) / 2)?);
            Some(if n % 2 == 1 {
                lower
            } else {
                lower + 0.5 * (hours(sorted[n / 2]) - lower)
            })
        };
        let cases: [&[i64]; 5] = [
            &[],
            &[90],
            &[600, 30, 90],
            &[
                1409, 32, 169, 113, 44, 1000, 52, 290, 71, 980, 72, 834, 94, 981, 96, 1132, 106,
                224,
            ],
            &[60, 60, 120, 60],
        ];
        for minutes in cases {
            assert_eq!(
                median_hours(&mut minutes.to_vec()),
                by_sorting(minutes),
                "{minutes:?}"
            );
        }
        assert_eq!(median_hours(&mut [600, 30, 90]), Some(1.5));
        // 113 and 169 minutes in the middle: 141 minutes, 2.35 h.
        let middle = median_hours(&mut cases[3].to_vec()).unwrap();
        assert!((middle - 2.35).abs() < 1e-12, "{middle}");
        // Fees the same way, without the hours.
        for minutes in cases {
            let fees: Vec<f64> = minutes.iter().map(|&m| m as f64 * 1.25).collect();
            let expected = by_sorting(minutes).map(|h| h * 60.0 * 1.25);
            let got = median_f64(&mut fees.clone());
            assert_eq!(got.is_some(), expected.is_some(), "{fees:?}");
            if let (Some(got), Some(expected)) = (got, expected) {
                assert!(
                    (got - expected).abs() < 1e-9,
                    "{fees:?}: {got} against {expected}"
                );
            }
        }
        assert_eq!(median_f64(&mut [12.5, 10.0, 20.0, 11.0]), Some(11.75));
    }

    /// (issued, due, amount, paid, disputed)
    type Invoice = (i32, Option<i32>, f64, Option<i32>, Option<bool>);

    /// One account's invoice features as of day `d`.
    fn invoice_features(
        w: &Windows,
        d: i32,
        rows: &[Invoice],
        monthly_fee: Option<f64>,
    ) -> AccountFeatures {
        let frame = df!(
            c::ACCT => vec![3u32; rows.len()],
            "issued_on" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "due_on" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "amount" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "paid_on" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            "disputed" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        )
        .unwrap();
        let at = AsOf { d, cutoff: 0, w };
        let mut accounts = vec![AccountFeatures {
            acct: 3,
            monthly_fee,
            ..AccountFeatures::default()
        }];
        at.invoice_figures(&mut accounts, &frame).unwrap();
        accounts.remove(0)
    }

    /// Invoices `(issued, amount)`, each due 30 days and paid 20 days after it was
    /// issued, undisputed.
    fn fee_rows(rows: &[(i32, f64)]) -> Vec<Invoice> {
        rows.iter()
            .map(|&(issued, amount)| {
                (
                    issued,
                    Some(issued + 30),
                    amount,
                    Some(issued + 20),
                    Some(false),
                )
            })
            .collect()
    }

    /// Invoices judged as of day 1000 at the shipped windows: late by the days to
    /// payment or, unpaid, to the date; due after the payment terms when no due date
    /// is given; never early; disputes counted whatever the amount.
    #[test]
    fn invoices_are_late_from_their_due_date() {
        let w = shipped_windows();
        let d = 1000;
        let terms = w.payment_terms_days;
        let rows: [Invoice; 5] = [
            (d - 40, Some(d - 20), 100.0, Some(d - 15), None), // paid 5 days late
            (d - 35, None, 120.0, None, Some(true)),           // unpaid since its terms
            (d - 30, Some(d - 10), 100.0, Some(d - 12), None), // paid early: 0
            (d - 25, Some(d - 5), -30.0, None, Some(true)),    // a credit: no fee, no lateness
            (d + 5, Some(d + 30), 100.0, None, Some(true)),    // issued after the date
        ];
        let f = &invoice_features(&w, d, &rows, None);
        assert!(
            w.invoices_recent_days > 40 && w.disputes_days > 35,
            "the rows sit in the recent windows"
        );
        let unpaid_late = f64::from(d - (d - 35 + terms));
        assert_eq!(f.pay_late_recent_n, 3);
        assert_eq!(f.pay_late_recent, Some((5.0 + unpaid_late + 0.0) / 3.0));
        assert_eq!(f.fee_recent, Some(100.0));
        assert_eq!((f.fee_base, f.pay_late_base_n), (None, 0));
        assert_eq!((f.disputes, f.invoiced_dispute_window), (2, 4));
    }

    /// The fee the contract confirms: the latest recent invoice at the accounts
    /// export's `monthly_fee` (to half a percent), whatever extra invoices come
    /// after it or on its day; none issued after the date, none where no invoice
    /// is at the contracted fee. And how many baseline invoices are the flat fee.
    #[test]
    fn the_contracted_fee_is_the_latest_invoice_at_monthly_fee() {
        let w = shipped_windows();
        let d = 1000;
        let rows: [(i32, f64); 9] = [
            (d - 260, 200.0), // the baseline: the old fee,
            (d - 230, 50.0),  // an extra invoice,
            (d - 200, 205.0), // and the old fee within 5%
            (d - 80, 200.0),  // the old fee
            (d - 50, 260.0),  // the raise
            (d - 45, 30.0),   // an extra invoice after it
            (d - 20, 261.0),  // the fee again, rounded differently
            (d - 20, 30.0),   // an extra invoice on its day
            (d + 5, 260.0),   // issued after the date
        ];
        let features = |monthly_fee| invoice_features(&w, d, &fee_rows(&rows), monthly_fee);
        let contracted = |monthly_fee| features(monthly_fee).fee_contracted;
        assert!(
            w.invoices_recent_days > 80,
            "the rows sit in the recent window"
        );
        let (from, to) = w.baseline(w.invoices_recent_days, w.invoices_baseline_days);
        assert!(to <= 200 && 260 < from, "and the baseline");
        // Two of the baseline's three invoices are the flat fee.
        let f = features(None);
        assert_eq!(
            (f.fee_base, f.fee_base_n, f.fee_base_flat),
            (Some(200.0), 3, 2)
        );
        assert_eq!(contracted(Some(260.0)), Some(261.0));
        assert_eq!(contracted(Some(200.0)), Some(200.0));
        assert_eq!(contracted(Some(300.0)), None);
        assert_eq!(contracted(None), None);
    }

    /// Accounts billed irregularly: an invoice two or three months after the
    /// previous one that bills those months at once reads per month, even at the
    /// fee before a raise; an extra invoice bills no month (the months after it
    /// count from the invoice before); a missing invoice leaves the next one at one
    /// month. Without a contracted fee, amounts are read as they are.
    #[test]
    fn an_invoice_billing_several_months_reads_per_month() {
        let w = shipped_windows();
        let d = 1000;
        let rows: [(i32, f64); 10] = [
            (d - 400, 100.0), // the baseline, before a raise to 130
            (d - 370, 100.0),
            (d - 280, 300.0), // three months at once
            (d - 250, 30.0),  // an extra invoice
            (d - 220, 200.0), // two months at once, counted from d - 280
            (d - 190, 100.0),
            (d - 160, 100.0),
            (d - 130, 100.0), // between the windows
            (d - 70, 260.0),  // two months at the raised fee
            (d - 10, 130.0),  // one month (the one before it is missing)
        ];
        let features = |monthly_fee| invoice_features(&w, d, &fee_rows(&rows), monthly_fee);
        let (from, to) = w.baseline(w.invoices_recent_days, w.invoices_baseline_days);
        assert!(to <= 160 && 400 < from && 130 < to && 70 < w.invoices_recent_days);
        let f = features(Some(130.0));
        assert_eq!(
            (f.fee_base, f.fee_base_n, f.fee_base_flat),
            (Some(100.0), 7, 6)
        );
        assert_eq!((f.fee_recent, f.fee_contracted), (Some(130.0), Some(130.0)));
        let f = features(None);
        assert_eq!(
            (f.fee_base, f.fee_base_flat, f.fee_recent),
            (Some(100.0), 4, Some(195.0))
        );
        // The first invoice, and a contracted fee of zero: one month.
        assert_eq!(per_month(300.0, d, None, Some(100.0)), (300.0, 1.0));
        assert_eq!(per_month(300.0, d, Some(d - 90), Some(0.0)), (300.0, 1.0));
    }

    /// A period is one KPI reading: its metrics' attainments averaged (lower is
    /// better inverted), by account and period whatever the rows' order.
    #[test]
    fn a_period_is_one_reading_of_its_metrics() {
        let frame = df!(
            c::ACCT => [2u32, 1, 1, 1],
            "period_end" => [30i32, 60, 30, 30],
            "target" => [10.0, 10.0, 10.0, 10.0],
            "actual" => [8.0, 7.0, 9.0, 8.0],
            "higher_is_better" => [Some(true), None, Some(true), Some(false)],
        )
        .unwrap();
        let periods = kpi_periods(&frame).unwrap();
        let column = |name: &str| {
            periods
                .column(name)
                .unwrap()
                .as_materialized_series()
                .clone()
        };
        assert_eq!(
            column(c::ACCT).u32().unwrap().to_vec(),
            [Some(1), Some(1), Some(2)]
        );
        assert_eq!(
            column("period_end").i32().unwrap().to_vec(),
            [Some(30), Some(60), Some(30)]
        );
        let attained = column("attainment").f64().unwrap().to_vec();
        assert_eq!(attained, [Some((0.9 + 1.25) / 2.0), Some(0.7), Some(0.8)]);
    }

    #[test]
    fn values_read_a_column_with_its_nulls() {
        let mut ca = Int32Chunked::from_iter([Some(3), None, Some(5)]);
        ca.append(&Int32Chunked::from_iter([None, Some(7)]))
            .unwrap();
        let one = ca.rechunk();
        let values = Values::of(&one);
        assert_eq!(values.len(), 5);
        let read: Vec<Option<i32>> = (0..values.len()).map(|i| values.get(i)).collect();
        assert_eq!(read, ca.iter().collect::<Vec<_>>());
    }

    #[test]
    fn bools_read_a_column_with_its_nulls() {
        let mut ca = BooleanChunked::from_iter([Some(true), None, Some(false)]);
        ca.append(&BooleanChunked::from_iter([None, Some(true)]))
            .unwrap();
        let one = ca.rechunk();
        let flags = Bools::of(&one);
        let read: Vec<Option<bool>> = (0..ca.len()).map(|i| flags.get(i)).collect();
        assert_eq!(read, ca.iter().collect::<Vec<_>>());
    }

    /// The shipped config.toml's `[windows]`.
    fn shipped_windows() -> Windows {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        let text = std::fs::read_to_string(path).expect("shipped config");
        let table: toml::Table = toml::from_str(&text).expect("shipped config is TOML");
        table["windows"]
            .clone()
            .try_into()
            .expect("shipped windows")
    }

    /// Promises judged as of day 1000 at the shipped windows: open, overdue, late and
    /// kept in time, in the recent window, its baseline and outside both.
    #[test]
    fn promises_are_judged_after_their_grace() {
        let w = shipped_windows();
        let (d, grace, tw) = (1000, w.promise_grace_days, w.team_behaviour_days);
        let (_, base_to) = w.baseline(tw, w.meetings_baseline_days);
        let due_recent = d - grace - 1;
        let due_base = d - grace - base_to;
        // (promised, due, done)
        let rows: [(i32, i32, Option<i32>); 7] = [
            (due_recent - 5, due_recent, None), // recent, open: late, overdue
            (due_recent - 5, due_recent, Some(due_recent + grace)), // recent, kept within grace
            (due_recent - 5, due_recent, Some(d + 3)), // done after the date: open
            (due_base - 5, due_base, Some(due_base + grace + 1)), // baseline, kept late
            (due_base - 5, due_base, Some(due_base)), // baseline, kept on time
            (d - 1, d + 10, None),              // not due yet
            (d + 1, d + 20, None),              // promised after the date
        ];
        let frame = df!(
            c::ACCT => vec![7u32; rows.len()],
            "promised_on" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "due_on" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "done_on" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )
        .unwrap();
        let at = AsOf {
            d,
            cutoff: 0,
            w: &w,
        };
        let mut accounts = vec![AccountFeatures {
            acct: 7,
            ..AccountFeatures::default()
        }];
        at.promise_figures(&mut accounts, &frame).unwrap();
        let f = &accounts[0];
        assert_eq!(
            (f.overdue_open, f.overdue_oldest_days),
            (2, Some(d - due_recent))
        );
        assert_eq!((f.due_recent, f.late_recent), (3, 2));
        assert_eq!((f.due_base, f.late_base), (2, 1));
        // Promised in the meetings' recent window: all but the one after the date.
        let recent = rows
            .iter()
            .filter(|r| r.0 <= d && r.0 > d - w.meetings_recent_days)
            .count();
        assert_eq!(f.promised_recent, recent as i64);
    }

    /// The reply log's norm is the median of every message's delay in the date's
    /// baseline, taken one message at a time: answered quickly, answered after the
    /// baseline ends or after the date, never answered; on dates before the first
    /// message, inside the messages' span and long after the last.
    #[test]
    fn reply_norm_is_the_median_of_the_baselines_delays() {
        let w = shipped_windows();
        let (from, to) = w.baseline(w.replies_recent_days, w.replies_baseline_days);
        // A fixed pseudo-random spread of messages over 400 days from day 20,000.
        let mut seed: u64 = 7;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % n) as i32
        };
        let (mut days, mut received, mut answers, mut answer_days) =
            (vec![], vec![], vec![], vec![]);
        for _ in 0..3000 {
            let day = 20_000 + next(400);
            let minute = day * 1440 + next(1440);
            // Mostly hours, some days, some weeks, a tenth never.
            let wait = match next(10) {
                0 => None,
                1 => Some(next(40 * 1440)),
                2..=4 => Some(next(3 * 1440)),
                _ => Some(next(600)),
            };
            days.push(day);
            received.push(minute);
            answers.push(wait.map(|w| minute + w));
            answer_days.push(wait.map(|w| (minute + w).div_euclid(1440)));
        }
        let frame = df!(
            c::ACCT => vec![1u32; days.len()],
            "received_at_day" => days.clone(),
            "received_at" => received.clone(),
            "first_response_at" => answers.clone(),
            "first_response_at_day" => answer_days.clone(),
        )
        .unwrap();
        let span = day_span(&frame, "received_at_day").unwrap();
        let log = ReplyLog::new(&frame, &w, span).unwrap();
        for d in [
            19_900,
            20_000 + from - 5,
            20_150,
            20_230,
            20_399,
            20_420,
            20_700,
        ] {
            let at = AsOf {
                d,
                cutoff: (d + 1) * 1440,
                w: &w,
            };
            let mut delays: Vec<i64> = (0..days.len())
                .filter(|&i| days[i] > d - from && days[i] <= d - to && received[i] < at.cutoff)
                .map(|i| match (answers[i], answer_days[i]) {
                    (Some(a), Some(ad)) if a < at.cutoff => {
                        business_minutes(days[i], received[i], a, ad)
                    }
                    _ => business_minutes(days[i], received[i], at.cutoff, d),
                })
                .collect();
            delays.sort_unstable();
            let n = delays.len();
            let expected =
                (n > 0).then(|| (delays[(n - 1) / 2] + delays[n / 2]) as f64 / 2.0 / 60.0);
            assert_eq!(log.norm(&at), expected, "day {d}, {n} delays");
        }
        assert!(
            log.norm(&AsOf {
                d: 20_300,
                cutoff: 20_301 * 1440,
                w: &w
            })
            .is_some()
        );
    }

    #[test]
    fn cutoff_is_the_next_local_midnight() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        // Midnight of Nov 21 in Tokyo is 15:00 UTC on Nov 20.
        assert_eq!(cutoff_ts(day, chrono_tz::Asia::Tokyo), 1_795_186_800);
        // Santiago skipped 00:00–01:00 on 2024-09-08: the day starts at 01:00 (-03).
        let before_gap = NaiveDate::from_ymd_opt(2024, 9, 7).unwrap();
        assert_eq!(
            cutoff_ts(before_gap, chrono_tz::America::Santiago),
            1_725_768_000
        );
    }
}
