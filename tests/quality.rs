//! Detection quality on generated data with planted ground truth, over several seeds,
//! with the shipped thresholds: recall and primary-category accuracy per category, and
//! false positives over healthy, noisy-healthy, quiet and new accounts.

use std::collections::{BTreeMap, HashMap};

use crate::util::*;

// Not the seeds the thresholds were developed on (101..=505 by 101).
const SEEDS: [u64; 5] = [7, 19, 23, 57, 88];
const CATEGORIES: [&str; 4] = ["outcome", "expectation", "discomfort", "cost"];

#[derive(Default)]
struct Tally {
    stressed: BTreeMap<&'static str, (usize, usize, usize)>, // total, flagged, right primary
    /// Total and flagged by category and whether the stress began 75 or more days
    /// before the as-of date (the generator's onsets are 45 to 150 days back).
    by_age: BTreeMap<(&'static str, bool), (usize, usize)>,
    calm: usize,
    calm_flagged: usize,
    calm_flagged_ids: Vec<String>,
}

/// Runs the nightly job on `ws` as of END and returns scores.csv by account id.
fn scores_by_id(ws: &Workspace, seed: u64) -> HashMap<String, HashMap<String, String>> {
    let out = ws.run(END, &["--quiet"]);
    assert!(out.status.success(), "seed {seed}: {}", stderr(&out));
    read_csv(&ws.read("out/scores.csv"))
        .into_iter()
        .map(|r| (r["account_id"].clone(), r))
        .collect()
}

fn tally(seed: u64, t: &mut Tally) {
    let ws = Workspace::sample(seed, 400).without_overrides();
    let scores = scores_by_id(&ws, seed);
    for truth in ws.truth() {
        let Some(score) = scores.get(&truth["account_id"]) else {
            continue; // churned before the as-of date: not scored
        };
        let flagged = score["flagged"] == "true";
        match truth["scenario"].as_str() {
            "stressed" => {
                let cat = CATEGORIES
                    .iter()
                    .find(|c| **c == truth["category"])
                    .expect("stressed accounts have a category");
                let onset = chrono::NaiveDate::parse_from_str(&truth["onset"], "%Y-%m-%d")
                    .expect("stressed accounts have an onset");
                let end = chrono::NaiveDate::parse_from_str(END, "%Y-%m-%d").unwrap();
                let a = t
                    .by_age
                    .entry((cat, (end - onset).num_days() >= 75))
                    .or_default();
                a.0 += 1;
                a.1 += usize::from(flagged);
                let e = t.stressed.entry(cat).or_default();
                e.0 += 1;
                if flagged {
                    e.1 += 1;
                    if score["primary_category"] == *cat {
                        e.2 += 1;
                    }
                }
            }
            "healthy" | "healthy_blip" | "quiet" | "new" => {
                t.calm += 1;
                if flagged {
                    t.calm_flagged += 1;
                    t.calm_flagged_ids.push(format!(
                        "seed {seed} {} ({}): {} {}",
                        truth["account_id"],
                        truth["scenario"],
                        score["primary_category"],
                        score["reasons"]
                    ));
                }
            }
            _ => {}
        }
    }
}

#[test]
fn planted_stress_is_found_and_calm_accounts_are_not_flagged() {
    let mut t = Tally::default();
    for seed in SEEDS {
        tally(seed, &mut t);
    }
    println!("detection quality over seeds {SEEDS:?} (400 accounts each, shipped config):");
    let mut failures = Vec::new();
    for cat in CATEGORIES {
        let (total, flagged, right) = t.stressed.get(cat).copied().unwrap_or_default();
        let recall = flagged as f64 / total.max(1) as f64;
        let accuracy = right as f64 / flagged.max(1) as f64;
        let share = |old| {
            let (n, f) = t.by_age.get(&(cat, old)).copied().unwrap_or_default();
            format!("{:.2} of {n}", f as f64 / n.max(1) as f64)
        };
        println!(
            "  {cat:<12} stressed {total:>3}  recall {recall:.3}  primary accuracy {accuracy:.3}  \
             (recall when the stress began 45-74 days ago: {}; 75-150 days ago: {})",
            share(false),
            share(true)
        );
        if total < 20 {
            failures.push(format!("{cat}: only {total} planted accounts"));
        }
        // Issues #3 and #10: 0.90 in every category, 0.95 for stress that began 75
        // or more days ago.
        if recall < 0.90 {
            failures.push(format!("{cat}: recall {recall:.3} < 0.90"));
        }
        let (old, found) = t.by_age.get(&(cat, true)).copied().unwrap_or_default();
        if (found as f64) < 0.95 * old as f64 {
            failures.push(format!(
                "{cat}: recall {found} of {old} < 0.95 (began ≥ 75 days ago)"
            ));
        }
        if accuracy < 0.80 {
            failures.push(format!("{cat}: primary accuracy {accuracy:.3} < 0.80"));
        }
    }
    let fpr = t.calm_flagged as f64 / t.calm.max(1) as f64;
    println!(
        "  false positives: {} of {} healthy/blip/quiet/new accounts = {fpr:.3}",
        t.calm_flagged, t.calm
    );
    for id in t.calm_flagged_ids.iter().take(10) {
        println!("    {id}");
    }
    if fpr > 0.05 {
        failures.push(format!("false-positive rate {fpr:.3} > 0.05"));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Generator-independent noise on every account, calm ones included: some messages
/// never answered, some promises kept a week late, a few invoices disputed. Signals
/// judged against each account's own usual level must not turn that into flags.
#[test]
fn uniform_noise_does_not_flag_calm_accounts() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut chance = move |p: f64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) < p
    };
    let (mut calm, mut flagged) = (0, 0);
    for seed in [61, 62] {
        let ws = Workspace::sample(seed, 400).without_overrides();
        edit_rows(&ws, "data/messages.csv", |h, f| {
            if chance(0.06) {
                f[pos(h, "first_response_at")].clear();
            }
        });
        edit_rows(&ws, "data/action_items.csv", |h, f| {
            let (done, due) = (pos(h, "done_on"), pos(h, "due_on"));
            if !f[done].is_empty() && chance(0.12) {
                let late = chrono::NaiveDate::parse_from_str(&f[due], "%Y-%m-%d").unwrap()
                    + chrono::Duration::days(8);
                if late.to_string().as_str() <= END {
                    f[done] = late.to_string();
                }
            }
        });
        edit_rows(&ws, "data/invoices.csv", |h, f| {
            if chance(0.03) {
                f[pos(h, "disputed")] = "true".to_owned();
            }
        });
        assert!(ws.run(END, &["--quiet"]).status.success());
        let scores: HashMap<String, String> = read_csv(&ws.read("out/scores.csv"))
            .into_iter()
            .map(|r| (r["account_id"].clone(), r["flagged"].clone()))
            .collect();
        for t in ws.truth() {
            if ["healthy", "healthy_blip", "quiet", "new"].contains(&t["scenario"].as_str())
                && let Some(f) = scores.get(&t["account_id"])
            {
                calm += 1;
                flagged += usize::from(f == "true");
            }
        }
    }
    let fpr = flagged as f64 / calm as f64;
    println!("false positives under uniform noise: {flagged} of {calm} = {fpr:.3}");
    assert!(
        fpr <= 0.05,
        "false-positive rate {fpr:.3} under uniform noise"
    );
}

