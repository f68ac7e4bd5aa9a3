//! The signal registry: one row per signal, holding everything about it — its key in
//! config.toml and evidence.csv, its category, the windows it reads, what its value
//! is, how it is measured, how its chance is judged and how its reason reads in ja
//! and en. No IO; scoring (`crate::scoring`) turns the rows' figures into points.
//!
//! A new signal that reads an existing column is four edits in three files: its row
//! below (and a test in this file's `tests`), its feature in `features.rs`'s
//! `account_features!` list and aggregation, and its parameters under `[signals]` in
//! config.toml (ARCHITECTURE.md, "Adding a signal").

use crate::config::{ACTIVITY_BLOCK_DAYS, Config, Language, SignalParams, Windows};
use crate::evidence::{
    beta_binomial_lower_midp, beta_binomial_upper_midp, binomial_lower_midp, binomial_upper_midp,
    block_x2, count_drop_midp, mann_whitney_upper_midp, normal_sf, student_t_sf, totals,
};
use crate::features::{AccountFeatures, Series, Snapshot};
use crate::vocabulary::Category;

/// What a signal measured: the value scored against `start`/`full`, and the figures
/// its reason quotes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    pub value: f64,
    pub figures: [f64; 4],
}

/// A share signal's counts, `(bad, of all)`, in the recent window and the baseline.
pub type Shares = ((i64, i64), (i64, i64));

/// One account on one date, as a row's functions see it.
pub struct Ctx<'a> {
    pub f: &'a AccountFeatures,
    pub snap: &'a Snapshot,
    pub cfg: &'a Config,
    /// The row's [`Row::shares`], read once for both its measure and its chance.
    shares: Option<Shares>,
}

/// One signal, all in one place.
pub struct Row {
    /// The key under `[signals]` in config.toml and in evidence.csv's `signal`.
    pub key: &'static str,
    pub category: Category,
    /// The `[windows]` keys of the windows it reads.
    pub windows: &'static [&'static str],
    /// What its value is (scored from `start` to `full`).
    pub value: &'static str,
    /// For a share signal, its counts; the measure and the chance both read them.
    pub shares: Option<fn(&AccountFeatures) -> Shares>,
    /// The measure, or `None` where the account lacks the data to judge it (too
    /// young, too few events): missing history is never evidence of stress.
    pub measure: fn(&Ctx) -> Option<Measure>,
    /// How often a change at least this large happens by chance for this account
    /// (`crate::evidence`); no test for facts (no agreed outcome, a raised fee,
    /// months without a proposal).
    pub chance: Option<fn(&Ctx) -> Option<f64>>,
    /// The reason, from the measure's figures.
    pub reason: fn(&Figures, Language) -> String,
}

/// A measure's figures for its reason: as measured, and as a reader sees them.
pub struct Figures {
    pub raw: [f64; 4],
    pub text: [String; 4],
}

/// Declares [`Signal`] from the registry's rows, in their order.
macro_rules! registry {
    ($( $(#[$doc:meta])* $name:ident => $row:expr, )*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Signal { $( $(#[$doc])* $name, )* }

        impl Signal {
            /// Every signal, in the registry's order.
            pub const ALL: &'static [Signal] = &[$(Signal::$name),*];
            const ROWS: &'static [Row] = &[$($row),*];
        }
    };
}

impl Signal {
    pub fn row(self) -> &'static Row {
        &Self::ROWS[self as usize]
    }

    /// The keys of every signal, for config's check of `[signals]`.
    pub fn keys() -> Vec<&'static str> {
        Self::ALL.iter().map(|s| s.key()).collect()
    }

    pub fn key(self) -> &'static str {
        self.row().key
    }

    pub fn category(self) -> Category {
        self.row().category
    }

    /// Its weight, start and full from config.toml's `[signals]`.
    pub fn params(self, cfg: &Config) -> SignalParams {
        cfg.signals.get(self as usize)
    }

    /// Whether the signal's change is tested against chance; facts are not.
    pub fn is_tested(self) -> bool {
        self.row().chance.is_some()
    }

    fn ctx<'a>(self, f: &'a AccountFeatures, snap: &'a Snapshot, cfg: &'a Config) -> Ctx<'a> {
        let shares = self.row().shares.map(|counts| counts(f));
        Ctx {
            f,
            snap,
            cfg,
            shares,
        }
    }

    /// Measures the signal for one account.
    pub fn measure(self, f: &AccountFeatures, snap: &Snapshot, cfg: &Config) -> Option<Measure> {
        (self.row().measure)(&self.ctx(f, snap, cfg))
    }

    /// The chance of the measured change ([`Row::chance`]); `None` for facts.
    pub fn chance(self, f: &AccountFeatures, snap: &Snapshot, cfg: &Config) -> Option<f64> {
        (self.row().chance?)(&self.ctx(f, snap, cfg))
    }

    /// The change in words, from the measure's figures.
    pub fn reason(self, figures: [f64; 4], lang: Language) -> String {
        let figures = Figures {
            raw: figures,
            text: figures.map(num),
        };
        (self.row().reason)(&figures, lang)
    }
}

use Language::{En, Ja};

