//! Reading exports: the only module that opens input files. Streams bytes (never the
//! whole file in memory), decodes UTF-8 (with or without BOM) or Shift_JIS/CP932 and
//! hands validation a CSV reader whose records carry their source line.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use encoding_rs::{Decoder, SHIFT_JIS};

use crate::config::{EncodingChoice, TableConfig};
use crate::error::Error;

/// How much of a file `auto` looks at to choose between UTF-8 and Shift_JIS.
const SNIFF_BYTES: usize = 64 * 1024;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One export, opened and decoding to UTF-8 as it is read.
pub struct Source {
    pub table: &'static str,
    pub path: PathBuf,
    pub encoding: &'static str,
    pub reader: Box<dyn Read + Send>,
    /// Rows the file probably holds (from its size and its first lines' length), to
    /// size the column arrays once; 0 when unknown.
    pub estimated_rows: usize,
}

/// Opens a table's export. `Ok(None)` when an optional export is absent.
pub fn open_source(table: &TableConfig) -> Result<Option<Source>, Error> {
    let file = match File::open(&table.path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if table.optional {
                return Ok(None);
            }
            return Err(Error::MissingFile {
                table: table.name.to_owned(),
                path: table.path.clone(),
            });
        }
        Err(source) => {
            return Err(Error::ReadFile {
                table: table.name.to_owned(),
                path: table.path.clone(),
                source,
            });
        }
    };
    let size = file.metadata().map_or(0, |m| m.len());
    let reader = BufReader::with_capacity(1 << 20, file);
    Source::new(table.name, &table.path, reader, table.encoding, Some(size)).map(Some)
}

impl Source {
    /// Chooses the encoding from the first bytes and wraps `reader` to yield UTF-8.
    /// `auto` takes UTF-8 when there is a BOM or the first 64 KiB are valid UTF-8,
    /// otherwise Shift_JIS (what Excel in Japan writes). Bytes that turn out invalid
    /// later fail the file with a message naming the encoding setting, rather than
    /// becoming replacement characters.
    pub fn new(
        table: &'static str,
        path: &Path,
        mut reader: impl Read + Send + 'static,
        choice: EncodingChoice,
        size: Option<u64>,
    ) -> Result<Source, Error> {
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        (&mut reader)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(|source| Error::ReadFile {
                table: table.to_owned(),
                path: path.to_path_buf(),
                source,
            })?;
        if looks_like_utf16(&head) {
            return Err(Error::BadFile {
                table: table.to_owned(),
                path: path.to_path_buf(),
                message: "the file is UTF-16, which churnwatch does not read; save it as \"CSV UTF-8\" from Excel, or convert it (`iconv -f UTF-16 -t UTF-8`)".to_owned(),
            });
        }
        let has_bom = head.starts_with(BOM);
        let lines = head.iter().filter(|&&b| b == b'\n').count() as u64;
        // 5% headroom: an estimate a few rows short would make every column array
        // double its capacity for those rows.
        let estimated_rows = match size {
            Some(size) if lines > 0 => (size * lines / head.len() as u64 * 21 / 20) as usize + 1024,
            _ => 0,
        };
        let utf8 = match choice {
            EncodingChoice::Utf8 => true,
            EncodingChoice::ShiftJis => false,
            EncodingChoice::Auto => has_bom || looks_like_utf8(&head),
        };
        let (reader, encoding): (Box<dyn Read + Send>, _) = if utf8 {
            if has_bom {
                head.drain(..BOM.len());
            }
            (Box::new(Cursor::new(head).chain(reader)), "utf-8")
        } else {
            let bytes = Cursor::new(head).chain(reader);
            (Box::new(ShiftJisReader::new(bytes)), "shift_jis")
        };
        Ok(Source {
            table,
            path: path.to_path_buf(),
            encoding,
            reader,
            estimated_rows,
        })
    }
}

/// A UTF-16 byte-order mark, or text of which every other byte is NUL (what UTF-16
/// makes of ASCII). A few stray NUL bytes are not UTF-16: they are read as text.
fn looks_like_utf16(head: &[u8]) -> bool {
    let probe = &head[..head.len().min(512)];
    let nul = probe.iter().filter(|&&b| b == 0).count();
    head.starts_with(b"\xFF\xFE")
        || head.starts_with(b"\xFE\xFF")
        || (probe.len() >= 8 && nul * 3 > probe.len())
}

