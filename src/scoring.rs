//! Scoring: pure functions from [`AccountFeatures`] to the four category scores, the
//! risk score and the reasons. No IO.
//!
//! Explainable by construction: every point comes from one named [`Signal`] with its
//! measured value, its reference and its configured weight, and the reason text is
//! written from those same numbers.

use crate::config::{Config, Language, SignalParams, Windows};
use crate::evidence::{
    binomial_lower_midp, binomial_upper_midp, count_drop_midp, normal_sf, one_in, strength,
};
use crate::features::{AccountFeatures, Snapshot};

pub use crate::signals::{Category, RiskLevel, Signal};

/// What a signal measured: the value scored against `start`/`full`, and the figures
/// its reason quotes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    pub value: f64,
    pub figures: [f64; 4],
}

/// One signal's contribution to an account's score.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub signal: Signal,
    pub measure: Measure,
    /// How often a change at least this large happens by chance for this account
    /// ([`chance`]); `None` for facts.
    pub chance: Option<f64>,
    /// Size of the change (0–1) times the strength of its evidence (0–1).
    pub severity: f64,
    pub points: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountScore {
    pub acct: u32,
    /// Indexed like [`Category::ALL`].
    pub categories: [f64; 4],
    pub risk: f64,
    pub level: RiskLevel,
    pub primary: Option<Category>,
    /// Findings with points, most important first.
    pub findings: Vec<Finding>,
}

impl AccountScore {
    pub fn category(&self, c: Category) -> f64 {
        self.categories[c as usize]
    }
}

/// Baseline invoices within this share of their median count as a flat fee.
const FLAT_FEE_SPREAD: f64 = 0.1;

/// `0` at `start`, `1` at `full` and beyond.
pub fn severity(value: f64, p: SignalParams) -> f64 {
    ((value - p.start) / (p.full - p.start)).clamp(0.0, 1.0)
}

fn ratio(n: i64, d: i64) -> f64 {
    n as f64 / d as f64
}

/// A recent share `k / n` blended with `prior` pseudo-events at the usual share `p0`:
/// small samples move little from what is usual for the account, large ones speak
/// for themselves.
fn shrunk_share(k: i64, n: i64, p0: f64, prior: f64) -> f64 {
    (k as f64 + prior * p0) / (n as f64 + prior)
}

/// The account's usual share, or 0 (no stress assumed) without enough baseline.
fn usual_share(k: i64, n: i64, min_base: i64) -> f64 {
    if n >= min_base { ratio(k, n) } else { 0.0 }
}

/// Recent count over expected count, blended with `prior` events at the usual rate.
fn shrunk_rate(k: i64, expected: f64, prior: f64) -> f64 {
    (k as f64 + prior) / (expected + prior)
}

/// Days of the baseline window (for a recent window of `length` days and a baseline
/// of `base` days) in which the account could leave rows: after its contract started
/// and after the table's first record (`from`). A usual rate is per these days, so
/// an account that started halfway through its baseline window, or an export that
/// begins after it, does not read as "usually half as active". `None` when the days
/// cover less than half the baseline or less than the recent window: a rate learned
/// over a short stretch is too noisy to call usual (in a backtest, the first months
/// after the export begins).
fn observed_base_days(
    f: &AccountFeatures,
    snap: &Snapshot,
    w: &Windows,
    (length, base): (i32, i32),
    from: Option<i32>,
) -> Option<f64> {
    let (start, end) = w.baseline(length, base);
    let (start, end) = (snap.day - start, snap.day - end);
    let known_since = (snap.day - f.history_days).max(from?);
    // Windows hold the days after their start up to and including their end.
    let days = (end - start.max(known_since - 1)).clamp(0, base);
    (days >= length.min(base) && 2 * days >= base).then_some(f64::from(days))
}

/// [`observed_base_days`] of the touchpoint baseline: touchpoints are held meetings
/// and replies, so both exports must cover a day for it to count.
fn touch_base_days(f: &AccountFeatures, snap: &Snapshot, w: &Windows) -> Option<f64> {
    let from = snap.meetings_from.max(snap.messages_from);
    let window = (w.meetings_recent_days, w.touchpoint_baseline_days);
    observed_base_days(f, snap, w, window, from)
}