registry! {
    KpiShortfall => Row {
        key: "kpi_shortfall",
        category: Category::Outcome,
        windows: &["outcomes_recent_days"],
        value: "1 − recent KPI attainment: the recent months' mean, or the latest month's where it is back above that mean (silent in an account's first `min_history_days`, its ramp-up)",
        shares: None,
        measure: |x| {
            // A young account's first results are a ramp-up, not yet a verdict.
            if !x.seasoned() {
                return None;
            }
            let (recent, latest) = x.kpi_recent()?;
            let days = x.w().outcomes_recent_days;
            let latest = flag(latest);
            x.m(1.0 - recent, [recent * 100.0, f64::from(days), latest, 0.0])
        },
        // Below target *for this account*: the null is its own usual level (pulled
        // towards the target by kpi_sd_prior_months, and never above it), so a
        // client content at 90% for years is not news at 88%, and one that always
        // beat its target still is when it falls short.
        chance: Some(|x| {
            let f = x.f;
            let recent = x.kpi_recent()?.0;
            let nr = f.kpi_recent_n.max(1) as f64;
            let (nb, prior) = (
                f.kpi_base.map_or(0.0, |_| f.kpi_base_n as f64),
                x.cfg.evidence.kpi_sd_prior_months,
            );
            let usual = (nb * f.kpi_base.unwrap_or(1.0) + prior) / (nb + prior);
            let se = (1.0 / nr + 1.0 / (nb + prior)).sqrt();
            Some(x.kpi_tail(usual.min(1.0) - recent, se))
        }),
        reason: |x, lang| {
            let [recent, days, _, _] = &x.text;
            match (lang, x.raw[2] > 0.0) {
                (En, false) => format!("KPI attainment {recent}% of target over the last {days} days"),
                (Ja, false) => format!("直近{days}日のKPI達成率 {recent}%（目標比）"),
                (En, true) => format!("KPI attainment {recent}% of target in the latest month"),
                (Ja, true) => format!("最新月のKPI達成率 {recent}%（目標比）"),
            }
        },
    },
    KpiDecline => Row {
        key: "kpi_decline",
        category: Category::Outcome,
        windows: &["outcomes_recent_days", "outcomes_baseline_days"],
        value: "1 − recent / earlier KPI attainment (recent as in kpi_shortfall)",
        shares: None,
        measure: |x| {
            let f = x.f;
            let (recent, latest) = x.kpi_recent()?;
            let base = f.kpi_base.filter(|&b| f.kpi_base_n >= 2 && b > 0.0)?;
            // Relative to the account's own level: 120% falling to 90% is a decline
            // the client feels even though the target is still nearly met.
            let latest = flag(latest);
            x.m(1.0 - recent / base, [recent * 100.0, base * 100.0, latest, 0.0])
        },
        chance: Some(|x| {
            let f = x.f;
            let (recent, base) = (x.kpi_recent()?.0, f.kpi_base?);
            let (nr, nb) = (f.kpi_recent_n.max(1) as f64, f.kpi_base_n.max(1) as f64);
            Some(x.kpi_tail(base - recent, (1.0 / nr + 1.0 / nb).sqrt()))
        }),
        reason: |x, lang| {
            let [recent, base, _, _] = &x.text;
            match (lang, x.raw[2] > 0.0) {
                (En, false) => format!("KPI attainment fell to {recent}%, was {base}%"),
                (Ja, false) => format!("KPI達成率が{base}%から{recent}%に低下"),
                (En, true) => format!("KPI attainment {recent}% in the latest month, was {base}%"),
                (Ja, true) => format!("KPI達成率が{base}%から最新月 {recent}%に低下"),
            }
        },
    },
    NoOutcomeDefinition => Row {
        key: "no_outcome_definition",
        category: Category::Outcome,
        windows: &[],
        value: "1 if `outcome_agreed` is false",
        shares: None,
        measure: |x| (x.f.outcome_agreed == Some(false)).then_some(Measure {
            value: 1.0,
            figures: [0.0; 4],
        }),
        chance: None,
        reason: |_, lang| match lang {
            En => "no outcome definition agreed with the client".to_owned(),
            Ja => "成果の定義がクライアントと未合意".to_owned(),
        },
    },
    MeetingDrop => Row {
        key: "meeting_drop",
        category: Category::Expectation,
        windows: &["meetings_recent_days", "meetings_baseline_days"],
        value: "1 − recent / usual rate of held meetings",
        shares: None,
        measure: |x| {
            if !x.seasoned() || x.f.held_base < x.w().min_baseline_events {
                return None;
            }
            x.rate_drop(x.f.held_recent, x.f.held_base, x.snap.meetings_from)
        },
        chance: Some(|x| {
            x.held_slots_chance()
                .or_else(|| {
                    let dispersion = x.cfg.evidence.overdispersion;
                    x.count_drop(x.f.held_recent, x.f.held_base, x.snap.meetings_from, dispersion)
                })
        }),
        reason: |x, lang| {
            let [held, usual, days, _] = &x.text;
            match lang {
                En => format!("{held} meetings held in the last {days} days, was {usual} per {days} days"),
                Ja => format!("直近{days}日の実施会議 {held}回（以前は{days}日あたり{usual}回）"),
            }
        },
    },
    ContactDrop => Row {
        key: "contact_drop",
        category: Category::Expectation,
        windows: &["meetings_recent_days", "meetings_baseline_days"],
        value: "1 − recent / usual rate of client messages",
        shares: None,
        measure: |x| {
            // The client writing less than it used to: interest fading.
            let (base, days) = x.usual_messages(&x.message_blocks())?;
            if !x.seasoned() || base < x.w().min_baseline_events {
                return None;
            }
            x.rate_drop_over(x.f.client_messages_recent, base, days)
        },
        chance: Some(|x| {
            let blocks = x.message_blocks();
            let (base, days) = x.usual_messages(&blocks)?;
            let dispersion = x.dispersion(&blocks, base as f64 / days, Series::Messages);
            let recent = x.open_recent(x.w().meetings_recent_days);
            Some(count_drop_midp(x.f.client_messages_recent, recent, base, days, dispersion))
        }),
        reason: |x, lang| {
            let [messages, usual, days, _] = &x.text;
            match lang {
                En => format!("{messages} client messages in the last {days} days, was {usual} per {days} days"),
                Ja => format!("直近{days}日のクライアントからの連絡 {messages}件（以前は{days}日あたり{usual}件）"),
            }
        },
    },
    ClientCancellations => Row {
        key: "client_cancellations",
        category: Category::Expectation,
        windows: &["meetings_recent_days", "meetings_baseline_days"],
        value: "share of recent meetings the client cancelled or missed, above the usual share",
        shares: Some(|f| {
            (
                (f.client_cancelled_recent, f.scheduled_recent),
                (f.client_cancelled_base, f.scheduled_base),
            )
        }),
        measure: |x| {
            let f = x.f;
            let days = x.w().meetings_recent_days;
            let figures = [
                f.client_cancelled_recent as f64,
                f.scheduled_recent as f64,
                f64::from(days),
                0.0,
            ];
            // One cancellation is not a change that matters; still a test the
            // account's data supports (no change: p = 1 in its category's evidence),
            // so a second one can only add evidence.
            if f.client_cancelled_recent < x.w().min_recent_events {
                return x.m(0.0, figures);
            }
            x.m(x.excess()?, figures)
        },
        chance: Some(|x| x.bad_share_chance()),
        reason: |x, lang| {
            let [cancelled, scheduled, days, _] = &x.text;
            match lang {
                En => format!("{cancelled} of the last {scheduled} meetings cancelled or missed by the client ({days} days)"),
                Ja => format!("直近{days}日の会議{scheduled}回のうち{cancelled}回がクライアント都合でキャンセル・欠席"),
            }
        },
    },
    AttendanceDrop => Row {
        key: "attendance_drop",
        category: Category::Expectation,
        windows: &["attendance_recent_days", "attendance_baseline_days"],
        value: "usual − recent study-session attendance (a short earlier record leans towards the team's)",
        shares: None,
        measure: |x| {
            let (f, w) = (x.f, x.w());
            if !x.seasoned() || f.invited_recent < w.min_recent_events || f.invited_base < w.min_baseline_events {
                return None;
            }
            // A handful of earlier sessions all attended is not yet "always comes":
            // the usual share is blended towards the team's, as the recent one is
            // towards the usual.
            let prior = w.prior_events;
            let earlier = ratio(f.attended_base, f.invited_base);
            let team = x.snap.team_attendance.unwrap_or(earlier);
            let usual = shrunk_share(f.attended_base, f.invited_base, team, prior);
            let recent = shrunk_share(f.attended_recent, f.invited_recent, usual, prior);
            let days = f64::from(w.attendance_recent_days);
            let figures = [f.attended_recent as f64, f.invited_recent as f64, earlier * 100.0, days];
            x.m(usual - recent, figures)
        },
        chance: Some(|x| x.attendance_chance()),
        reason: |x, lang| {
            let [attended, invited, earlier, days] = &x.text;
            let share = num(x.raw[0] / x.raw[1] * 100.0);
            match lang {
                En => format!("attended {attended} of {invited} study sessions in the last {days} days ({share}%), was {earlier}%"),
                Ja => format!("勉強会出席 直近{days}日 {invited}回中{attended}回（{share}%、以前 {earlier}%）"),
            }
        },
    },
    ProposalGap => Row {
        key: "proposal_gap",
        category: Category::Expectation,
        windows: &[],
        value: "days since the last proposal (silent when the export records no proposals at all)",
        shares: None,
        measure: |x| {
            // Only where meetings happen at all: an export without meetings says
            // nothing about proposals. Without a proposal on record, count from the
            // first meeting the export holds (an export covering 18 months cannot
            // speak for the years before), and never beyond the contract's age.
            let f = x.f;
            if !x.snap.proposals_recorded {
                return None;
            }
            f.last_meeting_day?;
            let since = f.last_proposal_day.or(f.first_meeting_day)?;
            let days = (x.snap.day - since).min(f.history_days);
            x.m(f64::from(days), [f64::from(days), 0.0, 0.0, 0.0])
        },
        chance: None,
        reason: |x, lang| {
            let [days, _, _, _] = &x.text;
            match lang {
                En => format!("no new proposal in {days} days"),
                Ja => format!("{days}日間 新しい提案なし"),
            }
        },
    },
    TouchpointGap => Row {
        key: "touchpoint_gap",
        category: Category::Expectation,
        windows: &["meetings_recent_days", "touchpoint_baseline_days"],
        value: "days without a touchpoint (held meeting or reply) / usual gap",
        shares: None,
        measure: |x| {
            let f = x.f;
            if !x.seasoned() || f.touches_base < x.w().min_baseline_events {
                return None;
            }
            // The usual gap in open days, and the wait too: a gap across the New
            // Year is not read as a client gone quiet.
            let usual = (x.touch_base_days()? / f.touches_base as f64).max(7.0);
            let days = x.days_without_touch();
            x.m(x.open_recent(days) / usual, [f64::from(days), usual, 0.0, 0.0])
        },
        chance: Some(|x| {
            // No touchpoint at all in the gap: twice the mid-p of a count of zero.
            let observed = x.touch_base_days()?;
            let days = x.open_recent(x.days_without_touch());
            let per_day = x.f.touches_base as f64 / observed;
            let dispersion = x.dispersion(&x.engagement_blocks(), per_day, Series::Engagement);
            Some(2.0 * count_drop_midp(0, days, x.f.touches_base, observed, dispersion))
        }),
        reason: |x, lang| {
            let [days, usual, _, _] = &x.text;
            match lang {
                En => format!("no touchpoint for {days} days (usual gap {usual} days)"),
                Ja => format!("{days}日間 接点なし（通常の間隔 {usual}日）"),
            }
        },
    },
    MeetingGap => Row {
        key: "meeting_gap",
        category: Category::Expectation,
        windows: &["meetings_recent_days", "meetings_baseline_days"],
        value: "longest recent wait for a held meeting, the open one included / usual gap between held meetings",
        shares: None,
        measure: |x| {
            // The longest wait for a held meeting lately (the one still open
            // included) against the account's own cadence.
            if !x.seasoned() || x.f.meeting_gaps_base_n < x.w().min_baseline_events {
                return None;
            }
            let usual = x.f.meeting_gap_base?.max(1.0);
            let gap = x.longest_meeting_gap()?;
            x.m(gap / usual, [gap, usual, 0.0, 0.0])
        },
        chance: Some(|x| x.meeting_gap_chance()),
        reason: |x, lang| {
            let [gap, usual, _, _] = &x.text;
            match lang {
                En => format!("{gap} days between meetings lately, usually {usual}"),
                Ja => format!("会議の間隔 直近{gap}日（通常 {usual}日）"),
            }
        },
    },
    CadenceStretch => Row {
        key: "cadence_stretch",
        category: Category::Expectation,
        windows: &["meetings_recent_days", "meetings_baseline_days"],
        value: "median gap between held meetings over the last 2 × meetings_recent_days (at least 3 gaps) / usual gap",
        shares: None,
        measure: |x| {
            // Meetings drifting further apart, week after week: a sparse account's
            // counts barely move, its gaps do.
            let (stretch, n, usual) = x.cadence()?;
            x.m(stretch, [stretch * usual, usual, n as f64, f64::from(2 * x.w().meetings_recent_days)])
        },
        chance: Some(|x| x.cadence_chance()),
        reason: |x, lang| {
            let [recent, usual, n, days] = &x.text;
            match lang {
                En => format!("meetings every {recent} days (median of {n} gaps) over the last {days} days, usually every {usual}"),
                Ja => format!("直近{days}日の会議の間隔 中央値{recent}日（{n}回分、通常 {usual}日）"),
            }
        },
    },
    EngagementDecline => Row {
        key: "engagement_decline",
        category: Category::Expectation,
        windows: &["meetings_recent_days", "meetings_baseline_days", "baseline_gap_days"],
        value: "largest drop of held meetings and client messages below usual over the last 4 or more weeks (blended with prior_events at the usual rate)",
        shares: None,
        measure: |x| {
            // A client drifting away week after week: each quiet week adds evidence,
            // each ordinary one takes it back, so a slow slide builds up and a single
            // bad week decays.
            let c = x.engagement_cusum()?;
            x.m(c.drop, [c.observed, c.expected, c.weeks as f64, 0.0])
        },
        chance: Some(|x| Some((-x.engagement_cusum()?.statistic).exp())),
        reason: |x, lang| {
            let [held, usual, weeks, _] = &x.text;
            match lang {
                En => format!("client engagement down for {weeks} weeks: {held} meetings held and messages from the client, usually {usual}"),
                Ja => format!("{weeks}週間 接点が減少: 実施会議とクライアントからの連絡 {held}件（通常は{usual}件）"),
            }
        },
    },
    ActionItemDrop => Row {
        key: "action_item_drop",
        category: Category::Expectation,
        windows: &["meetings_recent_days", "meetings_baseline_days"],
        value: "1 − recent / usual action items agreed per held meeting",
        shares: None,
        measure: |x| {
            // Fewer next steps agreed per meeting than this client usually agrees:
            // meetings that have turned into status updates. Per held meeting, so
            // fewer meetings alone (meeting_drop's) do not count twice.
            let (f, w) = (x.f, x.w());
            if !x.seasoned()
                || f.held_recent < w.min_recent_events
                || f.held_base < w.min_baseline_events
                || f.promised_base < w.min_baseline_events
            {
                return None;
            }
            let usual = ratio(f.promised_base, f.held_base);
            let expected = usual * f.held_recent as f64;
            let value = 1.0 - shrunk_rate(f.promised_recent, expected, w.prior_events);
            let days = f64::from(w.meetings_recent_days);
            x.m(value, [f.promised_recent as f64, f.held_recent as f64, usual, days])
        },
        // The recent count of promises against the baseline's, with held meetings as
        // the exposure instead of days.
        chance: Some(|x| {
            let f = x.f;
            let dispersion = x.cfg.evidence.overdispersion;
            let (recent, base) = (f.held_recent as f64, f.held_base as f64);
            Some(count_drop_midp(f.promised_recent, recent, f.promised_base, base, dispersion))
        }),
        reason: |x, lang| {
            let [promised, held, usual, days] = &x.text;
            match lang {
                En => format!("{promised} action items agreed in {held} meetings over the last {days} days, usually {usual} per meeting"),
                Ja => format!("直近{days}日の会議{held}回で合意したアクション {promised}件（通常は会議1回あたり{usual}件）"),
            }
        },
    },
    ReplyDelay => Row {
        key: "reply_delay",
        category: Category::Discomfort,
        windows: &["replies_recent_days", "unanswered_lookback_days", "replies_baseline_days"],
        value: "recent median reply in business time (weekends excluded; unanswered messages count with the time they have waited) / max(own earlier, half the team norm)",
        shares: None,
        measure: |x| x.reply_delay().map(|(measure, _)| measure),
        chance: Some(|x| x.reply_delay().map(|(_, chance)| chance)),
        // Only the references that exist are quoted: an account without replies of
        // its own before is judged against the team's norm, and says so.
        reason: |x, lang| {
            let [recent, own, team, days] = &x.text;
            let (own_known, team_known) = (!x.raw[1].is_nan(), !x.raw[2].is_nan());
            match lang {
                En => {
                    let was = match (own_known, team_known) {
                        (true, true) => format!("was {own} h (team norm {team} h)"),
                        (true, false) => format!("was {own} h"),
                        (false, _) => format!("no earlier replies to compare; team norm {team} h"),
                    };
                    format!("median reply {recent} h over the last {days} days, {was}")
                }
                Ja => {
                    let was = match (own_known, team_known) {
                        (true, true) => format!("以前 {own}時間、チーム標準 {team}時間"),
                        (true, false) => format!("以前 {own}時間"),
                        (false, _) => format!("以前の記録なし、チーム標準 {team}時間"),
                    };
                    format!("直近{days}日の返信時間中央値 {recent}時間（{was}）")
                }
            }
        },
    },
    Unanswered => Row {
        key: "unanswered",
        category: Category::Discomfort,
        windows: &["unanswered_lookback_days", "replies_baseline_days"],
        value: "share of messages older than `unanswered_after_hours` still unanswered, above the usual share",
        shares: Some(|f| ((f.unanswered, f.waited_recent), (f.unanswered_base, f.waited_base))),
        measure: |x| {
            // A share of the messages old enough to expect an answer, against the
            // account's usual share: a busy client is not flagged for volume.
            let (f, w) = (x.f, x.w());
            if f.waited_recent == 0 {
                return None;
            }
            let figures = [
                f.unanswered as f64,
                f.waited_recent as f64,
                w.unanswered_after_hours as f64,
                f64::from(w.unanswered_lookback_days),
            ];
            x.m(x.excess()?, figures)
        },
        chance: Some(|x| x.bad_share_chance()),
        reason: |x, lang| {
            let [unanswered, waited, hours, days] = &x.text;
            match lang {
                En => format!("{unanswered} of {waited} client messages unanswered after {hours} h (last {days} days)"),
                Ja => format!("直近{days}日のメッセージ{waited}件中{unanswered}件が{hours}時間以上未返信"),
            }
        },
    },
    TeamLateness => Row {
        key: "team_lateness",
        category: Category::Discomfort,
        windows: &["team_behaviour_days", "meetings_baseline_days"],
        value: "share of held meetings the team was late to",
        shares: Some(|f| {
            (
                (f.late_team_window, f.held_team_window),
                (f.late_team_base, f.held_team_base),
            )
        }),
        measure: |x| {
            let (f, w) = (x.f, x.w());
            if f.late_team_window < w.min_recent_events {
                return None;
            }
            let figures = [
                f.late_team_window as f64,
                f.held_team_window as f64,
                f64::from(w.team_behaviour_days),
                w.late_minutes as f64,
            ];
            x.m(x.share()?, figures)
        },
        chance: Some(|x| x.bad_share_chance()),
        reason: |x, lang| {
            let [late, held, days, minutes] = &x.text;
            match lang {
                En => format!("team late by {minutes}+ min to {late} of {held} meetings in the last {days} days"),
                Ja => format!("直近{days}日の会議{held}回中{late}回でチームが{minutes}分以上遅刻"),
            }
        },
    },
    TeamCancellations => Row {
        key: "team_cancellations",
        category: Category::Discomfort,
        windows: &["team_behaviour_days", "meetings_baseline_days"],
        value: "share of meetings the team cancelled, missed or moved",
        shares: Some(|f| {
            (
                (f.team_cancelled_window, f.scheduled_team_window),
                (f.team_cancelled_base, f.scheduled_team_base),
            )
        }),
        measure: |x| {
            let (f, w) = (x.f, x.w());
            if f.team_cancelled_window < w.min_recent_events {
                return None;
            }
            let figures = [
                f.team_cancelled_window as f64,
                f.scheduled_team_window as f64,
                f64::from(w.team_behaviour_days),
                0.0,
            ];
            x.m(x.share()?, figures)
        },
        chance: Some(|x| x.bad_share_chance()),
        reason: |x, lang| {
            let [cancelled, scheduled, days, _] = &x.text;
            match lang {
                En => format!("{cancelled} of {scheduled} meetings cancelled, missed or rescheduled by the team in the last {days} days"),
                Ja => format!("直近{days}日の会議{scheduled}回中{cancelled}回がチーム都合でキャンセル・変更"),
            }
        },
    },
    OverduePromises => Row {
        key: "overdue_promises",
        category: Category::Discomfort,
        windows: &["team_behaviour_days", "meetings_baseline_days"],
        value: "share of promises due recently kept late or still open, above the usual share",
        shares: Some(|f| ((f.late_recent, f.due_recent), (f.late_base, f.due_base))),
        measure: |x| {
            // Promises that came due recently and were kept late or are still open,
            // as a share against the account's usual share.
            let (f, w) = (x.f, x.w());
            let figures = [
                f.late_recent as f64,
                f.due_recent as f64,
                f.overdue_open as f64,
                f64::from(w.team_behaviour_days),
            ];
            // Too few promises due to judge: no change (p = 1 in the category's
            // evidence), so more promises due can only add evidence.
            if f.due_recent < w.min_recent_events {
                return x.m(0.0, figures);
            }
            x.m(x.excess()?, figures)
        },
        chance: Some(|x| x.bad_share_chance()),
        reason: |x, lang| {
            let [late, due, open, days] = &x.text;
            match lang {
                En => format!("{late} of {due} promises due in the last {days} days kept late or missed ({open} still open)"),
                Ja => format!("直近{days}日に期限の約束{due}件中{late}件が遅延・未完了（うち未完了 {open}件）"),
            }
        },
    },
    FeeIncrease => Row {
        key: "fee_increase",
        category: Category::Cost,
        windows: &["invoices_recent_days", "invoices_baseline_days"],
        value: "fee now / earlier median invoice − 1 (only where three in four earlier invoices were a flat fee, within 5% of their median); the fee now is the latest recent invoice at the contracted monthly_fee, else the recent median",
        shares: None,
        measure: |x| {
            // Only where there is a fee: invoices that were flat in the baseline.
            // Usage-based amounts that vary month to month would read as "increases".
            // Flat for three in four of them, so an extra invoice for additional
            // work does not hide a fee.
            let f = x.f;
            let base = f.fee_base?;
            if 4 * f.fee_base_flat < 3 * f.fee_base_n {
                return None;
            }
            // The fee now: the latest recent invoice at the contracted monthly fee,
            // where there is one (the contract confirms it, so a raise shows from
            // its first invoice instead of once most of the window's invoices carry
            // it); else the recent invoices' median (one extra invoice is no raise).
            let recent = f.fee_contracted.or(f.fee_recent)?;
            let confirmed = flag(f.fee_contracted.is_some());
            x.m(recent / base - 1.0, [recent, base, confirmed, 0.0])
        },
        chance: None,
        reason: |x, lang| {
            let [now, was, confirmed, _] = x.raw;
            let up = num((now / was - 1.0) * 100.0);
            match (lang, confirmed > 0.0) {
                (En, false) => format!("fee up {up}% (now {}, was {})", yen(now), yen(was)),
                (Ja, false) => format!("料金 {up}%増（現在 {}円、以前 {}円）", yen(now), yen(was)),
                (En, true) => format!("fee up {up}% (invoiced {}, the contracted monthly fee; was {})", yen(now), yen(was)),
                (Ja, true) => format!("料金 {up}%増（請求 {}円＝契約月額、以前 {}円）", yen(now), yen(was)),
            }
        },
    },
    PaymentDelay => Row {
        key: "payment_delay",
        category: Category::Cost,
        windows: &["invoices_recent_days", "invoices_baseline_days"],
        value: "recent mean days late − earlier mean (the terms where there is no earlier record)",
        shares: None,
        measure: |x| {
            let (f, w) = (x.f, x.w());
            let recent = f.pay_late_recent.filter(|_| f.pay_late_recent_n >= 1)?;
            // Without an earlier record the delay is judged against the terms (0 days
            // late), and the reason says there is nothing earlier to compare.
            let base = f.pay_late_base.filter(|_| f.pay_late_base_n >= w.min_baseline_events);
            let days = f64::from(w.invoices_recent_days);
            x.m(recent - base.unwrap_or(0.0), [recent, base.unwrap_or(f64::NAN), days, 0.0])
        },
        chance: Some(|x| {
            let (f, w) = (x.f, x.w());
            let recent = f.pay_late_recent?;
            let base = f
                .pay_late_base
                .filter(|_| f.pay_late_base_n >= w.min_baseline_events)
                .unwrap_or(0.0);
            let n = f.pay_late_recent_n.max(1) as f64;
            Some(normal_sf((recent - base) / (x.cfg.evidence.payment_sd_days / n.sqrt())))
        }),
        reason: |x, lang| {
            let [late, was, days, _] = &x.text;
            match (lang, x.raw[1].is_nan()) {
                (En, true) => format!("invoices paid {late} days late on average over the last {days} days (no earlier payments to compare)"),
                (En, false) => format!("invoices paid {late} days late on average over the last {days} days, was {was}"),
                (Ja, true) => format!("直近{days}日の請求書の平均支払遅延 {late}日（以前の支払記録なし）"),
                (Ja, false) => format!("直近{days}日の請求書の平均支払遅延 {late}日（以前 {was}日）"),
            }
        },
    },
    Disputes => Row {
        key: "disputes",
        category: Category::Cost,
        windows: &["disputes_days", "invoices_baseline_days"],
        value: "share of invoices disputed in `disputes_days`, above the usual share",
        shares: Some(|f| {
            (
                (f.disputes, f.invoiced_dispute_window),
                (f.disputes_base, f.invoiced_dispute_base),
            )
        }),
        measure: |x| {
            // Disputed invoices as a share, above the account's usual share: a client
            // who always queries one invoice a year is not newly upset.
            let f = x.f;
            if f.disputes == 0 {
                return None;
            }
            let days = f64::from(x.w().disputes_days);
            let figures = [f.disputes as f64, f.invoiced_dispute_window as f64, days, 0.0];
            x.m(x.excess()?, figures)
        },
        chance: Some(|x| x.bad_share_chance()),
        reason: |x, lang| {
            let [disputed, invoiced, days, _] = &x.text;
            match lang {
                En => format!("{disputed} of {invoiced} invoices disputed in the last {days} days"),
                Ja => format!("直近{days}日の請求{invoiced}件中{disputed}件に異議"),
            }
        },
    },
    UnusedService => Row {
        key: "unused_service",
        category: Category::Cost,
        windows: &["attendance_recent_days", "attendance_baseline_days"],
        value: "1 − recent attendance of paid study sessions",
        shares: None,
        measure: |x| {
            let (f, w) = (x.f, x.w());
            if f.invited_recent < w.min_recent_events {
                return None;
            }
            // Blended with the usual attendance when there is one (a member who always
            // came and missed a few is not yet "not using" the service).
            let usual = if f.invited_base >= w.min_baseline_events {
                ratio(f.attended_base, f.invited_base)
            } else {
                ratio(f.attended_recent, f.invited_recent)
            };
            let used = shrunk_share(f.attended_recent, f.invited_recent, usual, w.prior_events);
            let days = f64::from(w.attendance_recent_days);
            x.m(1.0 - used, [f.attended_recent as f64, f.invited_recent as f64, days, 0.0])
        },
        chance: Some(|x| x.attendance_chance()),
        reason: |x, lang| {
            let [attended, invited, days, _] = &x.text;
            match lang {
                En => format!("attended {attended} of {invited} paid study sessions in the last {days} days"),
                Ja => format!("有料勉強会 直近{days}日で{invited}回中{attended}回のみ出席"),
            }
        },
    },
    BillingWithoutTouch => Row {
        key: "billing_without_touch",
        category: Category::Cost,
        windows: &["meetings_recent_days", "touchpoint_baseline_days"],
        value: "1 − recent / usual touchpoints, while still billed",
        shares: None,
        measure: |x| {
            let (f, w) = (x.f, x.w());
            if !x.seasoned() || f.invoiced_recent == 0 || f.touches_base < w.min_baseline_events {
                return None;
            }
            let r = w.meetings_recent_days;
            let expected = f.touches_base as f64 * x.open_recent(r) / x.touch_base_days()?;
            x.m(1.0 - f.touches_recent as f64 / expected, [f.touches_recent as f64, expected, f64::from(r), 0.0])
        },
        chance: Some(|x| {
            let (f, w) = (x.f, x.w());
            let window = (w.meetings_recent_days, w.touchpoint_baseline_days);
            let per_day = f.touches_base as f64 / x.touch_base_days()?;
            let dispersion = x.dispersion(&x.engagement_blocks(), per_day, Series::Engagement);
            x.count_drop_over(f.touches_recent, f.touches_base, x.touch_from(), window, dispersion)
        }),
        reason: |x, lang| {
            let [touches, usual, days, _] = &x.text;
            match lang {
                En => format!("billed while touchpoints dried up: {touches} in the last {days} days, was {usual}"),
                Ja => format!("請求は継続、接点は減少: 直近{days}日 {touches}回（以前 {usual}回）"),
            }
        },
    },
}