/// Valid UTF-8, allowing a character cut off at the end of the sniffed bytes.
fn looks_like_utf8(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// Decodes Shift_JIS (CP932) to UTF-8 while reading; malformed input is an error.
struct ShiftJisReader<R> {
    inner: R,
    decoder: Decoder,
    input: Vec<u8>,
    output: Vec<u8>,
    out_pos: usize,
    done: bool,
    offset: u64,
}

impl<R: Read> ShiftJisReader<R> {
    fn new(inner: R) -> Self {
        ShiftJisReader {
            inner,
            decoder: SHIFT_JIS.new_decoder_without_bom_handling(),
            input: vec![0; 64 * 1024],
            output: Vec::with_capacity(3 * 64 * 1024 + 16),
            out_pos: 0,
            done: false,
            offset: 0,
        }
    }

    fn refill(&mut self) -> std::io::Result<()> {
        let n = self.inner.read(&mut self.input)?;
        let last = n == 0;
        self.output.clear();
        self.out_pos = 0;
        let needed = self
            .decoder
            .max_utf8_buffer_length_without_replacement(n)
            .unwrap_or(3 * n + 16);
        self.output.resize(needed, 0);
        let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
            &self.input[..n],
            &mut self.output,
            last,
        );
        if let encoding_rs::DecoderResult::Malformed(_, _) = result {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "neither valid UTF-8 nor valid Shift_JIS (CP932) near byte {}; set the table's `encoding`",
                    self.offset + read as u64
                ),
            ));
        }
        self.offset += n as u64;
        self.output.truncate(written);
        self.done = last;
        Ok(())
    }
}

impl<R: Read> Read for ShiftJisReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.out_pos == self.output.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.output.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.output[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// A quoted field that is still open after this many physical lines is a stray
/// quote, not a field: no contract column holds a hundred lines of text.
pub const MAX_QUOTED_LINES: u64 = 100;

/// How the physical lines of a file were used, counted apart from the CSV parsing so
/// that a record which swallowed lines cannot go unnoticed:
/// `physical_lines == 1 (header) + blank_lines + records + line_breaks_in_fields`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LineStats {
    /// Lines of the file; `\r\n`, `\n` and a lone `\r` each end one, and a last line
    /// without a line end counts too.
    pub physical_lines: u64,
    /// Empty lines between records (skipped, as every CSV reader does).
    pub blank_lines: u64,
    /// Line breaks inside properly closed quoted fields (an account name written on
    /// two lines), header included.
    pub line_breaks_in_fields: u64,
    /// Whether the file's last line has a line end (a cut-off export often has not).
    pub ends_with_line_break: bool,
}

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Physical line the record starts on (header = line 1).
    pub line: u64,
    /// Physical lines the record covers (more than 1 when a quoted field holds line
    /// breaks).
    pub lines: u64,
    /// A quoted field opened on `line` and was not closed. The record is then that
    /// one line alone, and the lines after it are read as records of their own.
    pub unclosed_quote: Option<Unclosed>,
}

/// Where a quoted field that never closed gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unclosed {
    /// The file ended inside it.
    EndOfFile,
    /// It ran on over [`MAX_QUOTED_LINES`] lines.
    TooManyLines,
}

/// Quote state of the CSV grammar csv-core follows: a quote opens a quoted field
/// only at the start of a field; inside one, `""` is a quote and a lone `"` closes it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuotes,
}

impl QuoteState {
    fn scan(mut self, line: &[u8]) -> QuoteState {
        if matches!(self, QuoteState::FieldStart | QuoteState::Unquoted)
            && memchr::memchr(b'"', line).is_none()
        {
            return QuoteState::FieldStart;
        }
        for &b in line {
            self = match (self, b) {
                (QuoteState::FieldStart, b'"') => QuoteState::Quoted,
                (
                    QuoteState::FieldStart | QuoteState::Unquoted | QuoteState::QuoteInQuotes,
                    b',',
                ) => QuoteState::FieldStart,
                (QuoteState::FieldStart | QuoteState::Unquoted, _) => QuoteState::Unquoted,
                (QuoteState::Quoted, b'"') => QuoteState::QuoteInQuotes,
                (QuoteState::Quoted, _) => QuoteState::Quoted,
                (QuoteState::QuoteInQuotes, b'"') => QuoteState::Quoted,
                (QuoteState::QuoteInQuotes, _) => QuoteState::Unquoted,
            };
        }
        self
    }
}

