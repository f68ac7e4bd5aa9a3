//! Property tests: ingest and validation never panic and never lose a row on random
//! or mutated CSV bytes; scores only rise with more stress evidence.

use std::collections::BTreeMap;
use std::path::PathBuf;

use churnwatch::config::{EncodingChoice, TableConfig};
use churnwatch::ingest::Source;
use churnwatch::validate::{AccountIndex, validate};
use proptest::prelude::*;

fn table_config(name: &'static str) -> TableConfig {
    TableConfig {
        name,
        path: PathBuf::from(format!("{name}.csv")),
        optional: false,
        encoding: EncodingChoice::Auto,
        date_formats: vec!["%Y/%m/%d".to_owned()],
        datetime_formats: vec![],
        rename: BTreeMap::new(),
    }
}

fn accounts() -> AccountIndex {
    [("A1".to_owned(), 0), ("A2".to_owned(), 1)]
        .into_iter()
        .collect()
}

/// Data records in a text as the csv crate sees them (blank lines are not records).
fn records_after_header(text: &str) -> u64 {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    (reader.records().count() as u64).saturating_sub(1)
}

/// Feeds bytes through the real ingest (encoding detection, streaming decode) and
/// validation; checks conservation where it gets that far.
fn check(bytes: Vec<u8>, name: &'static str) -> Result<(), TestCaseError> {
    // The records the csv crate sees in the same bytes, when they decode.
    let expected = String::from_utf8(
        bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(&bytes)
            .to_vec(),
    )
    .ok()
    .map(|text| records_after_header(&text));
    let source = Source::new(
        name,
        &PathBuf::from(format!("{name}.csv")),
        std::io::Cursor::new(bytes),
        EncodingChoice::Auto,
        None,
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let index = accounts();
    let cfg = table_config(name);
    match validate(source, &cfg, chrono_tz::Asia::Tokyo, Some(&index)) {
        Ok(table) => {
            prop_assert_eq!(
                table.rows_read,
                table.rows_accepted() + table.quarantine.len() as u64
            );
            if let Some(expected) = expected {
                prop_assert_eq!(table.rows_read, expected);
            }
            // Lines count `\n`s (a lone CR ends a record but not a line), so they
            // only ever grow from the header's line 1.
            let lines: Vec<u64> = table.quarantine.iter().map(|q| q.line).collect();
            prop_assert!(lines.iter().all(|&l| l >= 1));
            prop_assert!(lines.windows(2).all(|w| w[0] <= w[1]));
        }
        Err(e) => {
            // Only whole-file problems may stop validation, never a bad row:
            // a header problem, or bytes that are no text in either encoding.
            let msg = e.to_string();
            prop_assert!(
                msg.contains("missing required column")
                    || msg.contains("map to column")
                    || msg.contains("file is empty")
                    || msg.contains("Shift_JIS")
                    || msg.contains("UTF-8"),
                "unexpected error: {}",
                msg
            );
        }
    }
    Ok(())
}

const MEETINGS: &str = "account_id,scheduled_at,status,late_minutes,purpose\n\
    A1,2026-01-05 10:00,held,0,regular\n\
    A2,2026-01-06T10:00:00+09:00,cancelled_by_client,,\"proposal, big\"\n\
    A1,2026-01-07 10:00,no_show_team,,\n\
    A2,2026-01-08 10:00:00Z,held,15,review\n";

const INVOICES: &str = "account_id,invoice_id,issued_on,due_on,amount,paid_on,disputed\n\
    A1,I1,2026-01-01,2026-01-31,100000,2026-01-30,false\n\
    A1,I2,2026/02/01,,100000,,yes\n\
    A2,I3,2026-01-01,2026-01-31,-5000,2026-02-02,0\n";

/// Small edits that real exports suffer: a byte dropped, doubled, replaced, a quote,
/// a comma or a newline inserted.
fn mutate(base: &str, edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
    let mut bytes = base.as_bytes().to_vec();
    for (pos, kind, byte) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = pos % bytes.len();
        let byte = [b'"', b',', b'\n', b'\r', b'-', b'x', b'0', byte][usize::from(byte % 8)];
        match kind % 4 {
            0 => {
                bytes.remove(at);
            }
            1 => bytes.insert(at, byte),
            2 => bytes[at] = byte,
            _ => {
                let b = bytes[at];
                bytes.insert(at, b);
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn mutated_meetings_never_panic_or_lose_rows(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)
    ) {
        check(mutate(MEETINGS, edits), "meetings")?;
    }

    #[test]
    fn mutated_invoices_never_panic_or_lose_rows(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)
    ) {
        check(mutate(INVOICES, edits), "invoices")?;
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut with_header = b"account_id,received_at,first_response_at,channel\n".to_vec();
        with_header.extend(bytes);
        check(with_header, "messages")?;
    }
}

fn shipped() -> churnwatch::config::Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    churnwatch::config::Config::load(&path).expect("shipped config")
}