/// Measures one signal, or `None` where the account lacks the data to judge it (too
/// young, too few events): missing history is never evidence of stress.
pub fn measure(s: Signal, f: &AccountFeatures, snap: &Snapshot, cfg: &Config) -> Option<Measure> {
    let w = &cfg.windows;
    let m = |value: f64, figures: [f64; 4]| Some(Measure { value, figures });
    let seasoned = f.history_days >= w.min_history_days;
    let min_recent = w.min_recent_events;
    let min_base = w.min_baseline_events;
    let prior = w.prior_events;
    // A recent share (bad, of all) above the account's usual share of the same.
    let excess = |((k, n), (kb, nb)): ((i64, i64), (i64, i64))| {
        let usual = usual_share(kb, nb, min_base);
        shrunk_share(k, n, usual, prior) - usual
    };
    // A recent count below the account's usual rate over the baseline days it was
    // observed. A shorter baseline is a noisier "usual", so the recent count is
    // blended with proportionally more events at that rate.
    let rate_drop = |recent: i64, base: i64, from: Option<i32>| {
        let (r, b) = (w.meetings_recent_days, w.meetings_baseline_days);
        let observed = observed_base_days(f, snap, w, (r, b), from)?;
        let expected = base as f64 * f64::from(r) / observed;
        let value = 1.0 - shrunk_rate(recent, expected, prior * f64::from(b) / observed);
        m(value, [recent as f64, expected, f64::from(r), 0.0])
    };
    match s {
        Signal::KpiShortfall => {
            // A young account's first results are a ramp-up, not yet a verdict.
            if !seasoned {
                return None;
            }
            let recent = f.kpi_recent.filter(|_| f.kpi_recent_n >= 1)?;
            m(
                1.0 - recent,
                [recent * 100.0, f64::from(w.outcomes_recent_days), 0.0, 0.0],
            )
        }
        Signal::KpiDecline => {
            let recent = f.kpi_recent.filter(|_| f.kpi_recent_n >= 1)?;
            let base = f.kpi_base.filter(|&b| f.kpi_base_n >= 2 && b > 0.0)?;
            // Relative to the account's own level: 120% falling to 90% is a decline
            // the client feels even though the target is still nearly met.
            m(
                1.0 - recent / base,
                [recent * 100.0, base * 100.0, 0.0, 0.0],
            )
        }
        Signal::NoOutcomeDefinition => (f.outcome_agreed == Some(false)).then_some(Measure {
            value: 1.0,
            figures: [0.0; 4],
        }),
        Signal::MeetingDrop => {
            if !seasoned || f.held_base < min_base {
                return None;
            }
            rate_drop(f.held_recent, f.held_base, snap.meetings_from)
        }
        Signal::ContactDrop => {
            // The client writing less than it used to: interest fading.
            if !seasoned || f.client_messages_base < min_base {
                return None;
            }
            rate_drop(
                f.client_messages_recent,
                f.client_messages_base,
                snap.messages_from,
            )
        }
        Signal::ClientCancellations => {
            if f.client_cancelled_recent < min_recent {
                return None;
            }
            m(
                excess(bad_counts(s, f)?),
                [
                    f.client_cancelled_recent as f64,
                    f.scheduled_recent as f64,
                    f64::from(w.meetings_recent_days),
                    0.0,
                ],
            )
        }
        Signal::AttendanceDrop => {
            if !seasoned || f.invited_recent < min_recent || f.invited_base < min_base {
                return None;
            }
            // A handful of earlier sessions all attended is not yet "always comes":
            // the usual share is blended towards the team's, as the recent one is
            // towards the usual.
            let earlier = ratio(f.attended_base, f.invited_base);
            let team = snap.team_attendance.unwrap_or(earlier);
            let usual = shrunk_share(f.attended_base, f.invited_base, team, prior);
            let recent = shrunk_share(f.attended_recent, f.invited_recent, usual, prior);
            m(
                usual - recent,
                [
                    f.attended_recent as f64,
                    f.invited_recent as f64,
                    earlier * 100.0,
                    f64::from(w.attendance_recent_days),
                ],
            )
        }
        Signal::ProposalGap => {
            // Only where meetings happen at all: an export without meetings says
            // nothing about proposals. Without a proposal on record, count from the
            // first meeting the export holds (an export covering 18 months cannot
            // speak for the years before), and never beyond the contract's age.
            if !snap.proposals_recorded {
                return None;
            }
            f.last_meeting_day?;
            let since = f.last_proposal_day.or(f.first_meeting_day)?;
            let days = (snap.day - since).min(f.history_days);
            m(f64::from(days), [f64::from(days), 0.0, 0.0, 0.0])
        }
        Signal::TouchpointGap => {
            if !seasoned || f.touches_base < min_base {
                return None;
            }
            let observed = touch_base_days(f, snap, w)?;
            let usual = (observed / f.touches_base as f64).max(7.0);
            let days = f
                .last_touch_day
                .map_or(f.history_days, |t| snap.day - t)
                .min(f.history_days);
            m(f64::from(days) / usual, [f64::from(days), usual, 0.0, 0.0])
        }
        Signal::MeetingGap => {
            // The longest wait for a held meeting lately (the one still open
            // included) against the account's own cadence.
            if !seasoned || f.meeting_gaps_base_n < min_base {
                return None;
            }
            let usual = f.meeting_gap_base?.max(1.0);
            let open = f64::from(snap.day - f.last_meeting_day?);
            let gap = open.max(f.meeting_gap_recent_max.unwrap_or(0.0));
            m(gap / usual, [gap, usual, 0.0, 0.0])
        }
        Signal::ReplyDelay => {
            let (measure, _) = reply_delay(f, snap, w, cfg.evidence.reply_log_sd)?;
            Some(measure)
        }
        Signal::Unanswered => {
            // A share of the messages old enough to expect an answer, against the
            // account's usual share: a busy client is not flagged for volume.
            if f.waited_recent == 0 {
                return None;
            }
            m(
                excess(bad_counts(s, f)?),
                [
                    f.unanswered as f64,
                    f.waited_recent as f64,
                    w.unanswered_after_hours as f64,
                    f64::from(w.unanswered_lookback_days),
                ],
            )
        }
        Signal::TeamLateness => {
            if f.late_team_window < min_recent {
                return None;
            }
            let ((k, n), (kb, nb)) = bad_counts(s, f)?;
            m(
                shrunk_share(k, n, usual_share(kb, nb, min_base), prior),
                [
                    f.late_team_window as f64,
                    f.held_team_window as f64,
                    f64::from(w.team_behaviour_days),
                    w.late_minutes as f64,
                ],
            )
        }
        Signal::TeamCancellations => {
            if f.team_cancelled_window < min_recent {
                return None;
            }
            let ((k, n), (kb, nb)) = bad_counts(s, f)?;
            m(
                shrunk_share(k, n, usual_share(kb, nb, min_base), prior),
                [
                    f.team_cancelled_window as f64,
                    f.scheduled_team_window as f64,
                    f64::from(w.team_behaviour_days),
                    0.0,
                ],
            )
        }
        Signal::OverduePromises => {
            // Promises that came due recently and were kept late or are still open,
            // as a share against the account's usual share.
            if f.due_recent < min_recent {
                return None;
            }
            m(
                excess(bad_counts(s, f)?),
                [
                    f.late_recent as f64,
                    f.due_recent as f64,
                    f.overdue_open as f64,
                    f64::from(w.team_behaviour_days),
                ],
            )
        }
        Signal::FeeIncrease => {
            // Only where there is a fee: invoices that were flat in the baseline.
            // Usage-based amounts that vary month to month would read as "increases".
            let (recent, base) = (f.fee_recent?, f.fee_base?);
            let spread = (f.fee_base_max? - f.fee_base_min?) / base;
            if spread > FLAT_FEE_SPREAD {
                return None;
            }
            m(recent / base - 1.0, [recent, base, 0.0, 0.0])
        }
        Signal::PaymentDelay => {
            let recent = f.pay_late_recent.filter(|_| f.pay_late_recent_n >= 1)?;
            // Without an earlier record the delay is judged against the terms (0 days
            // late), and the reason says there is nothing earlier to compare.
            let base = f.pay_late_base.filter(|_| f.pay_late_base_n >= min_base);
            m(
                recent - base.unwrap_or(0.0),
                [
                    recent,
                    base.unwrap_or(f64::NAN),
                    f64::from(w.invoices_recent_days),
                    0.0,
                ],
            )
        }
        Signal::Disputes => {
            // Disputed invoices as a share, above the account's usual share: a client
            // who always queries one invoice a year is not newly upset.
            if f.disputes == 0 {
                return None;
            }
            m(
                excess(bad_counts(s, f)?),
                [
                    f.disputes as f64,
                    f.invoiced_dispute_window as f64,
                    f64::from(w.disputes_days),
                    0.0,
                ],
            )
        }
        Signal::UnusedService => {
            if f.invited_recent < min_recent {
                return None;
            }
            // Blended with the usual attendance when there is one (a member who always
            // came and missed a few is not yet "not using" the service).
            let usual = if f.invited_base >= min_base {
                ratio(f.attended_base, f.invited_base)
            } else {
                ratio(f.attended_recent, f.invited_recent)
            };
            m(
                1.0 - shrunk_share(f.attended_recent, f.invited_recent, usual, prior),
                [
                    f.attended_recent as f64,
                    f.invited_recent as f64,
                    f64::from(w.attendance_recent_days),
                    0.0,
                ],
            )
        }
        Signal::BillingWithoutTouch => {
            if !seasoned || f.invoiced_recent == 0 || f.touches_base < min_base {
                return None;
            }
            let r = w.meetings_recent_days;
            let expected = f.touches_base as f64 * f64::from(r) / touch_base_days(f, snap, w)?;
            m(
                1.0 - f.touches_recent as f64 / expected,
                [f.touches_recent as f64, expected, f64::from(r), 0.0],
            )
        }
    }
}

