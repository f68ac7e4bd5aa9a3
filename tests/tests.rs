//! Integration tests: the real binary on generated and fixture exports; outputs, exit
//! codes, error messages and quarantine contents as a user sees them.

mod defects;
mod health;
mod history;
mod layers;
mod morning;
mod overrides;
mod props;
mod quality;
mod robustness;
mod util;

use std::collections::HashMap;

use util::*;

const CONTRACT_COLUMNS: [&str; 14] = [
    "as_of",
    "account_id",
    "account_name",
    "manager",
    "risk_score",
    "risk_level",
    "primary_category",
    "outcome",
    "expectation",
    "discomfort",
    "cost",
    "trend_28d",
    "days_to_renewal",
    "reasons",
];

fn summary(ws: &Workspace) -> serde_json::Value {
    serde_json::from_str(&ws.read("out/run_summary.json")).expect("run_summary.json is JSON")
}

#[test]
fn nightly_run_writes_the_contract_outputs() {
    let ws = Workspace::sample(11, 150);
    let out = ws.run(END, &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    let flagged = std::fs::read(ws.path("out/flagged_accounts.csv")).unwrap();
    assert!(
        flagged.starts_with(b"\xEF\xBB\xBF"),
        "flagged CSV has a BOM"
    );
    let flagged = String::from_utf8(flagged).unwrap();
    // The contract's columns in its order, then the morning view's.
    let morning = ["flagged_since", "change", "next_action", "override"];
    let mut expected = CONTRACT_COLUMNS.to_vec();
    expected.extend(morning);
    assert_eq!(header_of(&flagged), expected);
    let scores = ws.read("out/scores.csv");
    let mut with_flag = CONTRACT_COLUMNS.to_vec();
    with_flag.push("flagged");
    with_flag.extend(morning);
    assert_eq!(header_of(&scores), with_flag);

    let flagged_rows = read_csv(&flagged);
    let score_rows = read_csv(&scores);
    assert!(!flagged_rows.is_empty(), "the sample has stressed accounts");
    assert_eq!(
        flagged_rows.len(),
        score_rows.iter().filter(|r| r["flagged"] == "true").count()
    );
    // Sorted by risk_score descending, ties by account_id.
    let keys: Vec<(i64, String)> = flagged_rows
        .iter()
        .map(|r| {
            (
                -r["risk_score"].parse::<i64>().unwrap(),
                r["account_id"].clone(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    for r in &flagged_rows {
        assert!(["high", "medium"].contains(&r["risk_level"].as_str()));
        assert!(!r["reasons"].is_empty(), "every flag says why");
        assert_eq!(r["as_of"], END);
    }
    for r in &score_rows {
        for c in ["risk_score", "outcome", "expectation", "discomfort", "cost"] {
            let v: i64 = r[c].parse().unwrap();
            assert!((0..=100).contains(&v), "{c} = {v}");
        }
    }
    // Accounts older than 28 days have a trend.
    assert!(score_rows.iter().any(|r| !r["trend_28d"].is_empty()));

    // evidence.csv: the findings add up to each category score (capped at 100), and
    // the reasons cell starts with the account's biggest finding.
    let evidence = read_csv(&ws.read("out/evidence.csv"));
    let mut sums: HashMap<(String, String), f64> = HashMap::new();
    let mut first: HashMap<String, String> = HashMap::new();
    for e in &evidence {
        assert_eq!(e["as_of"], END);
        *sums
            .entry((e["account_id"].clone(), e["category"].clone()))
            .or_default() += e["points"].parse::<f64>().unwrap();
        first
            .entry(e["account_id"].clone())
            .or_insert_with(|| e["evidence"].clone());
    }
    for r in &score_rows {
        for c in ["outcome", "expectation", "discomfort", "cost"] {
            let sum = sums.get(&(r["account_id"].clone(), c.to_owned())).copied();
            let written: f64 = r[c].parse().unwrap();
            // Points are written to one decimal and scores as whole numbers: the two
            // differ by rounding only, less than a point.
            let expected = sum.unwrap_or(0.0).min(100.0);
            assert!(
                (written - expected).abs() < 1.0,
                "{} {c}: score {written}, evidence sums to {expected}",
                r["account_id"]
            );
        }
        // An override's sentence (a manager's concern, a snooze outgrown) comes
        // before the evidence.
        let overridden = !r["override"].is_empty();
        match first.get(&r["account_id"]) {
            Some(top) => assert!(
                r["reasons"].starts_with(top.as_str())
                    || (overridden && r["reasons"].contains(top.as_str())),
                "{}",
                r["account_id"]
            ),
            None => assert!(r["reasons"].is_empty() || overridden),
        }
    }

    let s = summary(&ws);
    assert_eq!(s["outcome"], "ok");
    assert_eq!(s["as_of"], END);
    assert_eq!(
        s["accounts_scored"].as_u64().unwrap() as usize,
        score_rows.len()
    );
    assert_eq!(
        s["accounts_flagged"].as_u64().unwrap() as usize,
        flagged_rows.len()
    );
    for (table, t) in s["tables"].as_object().unwrap() {
        let read = t["rows_read"].as_u64().unwrap();
        let accepted = t["rows_accepted"].as_u64().unwrap();
        let quarantined = t["rows_quarantined"].as_u64().unwrap();
        assert_eq!(read, accepted + quarantined, "{table} reconciles");
        assert!(ws.path(&format!("out/quarantine/{table}.csv")).exists());
    }
}

#[test]
fn reasons_follow_the_configured_language() {
    let ws = Workspace::sample(12, 120);
    assert!(ws.run(END, &[]).status.success());
    let ja = read_csv(&ws.read("out/flagged_accounts.csv"));
    assert!(
        ja.len() >= 5,
        "the sample flags accounts: {} flagged",
        ja.len()
    );
    assert!(
        ja.iter()
            .all(|r| r["reasons"].chars().any(|c| c > '\u{3000}')),
        "the shipped config writes Japanese reasons"
    );
    ws.write(
        "config.toml",
        &shipped_config().replace("language = \"ja\"", "language = \"en\""),
    );
    assert!(ws.run(END, &[]).status.success());
    let en = read_csv(&ws.read("out/flagged_accounts.csv"));
    assert_eq!(ja.len(), en.len(), "language changes words, not flags");
    assert!(
        en.iter()
            .all(|r| r["reasons"].is_ascii() && !r["reasons"].is_empty())
    );
}

/// A signal weighed 0 is switched off: no evidence rows, no reasons, and no say in
/// its category's evidence; the others still flag.
#[test]
fn a_signal_weighed_zero_is_off() {
    let ws = Workspace::sample(12, 120);
    assert!(ws.run(END, &[]).status.success());
    let signal_rows = |ws: &Workspace| {
        read_csv(&ws.read("out/evidence.csv"))
            .iter()
            .filter(|r| r["signal"] == "contact_drop")
            .count()
    };
    assert!(signal_rows(&ws) > 0, "the sample has contact_drop evidence");
    let line = "contact_drop = { weight = 40,";
    assert!(shipped_config().contains(line));
    ws.write(
        "config.toml",
        &shipped_config().replace(line, "contact_drop = { weight = 0,"),
    );
    assert!(ws.run(END, &[]).status.success());
    assert_eq!(signal_rows(&ws), 0);
    assert!(!read_csv(&ws.read("out/flagged_accounts.csv")).is_empty());
}

#[test]
fn rerun_gives_byte_identical_csvs() {
    let ws = Workspace::sample(13, 120);
    assert!(ws.run_into(END, "a").status.success());
    assert!(ws.run_into(END, "b").status.success());
    ws.assert_same_outputs(
        "a",
        "b",
        &[
            "scores.csv",
            "flagged_accounts.csv",
            "evidence.csv",
            "quarantine/meetings.csv",
        ],
        "a rerun on the same inputs",
    );
}

#[test]
fn future_dated_rows_change_nothing_for_an_earlier_as_of() {
    let ws = Workspace::sample(14, 120);
    let as_of = "2026-09-30";
    assert!(ws.run_into(as_of, "before").status.success());
    let truth = ws.truth();
    let id = &truth.iter().find(|t| t["scenario"] == "healthy").unwrap()["account_id"];
    // Stress that happens only after the as-of date.
    let mut meetings = String::new();
    let mut messages = String::new();
    for day in 1..=20 {
        meetings.push_str(&format!(
            "{id},2026-10-{day:02} 10:00,cancelled_by_client,,regular\n"
        ));
        messages.push_str(&format!("{id},2026-10-{day:02} 09:00:00,,email\n"));
    }
    ws.append("data/meetings.csv", &meetings);
    ws.append("data/messages.csv", &messages);
    ws.append(
        "data/churn_events.csv",
        &format!("{id},2026-10-15,予算削減\n"),
    );
    assert!(ws.run_into(as_of, "after").status.success());
    ws.assert_same_outputs(
        "before",
        "after",
        &["scores.csv", "flagged_accounts.csv", "evidence.csv"],
        "rows dated after the as-of date",
    );
}

#[test]
fn bad_rows_are_quarantined_with_line_and_reason() {
    let ws = Workspace::sample(15, 200);
    let first_id = read_csv(&ws.read("data/accounts.csv"))[0]["account_id"].clone();
    let lines_before = ws.read("data/meetings.csv").lines().count() as u64;
    ws.append(
        "data/meetings.csv",
        &format!(
            "{first_id},2026-11-01 10:00,held,-5,regular\n\
             {first_id},2026-11-02 10:00,postponed,,regular\n\
             NOPE-1,2026-11-03 10:00,held,0,regular\n\
             {first_id},2026-11-04 10:00,held\n\
             {first_id},not a date,held,0,regular\n\
             ,2026-11-05 10:00,held,0,regular\n\
             {first_id},2026-11-06 10:00,held,0,\"=HYPERLINK(\"\"http://x\"\")\",extra\n"
        ),
    );
    let out = ws.run(END, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let q = read_csv(&ws.read("out/quarantine/meetings.csv"));
    let got: Vec<(u64, &str)> = q
        .iter()
        .map(|r| (r["line"].parse().unwrap(), r["reason"].as_str()))
        .collect();
    let l = lines_before;
    assert_eq!(
        got,
        vec![
            (l + 1, "out_of_range"),
            (l + 2, "bad_status"),
            (l + 3, "unknown_account_id"),
            (l + 4, "wrong_field_count"),
            (l + 5, "bad_datetime"),
            (l + 6, "missing_value"),
            (l + 7, "wrong_field_count"),
        ]
    );
    // The raw row is kept as it was: a plain number stays a number (issue 14),
    // text that a spreadsheet would run is neutralised.
    assert_eq!(q[0]["late_minutes"], "-5");
    assert_eq!(q[2]["account_id"], "NOPE-1");
    assert_eq!(q[6]["purpose"], "'=HYPERLINK(\"http://x\")");
    assert_eq!(q[6]["extra_fields"], "extra");
    let s = summary(&ws);
    let m = &s["tables"]["meetings"];
    assert_eq!(m["rows_quarantined"], 7);
    assert_eq!(
        m["rows_read"].as_u64().unwrap(),
        lines_before - 1 + 7,
        "every data line is read"
    );
    assert_eq!(m["quarantine_reasons"]["wrong_field_count"], 2);
}

#[test]
fn duplicate_keys_keep_the_first_row() {
    let ws = Workspace::sample(16, 100);
    let invoices = read_csv(&ws.read("data/invoices.csv"));
    let first = &invoices[0];
    ws.append(
        "data/invoices.csv",
        &format!(
            "{},{},2026-11-01,,999,,\n",
            first["account_id"], first["invoice_id"]
        ),
    );
    let accounts = read_csv(&ws.read("data/accounts.csv"));
    let healthy = ws.healthy_id();
    let a = accounts
        .iter()
        .find(|r| r["account_id"] == healthy)
        .unwrap();
    ws.append(
        "data/accounts.csv",
        &format!(
            "{},Copy Ltd,,standard,1,2020-01-01,,true\n",
            a["account_id"]
        ),
    );
    let out = ws.run(END, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let qi = read_csv(&ws.read("out/quarantine/invoices.csv"));
    assert_eq!(qi.len(), 1);
    assert_eq!(qi[0]["reason"], "duplicate_key");
    let qa = read_csv(&ws.read("out/quarantine/accounts.csv"));
    assert_eq!(qa.len(), 1);
    assert_eq!(qa[0]["account_name"], "Copy Ltd");
    let scores = read_csv(&ws.read("out/scores.csv"));
    let kept = scores
        .iter()
        .find(|r| r["account_id"] == a["account_id"])
        .expect("a healthy account is scored");
    assert_eq!(
        kept["account_name"], a["account_name"],
        "the first row is kept"
    );
}

#[test]
fn formula_like_names_are_neutralised_in_outputs() {
    let ws = Workspace::sample(17, 60);
    // Give an active account a name a spreadsheet would execute.
    let target = ws.healthy_id();
    edit_rows(&ws, "data/accounts.csv", |h, f| {
        if f[pos(h, "account_id")] == target {
            f[pos(h, "account_name")] = "=cmd|' /C calc'!A0".to_owned();
        }
    });
    assert!(ws.run(END, &[]).status.success());
    let scores = read_csv(&ws.read("out/scores.csv"));
    let row = scores
        .iter()
        .find(|r| r["account_id"] == target)
        .expect("a healthy account is scored");
    assert_eq!(row["account_name"], "'=cmd|' /C calc'!A0");
    for r in &scores {
        assert!(!r["account_name"].starts_with('='));
    }
}

#[test]
fn missing_export_exits_3_naming_the_file() {
    let ws = Workspace::sample(18, 40);
    std::fs::remove_file(ws.path("data/messages.csv")).unwrap();
    let out = ws.run(END, &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("missing messages export"), "{err}");
    assert!(err.contains("messages.csv"), "{err}");
    assert!(!ws.path("out/scores.csv").exists(), "nothing is written");
}

#[test]
fn optional_missing_export_is_read_as_empty() {
    let ws = Workspace::sample(18, 40);
    std::fs::remove_file(ws.path("data/study_sessions.csv")).unwrap();
    ws.write(
        "config.toml",
        &shipped_config().replace(
            "file = \"study_sessions.csv\"",
            "file = \"study_sessions.csv\"\noptional = true",
        ),
    );
    let out = ws.run(END, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(summary(&ws)["tables"]["study_sessions"]["rows_read"], 0);
}

#[test]
fn missing_column_exits_3_naming_the_column() {
    let ws = Workspace::sample(19, 40);
    let text = ws.read("data/meetings.csv").replacen("status", "state", 1);
    ws.write("data/meetings.csv", &text);
    let out = ws.run(END, &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("missing required column `status`"), "{err}");
    assert!(err.contains("meetings.csv"), "{err}");
}

#[test]
fn empty_accounts_exits_3() {
    let ws = Workspace::sample(20, 40);
    ws.write(
        "data/accounts.csv",
        "account_id,account_name,manager,plan,monthly_fee,contract_start,renewal_date,outcome_agreed\n",
    );
    let out = ws.run(END, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("no usable account rows"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_config_key_exits_2_naming_the_key() {
    let ws = Workspace::sample(21, 40);
    ws.write(
        "config.toml",
        &shipped_config().replace("[flags]\n", "[flags]\nmediun = 30\n"),
    );
    let out = ws.run(END, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("mediun"), "{err}");
    assert!(err.contains("config.toml"), "{err}");
}

/// A site config that extends the shipped one through `base` scores like it, except
/// where it says otherwise; a base that is missing or has a base of its own is named.
#[test]
fn a_config_extends_its_base() {
    let ws = Workspace::sample(24, 60);
    ws.write("base.toml", &shipped_config());
    ws.write("config.toml", "base = \"base.toml\"\n");
    assert!(ws.run_into(END, "same").status.success());
    ws.write("config.toml", &shipped_config());
    assert!(ws.run_into(END, "shipped").status.success());
    ws.assert_same_outputs(
        "same",
        "shipped",
        &["scores.csv", "evidence.csv"],
        "base alone",
    );
    // One signal switched off in the extending file: only its points go.
    ws.write(
        "config.toml",
        "base = \"base.toml\"\n[signals]\nproposal_gap = { weight = 0, start = 180.0, full = 365.0 }\n",
    );
    assert!(ws.run_into(END, "off").status.success());
    let evidence = read_csv(&ws.read("off/evidence.csv"));
    assert!(evidence.iter().all(|r| r["signal"] != "proposal_gap"));
    let shipped = read_csv(&ws.read("shipped/evidence.csv"));
    assert!(
        shipped.iter().any(|r| r["signal"] == "proposal_gap"),
        "the sample has proposal gaps"
    );
    assert_eq!(
        evidence.len(),
        shipped
            .iter()
            .filter(|r| r["signal"] != "proposal_gap")
            .count()
    );
    // A missing base, and a base with a base, are errors naming the file.
    ws.write("config.toml", "base = \"nowhere.toml\"\n");
    let out = ws.run(END, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nowhere.toml"), "{}", stderr(&out));
    ws.write(
        "base.toml",
        &format!("base = \"config.toml\"\n{}", shipped_config()),
    );
    ws.write("config.toml", "base = \"base.toml\"\n");
    let out = ws.run(END, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("only one level"), "{}", stderr(&out));
}

/// `churnwatch signals` lists every signal the config knows, with the config's own
/// parameters (not the shipped ones).
#[test]
fn the_signals_command_lists_each_signal_with_its_parameters() {
    let ws = Workspace::sample(25, 10);
    ws.write(
        "config.toml",
        &shipped_config()
            .lines()
            .map(|l| {
                if l.starts_with("disputes = { weight") {
                    "disputes = { weight = 17, start = 0.05, full = 0.30 }"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let out = ws.command("signals", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(2)
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    let keys: Vec<&str> = rows.iter().map(|r| r[1].trim_matches('`')).collect();
    assert_eq!(keys.len(), churnwatch::signals::Signal::ALL.len());
    for s in churnwatch::signals::Signal::ALL {
        assert!(keys.contains(&s.key()), "{} missing from {text}", s.key());
    }
    let disputes = rows.iter().find(|r| r[1] == "`disputes`").unwrap();
    assert_eq!(
        (disputes[0], disputes[3], disputes[5]),
        ("cost", "chance", "17")
    );
    let proposal = rows.iter().find(|r| r[1] == "`proposal_gap`").unwrap();
    assert_eq!(proposal[3], "fact");
}

#[test]
fn bad_config_values_are_all_reported_at_once() {
    let ws = Workspace::sample(22, 40);
    let cfg = shipped_config()
        .replace("time_zone = \"Asia/Tokyo\"", "time_zone = \"Mars/Olympus\"")
        .replace("medium = 40", "medium = 90")
        .lines()
        .map(|l| {
            if l.starts_with("disputes = { weight") {
                "disputes = { weight = 30, start = 2.0, full = 1.0 }"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    ws.write("config.toml", &cfg);
    let out = ws.run(END, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for key in ["run.time_zone", "flags.medium", "signals.disputes"] {
        assert!(err.contains(key), "{key} not named in: {err}");
    }
}

#[test]
fn quarantine_budget_exits_4_and_keeps_last_good_outputs() {
    let ws = Workspace::sample(23, 60);
    assert!(ws.run(END, &[]).status.success());
    let good = ws.read("out/scores.csv");
    // A shifted column: every outcome row's target becomes text.
    let text = ws.read("data/outcomes.csv");
    let mut lines = text.lines();
    let mut shifted = format!("{}\n", lines.next().unwrap());
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        shifted.push_str(&format!(
            "{},{},{},{},{},{}\n",
            f[0], f[1], f[2], f[2], f[4], f[5]
        ));
    }
    ws.write("data/outcomes.csv", &shifted);
    let out = ws.run(END, &[]);
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(err.contains("outcomes"), "{err}");
    assert!(err.contains("bad_number"), "{err}");
    assert_eq!(ws.read("out/scores.csv"), good, "last good scores kept");
    let s = summary(&ws);
    assert_eq!(s["outcome"]["exit_code"], 4);
    assert!(!read_csv(&ws.read("out/quarantine/outcomes.csv")).is_empty());
}

#[test]
fn unwritable_output_exits_5() {
    let ws = Workspace::sample(24, 40);
    ws.write("blocker", "a file where the output folder should be");
    let out = ws.run_into(END, "blocker");
    assert_eq!(out.status.code(), Some(5));
    assert!(
        stderr(&out).contains("cannot write output"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn second_run_on_a_locked_output_exits_6() {
    let ws = Workspace::sample(25, 40);
    std::fs::create_dir_all(ws.path("out")).unwrap();
    let lock = std::fs::File::create(ws.path("out/.churnwatch.lock")).unwrap();
    lock.try_lock().unwrap();
    let out = ws.run(END, &[]);
    assert_eq!(out.status.code(), Some(6));
    assert!(
        stderr(&out).contains("another churnwatch run"),
        "{}",
        stderr(&out)
    );
    drop(lock);
    assert!(
        ws.run(END, &[]).status.success(),
        "the lock dies with its holder"
    );
}

#[test]
fn usage_errors_exit_2_and_help_lists_exit_codes() {
    let out = churnwatch(&["run", "--as-of", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    let help = churnwatch(&["run", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for needle in [
        "--as-of",
        "--config",
        "--input-dir",
        "--output-dir",
        "Exit codes",
        "6  another",
    ] {
        assert!(text.contains(needle), "help lacks {needle}: {text}");
    }
    let out = churnwatch(&["run", "--config", "/nonexistent/churnwatch.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read config"));
}

#[test]
fn empty_required_export_exits_3() {
    let ws = Workspace::sample(26, 40);
    ws.write("data/meetings.csv", "");
    let out = ws.run(END, &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("meetings") && err.contains("empty"), "{err}");
}

#[test]
fn table_left_out_of_the_config_exits_2() {
    let ws = Workspace::sample(27, 40);
    ws.write(
        "config.toml",
        &shipped_config().replace("[tables.meetings]\nfile = \"meetings.csv\"\n", ""),
    );
    let out = ws.run(END, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("tables.meetings"), "{}", stderr(&out));
}

#[test]
fn readme_documents_every_reason_code_and_exit_code() {
    let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
    for code in churnwatch::validate::ReasonCode::ALL {
        assert!(
            readme.contains(&format!("`{}`", code.as_str())),
            "{code:?} undocumented"
        );
    }
    for code in 0..=6 {
        assert!(
            readme.contains(&format!("\n| {code} |")),
            "exit code {code} undocumented"
        );
        assert!(
            churnwatch::error::EXIT_CODES_HELP.contains(&format!("\n  {code}  ")),
            "exit code {code} missing from --help"
        );
    }
}

/// An answer, payment or completion dated after the as-of date must count as not yet
/// given: scoring an export where they are in the future gives exactly what an export
/// without them gives.
#[test]
fn outcomes_dated_after_the_as_of_date_count_as_not_yet_happened() {
    let as_of = "2026-09-30";
    let later = "2026-10-15";
    let future = |ws: &Workspace, value: &str| {
        let value = value.to_owned();
        let stamp = |value: &str, fields: &mut Vec<String>, i: usize, from: usize| {
            // Rows dated up to the as-of date whose outcome came after it.
            let day = |s: &str| s.get(..10).unwrap_or(s).to_owned();
            if day(&fields[from]).as_str() <= as_of && day(&fields[i]).as_str() > as_of {
                fields[i] = value.to_owned();
            }
        };
        edit_rows(ws, "data/messages.csv", |h, f| {
            let (i, from) = (pos(h, "first_response_at"), pos(h, "received_at"));
            let v = if value.is_empty() {
                String::new()
            } else {
                format!("{value} 10:00:00")
            };
            stamp(&v, f, i, from);
        });
        edit_rows(ws, "data/invoices.csv", |h, f| {
            stamp(&value, f, pos(h, "paid_on"), pos(h, "issued_on"));
        });
        edit_rows(ws, "data/action_items.csv", |h, f| {
            stamp(&value, f, pos(h, "done_on"), pos(h, "promised_on"));
        });
    };
    let in_future = Workspace::sample(28, 150);
    future(&in_future, later);
    let never = Workspace::sample(28, 150);
    future(&never, "");
    assert_ne!(
        in_future.read("data/messages.csv"),
        never.read("data/messages.csv")
    );
    assert!(in_future.run(as_of, &[]).status.success());
    assert!(never.run(as_of, &[]).status.success());
    assert_eq!(
        in_future.read("out/scores.csv"),
        never.read("out/scores.csv")
    );
}

/// An export that never records proposals cannot show "no proposal in N days": that
/// signal stays silent instead of adding points to every account.
#[test]
fn proposal_gap_needs_proposals_in_the_export() {
    let ws = Workspace::sample(29, 150);
    edit_rows(&ws, "data/meetings.csv", |h, f| {
        let p = pos(h, "purpose");
        if f[p] == "proposal" {
            f[p] = "regular".to_owned();
        }
    });
    ws.write(
        "config.toml",
        &shipped_config().replace("language = \"ja\"", "language = \"en\""),
    );
    assert!(ws.run(END, &[]).status.success());
    // Not in any finding, listed in `reasons` or not.
    let scores = read_csv(&ws.read("out/scores.csv"));
    assert!(scores.iter().all(|r| !r["reasons"].contains("proposal")));
    let evidence = read_csv(&ws.read("out/evidence.csv"));
    assert!(evidence.iter().all(|e| e["signal"] != "proposal_gap"));

    // With proposals on record the same accounts can show the gap (as a finding;
    // `reasons` lists only the top `max_reasons`).
    let ws = Workspace::sample(29, 150);
    ws.write(
        "config.toml",
        &shipped_config().replace("language = \"ja\"", "language = \"en\""),
    );
    assert!(ws.run(END, &[]).status.success());
    let evidence = read_csv(&ws.read("out/evidence.csv"));
    assert!(
        evidence
            .iter()
            .any(|e| e["signal"] == "proposal_gap" && e["evidence"].contains("no new proposal"))
    );
}

/// The generator's spreads are checked like any flag: out of range, or without
/// `--varied` (where they mean nothing), the command exits 2 and names the flag.
#[test]
fn sample_spreads_out_of_range_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let truth = dir.path().join("truth.csv");
    let (out, truth) = (out.to_str().unwrap(), truth.to_str().unwrap());
    let run = |extra: &[&str]| {
        let mut args = vec!["sample", "--accounts", "20", "--out", out, "--truth", truth];
        args.extend_from_slice(extra);
        churnwatch(&args)
    };
    for (extra, flag) in [
        (&["--varied", "--kpi-noise", "0"][..], "--kpi-noise"),
        (&["--varied", "--phase-spread", "3"][..], "--phase-spread"),
        (&["--phase-spread", "1.0"][..], "--varied"),
    ] {
        let result = run(extra);
        assert_eq!(result.status.code(), Some(2), "{extra:?}");
        assert!(
            stderr(&result).contains(flag),
            "{extra:?}: {}",
            stderr(&result)
        );
    }
    let harder = run(&["--varied", "--phase-spread", "1.2", "--kpi-noise", "0.25"]);
    assert!(harder.status.success(), "{}", stderr(&harder));
}
