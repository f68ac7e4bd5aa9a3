//! Overrides and exit interviews: what managers know and the exports do not.

use std::collections::HashMap;

use crate::util::*;

const HEADER: &str = "account_id,action,category,until,comment,set_by,set_on\n";

fn by_id(text: &str) -> HashMap<String, Row> {
    read_csv(text)
        .into_iter()
        .map(|r| (r["account_id"].clone(), r))
        .collect()
}

/// A workspace, its scores as of END without overrides, and a flagged and a calm id.
fn scored(seed: u64) -> (Workspace, HashMap<String, Row>) {
    let ws = Workspace::sample(seed, 200);
    assert!(ws.run_into(END, "plain").status.success());
    let scores = by_id(&ws.read("plain/scores.csv"));
    (ws, scores)
}

type Row = HashMap<String, String>;

/// The ids of the accounts whose scores.csv row satisfies `keep`, ascending.
fn ids(scores: &HashMap<String, Row>, keep: impl Fn(&Row) -> bool) -> Vec<String> {
    let mut ids: Vec<String> = scores
        .values()
        .filter(|r| keep(r))
        .map(|r| r["account_id"].clone())
        .collect();
    ids.sort();
    ids
}

fn days_before(date: &str, days: i64) -> String {
    let d: chrono::NaiveDate = date.parse().unwrap();
    (d - chrono::Duration::days(days)).to_string()
}