/// `P(X > x)` for `X ~ χ²` with an even number of degrees of freedom `df = 2k`:
/// `e^(-x/2) Σ_{i<k} (x/2)^i / i!` (exact; Fisher's method only needs even ones).
pub fn chi2_sf_even(x: f64, df: usize) -> f64 {
    let half = x / 2.0;
    let (mut term, mut sum) = (1.0, 1.0);
    for i in 1..df / 2 {
        term *= half / i as f64;
        sum += term;
    }
    ((-half).exp() * sum).clamp(0.0, 1.0)
}

/// An account's meeting gaps are assumed to vary this much (coefficient of
/// variation) before its own gaps say otherwise, weighing this many gaps.
const MEETING_GAP_PRIOR_CV: f64 = 0.5;
const MEETING_GAP_PRIOR_GAPS: f64 = 4.0;

/// The share signals' counts, (bad, of all), recent and in the baseline: one
/// definition that the measure and its chance both read.
fn bad_counts(s: Signal, f: &AccountFeatures) -> Option<((i64, i64), (i64, i64))> {
    Some(match s {
        Signal::ClientCancellations => (
            (f.client_cancelled_recent, f.scheduled_recent),
            (f.client_cancelled_base, f.scheduled_base),
        ),
        Signal::Unanswered => (
            (f.unanswered, f.waited_recent),
            (f.unanswered_base, f.waited_base),
        ),
        Signal::TeamLateness => (
            (f.late_team_window, f.held_team_window),
            (f.late_team_base, f.held_team_base),
        ),
        Signal::TeamCancellations => (
            (f.team_cancelled_window, f.scheduled_team_window),
            (f.team_cancelled_base, f.scheduled_team_base),
        ),
        Signal::OverduePromises => ((f.late_recent, f.due_recent), (f.late_base, f.due_base)),
        Signal::Disputes => (
            (f.disputes, f.invoiced_dispute_window),
            (f.disputes_base, f.invoiced_dispute_base),
        ),
        _ => return None,
    })
}

/// Shares of bad events (cancelled, unanswered, late) an account is assumed to have
/// before its own baseline says otherwise, weighing `prior_events` events.
const PRIOR_BAD_SHARE: f64 = 0.1;

