//! Scoring: pure functions from [`AccountFeatures`] to the four category scores, the
//! risk score and the reasons. No IO.
//!
//! Explainable by construction: every point comes from one named [`Signal`] with its
//! measured value, its reference and its configured weight, and the reason text is
//! written from those same numbers.

use crate::config::{Config, Language, SignalParams};
use crate::evidence::{chi2_sf_even, one_in, strength};
use crate::features::{AccountFeatures, Snapshot};

pub use crate::signals::{Measure, Signal};
pub use crate::vocabulary::{Category, RiskLevel};

/// One signal's contribution to an account's score.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub signal: Signal,
    pub measure: Measure,
    /// How often a change at least this large happens by chance for this account
    /// ([`Signal::chance`]); `None` for facts.
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

/// `0` at `start`, `1` at `full` and beyond.
pub fn severity(value: f64, p: SignalParams) -> f64 {
    ((value - p.start) / (p.full - p.start)).clamp(0.0, 1.0)
}

/// Every signal measurable for the account: its measure, its size (0–1) and, for a
/// tested signal whose change is large enough to matter, its chance. What scoring
/// weighs, and what `examples/calibration.rs` and the calibration test check.
pub fn measured(
    f: &AccountFeatures,
    snap: &Snapshot,
    cfg: &Config,
) -> Vec<(Signal, Measure, f64, Option<f64>)> {
    Signal::ALL
        .iter()
        .filter_map(|&signal| {
            // A signal weighed 0 is switched off: no points, and no say in its
            // category's evidence either.
            if signal.params(cfg).weight <= 0.0 {
                return None;
            }
            let measure = signal.measure(f, snap, cfg)?;
            let size = severity(measure.value, signal.params(cfg));
            // A change too small to matter needs no test (and most are).
            // A tail beyond what f64 holds is still a chance, not an impossibility.
            // Not a number (an empty baseline with no prior) is no evidence.
            let chance = if size > 0.0 {
                signal.chance(f, snap, cfg).map(|p| {
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
        .collect()
}

/// Two signals that read the same recent KPI months: one test between them.
const SAME_READING: [Signal; 2] = [Signal::KpiShortfall, Signal::KpiDecline];

/// Scores one account. Monotone: a larger stress value never lowers any score.
pub fn score(f: &AccountFeatures, snap: &Snapshot, cfg: &Config) -> AccountScore {
    let e = &cfg.evidence;
    let measured = measured(f, snap, cfg);
    // A category's evidence combines every test the account's data supports, with
    // Fisher's method (-2 Σ ln p ~ χ² with 2k degrees of freedom, k the tests): a
    // signal that did not change enough to matter counts as p = 1, so several
    // modest changes together can be news and one lucky test among many is not.
    // The two KPI signals read the same months: one test between them, the smaller
    // chance doubled. Which tests the data supports does not depend on the recent
    // window's stress (a share with too few recent events is "no change", not
    // "no test"), so more stress, a smaller p or one more changed signal, never
    // weakens the evidence: scores stay monotone.
    let mut category_evidence = [0.0; 4];
    for c in Category::ALL {
        let (mut statistic, mut tests, mut changed) = (0.0, 0usize, false);
        let mut pair: Option<f64> = None;
        for m in measured
            .iter()
            .filter(|m| m.0.category() == c && m.0.is_tested())
        {
            // A measurable signal that did not change enough to matter counts as p = 1.
            let p = m.3.filter(|_| m.2 > 0.0);
            changed |= p.is_some();
            let p = p.unwrap_or(1.0);
            if SAME_READING.contains(&m.0) {
                pair = Some(pair.map_or(p, |q: f64| q.min(p)));
                continue;
            }
            statistic += -2.0 * p.max(1e-300).ln();
            tests += 1;
        }
        if let Some(p) = pair {
            statistic += -2.0 * (2.0 * p).clamp(1e-300, 1.0).ln();
            tests += 1;
        }
        if changed {
            let p = chi2_sf_even(statistic, 2 * tests);
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
            let points = (signal.params(cfg).weight * severity * 10.0).round() / 10.0;
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
    let level = level_of(risk, cfg);
    AccountScore {
        acct: f.acct,
        categories,
        risk,
        level,
        primary,
        findings,
    }
}

/// The level of a risk, by the whole-point risk_score the CSV shows: a 39.6 written as
/// 40 must be flagged like any other 40.
pub fn level_of(risk: f64, cfg: &Config) -> RiskLevel {
    let shown = risk.round();
    if shown >= cfg.flags.high {
        RiskLevel::High
    } else if shown >= cfg.flags.medium {
        RiskLevel::Medium
    } else {
        RiskLevel::Low
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

/// The reason text for a finding, in the configured language, from the finding's own
/// figures.
pub fn describe(finding: &Finding, lang: Language) -> String {
    let change = finding.signal.reason(finding.measure.figures, lang);
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

/// The playbook's advice for an account: the entry of its primary category's top
/// signal where the playbook has one (the most precise advice), else its primary
/// category's; in the configured language.
pub fn next_action<'a>(score: &AccountScore, cfg: &'a Config) -> Option<&'a str> {
    let primary = score.primary?;
    let top = score
        .findings
        .iter()
        .find(|f| f.signal.category() == primary);
    top.and_then(|f| cfg.playbook.get(f.signal.key()))
        .or_else(|| cfg.playbook.get(primary.as_str()))
        .map(|a| a.text(cfg.language))
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

    use crate::signals::tests::{shipped, snapshot};

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
            |f: &AccountFeatures, from| Signal::MeetingDrop.measure(f, &snap(from), &cfg);
        let expected = |f, from| measured(f, from).map(|m| m.figures[1]);
        let severe = |f| {
            severity(
                measured(f, Some(0)).unwrap().value,
                Signal::MeetingDrop.params(&cfg),
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
            let m = Signal::ClientCancellations
                .measure(&f, &snap, &cfg)
                .unwrap();
            severity(m.value, Signal::ClientCancellations.params(&cfg))
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
            Signal::AttendanceDrop
                .measure(&f, &snap, &cfg)
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
}