/// A yes/no among a measure's figures (1 or 0), for the reason to choose its words.
fn flag(yes: bool) -> f64 {
    f64::from(u8::from(yes))
}

/// Shares of bad events (cancelled, unanswered, late) an account is assumed to have
/// before its own baseline says otherwise, weighing `prior_events` events.
const PRIOR_BAD_SHARE: f64 = 0.1;

/// The team's study-session attendance assumed where the export has none.
const PRIOR_ATTENDANCE: f64 = 0.7;

/// The engagement CUSUM's alternative: the client's meetings and messages at half
/// their usual weekly rate, the drop domain.md names as expectation stress (meetings
/// thinning to a third or half, the client writing less). A CUSUM is quickest for
/// the change it is tuned to and still sees larger and somewhat smaller ones.
const ENGAGEMENT_DROP: f64 = 0.5;

/// The fewest activity blocks (four weeks each) that engagement_decline and
/// contact_drop take the usual rate from; with fewer they read the meetings
/// baseline. Four blocks are 112 days, more than the half of the meetings baseline
/// that makes a usual rate.
const MIN_ACTIVITY_BLOCKS: usize = 4;

/// The shortest stretch, in weeks, over which engagement_decline measures a drop's
/// size: a month, so one quiet week is a quarter of it, not all of it.
const ENGAGEMENT_MIN_WEEKS: usize = 4;