/// How often a change at least as large as the one measured would happen by chance
/// for this account, given its own volume and spread (`crate::evidence`); `None` for
/// facts, which need no test (no agreed outcome, a raised fee, months without a
/// proposal) and where the data to judge is missing.
pub fn chance(s: Signal, f: &AccountFeatures, snap: &Snapshot, cfg: &Config) -> Option<f64> {
    let (w, e) = (&cfg.windows, &cfg.evidence);
    let prior = w.prior_events;
    // k bad of n against the account's usual share, blended with a prior share.
    let bad_share = |((k, n), (kb, nb)): ((i64, i64), (i64, i64))| {
        let usual = (kb as f64 + prior * PRIOR_BAD_SHARE) / (nb as f64 + prior);
        binomial_upper_midp(k, n, usual)
    };
    let drop = |k: i64, base: i64, from: Option<i32>, (r, b): (i32, i32)| {
        let observed = observed_base_days(f, snap, w, (r, b), from)?;
        Some(count_drop_midp(
            k,
            f64::from(r),
            base,
            observed,
            e.overdispersion,
        ))
    };
    // The account's KPI spread, pulled towards the assumed one by its months.
    let kpi_sd = || {
        let own_dof = (f.kpi_base_n - 1).max(0) as f64;
        let own = f.kpi_base_sd.unwrap_or(e.kpi_sd_prior);
        let prior_dof = e.kpi_sd_prior_months;
        ((own_dof * own * own + prior_dof * e.kpi_sd_prior * e.kpi_sd_prior)
            / (own_dof + prior_dof))
            .sqrt()
    };
    let meetings = (w.meetings_recent_days, w.meetings_baseline_days);
    match s {
        Signal::NoOutcomeDefinition | Signal::FeeIncrease | Signal::ProposalGap => None,
        Signal::KpiShortfall => {
            let recent = f.kpi_recent?;
            let n = f.kpi_recent_n.max(1) as f64;
            Some(normal_sf((1.0 - recent) / (kpi_sd() / n.sqrt())))
        }
        Signal::KpiDecline => {
            let (recent, base) = (f.kpi_recent?, f.kpi_base?);
            let (nr, nb) = (f.kpi_recent_n.max(1) as f64, f.kpi_base_n.max(1) as f64);
            Some(normal_sf(
                (base - recent) / (kpi_sd() * (1.0 / nr + 1.0 / nb).sqrt()),
            ))
        }
        Signal::MeetingDrop => drop(f.held_recent, f.held_base, snap.meetings_from, meetings),
        Signal::ContactDrop => drop(
            f.client_messages_recent,
            f.client_messages_base,
            snap.messages_from,
            meetings,
        ),
        Signal::BillingWithoutTouch => {
            let window = (w.meetings_recent_days, w.touchpoint_baseline_days);
            let from = snap.meetings_from.max(snap.messages_from);
            drop(f.touches_recent, f.touches_base, from, window)
        }
        Signal::TouchpointGap => {
            // No touchpoint at all in the gap: twice the mid-p of a count of zero.
            let observed = touch_base_days(f, snap, w)?;
            let days = f
                .last_touch_day
                .map_or(f.history_days, |t| snap.day - t)
                .min(f.history_days);
            Some(
                2.0 * count_drop_midp(
                    0,
                    f64::from(days),
                    f.touches_base,
                    observed,
                    e.overdispersion,
                ),
            )
        }
        Signal::MeetingGap => {
            // Gaps as a gamma renewal process with the account's own mean and spread
            // (the spread pulled towards a coefficient of variation of
            // MEETING_GAP_PRIOR_CV, worth MEETING_GAP_PRIOR_GAPS gaps): a client on a
            // clockwork fortnightly cadence makes a 5-week wait news, one whose
            // meetings come and go does not. The shape is rounded down (wider).
            let mean = f.meeting_gap_base?.max(1.0);
            let n = (f.meeting_gaps_base_n - 1).max(0) as f64;
            let own_sd = f.meeting_gap_base_sd.unwrap_or(mean * MEETING_GAP_PRIOR_CV);
            let prior_sd = mean * MEETING_GAP_PRIOR_CV;
            let sd = ((n * own_sd * own_sd + MEETING_GAP_PRIOR_GAPS * prior_sd * prior_sd)
                / (n + MEETING_GAP_PRIOR_GAPS))
                .sqrt()
                .max(1.0);
            let shape = ((mean / sd).powi(2)).floor().clamp(1.0, 50.0);
            let open = f64::from(snap.day - f.last_meeting_day?);
            let gap = open.max(f.meeting_gap_recent_max.unwrap_or(0.0));
            // P(a gap ≥ g) = P(χ²(2κ) ≥ 2κ g / mean); any of the recent window's gaps
            // (about its length over the mean gap, plus the open one) could be it.
            let one = chi2_sf_even(2.0 * shape * gap / mean, 2 * shape as usize);
            let chances = (f64::from(w.meetings_recent_days) / mean).max(1.0) + 1.0;
            Some(1.0 - (1.0 - one).powf(chances))
        }
        Signal::ClientCancellations
        | Signal::Unanswered
        | Signal::TeamLateness
        | Signal::TeamCancellations
        | Signal::OverduePromises
        | Signal::Disputes => bad_counts(s, f).map(bad_share),
        Signal::AttendanceDrop | Signal::UnusedService => {
            // Fewer attended than the usual share (blended towards the team's).
            let team = snap.team_attendance.unwrap_or(0.7);
            let usual = shrunk_share(f.attended_base, f.invited_base, team, prior);
            Some(binomial_lower_midp(
                f.attended_recent,
                f.invited_recent,
                usual,
            ))
        }
        Signal::ReplyDelay => reply_delay(f, snap, w, e.reply_log_sd).map(|(_, p)| p),
        Signal::PaymentDelay => {
            let recent = f.pay_late_recent?;
            let base = f
                .pay_late_base
                .filter(|_| f.pay_late_base_n >= w.min_baseline_events)
                .unwrap_or(0.0);
            let n = f.pay_late_recent_n.max(1) as f64;
            Some(normal_sf((recent - base) / (e.payment_sd_days / n.sqrt())))
        }
    }
}

