//! Messy real-world inputs and failures: foreign exports, Excel encodings, inputs left
//! untouched, and outputs that survive the process being killed mid-write.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use crate::util::*;

#[test]
fn real_foreign_invoices_export_is_read_through_renames_and_date_formats() {
    let cfg_path = project_root().join("data/realdata/config.toml");
    let cfg = churnwatch::config::Config::load(&cfg_path, &churnwatch::signals::Signal::keys())
        .expect("example config loads");
    let loaded = churnwatch::pipeline::load(&cfg).expect("real export loads");
    let invoices = loaded.tables.iter().find(|t| t.name == "invoices").unwrap();
    assert_eq!(invoices.rows_read, 2466);
    assert_eq!(invoices.rows_accepted(), 2466);
    assert!(
        invoices.quarantine.is_empty(),
        "{:?}",
        invoices.quarantine.first()
    );

    // Check every invoice against an independent reading of the source file.
    let text = std::fs::read_to_string(
        project_root().join("data/realdata/WA_Fn-UseC_-Accounts-Receivable.csv"),
    )
    .unwrap();
    let source = read_csv(&text);
    let frame = &invoices.frame;
    let ids = frame.column("invoice_id").unwrap().str().unwrap();
    let issued = frame.column("issued_on").unwrap().i32().unwrap();
    let due = frame.column("due_on").unwrap().i32().unwrap();
    let paid = frame.column("paid_on").unwrap().i32().unwrap();
    let amount = frame.column("amount").unwrap().f64().unwrap();
    let disputed = frame.column("disputed").unwrap().bool().unwrap();
    let day = |s: &str| {
        churnwatch::validate::day_number(chrono::NaiveDate::parse_from_str(s, "%m/%d/%Y").unwrap())
    };
    // Frames are grouped by account, so rows are found by invoice number (unique in
    // this export), kept as text with its leading zeros.
    assert_eq!(frame.height(), source.len());
    let by_id: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.expect("invoice ids are kept"), i))
        .collect();
    assert_eq!(by_id.len(), source.len(), "invoice numbers are unique");
    let mut disputes = 0;
    for row in &source {
        let i = by_id[row["invoiceNumber"].as_str()];
        assert_eq!(
            ids.get(i),
            Some(row["invoiceNumber"].as_str()),
            "leading zeros kept"
        );
        assert_eq!(issued.get(i), Some(day(&row["InvoiceDate"])));
        assert_eq!(due.get(i), Some(day(&row["DueDate"])));
        assert_eq!(paid.get(i), Some(day(&row["SettledDate"])));
        assert_eq!(
            amount.get(i),
            Some(row["InvoiceAmount"].parse::<f64>().unwrap())
        );
        assert_eq!(disputed.get(i), Some(row["Disputed"] == "Yes"));
        disputes += usize::from(row["Disputed"] == "Yes");
    }
    assert!(disputes > 0 && disputes < 2466);

    // And the whole run works on it, as of the export's last invoice (2013-12-02;
    // a month later its invoices would be stale: exit 7).
    let ws = tempfile::tempdir().unwrap();
    let out = churnwatch(&[
        "run",
        "--config",
        cfg_path.to_str().unwrap(),
        "--as-of",
        "2013-12-02",
        "--output-dir",
        ws.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The example names its own exports and keeps the shipped scoring through `base`:
/// the windows, flags, evidence and every signal's parameters are the shipped ones.
#[test]
fn example_config_scores_like_the_shipped_one() {
    let keys = churnwatch::signals::Signal::keys();
    let load = |path: &str| {
        churnwatch::config::Config::load(&project_root().join(path), &keys).expect(path)
    };
    let (shipped, example) = (load("config.toml"), load("data/realdata/config.toml"));
    let text = std::fs::read_to_string(project_root().join("data/realdata/config.toml")).unwrap();
    assert!(
        !text.contains("[windows]") && !text.contains("[signals]"),
        "{text}"
    );
    assert_eq!(
        format!("{:?}", example.windows),
        format!("{:?}", shipped.windows)
    );
    assert_eq!(
        format!("{:?}", example.flags),
        format!("{:?}", shipped.flags)
    );
    assert_eq!(
        format!("{:?}", example.evidence),
        format!("{:?}", shipped.evidence)
    );
    for (i, key) in keys.iter().enumerate() {
        let (a, b) = (example.signals.get(i), shipped.signals.get(i));
        assert_eq!(
            (a.weight, a.start, a.full),
            (b.weight, b.start, b.full),
            "{key}"
        );
    }
    // Its own run section and tables win over the base's.
    assert_eq!(example.time_zone, chrono_tz::America::New_York);
    let invoices = example.table("invoices").unwrap();
    assert!(
        invoices
            .path
            .ends_with("WA_Fn-UseC_-Accounts-Receivable.csv")
    );
    assert!(example.table("meetings").unwrap().optional);
    assert!(!shipped.table("meetings").unwrap().optional);
    assert_ne!(example.digest, shipped.digest);
}

/// Rewrites a CSV: new header names, optional BOM, CRLF, and a cell transform.
fn rewrite(text: &str, rename: &HashMap<&str, &str>, map: impl Fn(&str, &str) -> String) -> String {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer
        .write_record(
            header
                .iter()
                .map(|h| rename.get(h.as_str()).copied().unwrap_or(h)),
        )
        .unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        let cells: Vec<String> = header
            .iter()
            .zip(record.iter())
            .map(|(h, v)| map(h, v))
            .collect();
        writer.write_record(&cells).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

#[test]
fn excel_style_exports_score_exactly_like_clean_ones() {
    let ws = Workspace::sample(31, 120);
    assert!(ws.run_into(END, "clean").status.success());

    // accounts: Shift_JIS (CP932), Japanese headers, CRLF, dates as 2026/03/04.
    let ja: HashMap<&str, &str> = [
        ("account_id", "取引先ID"),
        ("account_name", "取引先名"),
        ("manager", "担当者"),
        ("contract_start", "契約開始日"),
    ]
    .into_iter()
    .collect();
    let slash_dates = |h: &str, v: &str| {
        if h.ends_with("_start") || h.ends_with("_date") {
            v.replace('-', "/")
        } else {
            v.to_owned()
        }
    };
    let accounts = rewrite(&ws.read("data/accounts.csv"), &ja, slash_dates);
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&accounts);
    assert!(!unmappable, "sample names are CP932-representable");
    std::fs::write(ws.path("data/accounts.csv"), &sjis).unwrap();

    // messages: UTF-8 with BOM, CRLF, datetimes with a T and an explicit offset.
    let none = HashMap::new();
    let messages = rewrite(&ws.read("data/messages.csv"), &none, |h, v| {
        if h.ends_with("_at") && !v.is_empty() {
            format!("{}+09:00", v.replacen(' ', "T", 1))
        } else {
            v.to_owned()
        }
    });
    ws.write("data/messages.csv", &format!("\u{feff}{messages}"));

    // invoices: dates as 2026/03/04.
    let invoices = rewrite(&ws.read("data/invoices.csv"), &none, |h, v| {
        if h.ends_with("_on") {
            v.replace('-', "/")
        } else {
            v.to_owned()
        }
    });
    ws.write("data/invoices.csv", &invoices);

    let cfg = shipped_config()
        .replace(
            "[tables.accounts]\nfile = \"accounts.csv\"\n",
            "[tables.accounts]\nfile = \"accounts.csv\"\ndate_formats = [\"%Y/%m/%d\"]\n\
             rename = { \"取引先ID\" = \"account_id\", \"取引先名\" = \"account_name\", \
             \"担当者\" = \"manager\", \"契約開始日\" = \"contract_start\" }\n",
        )
        .replace(
            "[tables.invoices]\nfile = \"invoices.csv\"\n",
            "[tables.invoices]\nfile = \"invoices.csv\"\ndate_formats = [\"%Y/%m/%d\"]\n",
        );
    ws.write("config.toml", &cfg);
    let out = ws.run_into(END, "messy");
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_str(&ws.read("messy/run_summary.json")).unwrap();
    assert_eq!(summary["tables"]["accounts"]["encoding"], "shift_jis");
    for (table, t) in summary["tables"].as_object().unwrap() {
        assert_eq!(
            t["rows_quarantined"], 0,
            "{table}: {}",
            t["quarantine_reasons"]
        );
    }
    ws.assert_same_outputs(
        "clean",
        "messy",
        &["scores.csv", "flagged_accounts.csv", "evidence.csv"],
        "encodings and formats must not change scores or names",
    );
}

/// Exports in any row order score the same: rows are grouped by account at load,
/// each account's rows staying in file order.
#[test]
fn row_order_of_the_exports_does_not_change_scores() {
    let ws = Workspace::sample(34, 200);
    assert!(ws.run_into(END, "sorted").status.success());
    for table in [
        "meetings",
        "messages",
        "action_items",
        "invoices",
        "outcomes",
    ] {
        let rel = format!("data/{table}.csv");
        let text = ws.read(&rel);
        let mut lines = text.lines();
        let header = lines.next().unwrap().to_owned();
        // Interleave accounts: every other row from the end, then the rest.
        let rows: Vec<&str> = lines.collect();
        let (even, odd): (Vec<_>, Vec<_>) = rows.iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let mut shuffled = vec![header];
        shuffled.extend(
            even.iter()
                .rev()
                .chain(odd.iter())
                .map(|(_, r)| r.to_string()),
        );
        ws.write(&rel, &(shuffled.join("\n") + "\n"));
    }
    assert!(ws.run_into(END, "shuffled").status.success());
    ws.assert_same_outputs(
        "sorted",
        "shuffled",
        &["scores.csv", "evidence.csv"],
        "the order of rows in the exports",
    );
}

#[test]
fn inputs_are_never_modified() {
    let ws = Workspace::sample(32, 60);
    let snapshot = || -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(ws.path("data"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| (p.clone(), std::fs::read(p).unwrap()))
            .collect()
    };
    let before = snapshot();
    assert!(ws.run(END, &[]).status.success());
    assert_eq!(
        snapshot(),
        before,
        "a clean run leaves its inputs as they were"
    );
    ws.append("data/meetings.csv", "BAD,row\n");
    let before_bad = snapshot();
    assert!(ws.run(END, &[]).status.success());
    assert_eq!(snapshot(), before_bad);
    assert_ne!(before, before_bad);
}

/// Kills the run at 100 points spread over the whole run (load, scoring, writing)
/// and checks, once the next run has taken the folder's lock (which completes a
/// commit that a kill stopped half-way), that the *set* of outputs is one run's: every
/// file the summary lists has the digest the summary gives it, and no file is ever
/// half-written. Prints how many kills left the old run's set and how many the new.
#[test]
fn killed_runs_leave_one_runs_outputs_never_a_mix() {
    let ws = Workspace::sample(33, 600);
    let old_as_of = "2026-10-01";
    let out_dir = ws.path("out");
    assert!(ws.run(old_as_of, &[]).status.success());

    // Time one run to spread the kill points over it, up to a little past its end.
    let started = std::time::Instant::now();
    assert!(ws.run(END, &[]).status.success());
    let span = started.elapsed().as_micros() as u64 * 11 / 10;

    let config = ws.path("config.toml");
    let points = 100u64;
    let (mut saw_old, mut saw_new, mut torn) = (0, 0, 0);
    for k in 0..points {
        // Reset to the old outputs, then start a run for the new date and kill it.
        assert!(ws.run(old_as_of, &[]).status.success());
        let mut child = Command::new(env!("CARGO_BIN_EXE_churnwatch"))
            .args([
                "-q",
                "run",
                "--config",
                config.to_str().unwrap(),
                "--as-of",
                END,
            ])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(span * k / points));
        let _ = child.kill();
        let _ = child.wait();
        // What the next run sees once it holds the lock.
        drop(churnwatch::output::OutputLock::acquire(&out_dir).unwrap());
        let summary: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out_dir.join("run_summary.json")).expect("a summary exists"),
        )
        .unwrap_or_else(|e| panic!("partial run_summary.json after kill {k}: {e}"));
        let mut mixed = false;
        for o in summary["outputs"].as_array().expect("outputs listed") {
            let path = out_dir.join(o["file"].as_str().unwrap());
            let bytes = std::fs::read(&path).unwrap_or_default();
            mixed |= churnwatch::output::sha256_hex(&bytes) != o["sha256"].as_str().unwrap();
        }
        torn += usize::from(mixed);
        if summary["as_of"] == END {
            saw_new += 1;
        } else {
            saw_old += 1;
        }
        let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp") || n.starts_with(".churnwatch-previous"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "left behind after kill {k}: {leftovers:?}"
        );
    }
    println!(
        "kill test: {points} kill points over a {span} µs run; sets of outputs old {saw_old}, new {saw_new}, torn {torn}"
    );
    assert_eq!(torn, 0, "a set of outputs mixed two runs");
    assert!(saw_old > 0, "some kills landed before the writes");
    assert!(saw_new > 0, "some kills landed after the writes");
}