/// Why a file could not be read as CSV at all.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// Bytes that are not UTF-8, on this physical line.
    Utf8 {
        line: u64,
    },
}

/// Reads CSV records the way csv-core parses them (RFC 4180, ragged rows allowed),
/// but finds record boundaries itself, line by line: a stray `"` that opens a quoted
/// field which never closes costs one record (reported as [`Span::unclosed_quote`])
/// instead of swallowing the rest of the file into it.
pub struct RecordReader<R> {
    inner: std::io::BufReader<R>,
    /// Lines given back by [`RecordReader::retract`], read again before new ones.
    pending: std::collections::VecDeque<(u64, Vec<u8>)>,
    /// The current record's bytes, line ends included, and where each line starts.
    bytes: Vec<u8>,
    line_starts: Vec<usize>,
    first_line: u64,
    fields: Fields,
    stats: LineStats,
}

/// The current record's fields, split by csv-core: their text end to end (UTF-8,
/// checked once per record), where each one ends, and how many there are. The
/// buffers are reused, so a record costs no allocation.
struct Fields {
    core: csv_core::Reader,
    text: String,
    ends: Vec<usize>,
    count: usize,
}

impl Fields {
    /// Splits one record's bytes (with or without its line end; a line end inside
    /// the record only where a quoted field holds it); `Err(())` when the fields
    /// are not UTF-8.
    fn parse(&mut self, input: &[u8]) -> Result<(), ()> {
        self.count = 0;
        // The last record's buffer, grown only by what this record needs more
        // (unquoting only removes bytes: the fields fit in the record's length).
        let mut out = std::mem::take(&mut self.text).into_bytes();
        if out.len() < input.len() {
            out.resize(input.len(), 0);
        }
        let (mut pos, mut len, mut ends, mut eof) = (0, 0, 0, false);
        self.core.reset();
        loop {
            let feed = if eof { &[][..] } else { &input[pos..] };
            let (result, read, written, ended) =
                self.core
                    .read_record(feed, &mut out[len..], &mut self.ends[ends..]);
            pos += read;
            len += written;
            ends += ended;
            match result {
                csv_core::ReadRecordResult::InputEmpty => eof = true,
                csv_core::ReadRecordResult::OutputFull => out.resize(out.len() * 2 + 1, 0),
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let grown = self.ends.len() * 2;
                    self.ends.resize(grown, 0);
                }
                csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
            }
        }
        out.truncate(len);
        match String::from_utf8(out) {
            Ok(text) => {
                self.text = text;
                self.count = ends;
                Ok(())
            }
            Err(e) => {
                let mut buffer = e.into_bytes();
                buffer.clear();
                self.text = String::from_utf8(buffer).expect("empty is UTF-8");
                Err(())
            }
        }
    }

    fn get(&self, i: usize) -> Option<&str> {
        if i >= self.count {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..self.ends[i]])
    }
}

impl<R: Read> RecordReader<R> {
    pub fn new(reader: R) -> RecordReader<R> {
        RecordReader {
            inner: std::io::BufReader::with_capacity(1 << 20, reader),
            pending: Default::default(),
            bytes: Vec::with_capacity(1 << 10),
            line_starts: Vec::new(),
            first_line: 0,
            fields: Fields {
                core: csv_core::Reader::new(),
                text: String::new(),
                ends: vec![0; 16],
                count: 0,
            },
            stats: LineStats::default(),
        }
    }

    pub fn stats(&self) -> LineStats {
        self.stats
    }

    /// Fields of the current record.
    pub fn len(&self) -> usize {
        self.fields.count
    }

