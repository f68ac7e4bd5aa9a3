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
        fresh_warn_days: None,
        fresh_fail_days: None,
    }
}

fn accounts() -> AccountIndex {
    [("A1".to_owned(), 0), ("A2".to_owned(), 1)]
        .into_iter()
        .collect()
}

/// Physical lines of a file, counted on its bytes with no CSV parser: `\r\n`, `\n`
/// and a lone `\r` each end a line; a last line without an end counts too.
pub fn physical_lines(bytes: &[u8]) -> u64 {
    let mut lines = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                lines += 1;
                i += 1;
            }
            b'\r' | b'\n' => lines += 1,
            _ => {}
        }
        i += 1;
    }
    let last = bytes.last().is_some_and(|&b| b != b'\n' && b != b'\r');
    lines + u64::from(last)
}

/// Feeds bytes through the real ingest (encoding detection, streaming decode) and
/// validation; checks conservation where it gets that far.
fn check(bytes: Vec<u8>, name: &'static str) -> Result<(), TestCaseError> {
    // Shift_JIS and UTF-8 keep line-end bytes as they are: the count holds either way.
    let expected_lines = physical_lines(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes));
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
            // Every physical line is the header, a blank line, a record or a line
            // break inside a record's quoted field: none went missing in a record.
            let l = table.lines;
            prop_assert_eq!(l.physical_lines, expected_lines);
            prop_assert_eq!(
                l.physical_lines,
                1 + l.blank_lines + table.rows_read + l.line_breaks_in_fields
            );
            let lines: Vec<u64> = table.quarantine.iter().map(|q| q.line).collect();
            prop_assert!(lines.iter().all(|&q| (2..=l.physical_lines).contains(&q)));
            prop_assert!(lines.windows(2).all(|w| w[0] < w[1]));
        }
        Err(e) => {
            // Only whole-file problems may stop validation, never a bad row:
            // a header problem, or bytes that are no text in either encoding.
            let msg = e.to_string();
            prop_assert!(
                msg.contains("missing required column")
                    || msg.contains("map to column")
                    || msg.contains("file is empty")
                    || msg.contains("header but no rows")
                    || msg.contains("UTF-16")
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

/// A valid meetings row; `i` varies the account, day and status.
fn meeting_row(i: usize) -> String {
    let status = ["held", "rescheduled", "cancelled_by_client", "no_show_team"][i % 4];
    format!(
        "A{},2026-{:02}-{:02} 10:00,{status},{},regular\n",
        1 + i % 2,
        1 + i % 12,
        1 + i % 28,
        i % 20
    )
}

/// What a hand-typed or cut-off export does to a file of good rows.
#[derive(Debug, Clone)]
enum Damage {
    /// A `"` put at the start of field `field` of row `row` (a quote that opens and
    /// may never close), or in the middle of it (`mid`).
    StrayQuote { row: usize, field: usize, mid: bool },
    /// The last row cut `keep` bytes in, with no line end.
    CutLastRow { keep: usize },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => (any::<usize>(), 0usize..5, any::<bool>())
            .prop_map(|(row, field, mid)| Damage::StrayQuote { row, field, mid }),
        1 => any::<usize>().prop_map(|keep| Damage::CutLastRow { keep }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Stray quotes, header-only files and cut last rows, planted in generated
    /// exports: every physical line after the header is one record (accepted or
    /// quarantined), and every row nobody touched is accepted.
    #[test]
    fn planted_damage_loses_no_record(
        n_rows in 0usize..80,
        damages in proptest::collection::vec(damage(), 0..6),
    ) {
        let header = "account_id,scheduled_at,status,late_minutes,purpose\n";
        let mut rows: Vec<String> = (0..n_rows).map(meeting_row).collect();
        let mut touched = vec![false; n_rows];
        for d in &damages {
            if rows.is_empty() {
                break;
            }
            match *d {
                Damage::StrayQuote { row, field, mid } => {
                    let r = row % rows.len();
                    let line = &mut rows[r];
                    if line.is_empty() {
                        continue;
                    }
                    let starts: Vec<usize> = std::iter::once(0)
                        .chain(line.match_indices(',').map(|(i, _)| i + 1))
                        .collect();
                    let at = starts[field % starts.len()] + usize::from(mid);
                    line.insert(at.min(line.len() - 1), '"');
                    touched[r] = true;
                }
                Damage::CutLastRow { keep } => {
                    let last = rows.len() - 1;
                    let line = &mut rows[last];
                    if line.is_empty() {
                        continue;
                    }
                    line.truncate(keep % line.len());
                    touched[last] = true;
                }
            }
        }
        let text = format!("{header}{}", rows.concat());
        let source = Source::new(
            "meetings",
            &PathBuf::from("meetings.csv"),
            std::io::Cursor::new(text.clone().into_bytes()),
            EncodingChoice::Auto,
            None,
        )
        .unwrap();
        let index = accounts();
        match validate(source, &table_config("meetings"), chrono_tz::Asia::Tokyo, Some(&index)) {
            Ok(table) => {
                let non_blank = text.lines().skip(1).filter(|l| !l.is_empty()).count() as u64;
                prop_assert_eq!(table.rows_read, non_blank, "one record per line");
                prop_assert_eq!(table.lines.line_breaks_in_fields, 0);
                prop_assert_eq!(
                    table.rows_read,
                    table.rows_accepted() + table.quarantine.len() as u64
                );
                let untouched = touched.iter().filter(|t| !**t).count() as u64;
                prop_assert!(
                    table.rows_accepted() >= untouched,
                    "{} accepted, {} rows untouched: {:?}",
                    table.rows_accepted(),
                    untouched,
                    table.quarantine.iter().map(|q| (q.line, q.reason.as_str())).collect::<Vec<_>>()
                );
            }
            Err(e) => {
                // Only a file with nothing but its header may stop the run.
                prop_assert!(
                    text.lines().skip(1).all(str::is_empty),
                    "unexpected error: {}",
                    e
                );
                prop_assert!(e.to_string().contains("header but no rows"), "{}", e);
            }
        }
    }
}

fn shipped() -> churnwatch::config::Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    churnwatch::config::Config::load(&path, &churnwatch::signals::Signal::keys())
        .expect("shipped config")
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
        open: churnwatch::features::OpenDays::new(20_000, 600, 1.0),
        activity_cv2: [Some(0.04); 2],
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
        (proptest::collection::vec(0u32..12, 17), 0.2f64..1.5),
    )
        .prop_map(
            |(
                (history, held_recent, held_base, cancels, msgs, msgs_base),
                (reply, reply_base, late, overdue, kpi, kpi_base),
                (weeks, kpi_last),
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
                    // Two months: the latest at kpi_last, the mean at kpi.
                    kpi_recent: Some(kpi),
                    kpi_recent_n: 2,
                    kpi_recent_last: Some(kpi_last),
                    kpi_base: Some(kpi_base),
                    kpi_base_n: 6,
                    engagement_weeks: weeks,
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
    fn more_stress_never_lowers_scores(
        f in features(),
        extra in 1i64..10,
        slower in 1.0f64..100.0,
        quiet_week in 0usize..17,
    ) {
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
            // The older of the two months lower, or the latest one (which lowers the
            // mean by half as much).
            churnwatch::features::AccountFeatures {
                kpi_recent: f.kpi_recent.map(|k| k - 0.1),
                ..f.clone()
            },
            churnwatch::features::AccountFeatures {
                kpi_recent: f.kpi_recent.map(|k| k - 0.1),
                kpi_recent_last: f.kpi_recent_last.map(|k| k - 0.2),
                ..f.clone()
            },
            {
                // A quieter week anywhere in the engagement CUSUM's stretch.
                let mut weeks = f.engagement_weeks.clone();
                weeks[quiet_week] = weeks[quiet_week].saturating_sub(extra as u32);
                churnwatch::features::AccountFeatures { engagement_weeks: weeks, ..f.clone() }
            },
        ];
        for (i, w) in worse.into_iter().enumerate() {
            let s = churnwatch::scoring::score(&w, &snap, &cfg);
            prop_assert!(s.risk >= base.risk - 1e-9, "risk fell: {} -> {} (case {i})", base.risk, s.risk);
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