/// What the engagement CUSUM found: its statistic (the evidence), and the largest
/// drop over trailing stretches of at least ENGAGEMENT_MIN_WEEKS weeks (the size)
/// with that stretch's weeks, events and usual count.
#[derive(Debug, Default)]
struct Cusum {
    statistic: f64,
    drop: f64,
    weeks: usize,
    observed: f64,
    expected: f64,
}

/// The log likelihood ratio of `x` events over `exposure` open days at
/// ENGAGEMENT_DROP times the usual rate against the usual rate, the rate unknown
/// but for its `Gamma(a, b)` posterior from the record, integrated out under both:
/// `x ln c + (a + x) ln((b + E) / (b + cE))`. Positive for a quiet stretch. With a
/// rate known exactly (`b` → ∞) it is the Poisson ratio `x ln c + (1 − c) λE`; with
/// a short or bursty record, a stretch has to be quieter to count, because "usual"
/// itself is uncertain. Over the trailing stretches read back from the as-of date
/// these ratios are a likelihood-ratio martingale (both sides are joint laws of the
/// weeks), which is what Ville's inequality needs.
fn drop_llr(x: f64, exposure: f64, a: f64, b: f64) -> f64 {
    let c = ENGAGEMENT_DROP;
    x * c.ln() + (a + x) * ((b + exposure) / (b + c * exposure)).ln()
}

const MEETING_GAP_PRIOR_CV: f64 = 0.5;
const MEETING_GAP_PRIOR_GAPS: f64 = 4.0;

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

