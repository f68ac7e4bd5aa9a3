//! Contract validation: turns decoded CSV records into typed polars frames and routes
//! every row that breaks the contract to quarantine with a stable reason code.
//!
//! Invariant: for every table, `rows_read == rows_accepted + rows_quarantined`.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use polars::prelude::*;
use tracing::warn;

pub use crate::calendar::{date_of_day, day_number, epoch_minutes};
use crate::config::TableConfig;
pub use crate::contract::{
    ColSpec, ColType, MAX_COLUMNS, MEETING_STATUSES, ReasonCode, TableSpec, spec, status_code,
};
use crate::error::Error;
use crate::ingest::{LineStats, MAX_QUOTED_LINES, ReadError, RecordReader, Source, Unclosed};
use ColType::*;

/// Column names of the frames that validation hands to feature extraction.
pub mod col {
    /// Index of the account in the accounts frame (`u32`), on every child table.
    pub const ACCT: &str = "acct";
    /// Suffix of the local calendar day (`i32`, days since 1970-01-01) derived from a
    /// datetime column.
    pub const DAY_SUFFIX: &str = "_day";
}

/// A rejected row, kept as it was read.
#[derive(Debug, Clone)]
pub struct QuarantinedRow {
    /// Line of the source file on which the record starts (header = line 1).
    pub line: u64,
    pub reason: ReasonCode,
    pub field: String,
    pub message: String,
    pub raw: Vec<String>,
    /// The row's `account_id` as read (trimmed; empty if it had none).
    pub account_id: String,
}

/// A validated table.
pub struct Table {
    pub name: &'static str,
    /// `None` for an optional export that was absent.
    pub path: Option<PathBuf>,
    pub encoding: &'static str,
    /// The source header as it was in the file (before renames).
    pub source_header: Vec<String>,
    pub frame: DataFrame,
    pub quarantine: Vec<QuarantinedRow>,
    pub rows_read: u64,
    /// How the file's physical lines were used (all zero for an absent export).
    pub lines: LineStats,
    /// The line of the last record when it looks cut off: too few fields (or a quote
    /// left open) and no line end after it. A failed transfer, not one bad row.
    pub cut_off: Option<u64>,
}

impl Table {
    pub fn rows_accepted(&self) -> u64 {
        self.frame.height() as u64
    }
}

/// Parsing settings shared by every column of a table.
pub struct Parser<'a> {
    tz: Tz,
    date_formats: &'a [String],
    datetime_formats: &'a [String],
    /// The zone's UTC offset (seconds) of recent local days, by day number modulo
    /// the cache size: converting a local time is then one subtraction instead of
    /// a search of the zone's transitions, which was a tenth of a run's time.
    offsets: Box<[std::cell::Cell<(i32, i32)>]>,
}

/// Local days whose offset [`Parser`] remembers: about three years of them.
const OFFSET_CACHE_DAYS: usize = 1024;

impl<'a> Parser<'a> {
    pub fn new(tz: Tz, date_formats: &'a [String], datetime_formats: &'a [String]) -> Self {
        Parser {
            tz,
            date_formats,
            datetime_formats,
            // Day `i32::MIN` is no real day: every slot starts empty.
            offsets: vec![std::cell::Cell::new((i32::MIN, 0)); OFFSET_CACHE_DAYS]
                .into_boxed_slice(),
        }
    }

    /// The UTC offset that holds for the whole local day `day`, or `None` on a day
    /// with a DST change, whose times need the zone's full rules.
    fn day_offset(&self, day: i32) -> Option<i32> {
        let slot = &self.offsets[day.rem_euclid(OFFSET_CACHE_DAYS as i32) as usize];
        if let (d, offset) = slot.get()
            && d == day
        {
            return Some(offset);
        }
        let date = date_of_day(day);
        let offset_at = |h, m, s| {
            let t = date.and_hms_opt(h, m, s)?;
            Some(
                self.tz
                    .from_local_datetime(&t)
                    .single()?
                    .offset()
                    .fix()
                    .local_minus_utc(),
            )
        };
        let first = offset_at(0, 0, 0)?;
        (offset_at(23, 59, 59)? == first).then(|| {
            slot.set((day, first));
            first
        })
    }

    /// A date as its day number: `YYYY-MM-DD`, else the configured formats.
    pub fn day(&self, s: &str) -> Option<i32> {
        iso_day(s.as_bytes()).or_else(|| {
            self.date_formats
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
                .map(day_number)
        })
    }