/// What a stressed or calm account counts towards, in the stratified test.
#[derive(Default)]
struct Strata {
    /// (group, total, flagged) where group names a category and a stratum.
    stressed: BTreeMap<String, (usize, usize)>,
    /// Flagged with the planted category as primary, of flagged stressed accounts.
    right: (usize, usize),
    calm: BTreeMap<String, (usize, usize)>,
    /// Every calm account's risk score, and every stressed account's with its
    /// category: for the recall at a fixed false-positive rate.
    calm_risks: Vec<f64>,
    stressed_risks: Vec<(String, bool, f64)>,
}

impl Strata {
    fn add(map: &mut BTreeMap<String, (usize, usize)>, key: String, flagged: bool) {
        let e = map.entry(key).or_default();
        e.0 += 1;
        e.1 += usize::from(flagged);
    }

    /// Every test seed's `sample` with `extra` flags, scored as of END: each
    /// stressed account by category and volume tier, onset age and severity, each
    /// calm one by tier and scenario.
    fn collect(extra: &[&str]) -> Strata {
        let mut s = Strata::default();
        for seed in SEEDS {
            let ws = Workspace::sample_with(seed, 400, extra).without_overrides();
            let scores = scores_by_id(&ws, seed);
            let end = chrono::NaiveDate::parse_from_str(END, "%Y-%m-%d").unwrap();
            for t in ws.truth() {
                let Some(score) = scores.get(&t["account_id"]) else {
                    continue;
                };
                let flagged = score["flagged"] == "true";
                let risk: f64 = score["risk_score"].parse().unwrap();
                let volume = t["volume"].clone();
                match t["scenario"].as_str() {
                    "stressed" => {
                        let cat = t["category"].clone();
                        let onset =
                            chrono::NaiveDate::parse_from_str(&t["onset"], "%Y-%m-%d").unwrap();
                        let old = (end - onset).num_days() >= 75;
                        let age = if old {
                            "began ≥75 d ago"
                        } else {
                            "began <75 d ago"
                        };
                        let severity: f64 = t["severity"].parse().unwrap();
                        let strength = if severity >= 0.8 { "strong" } else { "mild" };
                        s.stressed_risks.push((cat.clone(), old, risk));
                        for stratum in ["all", volume.as_str(), age, strength] {
                            Strata::add(&mut s.stressed, format!("{cat:<12} {stratum}"), flagged);
                        }
                        if flagged {
                            s.right.1 += 1;
                            s.right.0 += usize::from(score["primary_category"] == cat);
                        }
                    }
                    "healthy" | "healthy_blip" | "quiet" | "new" => {
                        s.calm_risks.push(risk);
                        for group in ["all", volume.as_str(), t["scenario"].as_str()] {
                            Strata::add(&mut s.calm, group.to_owned(), flagged);
                        }
                    }
                    _ => {}
                }
            }
        }
        s
    }