/// The measures and chances the rows share.
impl Ctx<'_> {
    fn w(&self) -> &Windows {
        &self.cfg.windows
    }

    fn m(&self, value: f64, figures: [f64; 4]) -> Option<Measure> {
        Some(Measure { value, figures })
    }

    /// Old enough to have a baseline of its own.
    fn seasoned(&self) -> bool {
        self.f.history_days >= self.w().min_history_days
    }

    /// A recent share (bad, of all) above the account's usual share of the same.
    fn excess(&self) -> Option<f64> {
        let ((k, n), (kb, nb)) = self.shares?;
        let w = self.w();
        let usual = usual_share(kb, nb, w.min_baseline_events);
        Some(shrunk_share(k, n, usual, w.prior_events) - usual)
    }

    /// The recent share itself (blended towards the usual one): the team's own
    /// behaviour is stress however usual it is.
    fn share(&self) -> Option<f64> {
        let ((k, n), (kb, nb)) = self.shares?;
        let w = self.w();
        let usual = usual_share(kb, nb, w.min_baseline_events);
        Some(shrunk_share(k, n, usual, w.prior_events))
    }

    /// The usual share as `Beta(a, b)`: `k` of `n` earlier events plus
    /// `prior_events` at the prior share `prior`.
    fn usual_share_beta(&self, k: i64, n: i64, prior: f64) -> (f64, f64) {
        let weight = self.w().prior_events;
        (
            k as f64 + weight * prior,
            (n - k) as f64 + weight * (1.0 - prior),
        )
    }

    /// k bad of n against the account's usual share: its earlier kb of nb plus
    /// `prior_events` at a prior share, as a beta-binomial predictive (a share
    /// learned from ten meetings is not known to the percent).
    fn bad_share_chance(&self) -> Option<f64> {
        let ((k, n), (kb, nb)) = self.shares?;
        let (a, b) = self.usual_share_beta(kb, nb, PRIOR_BAD_SHARE);
        Some(beta_binomial_upper_midp(k, n, a, b))
    }

    /// Fewer sessions attended than the usual share: the account's earlier record
    /// plus `prior_events` at the team's, as a beta-binomial predictive (10 of 10
    /// earlier is "usually attends", not "never misses").
    fn attendance_chance(&self) -> Option<f64> {
        let f = self.f;
        let team = self.snap.team_attendance.unwrap_or(PRIOR_ATTENDANCE);
        let (a, b) = self.usual_share_beta(f.attended_base, f.invited_base, team);
        Some(beta_binomial_lower_midp(
            f.attended_recent,
            f.invited_recent,
            a,
            b,
        ))
    }

    /// Open days ([`OpenDays`](crate::features::OpenDays)) of the baseline window
    /// (for a recent window of `length` days and a baseline of `base` days) in which
    /// the account could leave rows: after its contract started and after the
    /// table's first record (`from`). A usual rate is per these days, so an account
    /// that started halfway through its baseline window, or an export that begins
    /// after it, does not read as "usually half as active", and a baseline holding
    /// Golden Week is not a quieter usual. `None` when the calendar days cover less
    /// than half the baseline or less than the recent window: a rate learned over a
    /// short stretch is too noisy to call usual (in a backtest, the first months
    /// after the export begins).
    fn observed_base_days(&self, (length, base): (i32, i32), from: Option<i32>) -> Option<f64> {
        let day = self.snap.day;
        let (far, near) = self.w().baseline(length, base);
        let known_since = (day - self.f.history_days).max(from?);
        // Windows hold the days after their start up to and including their end:
        // back `near` to back `far` (excluded), or only since `known_since`.
        let covered = far.min(day - known_since + 1);
        let days = (covered - near).clamp(0, base);
        (days >= length.min(base) && 2 * days >= base)
            .then(|| self.snap.open.between(near + days, near))
    }

    /// Open days among the last `length` days: the exposure of a recent count whose
    /// usual rate is per open day ([`Ctx::observed_base_days`], the activity
    /// blocks), so a window holding the New Year expects fewer events.
    fn open_recent(&self, length: i32) -> f64 {
        self.snap.open.between(length, 0)
    }

    /// The account's counts of a series in its four-week `blocks` (features'
    /// `engagement_blocks` or `message_blocks`, block 0 the nearest before the
    /// engagement weeks) that the contract and the export (`from`) cover, nearest
    /// first, with each block's open days.
    fn covered_blocks(&self, blocks: &[u32], from: Option<i32>) -> Vec<(f64, f64)> {
        let day = self.snap.day;
        let Some(from) = from else { return Vec::new() };
        let known_since = (day - self.f.history_days).max(from);
        let start = 7 * self.w().engagement_weeks() as i32;
        blocks
            .iter()
            .enumerate()
            .map_while(|(b, &n)| {
                let near = start + ACTIVITY_BLOCK_DAYS * b as i32;
                let far = near + ACTIVITY_BLOCK_DAYS;
                // The block holds days (day − far, day − near].
                (day - far + 1 >= known_since)
                    .then(|| (f64::from(n), self.snap.open.between(far, near)))
            })
            .collect()
    }

    /// The client's message blocks the exports cover ([`Ctx::covered_blocks`]).
    fn message_blocks(&self) -> Vec<(f64, f64)> {
        self.covered_blocks(&self.f.message_blocks, self.snap.messages_from)
    }

    /// The client's held meetings and messages in the blocks both exports cover.
    fn engagement_blocks(&self) -> Vec<(f64, f64)> {
        self.covered_blocks(&self.f.engagement_blocks, self.touch_from())
    }

    /// The client's usual messages over its message `blocks`: how many, over how
    /// many calendar days, where at least MIN_ACTIVITY_BLOCKS are covered (up to a
    /// year: the longer the record, the surer "usual"), else over the meetings
    /// baseline.
    fn usual_messages(&self, blocks: &[(f64, f64)]) -> Option<(i64, f64)> {
        if blocks.len() >= MIN_ACTIVITY_BLOCKS {
            let days = blocks.len() as i32 * ACTIVITY_BLOCK_DAYS;
            return Some((totals(blocks).0 as i64, f64::from(days)));
        }
        let w = self.w();
        let window = (w.meetings_recent_days, w.meetings_baseline_days);
        Some((
            self.f.client_messages_base,
            self.observed_base_days(window, self.snap.messages_from)?,
        ))
    }

    /// How many times more than Poisson this account's counts of a series vary over
    /// four weeks, `1 + μ c²`: Poisson's chance plus the client's own busy and quiet
    /// phases, a rate that moves by a coefficient of variation `c` from one
    /// four-week block to the next (negative-binomial, μ the block's usual count).
    /// `c²` is read from the account's `covered` blocks ([`Ctx::covered_blocks`]):
    /// Pearson's X² / (B − 1) − 1 over μ, each block expecting the account's rate
    /// times its open days ([`block_x2`]); pooled with the team's `c²` for the
    /// `series` on the date ([`Snapshot::activity_cv2`], never below
    /// `activity_cv`²) weighing `activity_cv_blocks` blocks, and never below 0. A
    /// client who writes in bursts is judged against its own bursts: a quiet month
    /// after a busy one is not news for it. `per_day` is the usual rate where fewer
    /// than two blocks are covered.
    fn dispersion(&self, covered: &[(f64, f64)], per_day: f64, series: Series) -> f64 {
        let e = &self.cfg.evidence;
        // Pooled with the team's spread (never below `activity_cv`): how much
        // this team's clients vary is what a short record of one leans towards.
        let floor = e.activity_cv * e.activity_cv;
        let team = self.snap.activity_cv2[series as usize].map_or(floor, |t| t.max(floor));
        let prior = (team, e.activity_cv_blocks);
        let (cv2, usual) = match block_x2(covered) {
            Some((x2, dof, usual)) => {
                let own = (x2 / dof - 1.0) / usual;
                ((dof * own + prior.1 * prior.0) / (dof + prior.1), usual)
            }
            None => (prior.0, per_day * f64::from(ACTIVITY_BLOCK_DAYS)),
        };
        1.0 + usual * cv2.max(0.0)
    }

    /// The first day both touchpoint exports (held meetings and replies) cover.
    fn touch_from(&self) -> Option<i32> {
        self.snap.meetings_from.max(self.snap.messages_from)
    }

    /// [`Ctx::observed_base_days`] of the touchpoint baseline: both exports must
    /// cover a day for it to count.
    fn touch_base_days(&self) -> Option<f64> {
        let w = self.w();
        let window = (w.meetings_recent_days, w.touchpoint_baseline_days);
        self.observed_base_days(window, self.touch_from())
    }

    /// Days since the last touchpoint, never beyond the contract's age.
    fn days_without_touch(&self) -> i32 {
        let f = self.f;
        f.last_touch_day
            .map_or(f.history_days, |t| self.snap.day - t)
            .min(f.history_days)
    }

    /// A recent count below the account's usual rate over the baseline days it was
    /// observed. A shorter baseline is a noisier "usual", so the recent count is
    /// blended with proportionally more events at that rate.
    fn rate_drop(&self, recent: i64, base: i64, from: Option<i32>) -> Option<Measure> {
        let w = self.w();
        let (r, b) = (w.meetings_recent_days, w.meetings_baseline_days);
        let observed = self.observed_base_days((r, b), from)?;
        self.rate_drop_over(recent, base, observed)
    }

    /// [`Ctx::rate_drop`] against `base` events over `observed` days, whatever
    /// record they come from.
    fn rate_drop_over(&self, recent: i64, base: i64, observed: f64) -> Option<Measure> {
        let w = self.w();
        let (r, b) = (w.meetings_recent_days, w.meetings_baseline_days);
        let expected = base as f64 * self.open_recent(r) / observed;
        let (far, near) = w.baseline(r, b);
        let prior = w.prior_events * self.snap.open.between(far, near) / observed;
        let value = 1.0 - shrunk_rate(recent, expected, prior);
        self.m(value, [recent as f64, expected, f64::from(r), 0.0])
    }

    /// The chance of a recent count this low, over the meetings windows.
    fn count_drop(
        &self,
        recent: i64,
        base: i64,
        from: Option<i32>,
        dispersion: f64,
    ) -> Option<f64> {
        let w = self.w();
        let window = (w.meetings_recent_days, w.meetings_baseline_days);
        self.count_drop_over(recent, base, from, window, dispersion)
    }

    /// The negative-binomial chance of `recent` events in `r` days, given `base`
    /// events over the observed days of the `b`-day baseline, counts varying
    /// `dispersion` times more than Poisson.
    fn count_drop_over(
        &self,
        recent: i64,
        base: i64,
        from: Option<i32>,
        (r, b): (i32, i32),
        dispersion: f64,
    ) -> Option<f64> {
        let observed = self.observed_base_days((r, b), from)?;
        Some(count_drop_midp(
            recent,
            self.open_recent(r),
            base,
            observed,
            dispersion,
        ))
    }

    /// The recent KPI attainment the outcome signals judge, and whether it is the
    /// latest month's. The recent window's mean, unless its latest month is above
    /// that mean: then the lower months came before and the latest is back up, so
    /// the decline has not held and the latest month is what is judged (one bad
    /// month decays as soon as a normal one follows it; stress that goes on reaches
    /// the latest month and keeps the mean). Judged with the window's count of
    /// values either way: never more alarming than the mean alone, and the larger
    /// of two figures that each rise with every month's attainment, so scores stay
    /// monotone.
    fn kpi_recent(&self) -> Option<(f64, bool)> {
        let f = self.f;
        if f.kpi_recent_n < 1 {
            return None;
        }
        let mean = f.kpi_recent?;
        Some(match f.kpi_recent_last {
            Some(last) if last > mean => (last, true),
            _ => (mean, false),
        })
    }

    /// The chance of a KPI shortfall `diff` (in attainment) whose standard error is
    /// `se` single values' spreads: Student's t on the account's KPI spread, pulled
    /// towards the assumed one by its months, with the degrees of freedom of both
    /// (an estimated spread has heavier tails than a known one).
    fn kpi_tail(&self, diff: f64, se: f64) -> f64 {
        let e = &self.cfg.evidence;
        let own_dof = (self.f.kpi_base_n - 1).max(0) as f64;
        let own = self.f.kpi_base_sd.unwrap_or(e.kpi_sd_prior);
        let prior_dof = e.kpi_sd_prior_months;
        let dof = own_dof + prior_dof;
        let sd = ((own_dof * own * own + prior_dof * e.kpi_sd_prior * e.kpi_sd_prior) / dof).sqrt();
        student_t_sf(diff / (sd * se), dof)
    }

    /// The longest wait for a held meeting ending in the recent window, or the open
    /// one since the last meeting if longer.
    fn longest_meeting_gap(&self) -> Option<f64> {
        let open = f64::from(self.snap.day - self.f.last_meeting_day?);
        Some(open.max(self.f.meeting_gap_recent_max.unwrap_or(0.0)))
    }

    /// The engagement CUSUM: held meetings plus client messages week by week over
    /// the [`Windows::engagement_weeks`] since the meetings baseline ended, against
    /// the baseline's weekly rate. Each week adds its log likelihood ratio of
    /// "engagement halved" (ENGAGEMENT_DROP) against "as usual", both negative
    /// binomial with the configured over-dispersion; the statistic is the largest
    /// sum over the trailing weeks (Page's CUSUM read back from tonight, so a
    /// backfill gives what that night gave). Under "as usual" those sums are a
    /// likelihood-ratio martingale, so by Ville's inequality a statistic of `s` or
    /// more happens with probability at most `e^(−s)`: that is its chance. A week
    /// of the New Year, Golden Week or Obon counts its open days (a holiday day as
    /// the share of activity clients keep then, [`crate::features::OpenDays`]). The
    /// size is the largest drop over trailing stretches of at least
    /// ENGAGEMENT_MIN_WEEKS, each blended with `prior_events` at the usual rate:
    /// like the statistic, it can only grow when any week holds fewer events, so
    /// scores stay monotone.
    fn engagement_cusum(&self) -> Option<Cusum> {
        let (f, w) = (self.f, self.w());
        if !self.seasoned() || f.engagement_weeks.is_empty() {
            return None;
        }
        // The usual rate: over the account's activity blocks where they cover at
        // least MIN_ACTIVITY_BLOCKS (up to a year: the longer the record, the
        // surer "usual"), else over the meetings baseline.
        let blocks = self.engagement_blocks();
        let (base, days) = if blocks.len() >= MIN_ACTIVITY_BLOCKS {
            totals(&blocks)
        } else {
            let days = self.observed_base_days(
                (w.meetings_recent_days, w.meetings_baseline_days),
                self.touch_from(),
            )?;
            ((f.held_base + f.client_messages_base) as f64, days)
        };
        if base < w.min_baseline_events as f64 || days <= 0.0 {
            return None;
        }
        let per_day = base / days;
        let dispersion = self.dispersion(&blocks, per_day, Series::Engagement);
        // The usual rate per day is only known from the record: its gamma
        // posterior (Jeffreys prior), in quasi-Poisson units (counts over the
        // account's dispersion).
        let (a, b) = (base / dispersion + 0.5, days);
        let (mut observed, mut expected, mut open) = (0.0f64, 0.0, 0.0);
        let mut c = Cusum::default();
        for (k, &n) in f.engagement_weeks.iter().enumerate() {
            let back = 7 * k as i32;
            let week_open = self.snap.open.between(back + 7, back);
            observed += f64::from(n);
            expected += per_day * week_open;
            open += week_open;
            c.statistic = c.statistic.max(drop_llr(observed / dispersion, open, a, b));
            let drop = 1.0 - shrunk_rate(observed as i64, expected, w.prior_events);
            if k + 1 >= ENGAGEMENT_MIN_WEEKS.min(f.engagement_weeks.len()) && drop > c.drop {
                (c.drop, c.weeks, c.observed, c.expected) = (drop, k + 1, observed, expected);
            }
        }
        Some(c)
    }

    /// The recent median gap between held meetings over the usual one, how many
    /// gaps it is the median of, and the usual gap. The median: one long wait (a
    /// holiday, a bad week; `meeting_gap`'s) does not move it, a cadence that has
    /// drifted does.
    fn cadence(&self) -> Option<(f64, i64, f64)> {
        let (f, w) = (self.f, self.w());
        if !self.seasoned() || f.meeting_gaps_base_n < w.min_baseline_events {
            return None;
        }
        let usual = f.meeting_gap_base?.max(1.0);
        let median = f.meeting_gap_recent_median?;
        let n = f.meeting_gaps_recent_n;
        // At least three gaps: the median of two is their mean, one long wait again.
        (n >= w.min_recent_events.max(3)).then(|| (median / usual, n, usual))
    }

    /// The chance of a median this long: at least half of the `n` gaps that long,
    /// each with the slot model's tail ([`Ctx::gap_tail`]), a binomial mid-p. The
    /// gamma renewal tail of the account's own spread was far lighter: a clockwork
    /// fortnightly client with three missed meetings in 120 days (a holiday, a
    /// team cancellation, a client's) read as one in 100,000.
    fn cadence_chance(&self) -> Option<f64> {
        let (stretch, n, usual) = self.cadence()?;
        let one = self.gap_tail(stretch * usual)?;
        let half = (n + 1) / 2;
        Some(binomial_upper_midp(half, n, one))
    }

    /// The gamma shape of the account's gaps between held meetings: its own spread
    /// pulled towards a coefficient of variation of MEETING_GAP_PRIOR_CV, worth
    /// MEETING_GAP_PRIOR_GAPS gaps; rounded down (wider), 1 to 50.
    fn gap_shape(&self) -> Option<f64> {
        let f = self.f;
        let mean = f.meeting_gap_base?.max(1.0);
        let n = (f.meeting_gaps_base_n - 1).max(0) as f64;
        let own_sd = f.meeting_gap_base_sd.unwrap_or(mean * MEETING_GAP_PRIOR_CV);
        let prior_sd = mean * MEETING_GAP_PRIOR_CV;
        let sd = ((n * own_sd * own_sd + MEETING_GAP_PRIOR_GAPS * prior_sd * prior_sd)
            / (n + MEETING_GAP_PRIOR_GAPS))
            .sqrt()
            .max(1.0);
        Some(((mean / sd).powi(2)).floor().clamp(1.0, 50.0))
    }

    /// Meetings as scheduled slots, each missed (cancelled, skipped) with the
    /// account's own probability `q`, independently: a wait of `m` slots beyond the
    /// first has the geometric tail `q^m`. Under that model the squared coefficient
    /// of variation of the gaps is `q` itself, so `q` is `1 / gap_shape` (the
    /// account's own spread, pulled towards MEETING_GAP_PRIOR_CV) and a slot is the
    /// mean gap times `1 − q`. A gamma tail of the same spread was far lighter: on
    /// weekly clients two cancellations in a row read as one in 100,000, where they
    /// happen to one in fifty.
    fn meeting_gap_chance(&self) -> Option<f64> {
        let mean = self.f.meeting_gap_base?.max(1.0);
        let one = self.gap_tail(self.longest_meeting_gap()?)?;
        // Any of the recent window's gaps (about its length over the mean gap, plus
        // the open one) could be it.
        let chances = (f64::from(self.w().meetings_recent_days) / mean).max(1.0) + 1.0;
        Some(1.0 - (1.0 - one).powf(chances))
    }

    /// Under the slot model, the chance that one gap between held meetings lasts
    /// `gap` days or more: `q^(gap / slot − 1)`, continuous in the gap (the slots
    /// jitter); as `q` tends to 1 the slots shrink and it becomes the exponential
    /// `e^(−gap / mean)`.
    fn gap_tail(&self, gap: f64) -> Option<f64> {
        let mean = self.f.meeting_gap_base?.max(1.0);
        let (slot, q) = self.slots()?;
        Some(match slot {
            Some(slot) => ((gap / slot - 1.0) * q.ln()).exp().min(1.0),
            None => (-gap / mean).exp(),
        })
    }

    /// The slot model's length of a slot (`None` where `q` is all but 1 and slots
    /// shrink to nothing) and its miss probability `q` = `1 / gap_shape`.
    fn slots(&self) -> Option<(Option<f64>, f64)> {
        let mean = self.f.meeting_gap_base?.max(1.0);
        let q = 1.0 / self.gap_shape()?;
        Some(((q <= 0.999).then_some(mean * (1.0 - q)), q))
    }

    /// Held meetings in the recent window under the slot model of
    /// [`Ctx::meeting_gap_chance`]: the window's open days hold ⌊days / slot⌋ whole
    /// slots (rounded down: the cautious side), each held with probability `1 − q`,
    /// so the count is binomial. Meetings are scheduled, not random: a client on a
    /// clockwork fortnightly cadence holding 1 meeting in 60 days instead of 4 is
    /// news that a count model with Poisson-or-wider spread cannot see. `None`
    /// without a baseline of gaps.
    fn held_slots_chance(&self) -> Option<f64> {
        let (f, w) = (self.f, self.w());
        if f.meeting_gaps_base_n < w.min_baseline_events {
            return None;
        }
        let (slot, q) = self.slots()?;
        let open = self.snap.open.between(w.meetings_recent_days, 0);
        let slots = (open / slot?).floor() as i64;
        Some(binomial_lower_midp(f.held_recent, slots, 1.0 - q))
    }

    /// Reply delay over two recent windows, the month (`replies_recent_days`) and
    /// the quarter (`unanswered_lookback_days`), each against its own baseline: the
    /// month shows a sudden slowdown, the quarter a sparse account's, whose month
    /// holds two or three replies. The larger slowdown of the two is the measure
    /// (its figures are quoted) and the smaller chance of the two, doubled
    /// (Bonferroni for the choice), its chance: each only grows with a slower
    /// window, so the score stays monotone.
    fn reply_delay(&self) -> Option<(Measure, f64)> {
        let (f, w, snap) = (self.f, self.w(), self.snap);
        let log_sd = self.cfg.evidence.reply_log_sd;
        let window =
            |recent: Option<f64>, n: i64, u2: i64, base: Option<f64>, base_n: i64, days: i32| {
                let recent = recent.filter(|_| n >= w.min_recent_events)?;
                let own = base.filter(|_| base_n >= w.min_baseline_events);
                // Against the account's own past, but never against less than half the
                // team's norm: a client used to 1 h answers should not raise an alarm at
                // 4 h. Without a past of its own, the team's norm is the reference.
                let reference = match (own, snap.team_reply_h) {
                    (Some(o), Some(t)) => o.max(t / 2.0),
                    (o, t) => o.or(t)?,
                };
                // The evidence is against the account's own past, whatever the size is
                // measured against: the Mann–Whitney rank test of the recent replies
                // against the earlier ones (exact for small samples; no assumption about
                // the delays' shape). Delays follow office hours (the same day or the
                // next), so a lognormal model read a small shift of the mix between the
                // two as one in 10^13; "slower than the usual upper quartile" (the
                // exceedance test) was calibrated but read only one rank, and missed
                // sparse clients whose few replies had all slowed. Without a past of its
                // own, against the team's norm (a median of thousands): a normal tail on
                // the log scale, a median of n replies spreading about 1.2533 σ / √n.
                let chance = match own {
                    Some(_) => mann_whitney_upper_midp(u2, n, base_n),
                    None => {
                        let se = 1.2533 * log_sd / (n.max(1) as f64).sqrt();
                        normal_sf((recent.max(0.1) / reference.max(1.0)).ln() / se)
                    }
                };
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
            f.reply_recent_u2,
            f.reply_base_h,
            f.reply_base_n,
            w.replies_recent_days,
        );
        let quarter = window(
            f.reply_long_h,
            f.reply_long_n,
            f.reply_long_u2,
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
}

/// Every signal as a markdown table, with `cfg`'s parameters: what
/// `churnwatch signals` prints.
pub fn table(cfg: &Config) -> String {
    let mut out = String::from(
        "| category | signal | value | judged by | windows | weight | start | full |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let mut rows: Vec<Signal> = Signal::ALL.to_vec();
    rows.sort_by_key(|s| s.category());
    for s in rows {
        let (row, p) = (s.row(), s.params(cfg));
        let judged = if s.is_tested() { "chance" } else { "fact" };
        let windows: Vec<String> = row.windows.iter().map(|w| format!("`{w}`")).collect();
        out.push_str(&format!(
            "| {} | `{}` | {} | {judged} | {} | {} | {} | {} |\n",
            s.category().as_str(),
            row.key,
            row.value,
            windows.join(", "),
            p.weight,
            p.start,
            p.full
        ));
    }
    out
}

/// A figure as a reason quotes it: whole where whole, else one decimal.
pub fn num(x: f64) -> String {
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

/// An amount in whole yen with thousands separators.
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The shipped config.toml.
    pub(crate) fn shipped() -> Config {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        Config::load(&path, &Signal::keys()).expect("shipped config")
    }

    /// Day 20,000, with both exports covering every day before it, for clients who
    /// keep working through the holiday weeks (every day open).
    pub(crate) fn snapshot() -> Snapshot {
        Snapshot {
            as_of: chrono::NaiveDate::from_ymd_opt(2024, 10, 4).unwrap(),
            day: 20_000,
            team_reply_h: None,
            proposals_recorded: false,
            team_attendance: None,
            meetings_from: Some(0),
            messages_from: Some(0),
            open: crate::features::OpenDays::new(20_000, 600, 1.0),
            activity_cv2: [None; 2],
            accounts: vec![],
        }
    }

    /// A client who writes in bursts is judged against its own bursts: the same
    /// quiet 60 days (10 messages, usually 20) is news for a steady writer and
    /// ordinary for one whose four-week blocks swing between 2 and 17 messages.
    #[test]
    fn a_bursty_clients_quiet_months_are_judged_against_its_own_swings() {
        let (cfg, snap) = (shipped(), snapshot());
        let account = |blocks: Vec<u32>| AccountFeatures {
            history_days: 2_000,
            client_messages_recent: 10,
            client_messages_base: 60,
            message_blocks: blocks,
            ..AccountFeatures::default()
        };
        let steady = account(vec![9, 10, 9, 10, 9, 10, 9, 10, 9, 10, 9, 10]);
        let bursty = account(vec![16, 3, 17, 2, 15, 3, 16, 3, 17, 2, 15, 5]);
        let s = Signal::ContactDrop;
        let chance = |f: &AccountFeatures| s.chance(f, &snap, &cfg).unwrap();
        // Both usually write 9.5 every four weeks: 20 per 60 days.
        let m = s.measure(&steady, &snap, &cfg).unwrap();
        assert!((m.figures[1] - 20.4).abs() < 0.1, "{:?}", m.figures);
        assert_eq!(s.measure(&bursty, &snap, &cfg).unwrap().figures, m.figures);
        assert!(chance(&steady) < 0.01, "{}", chance(&steady));
        assert!(chance(&bursty) > 0.05, "{}", chance(&bursty));
        // Without blocks of its own (a young export), the prior spread applies.
        let unknown = account(Vec::new());
        assert!(chance(&unknown) > chance(&steady) && chance(&unknown) < chance(&bursty));
    }

    /// A client with a short record leans on how much the team's clients vary: the
    /// same quiet 60 days is news where clients are steady, less so where they
    /// write in phases; and never judged steadier than `activity_cv` says.
    #[test]
    fn a_short_record_leans_on_the_teams_spread() {
        let cfg = shipped();
        let team = |cv2: Option<f64>| Snapshot {
            activity_cv2: [cv2; 2],
            ..snapshot()
        };
        // Four blocks of its own, ten messages each; 10 in the last 60 days.
        let f = AccountFeatures {
            history_days: 2_000,
            client_messages_recent: 10,
            client_messages_base: 60,
            message_blocks: vec![10; 4],
            ..AccountFeatures::default()
        };
        let chance = |snap: &Snapshot| Signal::ContactDrop.chance(&f, snap, &cfg).unwrap();
        let (steady, phased) = (chance(&team(Some(0.0))), chance(&team(Some(0.25))));
        assert!(steady < 0.05 && phased > 2.0 * steady, "{steady} {phased}");
        // A team steadier than activity_cv, or none learned yet: activity_cv.
        assert_eq!(steady, chance(&team(None)));
        // Its own blocks weigh more as they grow: a year of steady blocks leans
        // less on a phased team.
        let year = AccountFeatures {
            message_blocks: vec![10; 12],
            ..f.clone()
        };
        let chance_year = |snap: &Snapshot| Signal::ContactDrop.chance(&year, snap, &cfg).unwrap();
        let lean = |c: &dyn Fn(&Snapshot) -> f64| c(&team(Some(0.25))) / c(&team(Some(0.0)));
        assert!(
            lean(&chance_year) < lean(&chance),
            "{} {}",
            lean(&chance_year),
            lean(&chance)
        );
    }

    /// A sparse client's few replies, ranked among its earlier ones: three replies
    /// all slower than each of eight earlier ones are news (1 in 165 for one
    /// window), three in the middle of them are not.
    #[test]
    fn reply_delay_ranks_a_sparse_clients_replies() {
        let (cfg, snap) = (shipped(), snapshot());
        let account = |u2: i64| AccountFeatures {
            history_days: 2_000,
            reply_recent_h: Some(50.0),
            reply_recent_n: 3,
            reply_base_h: Some(6.0),
            reply_base_n: 8,
            reply_recent_u2: u2,
            ..AccountFeatures::default()
        };
        let s = Signal::ReplyDelay;
        let chance = |u2| s.chance(&account(u2), &snap, &cfg).unwrap();
        // Doubled for the choice of window; the quarter has no replies here.
        assert!(
            (chance(48) - 2.0 * 0.5 / 165.0).abs() < 1e-9,
            "{}",
            chance(48)
        );
        assert!(chance(24) > 0.4, "{}", chance(24));
        assert!(chance(46) > chance(48) && chance(46) < 0.05);
    }

    /// A fee raised at the contract shows from its first invoice: an invoice at the
    /// accounts export's monthly fee, above the earlier flat fee. Without one, the
    /// window's median speaks, and is no raise while most invoices are at the old
    /// fee.
    #[test]
    fn a_raised_fee_shows_from_its_first_invoice_at_the_contracted_fee() {
        let (cfg, snap) = (shipped(), snapshot());
        let account = |contracted: Option<f64>| AccountFeatures {
            history_days: 2_000,
            fee_base: Some(200_000.0),
            fee_base_n: 6,
            fee_base_flat: 5,
            fee_recent: Some(200_000.0),
            fee_contracted: contracted,
            ..AccountFeatures::default()
        };
        let s = Signal::FeeIncrease;
        let measure = |f: &AccountFeatures| s.measure(f, &snap, &cfg).unwrap();
        let raised = measure(&account(Some(260_000.0)));
        assert!((raised.value - 0.3).abs() < 1e-9, "{raised:?}");
        assert_eq!(raised.figures[..3], [260_000.0, 200_000.0, 1.0]);
        let text = s.reason(raised.figures, Language::En);
        assert!(
            text.contains("invoiced 260,000, the contracted monthly fee"),
            "{text}"
        );
        // No invoice at the contracted fee (an extra one, or no fee on record):
        // the median of the recent invoices speaks, still the old fee.
        let unconfirmed = measure(&account(None));
        assert_eq!((unconfirmed.value, unconfirmed.figures[2]), (0.0, 0.0));
        // A fee only where three in four earlier invoices were flat: one extra
        // invoice among six does not hide it, usage-based amounts have none.
        let usage = AccountFeatures {
            fee_base_flat: 4,
            ..account(Some(260_000.0))
        };
        assert_eq!(s.measure(&usage, &snap, &cfg), None);
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(num(52.0), "52");
        assert_eq!(num(4.96), "5");
        assert_eq!(num(4.25), "4.3");
        assert_eq!(yen(1_234_567.0), "1,234,567");
        assert_eq!(yen(-50_000.0), "-50,000");
    }

    /// Every window a row names is a key of config.toml's `[windows]`.
    #[test]
    fn rows_name_real_windows() {
        let shipped = include_str!("../config.toml")
            .parse::<toml::Table>()
            .unwrap();
        let windows = shipped["windows"].as_table().unwrap();
        for s in Signal::ALL {
            for w in s.row().windows {
                assert!(windows.contains_key(*w), "{}: {w}", s.key());
            }
        }
        let mut keys = Signal::keys();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Signal::ALL.len(), "keys are unique");
    }

    /// Fewer action items per held meeting than the account's own usual flags, with
    /// its chance; fewer meetings with as many items each does not, and an account
    /// without a baseline of items stays silent.
    #[test]
    fn action_items_per_meeting_drop() {
        let (cfg, snap) = (shipped(), snapshot());
        // Two items a meeting, 18 meetings in the baseline.
        let account = |held_recent, promised_recent| AccountFeatures {
            history_days: 2_000,
            held_base: 18,
            promised_base: 36,
            held_recent,
            promised_recent,
            ..AccountFeatures::default()
        };
        let s = Signal::ActionItemDrop;
        let p = s.params(&cfg);
        let value = |f: &AccountFeatures| s.measure(f, &snap, &cfg).unwrap().value;
        // 6 meetings, 1 item: a clear drop, unlikely by chance.
        let dropped = account(6, 1);
        assert!(value(&dropped) > p.full, "{}", value(&dropped));
        let chance = s.chance(&dropped, &snap, &cfg).unwrap();
        assert!(chance < 0.01, "{chance}");
        // 3 meetings with 2 items each: fewer meetings, the same engagement.
        assert!(value(&account(3, 6)) <= 0.0);
        // Monotone: fewer items never lowers the value.
        assert!(value(&account(6, 0)) >= value(&dropped));
        assert!(value(&account(6, 4)) < value(&dropped));
        // Silent without items in the baseline, or without recent meetings.
        let no_base = AccountFeatures {
            promised_base: 0,
            ..dropped.clone()
        };
        assert_eq!(s.measure(&no_base, &snap, &cfg), None);
        assert_eq!(s.measure(&account(1, 0), &snap, &cfg), None);
        let figures = s.measure(&dropped, &snap, &cfg).unwrap().figures;
        assert_eq!(
            s.reason(figures, Language::En),
            "1 action items agreed in 6 meetings over the last 60 days, usually 2 per meeting"
        );
        assert_eq!(
            s.reason(figures, Language::Ja),
            "直近60日の会議6回で合意したアクション 1件（通常は会議1回あたり2件）"
        );
    }

    /// A cadence that drifted (every gap longer) flags with evidence as strong as
    /// the slot model gives it; one long wait among usual gaps does not move the
    /// median; two gaps are too few.
    #[test]
    fn cadence_stretch_reads_the_median_gap() {
        let (cfg, snap) = (shipped(), snapshot());
        // Fortnightly, regular (sd 2 days over 12 gaps).
        let account = |median: f64, n: i64| AccountFeatures {
            history_days: 2_000,
            meeting_gap_base: Some(14.0),
            meeting_gap_base_sd: Some(2.0),
            meeting_gaps_base_n: 12,
            meeting_gap_recent_median: Some(median),
            meeting_gaps_recent_n: n,
            last_meeting_day: Some(19_990),
            ..AccountFeatures::default()
        };
        let s = Signal::CadenceStretch;
        let p = s.params(&cfg);
        let drifted = account(28.0, 4);
        let m = s.measure(&drifted, &snap, &cfg).unwrap();
        assert_eq!(m.value, 2.0);
        assert!(m.value >= p.full);
        // Every other meeting missed: a client who misses about one slot in twelve
        // (the shape its gaps give) does that about once in a hundred times, not
        // one in 100,000 as the gamma tail of its tight gaps said.
        let every_other = s.chance(&drifted, &snap, &cfg).unwrap();
        assert!((0.001..0.02).contains(&every_other), "{every_other}");
        // Every third meeting held: under one in a thousand.
        let tripled = s.chance(&account(42.0, 4), &snap, &cfg).unwrap();
        assert!(tripled < 0.001, "{tripled}");
        // One long wait among five gaps leaves the median at 15: nothing.
        assert!(s.measure(&account(15.0, 5), &snap, &cfg).unwrap().value < p.start);
        assert_eq!(s.measure(&account(28.0, 2), &snap, &cfg), None);
        // Monotone in the median, and less sure with a looser usual cadence.
        let looser = AccountFeatures {
            meeting_gap_base_sd: Some(7.0),
            ..drifted.clone()
        };
        assert!(s.chance(&looser, &snap, &cfg) > s.chance(&drifted, &snap, &cfg));
        assert!(
            s.measure(&account(21.0, 4), &snap, &cfg).unwrap().value < m.value,
            "a smaller stretch measures smaller"
        );
        assert_eq!(
            s.reason(m.figures, Language::En),
            "meetings every 28 days (median of 4 gaps) over the last 120 days, usually every 14"
        );
    }

    /// Week by week: a slide that holds builds the CUSUM up until it is unlikely by
    /// chance, a single quiet week among ordinary ones decays away, and a quiet
    /// holiday week is not held against the account.
    #[test]
    fn engagement_cusum_accumulates_a_slide_and_forgets_a_bad_week() {
        let cfg = shipped();
        // As of 2024-12-20: the 17 weeks watched hold no holiday.
        let date = chrono::NaiveDate::from_ymd_opt(2024, 12, 20).unwrap();
        let day = crate::calendar::day_number(date);
        let snap = Snapshot {
            as_of: date,
            day,
            open: crate::features::OpenDays::new(day, 600, 1.0),
            ..snapshot()
        };
        // 4 events a week over the 180-day baseline (about 103), 17 weeks watched.
        let account = |weeks: Vec<u32>| AccountFeatures {
            history_days: 2_000,
            held_base: 26,
            client_messages_base: 77,
            engagement_weeks: weeks,
            ..AccountFeatures::default()
        };
        let s = Signal::EngagementDecline;
        let chance = |f: &AccountFeatures| s.chance(f, &snap, &cfg).unwrap();
        // Ordinary weeks: nothing accumulates.
        let steady = account(vec![4; 17]);
        assert!(chance(&steady) > 0.9, "{}", chance(&steady));
        assert!(s.measure(&steady, &snap, &cfg).unwrap().value < s.params(&cfg).start);
        // One silent week two weeks ago: within chance, and no size.
        let mut blip = vec![4; 17];
        blip[2] = 0;
        let blip = account(blip);
        assert!(chance(&blip) > 0.2, "{}", chance(&blip));
        assert!(s.measure(&blip, &snap, &cfg).unwrap().value < s.params(&cfg).start);
        // Halved for the last 8 weeks: evidence, and a halving in size.
        let mut slide = vec![4; 17];
        slide[..8].fill(2);
        let slid = account(slide.clone());
        assert!(chance(&slid) < cfg.evidence.p_start, "{}", chance(&slid));
        let m = s.measure(&slid, &snap, &cfg).unwrap();
        assert_eq!(m.figures[..3], [16.0, 8.0 * 103.0 / 180.0 * 7.0, 8.0]);
        assert_eq!(
            s.reason(m.figures, Language::En),
            "client engagement down for 8 weeks: 16 meetings held and messages from the client, usually 32"
        );
        // Each further week of the slide adds evidence: 12 weeks are about 1 in 25,
        // all 17 weeks about 1 in 70 (the usual rate is itself only known from
        // 103 events, and four-weekly activity varies beyond chance).
        let mut longer = slide.clone();
        longer[8..12].fill(2);
        let longer = chance(&account(longer));
        assert!(longer < chance(&slid) && longer < 0.05, "{longer}");
        let all = chance(&account(vec![2; 17]));
        assert!(all < longer && all < 0.02, "{all}");
        let shorter = {
            let mut w = vec![4; 17];
            w[..4].fill(2);
            account(w)
        };
        assert!(chance(&shorter) > chance(&slid));
        // A recovery in the last week takes some evidence back.
        let mut recovered = slide;
        recovered[0] = 6;
        assert!(chance(&account(recovered)) > chance(&slid));
        // As of 2024-10-04, week 7 holds Obon (4 of its 7 days closed, for clients
        // who stop then): one event in it is what its open days lead one to expect.
        let obon = Snapshot {
            open: crate::features::OpenDays::new(20_000, 600, 0.0),
            ..snapshot()
        };
        let mut holiday = vec![4; 17];
        holiday[7] = 1;
        let p = s.chance(&account(holiday), &obon, &cfg).unwrap();
        assert!(p > 0.5, "{p}");
    }

    /// Two missed meetings in a row are ordinary for a weekly client that misses one
    /// slot in ten; six are not, and a client whose gaps vary widely needs longer.
    #[test]
    fn meeting_gap_reads_missed_slots() {
        let (cfg, snap) = (shipped(), snapshot());
        let account = |open: i32, sd: f64| AccountFeatures {
            history_days: 2_000,
            meeting_gap_base: Some(7.8),
            meeting_gap_base_sd: Some(sd),
            meeting_gaps_base_n: 40,
            last_meeting_day: Some(20_000 - open),
            ..AccountFeatures::default()
        };
        let s = Signal::MeetingGap;
        let chance = |f: &AccountFeatures| s.chance(f, &snap, &cfg).unwrap();
        // CV² about 0.1: a missed slot in ten.
        let regular = 7.8 * 0.1f64.sqrt();
        assert!(
            chance(&account(21, regular)) > 0.01,
            "{}",
            chance(&account(21, regular))
        );
        assert!(
            chance(&account(49, regular)) < 1e-4,
            "{}",
            chance(&account(49, regular))
        );
        assert!(chance(&account(49, 7.8)) > chance(&account(49, regular)));
        assert!(chance(&account(28, regular)) < chance(&account(21, regular)));
    }

    /// A shortfall is judged against the account's own usual attainment: a client
    /// steady at 85% is not news at 83%, one steady at 105% is at 83%.
    #[test]
    fn kpi_shortfall_is_judged_against_the_accounts_own_level() {
        let (cfg, snap) = (shipped(), snapshot());
        let account = |base: f64| AccountFeatures {
            history_days: 2_000,
            kpi_recent: Some(0.83),
            kpi_recent_n: 2,
            kpi_base: Some(base),
            kpi_base_n: 10,
            kpi_base_sd: Some(0.06),
            ..AccountFeatures::default()
        };
        let s = Signal::KpiShortfall;
        let chance = |f: &AccountFeatures| s.chance(f, &snap, &cfg).unwrap();
        // Within chance (about 1 in 7).
        assert!(chance(&account(0.85)) > 0.1, "{}", chance(&account(0.85)));
        assert!(chance(&account(1.05)) < 0.01, "{}", chance(&account(1.05)));
        // Never judged against more than the target.
        assert_eq!(chance(&account(1.05)), chance(&account(1.25)));
    }

    /// One bad month decays as soon as a normal one follows it: a client usually at
    /// 100% whose last two months were 70% and 100% is judged on the latest (no
    /// decline), while 100% then 70% (the latest month the bad one) and a decline
    /// that holds (72%, 68%) are judged on the two months' mean and say so.
    #[test]
    fn a_bad_kpi_month_decays_once_a_normal_month_follows() {
        let (cfg, snap) = (shipped(), snapshot());
        let account = |older: f64, latest: f64| AccountFeatures {
            history_days: 2_000,
            kpi_recent: Some((older + latest) / 2.0),
            kpi_recent_n: 2,
            kpi_recent_last: Some(latest),
            kpi_base: Some(1.0),
            kpi_base_n: 10,
            kpi_base_sd: Some(0.05),
            ..AccountFeatures::default()
        };
        let measure = |s: Signal, f: &AccountFeatures| s.measure(f, &snap, &cfg).unwrap();
        let chance = |s: Signal, f: &AccountFeatures| s.chance(f, &snap, &cfg).unwrap();
        for s in [Signal::KpiShortfall, Signal::KpiDecline] {
            let recovered = account(0.70, 1.00);
            assert!(
                measure(s, &recovered).value <= 0.0,
                "{s:?}: back at its level"
            );
            assert!(chance(s, &recovered) > 0.4, "{s:?}");
            let latest_bad = account(1.00, 0.70);
            assert!(
                (measure(s, &latest_bad).value - 0.15).abs() < 1e-9,
                "{s:?}: the mean"
            );
            assert!(chance(s, &latest_bad) < 0.01, "{s:?}");
            let holding = account(0.72, 0.68);
            assert!(chance(s, &holding) < chance(s, &latest_bad), "{s:?}");
            // Partly recovered (60% then 80%): judged on the latest month, and the
            // reason says so.
            let partly = account(0.60, 0.80);
            let m = measure(s, &partly);
            assert!((m.value - 0.20).abs() < 1e-9, "{s:?}: the latest month");
            assert!(s.reason(m.figures, Language::En).contains("latest month"));
            assert!(
                !s.reason(measure(s, &holding).figures, Language::En)
                    .contains("latest")
            );
        }
    }

    /// Held meetings are scheduled slots: a clockwork fortnightly client holding 1
    /// meeting in 60 days is news, one whose meetings come and go is not, and 3 of
    /// about 4 slots is ordinary for either.
    #[test]
    fn meeting_drop_counts_slots_of_a_regular_cadence() {
        let (cfg, snap) = (shipped(), snapshot());
        let account = |held_recent: i64, sd: f64| AccountFeatures {
            history_days: 2_000,
            held_base: 13,
            held_recent,
            meeting_gap_base: Some(14.0),
            meeting_gap_base_sd: Some(sd),
            meeting_gaps_base_n: 12,
            ..AccountFeatures::default()
        };
        let s = Signal::MeetingDrop;
        let chance = |f: &AccountFeatures| s.chance(f, &snap, &cfg).unwrap();
        assert!(
            chance(&account(1, 2.0)) < 0.01,
            "{}",
            chance(&account(1, 2.0))
        );
        assert!(
            chance(&account(1, 14.0)) > 0.05,
            "{}",
            chance(&account(1, 14.0))
        );
        assert!(
            chance(&account(3, 2.0)) > 0.1,
            "{}",
            chance(&account(3, 2.0))
        );
        assert!(chance(&account(0, 2.0)) < chance(&account(1, 2.0)));
    }
}