/// The date context scoring needs, with a team reply norm of 8 h.
fn empty_snapshot() -> churnwatch::features::Snapshot {
    churnwatch::features::Snapshot {
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        day: 20_000,
        team_reply_h: Some(8.0),
        proposals_recorded: true,
        team_attendance: Some(0.7),
        meetings_from: Some(0),
        messages_from: Some(0),
        accounts: vec![],
    }
}

fn features() -> impl Strategy<Value = churnwatch::features::AccountFeatures> {
    (
        (0i32..3000, 0i64..30, 0i64..30, 0i64..10, 0i64..60, 0i64..60),
        (
            0.0f64..200.0,
            0.0f64..50.0,
            0i64..20,
            0i64..20,
            0.2f64..1.5,
            0.2f64..1.5,
        ),
    )
        .prop_map(
            |(
                (history, held_recent, held_base, cancels, msgs, msgs_base),
                (reply, reply_base, late, overdue, kpi, kpi_base),
            )| {
                churnwatch::features::AccountFeatures {
                    history_days: history,
                    held_recent,
                    held_base,
                    scheduled_recent: held_recent + cancels,
                    client_cancelled_recent: cancels,
                    client_messages_recent: msgs,
                    client_messages_base: msgs_base,
                    reply_recent_h: Some(reply),
                    reply_recent_n: msgs,
                    reply_base_h: Some(reply_base),
                    reply_base_n: msgs_base,
                    held_team_window: held_recent,
                    late_team_window: late.min(held_recent),
                    overdue_open: overdue,
                    due_recent: overdue + late,
                    late_recent: overdue,
                    waited_recent: msgs,
                    unanswered: late.min(msgs),
                    kpi_recent: Some(kpi),
                    kpi_recent_n: 2,
                    kpi_base: Some(kpi_base),
                    kpi_base_n: 6,
                    ..Default::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// More stress evidence never lowers a category score or the risk score, and
    /// every score stays within 0..=100.
    #[test]
    fn more_stress_never_lowers_scores(f in features(), extra in 1i64..10, slower in 1.0f64..100.0) {
        let cfg = shipped();
        let snap = empty_snapshot();
        let base = churnwatch::scoring::score(&f, &snap, &cfg);
        prop_assert!((0.0..=100.0).contains(&base.risk));
        let worse = [
            churnwatch::features::AccountFeatures { unanswered: f.unanswered + extra, ..f.clone() },
            churnwatch::features::AccountFeatures {
                late_recent: f.late_recent + extra,
                due_recent: f.due_recent + extra,
                ..f.clone()
            },
            churnwatch::features::AccountFeatures { disputes: f.disputes + extra, ..f.clone() },
            churnwatch::features::AccountFeatures {
                client_cancelled_recent: f.client_cancelled_recent + extra,
                scheduled_recent: f.scheduled_recent + extra,
                ..f.clone()
            },
            churnwatch::features::AccountFeatures {
                reply_recent_h: f.reply_recent_h.map(|h| h + slower),
                ..f.clone()
            },
            churnwatch::features::AccountFeatures {
                held_recent: (f.held_recent - extra).max(0),
                ..f.clone()
            },
            churnwatch::features::AccountFeatures {
                kpi_recent: f.kpi_recent.map(|k| k * 0.8),
                ..f.clone()
            },
        ];
        for w in worse {
            let s = churnwatch::scoring::score(&w, &snap, &cfg);
            prop_assert!(s.risk >= base.risk - 1e-9, "risk fell: {} -> {}", base.risk, s.risk);
            for c in 0..4 {
                prop_assert!(s.categories[c] >= base.categories[c] - 1e-9);
                prop_assert!((0.0..=100.0).contains(&s.categories[c]));
            }
        }
    }
}

/// A young account whose first results lag the target, with nothing else wrong, is
/// ramping up, not at risk; the same figures on an old account are outcome stress.
#[test]
fn young_accounts_are_not_flagged_for_early_results() {
    let cfg = shipped();
    let snap = empty_snapshot();
    let young = churnwatch::features::AccountFeatures {
        history_days: 45,
        kpi_recent: Some(0.55),
        kpi_recent_n: 2,
        ..Default::default()
    };
    let score = churnwatch::scoring::score(&young, &snap, &cfg);
    assert_eq!(
        score.level,
        churnwatch::scoring::RiskLevel::Low,
        "{score:?}"
    );
    let old = churnwatch::features::AccountFeatures {
        history_days: 900,
        ..young
    };
    let score = churnwatch::scoring::score(&old, &snap, &cfg);
    assert_eq!(score.primary, Some(churnwatch::scoring::Category::Outcome));
    assert!(
        score.level != churnwatch::scoring::RiskLevel::Low,
        "{score:?}"
    );
}