    /// Prints every figure under `title`; returns the primary-category accuracy.
    fn print(&self, title: &str) -> f64 {
        let rate = |(n, f): (usize, usize)| f as f64 / n.max(1) as f64;
        println!("{title}, seeds {SEEDS:?}, 400 accounts each, shipped config");
        println!("  recall (flagged / planted):");
        for (key, v) in &self.stressed {
            println!("    {key:<30} {:.3} of {}", rate(*v), v.0);
        }
        println!("  false positives (flagged / calm):");
        for (key, v) in &self.calm {
            println!("    {key:<30} {:.3} of {}", rate(*v), v.0);
        }
        let accuracy = self.right.0 as f64 / self.right.1.max(1) as f64;
        println!("  primary-category accuracy {accuracy:.3}");
        println!("  recall (all / began ≥75 d ago) at a fixed false-positive rate, any threshold:");
        for fpr in [0.02, 0.03] {
            let (threshold, rows) = self.recall_at(fpr);
            let rows: Vec<String> = rows
                .iter()
                .map(|(c, all, old)| format!("{c} {all:.3}/{old:.3}"))
                .collect();
            println!("    at {fpr} (risk ≥ {threshold}): {}", rows.join(", "));
        }
        accuracy
    }

    /// Recall per category (all, and stress begun ≥ 75 days ago) at the lowest
    /// whole-point risk that flags at most `fpr` of the calm accounts. Two scorers
    /// are better or worse only at the same false-positive rate: compared at the
    /// shipped threshold, a change that flags more of everything looks like a gain.
    fn recall_at(&self, fpr: f64) -> (f64, Vec<(String, f64, f64)>) {
        let allowed = (fpr * self.calm_risks.len() as f64).floor() as usize;
        // The threshold: the smallest whole point above which at most `allowed`
        // calm accounts score.
        let above = |t: f64| self.calm_risks.iter().filter(|&&r| r >= t).count();
        let threshold = (0..=101)
            .map(f64::from)
            .find(|&t| above(t) <= allowed)
            .unwrap_or(101.0);
        let recall = |cat: &str, old_only: bool| {
            let xs: Vec<f64> = self
                .stressed_risks
                .iter()
                .filter(|(c, old, _)| c == cat && (*old || !old_only))
                .map(|r| r.2)
                .collect();
            xs.iter().filter(|&&r| r >= threshold).count() as f64 / xs.len().max(1) as f64
        };
        let rows = CATEGORIES
            .iter()
            .map(|&c| (c.to_owned(), recall(c, false), recall(c, true)))
            .collect();
        (threshold, rows)
    }
}