/// Reply delay over two recent windows, the month (`replies_recent_days`) and the
/// quarter (`unanswered_lookback_days`), each against its own baseline: the month
/// shows a sudden slowdown, the quarter a sparse account's, whose month holds two or
/// three replies. The larger slowdown of the two is the measure (its figures are
/// quoted) and the smaller chance of the two, doubled (Bonferroni for the choice),
/// its chance: each only grows with a slower window, so the score stays monotone.
/// The chance is a normal tail on the log scale: a median of n replies has a spread
/// of about 1.2533 σ / √n.
fn reply_delay(
    f: &AccountFeatures,
    snap: &Snapshot,
    w: &Windows,
    log_sd: f64,
) -> Option<(Measure, f64)> {
    let window = |recent: Option<f64>, n: i64, base: Option<f64>, base_n: i64, days: i32| {
        let recent = recent.filter(|_| n >= w.min_recent_events)?;
        let own = base.filter(|_| base_n >= w.min_baseline_events);
        // Against the account's own past, but never against less than half the
        // team's norm: a client used to 1 h answers should not raise an alarm at
        // 4 h. Without a past of its own, the team's norm is the reference.
        let reference = match (own, snap.team_reply_h) {
            (Some(o), Some(t)) => o.max(t / 2.0),
            (o, t) => o.or(t)?,
        };
        let se = 1.2533 * log_sd / (n.max(1) as f64).sqrt();
        let chance = normal_sf((recent.max(0.1) / reference.max(1.0)).ln() / se);
        let measure = Measure {
            value: recent / reference.max(1.0),
            figures: [
                recent,
                own.unwrap_or(f64::NAN),
                snap.team_reply_h.unwrap_or(f64::NAN),
                f64::from(days),
            ],
        };
        Some((measure, chance))
    };
    let month = window(
        f.reply_recent_h,
        f.reply_recent_n,
        f.reply_base_h,
        f.reply_base_n,
        w.replies_recent_days,
    );
    let quarter = window(
        f.reply_long_h,
        f.reply_long_n,
        f.reply_long_base_h,
        f.reply_long_base_n,
        w.unanswered_lookback_days,
    );
    let (measure, chance) = match (month, quarter) {
        (Some(m), Some(q)) => {
            let chance = m.1.min(q.1);
            (if q.0.value > m.0.value { q.0 } else { m.0 }, chance)
        }
        (m, q) => m.or(q)?,
    };
    Some((measure, (2.0 * chance).min(1.0)))
}

/// Scores one account. Monotone: a larger stress value never lowers any score.
pub fn score(f: &AccountFeatures, snap: &Snapshot, cfg: &Config) -> AccountScore {
    let e = &cfg.evidence;
    // Every measurable signal: its measure, size (0–1) and chance.
    let measured: Vec<(Signal, Measure, f64, Option<f64>)> = Signal::ALL
        .into_iter()
        .filter_map(|signal| {
            let measure = measure(signal, f, snap, cfg)?;
            let size = severity(measure.value, cfg.signals.get(signal));
            // A change too small to matter needs no test (and most are).
            // A tail beyond what f64 holds is still a chance, not an impossibility.
            // Not a number (an empty baseline with no prior) is no evidence.
            let chance = if size > 0.0 {
                chance(signal, f, snap, cfg).map(|p| {
                    if p.is_nan() {
                        1.0
                    } else {
                        p.clamp(f64::MIN_POSITIVE, 1.0)
                    }
                })
            } else {
                None
            };
            Some((signal, measure, size, chance))
        })
        .collect();
    // A category's evidence combines the chances of its signals that changed enough
    // to matter, with Fisher's method (-2 Σ ln p ~ χ² with 2m degrees of freedom):
    // several modest changes together can be news. Taken over the m most unlikely
    // changes for every m, the best of them, times the number of signals the
    // category can test (Bonferroni for that choice). More stress, a smaller p or
    // one more changed signal, never weakens the evidence: scores stay monotone.
    let mut category_evidence = [0.0; 4];
    for c in Category::ALL {
        let mut chances: Vec<f64> = measured
            .iter()
            .filter(|m| m.0.category() == c && m.2 > 0.0)
            .filter_map(|m| m.3)
            .collect();
        chances.sort_by(f64::total_cmp);
        let mut statistic = 0.0;
        let mut best = 1.0f64;
        for (m, p) in chances.iter().enumerate() {
            statistic += -2.0 * p.max(1e-300).ln();
            best = best.min(chi2_sf_even(statistic, 2 * (m + 1)));
        }
        let tests = Signal::ALL
            .iter()
            .filter(|s| s.category() == c && s.is_tested())
            .count() as f64;
        if !chances.is_empty() {
            let p = (best * tests).min(1.0);
            category_evidence[c as usize] = strength(p, e.p_start, e.p_full);
        }
    }
    let mut findings: Vec<Finding> = measured
        .into_iter()
        .filter_map(|(signal, measure, size, chance)| {
            if size <= 0.0 {
                return None;
            }
            // A fact weighs by its size alone; a tested change by its size and the
            // evidence of its category, as their geometric mean: no evidence, no
            // points, however large the change; strong evidence lifts a moderate one.
            let evidence = chance.map_or(1.0, |_| category_evidence[signal.category() as usize]);
            let severity = (size * evidence).sqrt();
            // Tenths of a point, as evidence.csv writes them: the category scores are
            // sums of exactly the points a reader sees.
            let points = (cfg.signals.get(signal).weight * severity * 10.0).round() / 10.0;
            (points > 0.0).then_some(Finding {
                signal,
                measure,
                chance,
                severity,
                points,
            })
        })
        .collect();
    findings.sort_by(|a, b| b.points.total_cmp(&a.points).then(a.signal.cmp(&b.signal)));

    // Summed in whole tenths (exact), capped, then rounded to the whole points the
    // CSV shows; the risk is combined from those, so anyone can recompute a row's
    // risk_score from its category columns and each category from evidence.csv.
    let mut tenths = [0i64; 4];
    for finding in &findings {
        tenths[finding.signal.category() as usize] += (finding.points * 10.0).round() as i64;
    }
    let categories = tenths.map(|t| (t.min(1000) as f64 / 10.0).round());
    let (risk, primary) = combine(categories, cfg.flags.secondary_weight);
    // The level follows the whole-point risk_score the CSV shows: a 39.6 written as 40
    // must be flagged like any other 40.
    let shown = risk.round();
    let level = if shown >= cfg.flags.high {
        RiskLevel::High
    } else if shown >= cfg.flags.medium {
        RiskLevel::Medium
    } else {
        RiskLevel::Low
    };
    AccountScore {
        acct: f.acct,
        categories,
        risk,
        level,
        primary,
        findings,
    }
}

