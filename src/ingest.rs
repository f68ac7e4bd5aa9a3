//! Reading exports: the only module that opens input files. Streams bytes (never the
//! whole file in memory), decodes UTF-8 (with or without BOM) or Shift_JIS/CP932 and
//! hands validation a CSV reader whose records carry their source line.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
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

/// A CSV reader that accepts ragged rows: a row with too many or too few fields is
/// quarantined by validation, not fatal to the whole file.
pub fn csv_reader<R: Read>(reader: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(reader)
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

    #[test]
    fn malformed_shift_jis_is_an_error() {
        let err = decode(b"a,b\n\x81\x20\xff\xfe\n", EncodingChoice::ShiftJis).unwrap_err();
        assert!(err.contains("Shift_JIS"), "{err}");
    }
}
