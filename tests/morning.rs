//! The morning view: flagged_since, change and next_action, the cohort scoring they
//! stand on, the digest and the per-manager files.

use std::collections::HashMap;

use chrono::NaiveDate;
use churnwatch::config::Config;
use churnwatch::pipeline::{Cohort, load, score_as_of, score_cohort_as_of};
use churnwatch::signals::Signal;

use crate::util::*;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A cohort's scores are exactly its accounts' entries of the full scoring (the
/// team's norms still come from every account), on dates across the cohort's range.
#[test]
fn a_cohort_scores_exactly_like_the_full_run() {
    let ws = Workspace::sample_with(61, 160, &["--varied"]);
    let cfg = Config::load(&ws.path("config.toml"), &Signal::keys()).unwrap();
    let loaded = load(&cfg).unwrap();
    let dates = ["2026-05-29", "2026-08-21", "2026-11-13"].map(date);
    let (_, full) = score_as_of(&loaded, &cfg, dates[2]).unwrap();
    // Every third account, and the flagged ones among them.
    let mut accts: Vec<u32> = full.iter().map(|s| s.acct).filter(|a| a % 3 == 0).collect();
    accts.sort_unstable();
    let cohort = Cohort::new(&loaded.frames, &accts, &cfg.windows, (dates[0], dates[2])).unwrap();
    for d in dates {
        let (snap, full) = score_as_of(&loaded, &cfg, d).unwrap();
        assert!(snap.team_reply_h.is_some(), "the norm is exercised on {d}");
        let full: HashMap<u32, _> = full.into_iter().map(|s| (s.acct, s)).collect();
        let part = score_cohort_as_of(&loaded, &cohort, &cfg, d).unwrap();
        assert!(!part.is_empty());
        for s in &part {
            assert_eq!(Some(s), full.get(&s.acct), "account {} on {d}", s.acct);
        }
        let expected = accts.iter().filter(|a| full.contains_key(a)).count();
        assert_eq!(part.len(), expected, "every active cohort account on {d}");
    }
}

/// Every flagged account has its morning columns; `flagged_since` is on the weekly
/// grid and no later than today, `change` is one of its two words, and the advice
/// is the playbook's for its primary category or top signal.
#[test]
fn flagged_rows_carry_the_morning_columns() {
    let ws = Workspace::sample(62, 200);
    let out = ws.run(END, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = ws.read("out/flagged_accounts.csv");
    let header = header_of(&text);
    let reasons = pos(&header, "reasons");
    assert_eq!(
        &header[reasons + 1..],
        ["flagged_since", "change", "next_action"],
        "appended after reasons"
    );
    let rows = read_csv(&text);
    assert!(rows.len() >= 5, "the sample flags accounts");
    let end = date(END);
    let shipped = Config::load(&project_root().join("config.toml"), &Signal::keys()).unwrap();
    let advice: Vec<&str> = shipped.playbook.values().map(|a| a.ja.as_str()).collect();
    for r in &rows {
        let since = date(&r["flagged_since"]);
        let weeks = (end - since).num_days();
        assert!(weeks % 7 == 0 && (0..=26 * 7).contains(&weeks), "{since}");
        assert!(
            ["", "new", "rising"].contains(&r["change"].as_str()),
            "{}",
            r["change"]
        );
        assert!(
            advice.contains(&r["next_action"].as_str()),
            "{}",
            r["next_action"]
        );
        // A new flag started this week.
        if r["change"] == "new" {
            assert_eq!(since, end, "{}", r["account_id"]);
        }
    }
    // scores.csv: the same columns after `flagged`, empty for calm accounts.
    let scores = ws.read("out/scores.csv");
    let header = header_of(&scores);
    let flagged = pos(&header, "flagged");
    assert_eq!(
        pos(&header, "reasons") + 1,
        flagged,
        "contract columns keep their place"
    );
    assert_eq!(
        &header[flagged + 1..],
        ["flagged_since", "change", "next_action"]
    );
    for r in read_csv(&scores) {
        let calm = r["flagged"] == "false";
        assert_eq!(calm, r["flagged_since"].is_empty(), "{}", r["account_id"]);
        assert_eq!(calm, r["next_action"].is_empty(), "{}", r["account_id"]);
    }
}

/// A backfill for a week earlier, then the nightly run, gives the same outputs as the
/// nightly run alone: the history is recomputed from the exports, not remembered.
#[test]
fn a_backfill_then_a_run_equals_the_run_alone() {
    let ws = Workspace::sample(63, 150);
    assert!(ws.run_into(END, "alone").status.success());
    assert!(ws.run_into("2026-11-13", "both").status.success());
    assert!(ws.run_into(END, "both").status.success());
    ws.assert_same_outputs(
        "alone",
        "both",
        &["flagged_accounts.csv", "scores.csv", "evidence.csv"],
        "a backfill before the run",
    );
}