    /// ISO 8601 with `T` or a space, seconds optional, offset optional (`Z`, `+09:00`).
    /// Without an offset the value is local time in the configured zone.
    /// Returns epoch seconds and the local calendar day.
    pub fn datetime(&self, s: &str) -> Option<(i64, i32)> {
        const WITH_OFFSET: [&str; 4] = [
            "%Y-%m-%dT%H:%M:%S%.f%:z",
            "%Y-%m-%d %H:%M:%S%.f%:z",
            "%Y-%m-%dT%H:%M%:z",
            "%Y-%m-%d %H:%M%:z",
        ];
        const NAIVE: [&str; 4] = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
        ];
        if let Some((day, seconds)) = iso_local_datetime(s.as_bytes()) {
            return match self.day_offset(day) {
                Some(offset) => Some((
                    i64::from(day) * 86_400 + i64::from(seconds) - i64::from(offset),
                    day,
                )),
                None => self.local(date_of_day(day).and_time(
                    chrono::NaiveTime::from_num_seconds_from_midnight_opt(seconds as u32, 0)?,
                )),
            };
        }
        let zulu;
        let s = match s.strip_suffix(['Z', 'z']) {
            Some(rest) => {
                zulu = format!("{rest}+00:00");
                zulu.as_str()
            }
            None => s,
        };
        if let Some(dt) = WITH_OFFSET
            .iter()
            .find_map(|f| DateTime::parse_from_str(s, f).ok())
        {
            let local = dt.with_timezone(&self.tz);
            return Some((dt.timestamp(), day_number(local.date_naive())));
        }
        let naive = NAIVE
            .iter()
            .map(|f| f.to_string())
            .chain(self.datetime_formats.iter().cloned())
            .find_map(|f| NaiveDateTime::parse_from_str(s, &f).ok())?;
        self.local(naive)
    }

    /// A wall-clock time in the configured zone. A local time skipped by a DST change
    /// does not exist; `earliest` picks the first of two ambiguous ones.
    fn local(&self, naive: NaiveDateTime) -> Option<(i64, i32)> {
        let day = day_number(naive.date());
        if let Some(offset) = self.day_offset(day) {
            return Some((naive.and_utc().timestamp() - i64::from(offset), day));
        }
        let local = self.tz.from_local_datetime(&naive).earliest()?;
        Some((local.timestamp(), day))
    }
}

/// Whole number from ASCII digits only (no sign, no spaces).
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Fast path for the contract's canonical `YYYY-MM-DD` (the bulk of every export):
/// its day number, with no calendar library in the loop; anything else goes to
/// chrono's format parsing.
fn iso_day(b: &[u8]) -> Option<i32> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    civil_day(digits(&b[..4])? as i32, digits(&b[5..7])?, digits(&b[8..])?)
}

/// Days since 1970-01-01 of a proleptic Gregorian date, `None` if there is no such
/// date (H. Hinnant's `days_from_civil`).
fn civil_day(year: i32, month: u32, day: u32) -> Option<i32> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=month_days).contains(&day) {
        return None;
    }
    // Years start in March, so the leap day is the last day of a year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400) as u32;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era as i32 - 719_468)
}