#[test]
fn a_snooze_hides_a_flag_until_the_account_gets_worse() {
    let (ws, scores) = scored(71);
    // Flagged today and as bad 28 days ago: snoozed then, it holds.
    let steady = ids(&scores, |r| r["flagged"] == "true" && r["trend_28d"] == "0")
        .into_iter()
        .next()
        .expect("a steadily flagged account");
    // Flagged today and 20+ points better 28 days ago: snoozed then, it comes back.
    let worse = ids(&scores, |r| {
        r["flagged"] == "true" && r["trend_28d"].parse::<i64>().is_ok_and(|t| t >= 20)
    })
    .into_iter()
    .next()
    .expect("an account that got worse");
    let set_on = days_before(END, 28);
    ws.write(
        "data/overrides.csv",
        &format!(
            "{HEADER}{steady},snooze,,2027-01-31,fiscal-year freeze,Sato,{set_on}\n\
             {worse},snooze,,2027-01-31,on holiday,Sato,{set_on}\n"
        ),
    );
    let out = ws.run(END, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let flagged = by_id(&ws.read("out/flagged_accounts.csv"));
    let scores = by_id(&ws.read("out/scores.csv"));
    assert!(!flagged.contains_key(&steady), "the snooze hides {steady}");
    assert_eq!(scores[&steady]["flagged"], "false");
    assert!(scores[&steady]["override"].starts_with("snooze: fiscal-year freeze"));
    let back = &flagged[&worse];
    assert!(
        back["override"].starts_with("snooze"),
        "{}",
        back["override"]
    );
    assert!(
        back["reasons"].starts_with(&format!("{set_on}にスヌーズ")),
        "{}",
        back["reasons"]
    );
    let summary = ws.read("out/run_summary.json");
    assert!(summary.contains("\"snoozes_broken\": 1"), "{summary}");
}

#[test]
fn a_flag_lists_a_calm_account_with_the_comment_first() {
    let (ws, scores) = scored(72);
    let calm = ids(&scores, |r| {
        r["flagged"] == "false" && r["risk_score"] == "0"
    })
    .into_iter()
    .next()
    .expect("a calm account");
    let set_on = days_before(END, 2);
    ws.write(
        "data/overrides.csv",
        &format!("{HEADER}{calm},flag,cost,2027-03-31,新任のCFOが契約見直しを示唆,Sato,{set_on}\n"),
    );
    assert!(ws.run(END, &[]).status.success());
    let row = &by_id(&ws.read("out/flagged_accounts.csv"))[&calm];
    assert_eq!(row["risk_level"], "medium");
    assert!(
        row["reasons"].starts_with("担当者の懸念（Sato"),
        "{}",
        row["reasons"]
    );
    assert!(row["reasons"].contains("新任のCFOが契約見直しを示唆"));
    assert!(
        row["override"].starts_with("flag: 新任のCFO"),
        "{}",
        row["override"]
    );
    assert_eq!(row["primary_category"], "cost");
    assert_eq!(row["change"], "new");
    assert_eq!(row["flagged_since"], END);
}

#[test]
fn an_override_ends_on_its_until_day() {
    let (ws, scores) = scored(73);
    let calm = ids(&scores, |r| r["flagged"] == "false");
    let (last_day, ended, replaced) = (&calm[0], &calm[1], &calm[2]);
    let yesterday = days_before(END, 1);
    let set_on = days_before(END, 10);
    let earlier = days_before(END, 40);
    ws.write(
        "data/overrides.csv",
        &format!(
            "{HEADER}{last_day},flag,,{END},watch,Sato,{set_on}\n{ended},flag,,{yesterday},watch,Sato,{set_on}\n\
             {replaced},flag,,2027-06-30,old worry,Sato,{earlier}\n{replaced},snooze,,{yesterday},all fine now,Sato,{set_on}\n"
        ),
    );
    assert!(ws.run(END, &[]).status.success());
    let flagged = by_id(&ws.read("out/flagged_accounts.csv"));
    assert!(flagged.contains_key(last_day), "in force on its until day");
    assert!(!flagged.contains_key(ended), "over the day after");
    // The later snooze replaced the older flag; its end does not bring the flag back.
    assert!(
        !flagged.contains_key(replaced),
        "a replaced override stays replaced"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&ws.read("out/run_summary.json")).unwrap();
    let expired = summary["overrides"]["expired"].as_array().unwrap();
    let ids: Vec<&str> = expired
        .iter()
        .map(|e| e["account_id"].as_str().unwrap())
        .collect();
    let mut want = vec![ended.as_str(), replaced.as_str()];
    want.sort();
    assert_eq!(ids, want, "expired: the last override of each account only");
    assert_eq!(expired[0]["until"], yesterday.as_str());
    assert_eq!(summary["overrides"]["superseded"], 1);
}

#[test]
fn a_malformed_override_is_quarantined_and_the_others_apply() {
    let (ws, scores) = scored(74);
    let calm = ids(&scores, |r| r["flagged"] == "false")
        .into_iter()
        .next()
        .unwrap();
    let set_on = days_before(END, 3);
    ws.write(
        "data/overrides.csv",
        &format!(
            "{HEADER}{calm},flag,,2027-01-31,,Sato,{set_on}\n\
             {calm},ignore,,2027-01-31,why not,Sato,{set_on}\n\
             {calm},flag,,2026-01-01,backwards,Sato,{set_on}\n\
             {calm},flag,,,no end,Sato,{set_on}\n\
             {calm},flag,,2027-01-31,a real concern,Sato,{set_on}\n"
        ),
    );
    let out = ws.run(END, &[]);
    assert!(
        out.status.success(),
        "a typo in a hand-kept table does not stop the night"
    );
    let quarantine = read_csv(&ws.read("out/quarantine/overrides.csv"));
    let reasons: Vec<&str> = quarantine.iter().map(|r| r["reason"].as_str()).collect();
    assert_eq!(
        reasons,
        [
            "missing_value",
            "bad_value",
            "until_before_set_on",
            "missing_value"
        ]
    );
    let lines: Vec<&str> = quarantine.iter().map(|r| r["line"].as_str()).collect();
    assert_eq!(lines, ["2", "3", "4", "5"]);
    let row = &by_id(&ws.read("out/flagged_accounts.csv"))[&calm];
    assert!(row["reasons"].contains("a real concern"));
}

/// An override set on END does not exist for a backfill a week earlier.
#[test]
fn a_backfill_before_set_on_ignores_the_override() {
    let (ws, scores) = scored(75);
    let calm = ids(&scores, |r| r["flagged"] == "false")
        .into_iter()
        .next()
        .unwrap();
    let week_ago = days_before(END, 7);
    assert!(ws.run_into(&week_ago, "before").status.success());
    // Added to the sample's own overrides.
    ws.append(
        "data/overrides.csv",
        &format!("{calm},flag,,2027-01-31,watch,Sato,{END}\n"),
    );
    assert!(ws.run_into(&week_ago, "backfill").status.success());
    ws.assert_same_outputs(
        "before",
        "backfill",
        &["flagged_accounts.csv", "scores.csv"],
        "an override set after the date",
    );
    let summary: serde_json::Value =
        serde_json::from_str(&ws.read("backfill/run_summary.json")).unwrap();
    let before: serde_json::Value =
        serde_json::from_str(&ws.read("before/run_summary.json")).unwrap();
    let not_yet = |s: &serde_json::Value| s["overrides"]["not_yet_set"].as_u64().unwrap();
    assert_eq!(not_yet(&summary), not_yet(&before) + 1);
    assert!(ws.run_into(END, "tonight").status.success());
    assert!(by_id(&ws.read("tonight/flagged_accounts.csv")).contains_key(&calm));
}

/// The post-mortem puts the heard reason beside the stated one and the data's, with
/// the heard × data table and the agreement rate.
#[test]
fn the_postmortem_shows_what_the_exit_interview_heard() {
    let ws = Workspace::sample(76, 300);
    let out = ws.command("postmortem", &["--as-of", END]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("面談で聞いた理由: "), "{text}");
    assert!(text.contains("面談で聞いた理由 × データが示す理由"));
    assert!(text.contains("聞いた理由とデータが一致: "));
    let cases = read_csv(&ws.read("out/postmortem.csv"));
    let interviewed = cases
        .iter()
        .filter(|r| !r["heard_category"].is_empty())
        .count();
    assert!(
        interviewed * 2 > cases.len(),
        "most cancellations interviewed"
    );
    let agree = cases
        .iter()
        .filter(|r| !r["heard_category"].is_empty())
        .filter(|r| {
            r["heard_category"] == r["real_category"]
                || (r["heard_category"] == "external" && r["real_category"] == "none")
        })
        .count();
    let heard = read_csv(&ws.read("out/postmortem_heard.csv"));
    let total: usize = heard
        .iter()
        .flat_map(|r| {
            ["outcome", "expectation", "discomfort", "cost", "none"]
                .map(|c| r[c].parse::<usize>().unwrap())
        })
        .sum();
    assert_eq!(total, interviewed);
    let pct = (agree as f64 / interviewed as f64 * 1000.0).round() / 10.0;
    assert!(
        text.contains(&format!(
            "面談した{interviewed}件のうち、聞いた理由とデータが一致: {pct}%"
        )),
        "{text}"
    );
}
