//! Output files: spreadsheet-safe CSV encoding, atomic replacement, the output-folder
//! lock and the run summary. The only module that writes files.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;

/// A CSV cell: text is neutralised against formula injection, numbers are not (a
/// `trend_28d` of `-12` must stay a number).
pub enum Cell<'a> {
    Text(&'a str),
    Number(String),
    Empty,
}

/// Makes a text cell inert in spreadsheets: a leading `=`, `+`, `-`, `@`, tab or CR
/// would make Excel or LibreOffice evaluate it, so it gets a leading apostrophe (the
/// OWASP recommendation), which spreadsheets display as plain text.
pub fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// An in-memory CSV document in the contract's format: UTF-8 with BOM, RFC 4180
/// quoting, CRLF line ends (what Excel expects).
pub struct CsvDoc {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvDoc {
    pub fn new(header: &[&str]) -> CsvDoc {
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(b"\xEF\xBB\xBF");
        let writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .flexible(false)
            .from_writer(buf);
        let mut doc = CsvDoc { writer };
        let cells: Vec<Cell> = header.iter().map(|h| Cell::Text(h)).collect();
        doc.row(&cells);
        doc
    }

    pub fn row(&mut self, cells: &[Cell]) {
        for cell in cells {
            let text = match cell {
                Cell::Text(t) => neutralise(t),
                Cell::Number(n) => n.as_str().into(),
                Cell::Empty => "".into(),
            };
            self.writer
                .write_field(text.as_bytes())
                .expect("writing to memory cannot fail");
        }
        self.writer
            .write_record(None::<&[u8]>)
            .expect("writing to memory cannot fail");
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.writer
            .into_inner()
            .expect("flushing to memory cannot fail")
    }
}

/// The files of one run, replaced together: every file is first written in full to
/// a temporary file in its target folder and synced, and only when all of them are
/// on disk are they renamed over their targets. A reader sees the old file or the new
/// one, never a half-written one, even if the process is killed; and a write that
/// fails (disk full, permissions) fails before any output has been replaced.
#[derive(Default)]
pub struct OutputBatch {
    staged: Vec<(tempfile::NamedTempFile, PathBuf)>,
}

impl OutputBatch {
    pub fn new() -> OutputBatch {
        OutputBatch::default()
    }

    /// Writes `bytes` for `path` to a synced temporary file beside it.
    pub fn stage(&mut self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let err = |source| Error::Output {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".churnwatch-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(err)?;
        tmp.write_all(bytes).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        self.staged.push((tmp, path.to_path_buf()));
        Ok(())
    }

    /// Renames every staged file over its target, in the order staged.
    pub fn commit(self) -> Result<(), Error> {
        for (tmp, path) in self.staged {
            tmp.persist(&path).map_err(|e| Error::Output {
                path,
                source: e.error,
            })?;
        }
        Ok(())
    }
}

/// Replaces one file atomically (a batch of one).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut batch = OutputBatch::new();
    batch.stage(path, bytes)?;
    batch.commit()
}

/// Held for the whole run: a second run on the same output folder refuses instead of
/// interleaving its files with ours. The OS releases the lock if the process dies.
pub struct OutputLock {
    _file: File,
}

impl OutputLock {
    pub fn acquire(dir: &Path) -> Result<OutputLock, Error> {
        let path = dir.join(".churnwatch.lock");
        let err = |source| Error::Output {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(err)?;
        match file.try_lock() {
            Ok(()) => Ok(OutputLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
                dir: dir.to_path_buf(),
                lock: path,
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(err(source)),
        }
    }
}

#[derive(Debug, Serialize, Default)]
pub struct TableSummary {
    pub file: Option<PathBuf>,
    pub encoding: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    pub quarantine_reasons: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Ok(&'static str),
    Error { error: String, exit_code: i32 },
}

/// `run_summary.json`: the machine-readable record of a run.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    pub as_of: String,
    pub version: &'static str,
    pub config: PathBuf,
    pub config_digest: String,
    pub language: crate::config::Language,
    pub tables: BTreeMap<&'static str, TableSummary>,
    pub accounts_scored: usize,
    pub accounts_flagged: usize,
    pub flagged_by_level: BTreeMap<&'static str, usize>,
    pub flagged_by_category: BTreeMap<&'static str, usize>,
    pub timings_ms: BTreeMap<&'static str, u128>,
    pub outcome: Outcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for bad in ["=1+1", "+81 3", "-5", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralise(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(neutralise("株式会社テスト"), "株式会社テスト");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn csv_has_bom_crlf_and_quotes() {
        let mut doc = CsvDoc::new(&["a", "b"]);
        doc.row(&[Cell::Text("x, \"y\"\nz"), Cell::Number("-12".into())]);
        let bytes = doc.into_bytes();
        assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
        assert_eq!(
            std::str::from_utf8(&bytes[3..]).unwrap(),
            "a,b\r\n\"x, \"\"y\"\"\nz\",-12\r\n"
        );
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn second_lock_on_same_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = OutputLock::acquire(dir.path()).unwrap();
        let second = OutputLock::acquire(dir.path());
        assert!(matches!(second, Err(Error::Locked { .. })));
    }
}