/// Fast path for `YYYY-MM-DD HH:MM[:SS]` (space or `T`) without offset: the local
/// day number and the seconds since its midnight.
fn iso_local_datetime(b: &[u8]) -> Option<(i32, i32)> {
    if !(b.len() == 16 || b.len() == 19) || !(b[10] == b' ' || b[10] == b'T') || b[13] != b':' {
        return None;
    }
    let seconds = match b.len() {
        19 if b[16] == b':' => digits(&b[17..])?,
        19 => return None,
        _ => 0,
    };
    let (hour, minute) = (digits(&b[11..13])?, digits(&b[14..16])?);
    let day = iso_day(&b[..10])?;
    // ISO 8601's `24:00` is the end of a day: the next day's midnight.
    if (hour, minute, seconds) == (24, 0, 0) {
        return Some((day + 1, 0));
    }
    if hour > 23 || minute > 59 || seconds > 59 {
        return None;
    }
    Some((day, (hour * 3600 + minute * 60 + seconds) as i32))
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn parse_decimal(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Typed values of one column while rows are being accepted, built straight into
/// polars arrays (no intermediate `Vec<Option<_>>`, no second copy).
enum Values {
    Text(StringChunkedBuilder),
    Code(PrimitiveChunkedBuilder<Int32Type>),
    Day(PrimitiveChunkedBuilder<Int32Type>),
    /// Minutes since the epoch ([`epoch_minutes`]) and the local day.
    Moment(
        PrimitiveChunkedBuilder<Int32Type>,
        PrimitiveChunkedBuilder<Int32Type>,
    ),
    Bool(BooleanChunkedBuilder),
    Num(PrimitiveChunkedBuilder<Float64Type>),
    Int(PrimitiveChunkedBuilder<Int64Type>),
    /// Validated but not kept: nothing downstream reads it, and at scale it would
    /// cost gigabytes.
    Dropped,
}

/// One parsed cell, before the row is known to be good. Text borrows the record.
#[derive(Clone, Copy)]
enum Cell<'a> {
    Text(Option<&'a str>),
    Code(Option<i32>),
    Day(Option<i32>),
    Moment(Option<(i64, i32)>),
    Bool(Option<bool>),
    Num(Option<f64>),
    Int(Option<i64>),
}

impl Cell<'_> {
    /// A comparable instant for the `ordered` check.
    fn instant(&self) -> Option<i64> {
        match self {
            Cell::Day(d) => d.map(i64::from),
            Cell::Moment(m) => m.map(|(ts, _)| ts),
            _ => None,
        }
    }
}

impl Values {
    fn new(spec: &ColSpec, capacity: usize) -> Values {
        let name = || PlSmallStr::from(spec.name);
        if !spec.kept {
            return Values::Dropped;
        }
        match spec.ty {
            Text | Choice(_) => Values::Text(StringChunkedBuilder::new(name(), capacity)),
            MeetingStatus => Values::Code(PrimitiveChunkedBuilder::new(name(), capacity)),
            Purpose => Values::Bool(BooleanChunkedBuilder::new("is_proposal".into(), capacity)),
            Date => Values::Day(PrimitiveChunkedBuilder::new(name(), capacity)),
            LocalDay => Values::Day(PrimitiveChunkedBuilder::new(
                format!("{}{}", spec.name, col::DAY_SUFFIX).into(),
                capacity,
            )),
            DateTime => Values::Moment(
                PrimitiveChunkedBuilder::new(name(), capacity),
                PrimitiveChunkedBuilder::new(
                    format!("{}{}", spec.name, col::DAY_SUFFIX).into(),
                    capacity,
                ),
            ),
            Bool => Values::Bool(BooleanChunkedBuilder::new(name(), capacity)),
            Decimal | NonNegative | Positive => {
                Values::Num(PrimitiveChunkedBuilder::new(name(), capacity))
            }
            Count => Values::Int(PrimitiveChunkedBuilder::new(name(), capacity)),
        }
    }

    fn push(&mut self, cell: Cell) {
        match (self, cell) {
            (Values::Dropped, _) => {}
            (Values::Text(v), Cell::Text(x)) => v.append_option(x),
            (Values::Code(v), Cell::Code(x)) => v.append_option(x),
            (Values::Day(v), Cell::Day(x)) => v.append_option(x),
            (Values::Moment(ts, day), Cell::Moment(x)) => {
                ts.append_option(x.map(|m| epoch_minutes(m.0)));
                day.append_option(x.map(|m| m.1));
            }
            (Values::Bool(v), Cell::Bool(x)) => v.append_option(x),
            (Values::Num(v), Cell::Num(x)) => v.append_option(x),
            (Values::Int(v), Cell::Int(x)) => v.append_option(x),
            _ => unreachable!("cell type follows the column spec"),
        }
    }

    fn into_columns(self) -> Vec<Column> {
        match self {
            Values::Dropped => vec![],
            Values::Text(v) => vec![v.finish().into_column()],
            Values::Code(v) => vec![v.finish().into_column()],
            Values::Day(v) => vec![v.finish().into_column()],
            Values::Moment(ts, day) => vec![ts.finish().into_column(), day.finish().into_column()],
            Values::Bool(v) => vec![v.finish().into_column()],
            Values::Num(v) => vec![v.finish().into_column()],
            Values::Int(v) => vec![v.finish().into_column()],
        }
    }
}

type CellError = (ReasonCode, String);

/// `str::trim`, with the usual case first: a cell that starts and ends with a
/// visible ASCII character has nothing to trim (Unicode spaces, such as the
/// ideographic space of Japanese exports, start with a non-ASCII byte).
fn trim(s: &str) -> &str {
    let visible = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_graphic());
    if visible(s.as_bytes().first()) && visible(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

fn parse_cell<'a>(spec: &ColSpec, raw: &'a str, parser: &Parser) -> Result<Cell<'a>, CellError> {
    let s = trim(raw);
    if s.is_empty() {
        if spec.required {
            return Err((
                ReasonCode::MissingValue,
                "required value is empty".to_owned(),
            ));
        }
        return Ok(match spec.ty {
            Text | Choice(_) => Cell::Text(None),
            MeetingStatus => Cell::Code(None),
            Purpose => Cell::Bool(None),
            Date | LocalDay => Cell::Day(None),
            DateTime => Cell::Moment(None),
            Bool => Cell::Bool(None),
            Decimal | NonNegative | Positive => Cell::Num(None),
            Count => Cell::Int(None),
        });
    }
    let bad = |code: ReasonCode, expected: &str| (code, format!("`{s}` is not {expected}"));
    Ok(match spec.ty {
        // Free text keeps its inner spacing; only the outer whitespace of ids goes.
        Text => Cell::Text(Some(if spec.name.ends_with("_id") { s } else { raw })),
        // Case is not meaning: `Held` from a CRM is stored as the contract's `held`.
        MeetingStatus => match MEETING_STATUSES
            .iter()
            .position(|m| m.eq_ignore_ascii_case(s))
        {
            Some(code) => Cell::Code(Some(code as i32)),
            None => {
                return Err(bad(
                    ReasonCode::BadStatus,
                    &format!("one of {}", MEETING_STATUSES.join(", ")),
                ));
            }
        },
        Purpose => Cell::Bool(Some(s.eq_ignore_ascii_case("proposal"))),
        Choice(words) => match words.iter().find(|w| w.eq_ignore_ascii_case(s)) {
            Some(word) => Cell::Text(Some(word)),
            None => {
                return Err(bad(
                    ReasonCode::BadValue,
                    &format!("one of {}", words.join(", ")),
                ));
            }
        },
        LocalDay => Cell::Day(Some(
            parser
                .datetime(s)
                .ok_or_else(|| bad(ReasonCode::BadDatetime, "a datetime"))?
                .1,
        )),
        Date => Cell::Day(Some(
            parser
                .day(s)
                .ok_or_else(|| bad(ReasonCode::BadDate, "a date"))?,
        )),
        DateTime => Cell::Moment(Some(
            parser
                .datetime(s)
                .ok_or_else(|| bad(ReasonCode::BadDatetime, "a datetime"))?,
        )),
        Bool => {
            Cell::Bool(Some(parse_bool(s).ok_or_else(|| {
                bad(ReasonCode::BadBool, "true/false, 1/0 or yes/no")
            })?))
        }
        Decimal | NonNegative | Positive => {
            let v = parse_decimal(s).ok_or_else(|| bad(ReasonCode::BadNumber, "a number"))?;
            if spec.ty == NonNegative && v < 0.0 {
                return Err((ReasonCode::OutOfRange, format!("{v} is negative")));
            }
            if spec.ty == Positive && v <= 0.0 {
                return Err((ReasonCode::OutOfRange, format!("{v} is not above 0")));
            }
            Cell::Num(Some(v))
        }
        Count => {
            let v: i64 = s
                .parse()
                .map_err(|_| bad(ReasonCode::BadInteger, "a whole number"))?;
            if v < 0 {
                return Err((ReasonCode::OutOfRange, format!("{v} is negative")));
            }
            Cell::Int(Some(v))
        }
    })
}