/// `risk = min(100, worst + secondary_weight × (sum of the others))`: the worst
/// category drives the risk, and stress piling up elsewhere adds to it. Ties for the
/// primary category go to the first in [`Category::ALL`] order.
pub fn combine(categories: [f64; 4], secondary_weight: f64) -> (f64, Option<Category>) {
    let mut primary = None;
    let mut worst = 0.0;
    for c in Category::ALL {
        if categories[c as usize] > worst {
            worst = categories[c as usize];
            primary = Some(c);
        }
    }
    let others: f64 = categories.iter().sum::<f64>() - worst;
    ((worst + secondary_weight * others).min(100.0), primary)
}

fn num(x: f64) -> String {
    if x.is_nan() {
        return "?".to_owned();
    }
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

fn yen(x: f64) -> String {
    let whole = x.round() as i64;
    let digits = whole.abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if whole < 0 { format!("-{out}") } else { out }
}

/// The reason text for a finding, in the configured language, from the finding's own
/// figures.
pub fn describe(finding: &Finding, lang: Language) -> String {
    let change = describe_change(finding, lang);
    // Why it is not noise: how rarely a change this large happens by chance here.
    match (finding.chance, lang) {
        (None, _) => change,
        (Some(p), Language::En) => {
            format!(
                "{change}; by chance about 1 in {} for this account",
                one_in(p)
            )
        }
        (Some(p), Language::Ja) => {
            format!("{change}（この口座では偶然なら{}回に1回程度）", one_in(p))
        }
    }
}

/// The change itself, from the finding's own figures.
fn describe_change(finding: &Finding, lang: Language) -> String {
    let [a, b, c, d] = finding.measure.figures;
    let (a_, b_, c_, d_) = (num(a), num(b), num(c), num(d));
    match (finding.signal, lang) {
        (Signal::KpiShortfall, Language::En) => {
            format!("KPI attainment {a_}% of target over the last {b_} days")
        }
        (Signal::KpiShortfall, Language::Ja) => format!("直近{b_}日のKPI達成率 {a_}%（目標比）"),
        (Signal::KpiDecline, Language::En) => format!("KPI attainment fell to {a_}%, was {b_}%"),
        (Signal::KpiDecline, Language::Ja) => format!("KPI達成率が{b_}%から{a_}%に低下"),
        (Signal::NoOutcomeDefinition, Language::En) => {
            "no outcome definition agreed with the client".to_owned()
        }
        (Signal::NoOutcomeDefinition, Language::Ja) => {
            "成果の定義がクライアントと未合意".to_owned()
        }
        (Signal::MeetingDrop, Language::En) => {
            format!("{a_} meetings held in the last {c_} days, was {b_} per {c_} days")
        }
        (Signal::MeetingDrop, Language::Ja) => {
            format!("直近{c_}日の実施会議 {a_}回（以前は{c_}日あたり{b_}回）")
        }
        (Signal::ContactDrop, Language::En) => {
            format!("{a_} client messages in the last {c_} days, was {b_} per {c_} days")
        }
        (Signal::ContactDrop, Language::Ja) => {
            format!("直近{c_}日のクライアントからの連絡 {a_}件（以前は{c_}日あたり{b_}件）")
        }
        (Signal::ClientCancellations, Language::En) => {
            format!("{a_} of the last {b_} meetings cancelled or missed by the client ({c_} days)")
        }
        (Signal::ClientCancellations, Language::Ja) => {
            format!("直近{c_}日の会議{b_}回のうち{a_}回がクライアント都合でキャンセル・欠席")
        }
        (Signal::AttendanceDrop, Language::En) => format!(
            "attended {a_} of {b_} study sessions in the last {d_} days ({}%), was {c_}%",
            num(a / b * 100.0)
        ),
        (Signal::AttendanceDrop, Language::Ja) => format!(
            "勉強会出席 直近{d_}日 {b_}回中{a_}回（{}%、以前 {c_}%）",
            num(a / b * 100.0)
        ),
        (Signal::ProposalGap, Language::En) => format!("no new proposal in {a_} days"),
        (Signal::ProposalGap, Language::Ja) => format!("{a_}日間 新しい提案なし"),
        (Signal::TouchpointGap, Language::En) => {
            format!("no touchpoint for {a_} days (usual gap {b_} days)")
        }
        (Signal::TouchpointGap, Language::Ja) => {
            format!("{a_}日間 接点なし（通常の間隔 {b_}日）")
        }
        // Only the references that exist are quoted: an account without replies of
        // its own before is judged against the team's norm, and says so.
        (Signal::MeetingGap, Language::En) => {
            format!("{a_} days between meetings lately, usually {b_}")
        }
        (Signal::MeetingGap, Language::Ja) => {
            format!("会議の間隔 直近{a_}日（通常 {b_}日）")
        }
        (Signal::ReplyDelay, Language::En) => {
            let was = match (b.is_nan(), c.is_nan()) {
                (false, false) => format!("was {b_} h (team norm {c_} h)"),
                (false, true) => format!("was {b_} h"),
                (true, _) => format!("no earlier replies to compare; team norm {c_} h"),
            };
            format!("median reply {a_} h over the last {d_} days, {was}")
        }
        (Signal::ReplyDelay, Language::Ja) => {
            let was = match (b.is_nan(), c.is_nan()) {
                (false, false) => format!("以前 {b_}時間、チーム標準 {c_}時間"),
                (false, true) => format!("以前 {b_}時間"),
                (true, _) => format!("以前の記録なし、チーム標準 {c_}時間"),
            };
            format!("直近{d_}日の返信時間中央値 {a_}時間（{was}）")
        }
        (Signal::Unanswered, Language::En) => {
            format!("{a_} of {b_} client messages unanswered after {c_} h (last {d_} days)")
        }
        (Signal::Unanswered, Language::Ja) => {
            format!("直近{d_}日のメッセージ{b_}件中{a_}件が{c_}時間以上未返信")
        }
        (Signal::TeamLateness, Language::En) => {
            format!("team late by {d_}+ min to {a_} of {b_} meetings in the last {c_} days")
        }
        (Signal::TeamLateness, Language::Ja) => {
            format!("直近{c_}日の会議{b_}回中{a_}回でチームが{d_}分以上遅刻")
        }
        (Signal::TeamCancellations, Language::En) => format!(
            "{a_} of {b_} meetings cancelled, missed or rescheduled by the team in the last {c_} days"
        ),
        (Signal::TeamCancellations, Language::Ja) => {
            format!("直近{c_}日の会議{b_}回中{a_}回がチーム都合でキャンセル・変更")
        }
        (Signal::OverduePromises, Language::En) => format!(
            "{a_} of {b_} promises due in the last {d_} days kept late or missed ({c_} still open)"
        ),
        (Signal::OverduePromises, Language::Ja) => {
            format!("直近{d_}日に期限の約束{b_}件中{a_}件が遅延・未完了（うち未完了 {c_}件）")
        }
        (Signal::FeeIncrease, Language::En) => format!(
            "fee up {}% (now {}, was {})",
            num((a / b - 1.0) * 100.0),
            yen(a),
            yen(b)
        ),
        (Signal::FeeIncrease, Language::Ja) => format!(
            "料金 {}%増（現在 {}円、以前 {}円）",
            num((a / b - 1.0) * 100.0),
            yen(a),
            yen(b)
        ),
        (Signal::PaymentDelay, Language::En) if b.is_nan() => format!(
            "invoices paid {a_} days late on average over the last {c_} days (no earlier payments to compare)"
        ),
        (Signal::PaymentDelay, Language::En) => {
            format!("invoices paid {a_} days late on average over the last {c_} days, was {b_}")
        }
        (Signal::PaymentDelay, Language::Ja) if b.is_nan() => {
            format!("直近{c_}日の請求書の平均支払遅延 {a_}日（以前の支払記録なし）")
        }
        (Signal::PaymentDelay, Language::Ja) => {
            format!("直近{c_}日の請求書の平均支払遅延 {a_}日（以前 {b_}日）")
        }
        (Signal::Disputes, Language::En) => {
            format!("{a_} of {b_} invoices disputed in the last {c_} days")
        }
        (Signal::Disputes, Language::Ja) => format!("直近{c_}日の請求{b_}件中{a_}件に異議"),
        (Signal::UnusedService, Language::En) => {
            format!("attended {a_} of {b_} paid study sessions in the last {c_} days")
        }
        (Signal::UnusedService, Language::Ja) => {
            format!("有料勉強会 直近{c_}日で{b_}回中{a_}回のみ出席")
        }
        (Signal::BillingWithoutTouch, Language::En) => {
            format!("billed while touchpoints dried up: {a_} in the last {c_} days, was {b_}")
        }
        (Signal::BillingWithoutTouch, Language::Ja) => {
            format!("請求は継続、接点は減少: 直近{c_}日 {a_}回（以前 {b_}回）")
        }
    }
}

/// The `reasons` cell: the top findings, most important first, joined by ` / `.
pub fn reasons(score: &AccountScore, lang: Language, max: usize) -> String {
    score
        .findings
        .iter()
        .take(max)
        .map(|f| describe(f, lang))
        .collect::<Vec<_>>()
        .join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reason quotes only the references that exist, never `?`.
    #[test]
    fn reasons_without_a_baseline_say_so() {
        let finding = |signal, figures| Finding {
            signal,
            chance: None,
            measure: Measure {
                value: 1.0,
                figures,
            },
            severity: 1.0,
            points: 10.0,
        };
        let cases = [
            finding(Signal::ReplyDelay, [39.7, f64::NAN, 17.9, 30.0]),
            finding(Signal::ReplyDelay, [39.7, 5.0, f64::NAN, 30.0]),
            finding(Signal::PaymentDelay, [21.0, f64::NAN, 90.0, 0.0]),
        ];
        for f in &cases {
            for lang in [Language::Ja, Language::En] {
                let text = describe(f, lang);
                assert!(!text.contains('?') && !text.contains("NaN"), "{text}");
            }
        }
        assert!(describe(&cases[0], Language::En).contains("no earlier replies"));
        assert!(describe(&cases[2], Language::Ja).contains("以前の支払記録なし"));
    }

    #[test]
    fn combine_is_monotone_and_bounded() {
        let base = [10.0, 50.0, 20.0, 0.0];
        let (r0, p0) = combine(base, 0.25);
        assert_eq!(p0, Some(Category::Expectation));
        assert!((r0 - 57.5).abs() < 1e-9);
        for i in 0..4 {
            let mut more = base;
            more[i] += 30.0;
            assert!(combine(more, 0.25).0 >= r0);
        }
        assert_eq!(combine([100.0; 4], 1.0).0, 100.0);
        assert_eq!(combine([0.0; 4], 0.25), (0.0, None));
    }

    /// Day 20,000, with both exports covering every day before it.
    fn snapshot() -> Snapshot {
        Snapshot {
            as_of: chrono::NaiveDate::from_ymd_opt(2024, 10, 4).unwrap(),
            day: 20_000,
            team_reply_h: None,
            proposals_recorded: false,
            team_attendance: None,
            meetings_from: Some(0),
            messages_from: Some(0),
            accounts: vec![],
        }
    }

    fn shipped() -> Config {
        Config::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml"))
            .expect("shipped config")
    }

    /// The usual meeting rate is per day the account (and the export) existed in the
    /// baseline window, not per the window's nominal length.
    #[test]
    fn meeting_rate_is_per_observed_baseline_day() {
        let cfg = shipped();
        let w = &cfg.windows;
        assert_eq!((w.meetings_recent_days, w.baseline_gap_days), (60, 60));
        assert_eq!(w.meetings_baseline_days, 180);
        let snap = |meetings_from| Snapshot {
            meetings_from,
            ..snapshot()
        };
        // Weekly meetings in the 101 baseline days from a contract start 220 days ago
        // (the window ends 120 days ago), then 2 in the last 60 days.
        let young = AccountFeatures {
            history_days: 220,
            held_base: 14,
            held_recent: 2,
            ..AccountFeatures::default()
        };
        // An old account with the same weekly rate over all 180 baseline days.
        let old = AccountFeatures {
            history_days: 2_000,
            held_base: 25,
            ..young.clone()
        };
        let measured =
            |f: &AccountFeatures, from| measure(Signal::MeetingDrop, f, &snap(from), &cfg);
        let expected = |f, from| measured(f, from).map(|m| m.figures[1]);
        let severe = |f| {
            severity(
                measured(f, Some(0)).unwrap().value,
                cfg.signals.get(Signal::MeetingDrop),
            )
        };
        // 14 meetings in 101 days is 8.3 per 60 days, not 14 × 60 / 180 = 4.7.
        assert_eq!(expected(&young, Some(0)), Some(14.0 * 60.0 / 101.0));
        assert_eq!(expected(&old, Some(0)), Some(25.0 * 60.0 / 180.0));
        // A clear drop either way; the shorter baseline is trusted a little less.
        assert!(severe(&young) > 0.5, "{}", severe(&young));
        assert!(severe(&old) > severe(&young));
        // An export that starts 150 days ago covers 30 baseline days: too few to know
        // what is usual, so the signal stays silent instead of guessing.
        assert_eq!(expected(&young, Some(20_000 - 150)), None);
        assert_eq!(expected(&old, Some(20_000 - 150)), None);
    }

    /// A client who has always cancelled a third of its meetings is not newly
    /// disengaged when it does so again; a client who never cancelled is.
    #[test]
    fn client_cancellations_count_above_the_usual_share() {
        let cfg = shipped();
        let snap = snapshot();
        let points = |cancelled_base| {
            let f = AccountFeatures {
                history_days: 2_000,
                client_cancelled_recent: 3,
                scheduled_recent: 9,
                client_cancelled_base: cancelled_base,
                scheduled_base: 27,
                ..AccountFeatures::default()
            };
            let m = measure(Signal::ClientCancellations, &f, &snap, &cfg).unwrap();
            severity(m.value, cfg.signals.get(Signal::ClientCancellations))
        };
        assert_eq!(points(9), 0.0);
        assert!(points(0) >= 0.4, "{}", points(0));
    }

    /// Three earlier sessions, all attended, are not yet "always comes": the usual
    /// share leans towards the team's. Twenty sessions speak for themselves.
    #[test]
    fn short_attendance_baselines_lean_towards_the_team() {
        let cfg = shipped();
        let drop = |attended_base, invited_base, team_attendance| {
            let f = AccountFeatures {
                history_days: 2_000,
                attended_recent: 1,
                invited_recent: 6,
                attended_base,
                invited_base,
                ..AccountFeatures::default()
            };
            let snap = Snapshot {
                team_attendance,
                ..snapshot()
            };
            measure(Signal::AttendanceDrop, &f, &snap, &cfg)
                .unwrap()
                .value
        };
        let short = drop(3, 3, Some(0.6));
        assert!(short < drop(3, 3, None) - 0.1, "{short}");
        let long = drop(20, 20, Some(0.6));
        assert!(long > short && long > drop(20, 20, None) - 0.1, "{long}");
    }

    #[test]
    fn severity_ramps_between_start_and_full() {
        let p = SignalParams {
            weight: 40.0,
            start: 2.0,
            full: 6.0,
        };
        assert_eq!(severity(1.0, p), 0.0);
        assert_eq!(severity(4.0, p), 0.5);
        assert_eq!(severity(60.0, p), 1.0);
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(num(52.0), "52");
        assert_eq!(num(4.96), "5");
        assert_eq!(num(4.25), "4.3");
        assert_eq!(yen(1_234_567.0), "1,234,567");
        assert_eq!(yen(-50_000.0), "-50,000");
    }
}
