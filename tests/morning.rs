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
    let cohort = Cohort::new(&loaded.frames, &accts, &loaded.norms).unwrap();
    for d in dates {
        let (snap, full) = score_as_of(&loaded, &cfg, d).unwrap();
        assert!(snap.team_reply_h.is_some(), "the norm is exercised on {d}");
        assert!(snap.team_attendance.is_some(), "attendance too on {d}");
        // The team's norms (from a log of every account's rows) are what every
        // active account's own figures add up to on that date.
        let part = cohort.snapshot(&cfg.windows, d, cfg.time_zone).unwrap();
        let (attended, invited) = snap.accounts.iter().fold((0, 0), |(a, i), f| {
            (a + f.attended_base, i + f.invited_base)
        });
        let attendance = (invited > 0).then(|| attended as f64 / invited as f64);
        let proposals = snap.accounts.iter().any(|f| f.last_proposal_day.is_some());
        for norms in [&snap, &part] {
            assert_eq!(norms.team_attendance, attendance, "attendance on {d}");
            assert_eq!(norms.proposals_recorded, proposals, "proposals on {d}");
            assert_eq!(norms.team_reply_h, snap.team_reply_h, "reply norm on {d}");
        }
        let full: HashMap<u32, _> = full.into_iter().map(|s| (s.acct, s)).collect();
        let part = score_cohort_as_of(&cohort, &cfg, d).unwrap();
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
    morning_columns_are_filled(Workspace::sample(62, 200));
}

/// The same on the shipped sample (`data/`).
#[test]
fn the_shipped_samples_flagged_rows_carry_the_morning_columns() {
    morning_columns_are_filled(Workspace::shipped());
}

fn morning_columns_are_filled(ws: Workspace) {
    let out = ws.run(END, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = ws.read("out/flagged_accounts.csv");
    let header = header_of(&text);
    let reasons = pos(&header, "reasons");
    assert_eq!(
        &header[reasons + 1..],
        ["flagged_since", "change", "next_action", "override"],
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
        // A calm account a manager flagged has no category of its own to advise on.
        let by_manager = r["override"].starts_with("flag") && r["primary_category"].is_empty();
        assert!(
            advice.contains(&r["next_action"].as_str()) || by_manager,
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
        ["flagged_since", "change", "next_action", "override"]
    );
    for r in read_csv(&scores) {
        let calm = r["flagged"] == "false";
        assert_eq!(calm, r["flagged_since"].is_empty(), "{}", r["account_id"]);
        if r["override"].is_empty() {
            assert_eq!(calm, r["next_action"].is_empty(), "{}", r["account_id"]);
        }
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
        &[
            "flagged_accounts.csv",
            "scores.csv",
            "evidence.csv",
            "digest.html",
        ],
        "a backfill before the run",
    );
}

/// An attribute of a tag, as text.
fn attr(tag: &tl::HTMLTag, name: &str) -> Option<String> {
    let value = tag.attributes().get(name)??;
    Some(value.as_utf8_str().into_owned())
}

/// The digest has a section per manager whose account rows are that manager's file,
/// in its order; together they are flagged_accounts.csv; the page is self-contained.
#[test]
fn the_digest_has_each_managers_rows_as_their_file() {
    digest_sections_are_manager_files(Workspace::sample(64, 200));
}

/// The same on the shipped sample (`data/`).
#[test]
fn the_shipped_samples_digest_has_each_managers_rows_as_their_file() {
    digest_sections_are_manager_files(Workspace::shipped());
}

fn digest_sections_are_manager_files(ws: Workspace) {
    let out = ws.run(END, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = ws.read("out/digest.html");
    let dom = tl::parse(&html, tl::ParserOptions::default()).expect("digest.html parses");
    let parser = dom.parser();
    let sections: Vec<&tl::HTMLTag> = dom
        .query_selector("section.manager")
        .unwrap()
        .filter_map(|h| h.get(parser)?.as_tag())
        .collect();
    let managers: std::collections::BTreeSet<String> = read_csv(&ws.read("out/scores.csv"))
        .into_iter()
        .map(|r| r["manager"].clone())
        .collect();
    assert_eq!(
        sections.len(),
        managers.len(),
        "a section per manager (and one for none)"
    );
    let mut seen = Vec::new();
    for section in &sections {
        let file = attr(section, "data-file").expect("a section names its file");
        let rows: Vec<String> = section
            .query_selector(parser, "tr.account")
            .unwrap()
            .filter_map(|h| attr(h.get(parser)?.as_tag()?, "data-account"))
            .collect();
        let csv = read_csv(&ws.read(&format!("out/{file}")));
        let ids: Vec<String> = csv.iter().map(|r| r["account_id"].clone()).collect();
        assert_eq!(rows, ids, "{file}");
        let manager = attr(section, "data-manager").unwrap_or_default();
        assert!(csv.iter().all(|r| r["manager"] == manager), "{file}");
        seen.extend(rows);
    }
    let flagged: Vec<String> = read_csv(&ws.read("out/flagged_accounts.csv"))
        .into_iter()
        .map(|r| r["account_id"].clone())
        .collect();
    seen.sort();
    let mut expected = flagged.clone();
    expected.sort();
    assert_eq!(seen, expected, "every flagged account once");
    // Self-contained: no script, nothing fetched.
    assert!(dom.query_selector("script").unwrap().next().is_none());
    for tag in dom.nodes().iter().filter_map(|n| n.as_tag()) {
        for name in ["src", "href"] {
            if let Some(url) = attr(tag, name) {
                assert!(!url.contains("://"), "{url}");
            }
        }
    }
    // The files are in the run's manifest (one atomic batch).
    let summary = ws.read("out/run_summary.json");
    assert!(summary.contains("digest.html") && summary.contains("by_manager/"));
}

/// The digest test's selector finds a section by one of its classes (a manager with
/// nothing flagged is `manager empty`).
#[test]
fn the_section_selector_matches_any_class_order() {
    let html = r#"<section class="manager empty" data-file="a.csv"></section><section class="manager"></section>"#;
    let dom = tl::parse(html, tl::ParserOptions::default()).unwrap();
    assert_eq!(dom.query_selector("section.manager").unwrap().count(), 2);
}