    pub fn is_empty(&self) -> bool {
        self.fields.count == 0
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        self.fields.get(i)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.fields.count).filter_map(|i| self.get(i))
    }

    /// Appends the next physical line (with its line end) to `bytes`; returns its
    /// number, or `None` at the end of the file.
    fn read_line(&mut self) -> std::io::Result<Option<u64>> {
        if let Some((number, line)) = self.pending.pop_front() {
            self.bytes.extend_from_slice(&line);
            return Ok(Some(number));
        }
        let mut got = false;
        loop {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                break;
            }
            got = true;
            match memchr::memchr2(b'\n', b'\r', available) {
                Some(i) => {
                    let cr = available[i] == b'\r';
                    self.bytes.extend_from_slice(&available[..=i]);
                    self.inner.consume(i + 1);
                    if cr && self.inner.fill_buf()?.first() == Some(&b'\n') {
                        self.bytes.push(b'\n');
                        self.inner.consume(1);
                    }
                    self.stats.ends_with_line_break = true;
                    self.stats.physical_lines += 1;
                    return Ok(Some(self.stats.physical_lines));
                }
                None => {
                    let n = available.len();
                    self.bytes.extend_from_slice(available);
                    self.inner.consume(n);
                }
            }
        }
        if !got {
            return Ok(None);
        }
        self.stats.ends_with_line_break = false;
        self.stats.physical_lines += 1;
        Ok(Some(self.stats.physical_lines))
    }

    /// Length of the line starting at `start` in `bytes`, without its line end
    /// (a line ends once: `\r\n`, `\n`, `\r` or not at all).
    fn content_len(&self, start: usize) -> usize {
        let line = &self.bytes[start..];
        let ending = if line.ends_with(b"\r\n") {
            2
        } else {
            usize::from(line.ends_with(b"\n") || line.ends_with(b"\r"))
        };
        line.len() - ending
    }

    /// Reads the next record; `Ok(None)` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Span>, ReadError> {
        loop {
            self.bytes.clear();
            self.line_starts.clear();
            self.fields.count = 0;
            if let Some(span) = self.next_plain_line()? {
                return Ok(Some(span));
            }
            let Some(first) = self.read_line().map_err(ReadError::Io)? else {
                return Ok(None);
            };
            if self.content_len(0) == 0 {
                self.stats.blank_lines += 1;
                continue;
            }
            self.first_line = first;
            self.line_starts.push(0);
            let mut state = QuoteState::FieldStart.scan(&self.bytes[..self.content_len(0)]);
            let mut unclosed_quote = None;
            while state == QuoteState::Quoted {
                let start = self.bytes.len();
                if self.line_starts.len() as u64 >= MAX_QUOTED_LINES {
                    unclosed_quote = Some(Unclosed::TooManyLines);
                    break;
                }
                if self.read_line().map_err(ReadError::Io)?.is_none() {
                    unclosed_quote = Some(Unclosed::EndOfFile);
                    break;
                }
                self.line_starts.push(start);
                let end = start + self.content_len(start);
                state = QuoteState::Quoted.scan(&self.bytes[start..end]);
            }
            if unclosed_quote.is_some() {
                self.give_back_tail();
            } else {
                self.stats.line_breaks_in_fields += self.line_starts.len() as u64 - 1;
            }
            let span = Span {
                line: first,
                lines: self.line_starts.len() as u64,
                unclosed_quote,
            };
            self.parse()?;
            return Ok(Some(span));
        }
    }

    /// Makes the current record its first line alone and gives the lines after it
    /// back, to be read as records of their own: for a multi-line record that turns
    /// out to be a stray quote (its fields do not fit the header). The record then
    /// holds the fields of that first line.
    pub fn retract(&mut self) -> Result<(), ReadError> {
        self.stats.line_breaks_in_fields -= self.line_starts.len() as u64 - 1;
        self.give_back_tail();
        self.parse()
    }

    fn give_back_tail(&mut self) {
        for k in (1..self.line_starts.len()).rev() {
            let end = self
                .line_starts
                .get(k + 1)
                .copied()
                .unwrap_or(self.bytes.len());
            let line = self.bytes[self.line_starts[k]..end].to_vec();
            self.pending.push_front((self.first_line + k as u64, line));
        }
        if let Some(&second) = self.line_starts.get(1) {
            self.bytes.truncate(second);
        }
        self.line_starts.truncate(1);
    }

    /// Splits the record in `bytes` (without its final line end) into fields.
    fn parse(&mut self) -> Result<(), ReadError> {
        let last = *self.line_starts.last().expect("a record has a line");
        let end = last + self.content_len(last);
        self.fields
            .parse(&self.bytes[..end])
            .map_err(|()| ReadError::Utf8 {
                line: self.first_line,
            })
    }

    /// The common case without a copy: the next line lies whole in the read buffer,
    /// is not blank and holds no quote, so it is one record of one line; its fields
    /// are split straight from the buffer. `Ok(None)` leaves everything else (a
    /// quote, a line across the buffer's end, lines given back) to the general path.
    fn next_plain_line(&mut self) -> Result<Option<Span>, ReadError> {
        if !self.pending.is_empty() {
            return Ok(None);
        }
        let available = self.inner.fill_buf().map_err(ReadError::Io)?;
        // One scan finds the line's end, or a quote first.
        let Some(i) = memchr::memchr3(b'\n', b'\r', b'"', available) else {
            return Ok(None);
        };
        let ending = match (available[i], available.get(i + 1)) {
            (b'\n', _) => 1,
            (b'\r', Some(b'\n')) => 2,
            (b'\r', Some(_)) => 1,
            // A quote, or a `\r` at the buffer's end that may be half of `\r\n`.
            _ => return Ok(None),
        };
        if i == 0 {
            return Ok(None); // a blank line
        }
        // With its line end, csv-core ends the record in one call.
        let parsed = self.fields.parse(&available[..=i]);
        self.inner.consume(i + ending);
        self.stats.physical_lines += 1;
        self.stats.ends_with_line_break = true;
        self.first_line = self.stats.physical_lines;
        self.line_starts.push(0);
        parsed.map_err(|()| ReadError::Utf8 {
            line: self.first_line,
        })?;
        Ok(Some(Span {
            line: self.first_line,
            lines: 1,
            unclosed_quote: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], choice: EncodingChoice) -> Result<(String, &'static str), String> {
        let source = Source::new(
            "t",
            Path::new("t.csv"),
            Cursor::new(bytes.to_vec()),
            choice,
            None,
        )
        .map_err(|e| e.to_string())?;
        let mut text = String::new();
        let encoding = source.encoding;
        let mut reader = source.reader;
        reader
            .read_to_string(&mut text)
            .map_err(|e| e.to_string())?;
        Ok((text, encoding))
    }

    #[test]
    fn utf8_bom_is_dropped() {
        let (text, enc) = decode(b"\xEF\xBB\xBFa,b\n", EncodingChoice::Auto).unwrap();
        assert_eq!((text.as_str(), enc), ("a,b\n", "utf-8"));
    }

    #[test]
    fn shift_jis_is_detected() {
        let (bytes, _, _) = SHIFT_JIS.encode("取引先ID,名前\n株式会社テスト,佐藤\n");
        let (text, enc) = decode(&bytes, EncodingChoice::Auto).unwrap();
        assert_eq!(text, "取引先ID,名前\n株式会社テスト,佐藤\n");
        assert_eq!(enc, "shift_jis");
    }

    #[test]
    fn long_shift_jis_streams_across_buffers() {
        let line = "株式会社テスト,営業部,東京都千代田区\r\n";
        let text: String = line.repeat(20_000);
        let (bytes, _, _) = SHIFT_JIS.encode(&text);
        let (decoded, _) = decode(&bytes, EncodingChoice::ShiftJis).unwrap();
        assert_eq!(decoded, text);
    }

    #[test]
    fn forced_utf8_refuses_shift_jis() {
        let (bytes, _, _) = SHIFT_JIS.encode("取引先\n");
        let err = decode(&bytes, EncodingChoice::Utf8).unwrap_err();
        assert!(err.contains("UTF-8"), "{err}");
    }

    /// A record as (start line, lines, unclosed quote, fields).
    type Rec = (u64, u64, bool, Vec<String>);

    /// Every record of `text`, and the line stats.
    fn records(text: &str) -> (Vec<Rec>, LineStats) {
        let mut reader = RecordReader::new(Cursor::new(text.as_bytes().to_vec()));
        let mut out = Vec::new();
        while let Some(span) = reader.next_record().unwrap() {
            let fields = reader.iter().map(str::to_owned).collect();
            out.push((span.line, span.lines, span.unclosed_quote.is_some(), fields));
        }
        (out, reader.stats())
    }

    fn fields(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn records_follow_rfc_4180() {
        let (recs, stats) = records("a,b\r\n\"x, \"\"y\"\"\",2\r\n\r\n\"two\nlines\",3\nlast,4");
        assert_eq!(
            recs,
            vec![
                (1, 1, false, fields(&["a", "b"])),
                (2, 1, false, fields(&["x, \"y\"", "2"])),
                (4, 2, false, fields(&["two\nlines", "3"])),
                (6, 1, false, fields(&["last", "4"])),
            ]
        );
        assert_eq!(stats.physical_lines, 6);
        assert_eq!(stats.blank_lines, 1);
        assert_eq!(stats.line_breaks_in_fields, 1);
        assert!(!stats.ends_with_line_break);
    }

    #[test]
    fn quotes_inside_a_field_are_text() {
        // csv-core's reading: a quote opens a quoted field only at its start.
        let (recs, _) = records("id,name\n1,株式会社\"ミライ\"\n2,a\"b\n3,\"q\"x\n");
        let names: Vec<&str> = recs.iter().map(|r| r.3[1].as_str()).collect();
        assert_eq!(names, ["name", "株式会社\"ミライ\"", "a\"b", "qx"]);
        assert!(recs.iter().all(|r| r.1 == 1 && !r.2));
    }

    #[test]
    fn a_quote_left_open_costs_one_record_not_the_file() {
        let mut text = "id,v\n1,a\n2,\"b\n".to_owned();
        for i in 3..300 {
            text.push_str(&format!("{i},x\n"));
        }
        let (recs, stats) = records(&text);
        assert_eq!(recs.len(), 300, "header + 299 rows, each line read once");
        assert_eq!(recs[2].0, 3);
        assert!(recs[2].2, "the line with the stray quote is reported");
        assert_eq!(recs[2].1, 1);
        assert_eq!(recs[3], (4, 1, false, fields(&["3", "x"])));
        assert_eq!(recs[299], (300, 1, false, fields(&["299", "x"])));
        assert_eq!(stats.physical_lines, 300);
        assert_eq!(stats.line_breaks_in_fields, 0);
    }

    #[test]
    fn a_quote_open_at_the_end_of_the_file_is_reported() {
        let (recs, stats) = records("id,v\n1,\"a\n2,b\n3,c");
        assert_eq!(recs.len(), 4);
        assert!(recs[1].2);
        assert_eq!(recs[2], (3, 1, false, fields(&["2", "b"])));
        assert_eq!(recs[3], (4, 1, false, fields(&["3", "c"])));
        assert_eq!(stats.physical_lines, 4);
    }

    #[test]
    fn a_retracted_record_gives_its_lines_back() {
        let mut reader = RecordReader::new(Cursor::new(b"h\n\"a\nb\nc\"\nd\n".to_vec()));
        reader.next_record().unwrap();
        let span = reader.next_record().unwrap().unwrap();
        assert_eq!((span.line, span.lines), (2, 3));
        reader.retract().unwrap();
        assert_eq!(reader.get(0), Some("a"));
        let mut rest = Vec::new();
        while let Some(span) = reader.next_record().unwrap() {
            rest.push((span.line, reader.iter().collect::<Vec<_>>().join("|")));
        }
        assert_eq!(
            rest,
            [
                (3, "b".to_owned()),
                (4, "c\"".to_owned()),
                (5, "d".to_owned())
            ]
        );
        let stats = reader.stats();
        assert_eq!((stats.physical_lines, stats.line_breaks_in_fields), (5, 0));
    }

    #[test]
    fn lone_carriage_returns_end_lines() {
        let (recs, stats) = records("a,b\r1,2\r");
        assert_eq!(recs.len(), 2);
        assert_eq!(stats.physical_lines, 2);
    }

    #[test]
    fn utf16_is_refused_with_advice() {
        let utf16: Vec<u8> = "\u{feff}a,b\n1,2\n"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let err = decode(&utf16, EncodingChoice::Auto).unwrap_err();
        assert!(err.contains("UTF-16") && err.contains("CSV UTF-8"), "{err}");
        let without_bom: Vec<u8> = "a,b\n1,2\n"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert!(
            decode(&without_bom, EncodingChoice::Auto)
                .unwrap_err()
                .contains("UTF-16")
        );
        // A stray NUL is text, not UTF-16.
        assert!(decode(b"a,b\n1,\x002\n", EncodingChoice::Auto).is_ok());
    }

    #[test]
    fn malformed_shift_jis_is_an_error() {
        let err = decode(b"a,b\n\x81\x20\xff\xfe\n", EncodingChoice::ShiftJis).unwrap_err();
        assert!(err.contains("Shift_JIS"), "{err}");
    }
}
