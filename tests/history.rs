//! Backtest and post-mortem on generated data with known cancellations.

use std::collections::HashMap;

use crate::util::*;

fn metric(rows: &[HashMap<String, String>], section: &str, scope: &str, name: &str) -> Option<f64> {
    rows.iter()
        .find(|r| r["section"] == section && r["scope"] == scope && r["metric"] == name)
        .and_then(|r| r["value"].parse().ok())
}

#[test]
fn backtest_measures_lead_time_precision_and_calibration() {
    let ws = Workspace::sample(41, 300);
    let out = ws.command(
        "backtest",
        &["--from", "2025-12-01", "--to", END, "--step", "7d"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("median lead") && text.contains("calibration"),
        "{text}"
    );
    println!("{text}");
    let rows = read_csv(&ws.read("out/backtest.csv"));
    let churned = metric(&rows, "lead_time", "overall", "churned_accounts").unwrap();
    assert!(churned >= 10.0, "the sample has cancellations to evaluate");
    let s30 = metric(&rows, "lead_time", "overall", "flagged_30d_before").unwrap();
    let s90 = metric(&rows, "lead_time", "overall", "flagged_90d_before").unwrap();
    assert!(
        (0.0..=1.0).contains(&s30) && s90 <= s30,
        "earlier flags are rarer"
    );
    assert!(
        s30 >= 0.6,
        "most cancellations flagged a month ahead: {s30}"
    );
    let precision = metric(&rows, "precision", "overall", "churned_within_90d").unwrap();
    let low = metric(&rows, "calibration", "0-20", "churned_within_90d").unwrap();
    let high = metric(&rows, "calibration", "65-100", "churned_within_90d").unwrap();
    assert!(
        high > 5.0 * low.max(0.01),
        "risk bands are calibrated: {low} vs {high}"
    );
    assert!(
        precision > 2.0 * low,
        "a flag means more than the base rate"
    );
    assert!(metric(&rows, "alerts", "overall", "new_alerts_per_manager_week").unwrap() > 0.0);
}

#[test]
fn postmortem_sets_the_stated_reason_beside_the_real_one() {
    let ws = Workspace::sample(42, 300);
    let out = ws.command("postmortem", &["--as-of", END]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("表明された理由"),
        "the shipped config reads Japanese"
    );
    assert_eq!(text, ws.read("out/postmortem.txt"));

    let cases = read_csv(&ws.read("out/postmortem.csv"));
    let churn_events = read_csv(&ws.read("data/churn_events.csv"));
    assert_eq!(cases.len(), churn_events.len(), "one case per cancellation");
    let crosstab = read_csv(&ws.read("out/postmortem_crosstab.csv"));
    let total: usize = crosstab
        .iter()
        .flat_map(|r| {
            ["outcome", "expectation", "discomfort", "cost", "none"]
                .map(|c| r[c].parse::<usize>().unwrap())
        })
        .sum();
    assert_eq!(total, cases.len());

    let truth: HashMap<String, HashMap<String, String>> = ws
        .truth()
        .into_iter()
        .map(|t| (t["account_id"].clone(), t))
        .collect();
    let (mut stressed, mut matched, mut external, mut external_none) = (0, 0, 0, 0);
    for case in &cases {
        let t = &truth[&case["account_id"]];
        assert!(!case["stated_reason"].is_empty());
        if t["category"] == "external" {
            external += 1;
            external_none += usize::from(case["real_category"] == "none");
        } else {
            stressed += 1;
            matched += usize::from(case["real_category"] == t["category"]);
        }
    }
    println!(
        "post-mortem: real category matched {matched}/{stressed}; external read as none {external_none}/{external}"
    );
    assert!(matched as f64 >= 0.75 * stressed as f64);
    assert!(external_none as f64 >= 0.6 * external as f64);
}