/// Detection on exports that vary what real ones vary (`sample --varied`): sparse,
/// medium and dense accounts, each account's own KPI spread, holiday weeks. Every
/// figure is printed by volume tier, by how long ago the stress began and by its
/// severity. Asserted: the false-positive targets of issue #10 (≤ 0.03 over all calm
/// accounts, ≤ 0.05 in every tier and among healthy accounts with one or two
/// isolated bad events: `healthy_blip`, whose bad week has a second bad event weeks
/// apart about half the time) and
/// primary-category accuracy. Recall is asserted only as a regression floor (0.70):
/// the 0.90 is not reached on sparse accounts yet (see the README).
#[test]
fn varied_exports_stratified_by_volume_onset_and_severity() {
    let s = Strata::collect(&["--varied"]);
    let accuracy = s.print("varied exports");
    let rate = |(n, f): (usize, usize)| f as f64 / n.max(1) as f64;
    let mut failures = Vec::new();
    for (group, limit) in [
        ("all", 0.03),
        ("sparse", 0.05),
        ("medium", 0.05),
        ("dense", 0.05),
        ("healthy_blip", 0.05),
    ] {
        let v = s.calm.get(group).copied().unwrap_or_default();
        if v.0 < 50 {
            failures.push(format!("only {} calm accounts in {group}", v.0));
        } else if rate(v) > limit {
            failures.push(format!(
                "false positives in {group}: {:.3} > {limit}",
                rate(v)
            ));
        }
    }
    for cat in CATEGORIES {
        let v = s.stressed[&format!("{cat:<12} all")];
        if rate(v) < 0.70 {
            failures.push(format!("{cat}: recall {:.3} < 0.70", rate(v)));
        }
    }
    if accuracy < 0.90 {
        failures.push(format!("primary accuracy {accuracy:.3} < 0.90"));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// How detection generalises: the varied exports made harder than the ones the
/// thresholds were chosen on, with clients up to twice as bursty (four-weekly
/// message rates spread up to 1.2 on the log scale, not 0.6) and KPIs up to ±25% a
/// month (not 15%). Every figure is printed; asserted are the limits a manager
/// would still accept (issue #10's per-tier 0.05 over all calm accounts, and the
/// primary category right nine times in ten): the figures to watch when a change
/// helps the usual exports only.
#[test]
fn harder_exports_than_the_thresholds_were_chosen_on() {
    let s = Strata::collect(&["--varied", "--phase-spread", "1.2", "--kpi-noise", "0.25"]);
    let accuracy = s.print("harder varied exports (--phase-spread 1.2 --kpi-noise 0.25)");
    let all = s.calm["all"];
    let fp = all.1 as f64 / all.0 as f64;
    assert!(fp <= 0.05, "false positives {fp:.3} > 0.05");
    assert!(accuracy >= 0.90, "primary accuracy {accuracy:.3} < 0.90");
}

/// Each signal's chance means what its reason says: on calm accounts of varied
/// exports (1,300 over the test seeds), "one in 1,000" happens at most about one
/// time in 1,000, and "one in 10,000" about never. A tail far lighter than the data
/// (the gamma model of meeting gaps did this on weekly clients: 85 times too often)
/// fails here long before it shows as false flags.
#[test]
fn chances_are_calibrated_on_calm_accounts() {
    use churnwatch::config::Config;
    use churnwatch::pipeline::{load, score_as_of};
    use churnwatch::scoring::{Signal, measured};

    // (signal, calm accounts, below 0.001, below 0.0001)
    let mut tally: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for seed in SEEDS {
        let ws = Workspace::sample_with(seed, 400, &["--varied"]).without_overrides();
        let cfg = Config::load(&ws.path("config.toml"), &Signal::keys()).expect("config");
        let loaded = load(&cfg).expect("exports");
        let as_of = chrono::NaiveDate::parse_from_str(END, "%Y-%m-%d").unwrap();
        let (snap, _) = score_as_of(&loaded, &cfg, as_of).expect("features");
        let scenario: HashMap<String, String> = ws
            .truth()
            .into_iter()
            .map(|t| (t["account_id"].clone(), t["scenario"].clone()))
            .collect();
        for f in &snap.accounts {
            let id = &loaded.info.id[f.acct as usize];
            if !["healthy", "healthy_blip", "quiet", "new"].contains(&scenario[id].as_str()) {
                continue;
            }
            let chances = measured(f, &snap, &cfg);
            for signal in Signal::ALL.iter().filter(|s| s.is_tested()) {
                let p = chances.iter().find(|m| m.0 == *signal).and_then(|m| m.3);
                let t = tally.entry(signal.key()).or_default();
                t.0 += 1;
                t.1 += usize::from(p.is_some_and(|p| p < 1e-3));
                t.2 += usize::from(p.is_some_and(|p| p < 1e-4));
            }
        }
    }
    println!("calm accounts whose chance falls below 0.001 / 0.0001, per signal:");
    let mut failures = Vec::new();
    for (signal, (n, below3, below4)) in &tally {
        let (r3, r4) = (*below3 as f64 / *n as f64, *below4 as f64 / *n as f64);
        println!("  {signal:<22} {r3:.4} {r4:.4} of {n}");
        // Four times the nominal rate at 0.001 (sampling noise at this size), and
        // at most one account in 1,000 below 0.0001.
        if r3 > 0.004 || r4 > 0.001 {
            failures.push(format!(
                "{signal}: {r3:.4} below 0.001, {r4:.4} below 0.0001"
            ));
        }
    }
    assert!(tally.len() > 15, "every tested signal is counted");
    assert!(failures.is_empty(), "{failures:#?}");
}