/// A text's shape: digits as `9`, letters as `a`, anything else as itself (`A00222`
/// and `A00223` have one shape, `New CFO` another).
fn shape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            c if c.is_ascii_digit() => '9',
            c if c.is_alphabetic() => 'a',
            c => c,
        })
        .collect()
}

/// Account ids of the accepted accounts, in frame order (`acct` is the index here),
/// and of the account rows that were quarantined, with their line: a child row of a
/// quarantined account is that account row's fault, and says so.
#[derive(Default)]
pub struct AccountIndex {
    ids: PlHashMap<String, u32>,
    pub quarantined: PlHashMap<String, u64>,
}

impl AccountIndex {
    pub fn get(&self, id: &str) -> Option<&u32> {
        self.ids.get(id)
    }
}

impl FromIterator<(String, u32)> for AccountIndex {
    fn from_iter<I: IntoIterator<Item = (String, u32)>>(iter: I) -> Self {
        AccountIndex {
            ids: iter.into_iter().collect(),
            quarantined: PlHashMap::new(),
        }
    }
}

/// Validates one export. `accounts` is `None` only while validating accounts itself.
pub fn validate(
    source: Source,
    table: &TableConfig,
    tz: Tz,
    accounts: Option<&AccountIndex>,
) -> Result<Table, Error> {
    let Source {
        table: name,
        path,
        encoding,
        reader,
        estimated_rows,
    } = source;
    // Arrays sized once from the estimate do not regrow (and copy) as rows arrive.
    let estimated_rows = estimated_rows.min(1 << 31);
    let spec = spec(name);
    let parser = Parser::new(tz, &table.date_formats, &table.datetime_formats);
    let bad_file = |message: String| Error::BadFile {
        table: name.to_owned(),
        path: path.clone(),
        message,
    };
    let mut reader = RecordReader::new(reader);
    let read_error = |e: ReadError| match e {
        ReadError::Io(e) => bad_file(format!("unreadable: {e}")),
        ReadError::Utf8 { line } => bad_file(format!(
            "not valid UTF-8 at line {line}; if the export is Shift_JIS set tables.{name}.encoding = \"shift_jis\""
        )),
    };
    let source_header: Vec<String> = match reader.next_record().map_err(read_error)? {
        Some(_) => reader.iter().map(|f| f.trim().to_owned()).collect(),
        None => Vec::new(),
    };
    if source_header.is_empty() {
        // A truncated export must not read as "no activity" for every account.
        if name == "accounts" {
            return Err(Error::EmptyAccounts { path: path.clone() });
        }
        if table.optional {
            // An optional export may be empty by design; it reads as absent.
            warn!(table = name, path = %path.display(), "optional export is empty (no header row); read as no rows");
            return empty_table(name).map(|t| Table {
                path: Some(path.clone()),
                encoding,
                ..t
            });
        }
        return Err(bad_file(
            "the file is empty: no header row (an export that failed?)".to_owned(),
        ));
    }
    // Where each contract column sits in the source row.
    let mut positions: Vec<Option<usize>> = vec![None; spec.cols.len()];
    for (i, h) in source_header.iter().enumerate() {
        let name = table.rename.get(h).map(String::as_str).unwrap_or(h);
        if let Some(k) = spec.cols.iter().position(|c| c.name == name) {
            if positions[k].is_some() {
                return Err(bad_file(format!(
                    "two header cells map to column `{name}` (the second is `{h}`, column {})",
                    i + 1
                )));
            }
            positions[k] = Some(i);
        }
    }
    for (k, c) in spec.cols.iter().enumerate() {
        if c.required && positions[k].is_none() {
            return Err(Error::MissingColumn {
                table: name.to_owned(),
                path: path.clone(),
                column: c.name.to_owned(),
                found: source_header.join(", "),
            });
        }
    }

    // Per source column: may a field hold line breaks? Columns the contract does
    // not know may be anyone's free text.
    let mut multiline = vec![true; source_header.len()];
    for (k, c) in spec.cols.iter().enumerate() {
        if let Some(i) = positions[k] {
            multiline[i] = c.multiline;
        }
    }

    // A line of free text with this many commas is a row of the file that a stray
    // quote swallowed, not part of a name or a stated reason.
    let row_like_commas = ((source_header.len() - 1) / 2).max(2);

    let mut values: Vec<Values> = spec
        .cols
        .iter()
        .map(|c| {
            // A child table's account_id becomes `acct`.
            if accounts.is_some() && c.name == "account_id" {
                Values::Dropped
            } else {
                Values::new(c, estimated_rows)
            }
        })
        .collect();
    let mut acct: Vec<u32> = Vec::new();
    let mut quarantine = Vec::new();
    let mut seen_keys: PlHashSet<String> = PlHashSet::new();
    let mut seen_accounts: PlHashSet<u32> = PlHashSet::new();
    let unique_col = spec
        .unique
        .and_then(|u| spec.cols.iter().position(|c| c.name == u));
    let ordered = spec.ordered.map(|(a, b, code)| {
        let pos = |n| {
            spec.cols
                .iter()
                .position(|c| c.name == n)
                .expect("spec column")
        };
        (pos(a), pos(b), code)
    });
    let mut rows_read = 0u64;
    let mut last_short: Option<u64> = None;
    let mut quote_open_at_end: Option<u64> = None;
    let (mut last_id, mut last_acct) = (String::new(), 0u32);

    while let Some(span) = reader.next_record().map_err(read_error)? {
        rows_read += 1;
        let line = span.line;
        // A quote open at the end of the file is a cut-off export whether or not its
        // last line ended; a short last row only without a line end.
        last_short = (reader.len() < source_header.len()).then_some(line);
        quote_open_at_end = (span.unclosed_quote == Some(Unclosed::EndOfFile)).then_some(line);
        // A quoted field over several lines is only believable where text may run
        // over lines and where the record still fits the header; otherwise its
        // opening quote was a stray one, and the lines it swallowed are rows.
        // In free text, a line is a swallowed row when it has a row's commas and
        // starts with something shaped like this record's account_id ("A00223," in
        // a name that opened on "A00222,"); prose with commas does not.
        // (Only a multi-line record needs it: computed lazily.)
        let id_shape = || shape(positions[0].and_then(|i| reader.get(i)).unwrap_or(""));
        let row_like = |piece: &str| {
            let id_shape = id_shape();
            piece.matches(',').count() >= row_like_commas
                && piece
                    .split(',')
                    .next()
                    .is_some_and(|first| !id_shape.is_empty() && shape(first.trim()) == id_shape)
        };
        let swallowed = span.lines > 1
            && (reader.len() != source_header.len()
                || reader.iter().enumerate().any(|(i, f)| {
                    f.contains(['\n', '\r'])
                        && (!multiline.get(i).copied().unwrap_or(true)
                            || f.split(['\n', '\r']).any(row_like))
                }));
        if swallowed {
            reader.retract().map_err(read_error)?;
        }
        let record = &reader;
        let raw = || record.iter().map(str::to_owned).collect::<Vec<_>>();
        // account_id is the first column of every table.
        let account_id = trim(positions[0].and_then(|i| record.get(i)).unwrap_or(""));
        let mut reject = |reason: ReasonCode, field: &str, message: String| {
            quarantine.push(QuarantinedRow {
                line,
                reason,
                field: field.to_owned(),
                message,
                raw: raw(),
                account_id: account_id.to_owned(),
            });
        };
        if span.unclosed_quote.is_some() || swallowed {
            reject(
                ReasonCode::UnclosedQuote,
                "",
                format!(
                    "a quoted field opens on line {line} and is not closed {} (a stray `\"`?); the lines after it are read as rows of their own",
                    match span.unclosed_quote {
                        Some(Unclosed::EndOfFile) => "before the end of the file".to_owned(),
                        Some(Unclosed::TooManyLines) => format!("within {MAX_QUOTED_LINES} lines"),
                        None => "in a way that fits the header".to_owned(),
                    }
                ),
            );
            continue;
        }
        if record.len() != source_header.len() {
            reject(
                ReasonCode::WrongFieldCount,
                "",
                format!(
                    "{} fields, the header has {}",
                    record.len(),
                    source_header.len()
                ),
            );
            continue;
        }
        // On the stack: no allocation per row.
        let mut cells = [Cell::Text(None); MAX_COLUMNS];
        let mut failed = false;
        for (k, c) in spec.cols.iter().enumerate() {
            let text = positions[k].and_then(|i| record.get(i)).unwrap_or("");
            if k == 0 && accounts.is_some() {
                // A child table's account_id is looked up, never stored: `acct`
                // stands for it, so no string is allocated per row.
                if account_id.is_empty() {
                    reject(
                        ReasonCode::MissingValue,
                        c.name,
                        format!("{}: required value is empty", c.name),
                    );
                    failed = true;
                    break;
                }
                continue;
            }
            match parse_cell(c, text, &parser) {
                Ok(cell) => cells[k] = cell,
                Err((reason, message)) => {
                    reject(reason, c.name, format!("{}: {message}", c.name));
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            continue;
        }
        if let Some((a, b, code)) = ordered
            && let (Some(x), Some(y)) = (cells[a].instant(), cells[b].instant())
            && y < x
        {
            let (na, nb) = (spec.cols[a].name, spec.cols[b].name);
            reject(code, nb, format!("{nb} is earlier than {na}"));
            continue;
        }
        let account = match accounts {
            // The accounts table indexes itself: its n-th accepted row is account n.
            None => acct.len() as u32,
            // Exports list an account's rows together: most rows repeat the last id.
            Some(_) if !last_id.is_empty() && last_id == account_id => last_acct,
            Some(index) => match index.get(account_id) {
                Some(&i) => {
                    last_id.clear();
                    last_id.push_str(account_id);
                    last_acct = i;
                    i
                }
                None if let Some(at) = index.quarantined.get(account_id) => {
                    reject(
                        ReasonCode::AccountQuarantined,
                        "account_id",
                        format!(
                            "account `{account_id}` was quarantined in accounts (line {at}); fix that row and this one is read"
                        ),
                    );
                    continue;
                }
                None => {
                    reject(
                        ReasonCode::UnknownAccountId,
                        "account_id",
                        format!("account_id `{account_id}` is not in accounts"),
                    );
                    continue;
                }
            },
        };
        if unique_col == Some(0) && accounts.is_some() {
            // A child table keyed by account: the account's index stands for its id.
            if !seen_accounts.insert(account) {
                reject(
                    ReasonCode::DuplicateKey,
                    "account_id",
                    format!("account_id `{account_id}` repeats an earlier row (the first is kept)"),
                );
                continue;
            }
        } else if let Some(u) = unique_col {
            let Cell::Text(Some(key)) = &cells[u] else {
                unreachable!("unique keys are required text columns")
            };
            if !seen_keys.insert((*key).to_owned()) {
                let name = spec.cols[u].name;
                reject(
                    ReasonCode::DuplicateKey,
                    name,
                    format!("{name} `{key}` repeats an earlier row (the first is kept)"),
                );
                continue;
            }
        }
        acct.push(account);
        for (v, cell) in values.iter_mut().zip(cells) {
            v.push(cell);
        }
    }

    // Every physical line is the header, a blank line, a record, or a line break
    // inside a record's quoted field: counted apart from the parser, so rows that
    // went missing inside a record would show here.
    let lines = reader.stats();
    if lines.physical_lines != 1 + lines.blank_lines + rows_read + lines.line_breaks_in_fields {
        return Err(Error::Internal {
            stage: "validate",
            message: format!(
                "{name}: {} lines do not add up to 1 header + {} blank + {rows_read} records + {} line breaks in quoted fields",
                lines.physical_lines, lines.blank_lines, lines.line_breaks_in_fields
            ),
        });
    }
    let columns = values.into_iter().flat_map(Values::into_columns).collect();
    let frame = by_account(acct, columns).map_err(Error::polars("validate"))?;
    if name == "accounts" && frame.height() == 0 {
        return Err(Error::EmptyAccounts { path: path.clone() });
    }
    if rows_read == 0 && name == "churn_events" {
        // History, not activity: no cancellations yet makes no account look quieter.
        warn!(table = name, path = %path.display(), "export has a header but no rows: no past cancellations");
    } else if rows_read == 0 && !table.optional {
        // A header and nothing else is a failed export as surely as an empty file:
        // read as "no activity", it would move every account's scores.
        return Err(bad_file(format!(
            "the file has a header but no rows (an export that failed?); if this table is empty by design, set tables.{name}.optional = true"
        )));
    }
    Ok(Table {
        name,
        path: Some(path.clone()),
        encoding,
        source_header,
        frame,
        quarantine,
        rows_read,
        lines,
        cut_off: last_short
            .filter(|_| !lines.ends_with_line_break)
            .or(quote_open_at_end),
    })
}

/// The frame of a table: `acct` first, rows grouped by account and flagged as
/// sorted. polars then aggregates each account's rows as one contiguous slice
/// instead of gathering them by index, and features slice frames by account range
/// without copying. Exports are usually in account order already; others are put
/// in it here, keeping each account's rows in file order.
fn by_account(acct: Vec<u32>, columns: Vec<Column>) -> PolarsResult<DataFrame> {
    let sorted = acct.is_sorted();
    let mut acct = Column::new(col::ACCT.into(), acct);
    if sorted {
        acct.set_sorted_flag(polars::series::IsSorted::Ascending);
    }
    let frame = DataFrame::new_infer_height(std::iter::once(acct).chain(columns).collect())?;
    if sorted {
        return Ok(frame);
    }
    frame.sort(
        [col::ACCT],
        SortMultipleOptions::default().with_maintain_order(true),
    )
}

/// The frame an absent optional export stands for: the right columns, no rows.
pub fn empty_table(name: &'static str) -> Result<Table, Error> {
    let spec = spec(name);
    let columns = spec
        .cols
        .iter()
        .filter(|c| c.name != "account_id")
        .flat_map(|c| Values::new(c, 0).into_columns())
        .collect();
    Ok(Table {
        name,
        path: None,
        encoding: "",
        source_header: spec.cols.iter().map(|c| c.name.to_owned()).collect(),
        frame: by_account(Vec::new(), columns).map_err(Error::polars("validate"))?,
        quarantine: Vec::new(),
        rows_read: 0,
        lines: LineStats::default(),
        cut_off: None,
    })
}

/// Maps account ids to their row in the accounts frame.
pub fn account_index(accounts: &Table) -> Result<AccountIndex, Error> {
    let ids = accounts
        .frame
        .column("account_id")
        .and_then(|c| c.str().cloned())
        .map_err(Error::polars("validate"))?;
    let mut index: AccountIndex = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| id.map(|id| (id.to_owned(), i as u32)))
        .collect();
    for q in &accounts.quarantine {
        if !q.account_id.is_empty() && index.get(&q.account_id).is_none() {
            index
                .quarantined
                .entry(q.account_id.clone())
                .or_insert(q.line);
        }
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::c;
    use chrono::Datelike;

    fn parser() -> Parser<'static> {
        Parser::new(chrono_tz::Asia::Tokyo, &[], &[])
    }

    #[test]
    fn naive_datetime_is_local_time() {
        let p = parser();
        let (ts, day) = p.datetime("2026-01-02 08:30").unwrap();
        // 08:30 in Tokyo is 23:30 UTC the day before; the local day stays Jan 2.
        assert_eq!(ts, 1_767_310_200);
        assert_eq!(
            date_of_day(day),
            NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()
        );
    }

    #[test]
    fn midnight_written_24_00_is_the_next_day() {
        let p = parser();
        assert_eq!(
            p.datetime("2026-01-01 24:00"),
            p.datetime("2026-01-02 00:00")
        );
        assert_eq!(
            p.datetime("2026-12-31T24:00:00"),
            p.datetime("2027-01-01T00:00:00")
        );
        assert_eq!(p.datetime("2026-01-01 24:01"), None);
        assert_eq!(p.datetime("2026-01-01 25:00"), None);
    }

    /// The per-day offset cache gives what the zone's full rules give, on every
    /// half hour of two years in zones with DST changes at different local times
    /// (including the skipped and repeated hours), in any order.
    #[test]
    fn cached_offsets_match_the_zone_rules() {
        for tz in [
            chrono_tz::Europe::Berlin,
            chrono_tz::America::Santiago,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Asia::Tokyo,
        ] {
            let p = Parser::new(tz, &[], &[]);
            let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
            // Forwards, then backwards, so slots are filled and reused both ways.
            let steps: Vec<i64> = (0..2 * 366 * 48).chain((0..2 * 366 * 48).rev()).collect();
            for step in steps {
                let naive =
                    start.and_hms_opt(0, 0, 0).unwrap() + chrono::Duration::minutes(30 * step);
                let expected = tz
                    .from_local_datetime(&naive)
                    .earliest()
                    .map(|t| (t.timestamp(), day_number(naive.date())));
                assert_eq!(p.local(naive), expected, "{tz} {naive}");
            }
        }
    }

    #[test]
    fn rows_are_grouped_by_account_in_file_order() {
        let x = Column::new("x".into(), [10, 11, 12, 13, 14]);
        let frame = by_account(vec![2, 0, 2, 1, 0], vec![x]).unwrap();
        let acct = frame.column(col::ACCT).unwrap();
        assert_eq!(
            acct.u32().unwrap().to_vec(),
            [0, 0, 1, 2, 2].map(Some).to_vec()
        );
        assert_eq!(acct.is_sorted_flag(), polars::series::IsSorted::Ascending);
        let x = frame.column("x").unwrap().i32().unwrap().to_vec();
        assert_eq!(x, [11, 14, 13, 10, 12].map(Some).to_vec());
    }

    /// The calendar fast path agrees with chrono on every day of five centuries and
    /// rejects the days that do not exist.
    #[test]
    fn iso_days_match_the_calendar() {
        let mut date = NaiveDate::from_ymd_opt(1800, 1, 1).unwrap();
        while date.year() < 2300 {
            let text = date.format("%Y-%m-%d").to_string();
            assert_eq!(iso_day(text.as_bytes()), Some(day_number(date)), "{text}");
            date = date.succ_opt().unwrap();
        }
        for bad in [
            "2026-02-29",
            "2100-02-29",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
        ] {
            assert_eq!(iso_day(bad.as_bytes()), None, "{bad}");
        }
        assert!(iso_day(b"2000-02-29").is_some());
        let p = parser();
        // (`24:00` is ISO 8601's end of a day: see midnight_written_24_00_is_the_next_day.)
        for bad in [
            "2026-01-02 24:30",
            "2026-01-02 10:60",
            "2026-02-30 10:00",
            "2026-01-02 10:00:5x",
        ] {
            assert_eq!(p.datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn cells_are_trimmed_like_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\r",
            "\u{3000}株式会社\u{3000}",
            "株",
            "x\u{3000}",
            "a b",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn datetimes_are_kept_as_whole_minutes() {
        let (ts, _) = parser().datetime("2026-01-02 08:30:59").unwrap();
        assert_eq!(epoch_minutes(ts), 1_767_310_200 / 60);
        // Before 1970 too, a time falls in the minute that contains it.
        assert_eq!(epoch_minutes(-1), -1);
        assert_eq!(epoch_minutes(-60), -1);
    }

    #[test]
    fn offsets_and_zulu_are_honoured() {
        let p = parser();
        let a = p.datetime("2026-01-01T23:30:00Z").unwrap();
        let b = p.datetime("2026-01-02T08:30:00+09:00").unwrap();
        let c = p.datetime("2026-01-02T08:30").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
    }

    #[test]
    fn extra_date_formats_apply() {
        let formats = vec!["%Y/%m/%d".to_owned(), "%m/%d/%Y".to_owned()];
        let p = Parser::new(chrono_tz::Asia::Tokyo, &formats, &[]);
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).map(day_number);
        assert_eq!(p.day("2026/03/04"), day(2026, 3, 4));
        assert_eq!(p.day("1/26/2013"), day(2013, 1, 26));
        assert_eq!(p.day("26.1.2013"), None);
    }

    #[test]
    fn cells_break_constraints_with_codes() {
        let p = parser();
        let late = c("late_minutes", Count, false);
        assert_eq!(
            parse_cell(&late, "-5", &p).err().unwrap().0,
            ReasonCode::OutOfRange
        );
        assert_eq!(
            parse_cell(&late, "x", &p).err().unwrap().0,
            ReasonCode::BadInteger
        );
        assert!(matches!(parse_cell(&late, " ", &p), Ok(Cell::Int(None))));
        let target = c("target", Positive, true);
        assert_eq!(
            parse_cell(&target, "0", &p).err().unwrap().0,
            ReasonCode::OutOfRange
        );
        assert_eq!(
            parse_cell(&target, "", &p).err().unwrap().0,
            ReasonCode::MissingValue
        );
        assert_eq!(
            parse_cell(&target, "NaN", &p).err().unwrap().0,
            ReasonCode::BadNumber
        );
        let status = c("status", MeetingStatus, true);
        assert!(matches!(
            parse_cell(&status, " Held ", &p),
            Ok(Cell::Code(Some(0)))
        ));
        assert_eq!(
            parse_cell(&status, "postponed", &p).err().unwrap().0,
            ReasonCode::BadStatus
        );
    }
}
