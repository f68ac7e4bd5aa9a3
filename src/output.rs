//! Output files: spreadsheet-safe CSV encoding, atomic replacement, the output-folder
//! lock and the run summary. The only module that writes files.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use crate::config::sha256_hex;
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

/// The files of one run, replaced together or not at all. Every file is first
/// written in full to a temporary file in its target folder and synced. Only when
/// all of them are on disk are they renamed over their targets, each rename atomic:
/// a reader sees the old file or the new one, never a half-written one, even if the
/// process is killed. If a rename fails half-way (a folder in the way, permissions),
/// the files already replaced get their previous version back, so the folder never
/// holds outputs of two runs side by side.
#[derive(Default)]
pub struct OutputBatch {
    staged: Vec<(tempfile::NamedTempFile, PathBuf)>,
    manifest: Vec<OutputFile>,
    /// The output folder whose commit journal makes a killed commit complete on the
    /// next run ([`recover`]); `None` for a batch of one file, which needs none.
    journal_dir: Option<PathBuf>,
}

/// Lists, while a batch is being renamed into place, every staged file and its
/// target: a run killed half-way through the renames leaves it behind, and the next
/// run that takes the folder's lock completes those renames first, so the folder
/// holds one run's files again.
const JOURNAL: &str = ".churnwatch-commit";

/// Completes a commit that a killed run left half done (see [`JOURNAL`]) and removes
/// the temporary files of runs killed before their commit. Only called with the
/// folder's lock held, when nothing else writes there.
pub fn recover(dir: &Path) -> Result<(), Error> {
    let journal = dir.join(JOURNAL);
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Output { path, source }
    };
    let mut folders = vec![dir.to_path_buf()];
    if let Ok(text) = std::fs::read_to_string(&journal) {
        let mut completed = 0;
        for line in text.lines() {
            let Some((tmp, target)) = line.split_once('\t') else {
                continue;
            };
            let (tmp, target) = (Path::new(tmp), Path::new(target));
            if tmp.exists() {
                std::fs::rename(tmp, target).map_err(err(target))?;
                completed += 1;
            }
            if let Some(parent) = target.parent()
                && !folders.iter().any(|f| f == parent)
            {
                folders.push(parent.to_path_buf());
            }
        }
        std::fs::remove_file(&journal).map_err(err(&journal))?;
        tracing::warn!(
            dir = %dir.display(),
            files = completed,
            "completed the outputs of a run that was stopped while replacing them"
        );
    }
    folders.push(dir.join("quarantine"));
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let leftover = name.starts_with(".churnwatch-")
                && (name.ends_with(".tmp") || name.starts_with(".churnwatch-previous-"));
            if leftover {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// One file of a run's batch, for run_summary.json: anyone can tell that a set of
/// outputs belongs together by their digests.
#[derive(Debug, Clone, Serialize)]
pub struct OutputFile {
    pub file: PathBuf,
    /// Data rows (after the header) of a CSV; `None` for other files.
    pub rows: Option<u64>,
    pub sha256: String,
}

/// Records of an RFC 4180 document minus its header: CRLF or LF outside quotes
/// ends one (escaped `""` toggle twice, so the parity of quotes is the state).
fn csv_rows(bytes: &[u8]) -> u64 {
    let mut quoted = false;
    let mut records = 0u64;
    for &b in bytes {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => records += 1,
            _ => {}
        }
    }
    if bytes.last().is_some_and(|&b| b != b'\n') {
        records += 1;
    }
    records.saturating_sub(1)
}

impl OutputBatch {
    pub fn new() -> OutputBatch {
        OutputBatch::default()
    }

    /// A batch of several files in `dir` (and its subfolders), committed with a
    /// journal there.
    pub fn in_dir(dir: &Path) -> OutputBatch {
        OutputBatch {
            journal_dir: Some(dir.to_path_buf()),
            ..OutputBatch::default()
        }
    }

    /// Writes `bytes` for `path` to a synced temporary file beside it.
    pub fn stage(&mut self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let err = |source| Error::Output {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut builder = tempfile::Builder::new();
        builder.prefix(".churnwatch-").suffix(".tmp");
        // Readable as the umask allows (0644 under the usual 022), like any file the
        // cron user writes: managers read the folder as other users.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let mut tmp = builder.tempfile_in(dir).map_err(err)?;
        tmp.write_all(bytes).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        self.staged.push((tmp, path.to_path_buf()));
        let is_csv = path.extension().is_some_and(|e| e == "csv");
        self.manifest.push(OutputFile {
            file: path.to_path_buf(),
            rows: is_csv.then(|| csv_rows(bytes)),
            sha256: sha256_hex(bytes),
        });
        Ok(())
    }

    /// The files staged so far, with their paths relative to `dir` where they can be.
    pub fn manifest(&self, dir: &Path) -> Vec<OutputFile> {
        self.manifest
            .iter()
            .map(|f| OutputFile {
                file: f.file.strip_prefix(dir).unwrap_or(&f.file).to_path_buf(),
                ..f.clone()
            })
            .collect()
    }

    /// Renames every staged file over its target, in the order staged; on a failure,
    /// puts back what was there before and reports the failure.
    pub fn commit(self) -> Result<(), Error> {
        let output_err = |path: &Path, source| Error::Output {
            path: path.to_path_buf(),
            source,
        };
        // A folder where a file goes would fail its rename: found before any change.
        for (_, path) in &self.staged {
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                return Err(output_err(
                    path,
                    std::io::Error::other("a folder is in the way of this output file"),
                ));
            }
        }
        // The previous version of each target stays reachable under a second name
        // until every new file is in place.
        let mut previous: Vec<Option<PathBuf>> = Vec::with_capacity(self.staged.len());
        let discard = |previous: &[Option<PathBuf>]| {
            for p in previous.iter().flatten() {
                let _ = std::fs::remove_file(p);
            }
        };
        for (_, path) in &self.staged {
            if !path.exists() {
                previous.push(None);
                continue;
            }
            let keep = previous_name(path);
            let _ = std::fs::remove_file(&keep);
            if let Err(source) = std::fs::hard_link(path, &keep) {
                discard(&previous);
                return Err(output_err(path, source));
            }
            previous.push(Some(keep));
        }
        // From here a kill leaves the journal: the next run completes the renames.
        let journal = match &self.journal_dir {
            Some(dir) => {
                let lines: String = self
                    .staged
                    .iter()
                    .map(|(tmp, path)| {
                        // Absolute: the next run may start in another folder.
                        let abs = |p: &Path| std::path::absolute(p).unwrap_or(p.to_path_buf());
                        format!("{}\t{}\n", abs(tmp.path()).display(), abs(path).display())
                    })
                    .collect();
                let journal = dir.join(JOURNAL);
                write_atomic(&journal, lines.as_bytes()).inspect_err(|_| discard(&previous))?;
                Some(journal)
            }
            None => None,
        };
        let mut replaced: Vec<&PathBuf> = Vec::new();
        let paths: Vec<PathBuf> = self.staged.iter().map(|(_, p)| p.clone()).collect();
        for ((tmp, _), path) in self.staged.into_iter().zip(&paths) {
            if let Err(e) = tmp.persist(path) {
                for (done, keep) in replaced.iter().zip(&previous) {
                    let restored = match keep {
                        Some(keep) => std::fs::rename(keep, done),
                        None => std::fs::remove_file(done),
                    };
                    if let Err(e) = restored {
                        tracing::error!(path = %done.display(), error = %e, "could not put the previous output back");
                    }
                }
                discard(&previous);
                if let Some(journal) = &journal {
                    let _ = std::fs::remove_file(journal);
                }
                return Err(output_err(path, e.error));
            }
            replaced.push(path);
        }
        if let Some(journal) = &journal {
            std::fs::remove_file(journal).map_err(|source| output_err(journal, source))?;
        }
        discard(&previous);
        Ok(())
    }
}

/// Where a target's previous version waits while a batch is committed.
fn previous_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    path.with_file_name(format!(".churnwatch-previous-{name}"))
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
        if dir.exists() && !dir.is_dir() {
            return Err(Error::Output {
                path: dir.to_path_buf(),
                source: std::io::Error::other(
                    "this is a file, not a folder; point --output-dir or run.output_dir at a folder",
                ),
            });
        }
        std::fs::create_dir_all(dir).map_err(err)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(err)?;
        match file.try_lock() {
            Ok(()) => {
                recover(dir)?;
                Ok(OutputLock { _file: file })
            }
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
    /// The file's lines, counted apart from the CSV parser
    /// ([`crate::ingest::LineStats`]).
    #[serde(flatten)]
    pub lines: crate::ingest::LineStats,
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
    /// Each table's health checks (newest date, rows of the last 7 days against
    /// usual, verdicts).
    pub health: BTreeMap<&'static str, crate::health::TableHealth>,
    /// Failed health checks the run scored despite (`--allow-stale`); empty otherwise.
    pub scored_despite_failed_checks: Vec<String>,
    /// Every other file written with this summary, with its rows and sha256.
    pub outputs: Vec<OutputFile>,
    /// What overrides.csv did tonight.
    pub overrides: OverrideSummary,
    pub outcome: Outcome,
}

/// The overrides of a night: how many were in force and what they did, and the
/// expired ones (ignored, listed so that nobody wonders why a snooze stopped).
#[derive(Debug, Clone, Default, Serialize)]
pub struct OverrideSummary {
    pub in_force: usize,
    /// Snoozes that hid a flag.
    pub snoozed: usize,
    /// Snoozes that no longer hold: the account got worse since they were set.
    pub snoozes_broken: usize,
    /// `flag` overrides that listed an account the data did not flag.
    pub flagged_by_manager: usize,
    /// Overrides set after the as-of date (a backfill does not see them).
    pub not_yet_set: usize,
    /// Older overrides of an account that a later one replaces.
    pub superseded: usize,
    pub expired: Vec<ExpiredOverride>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpiredOverride {
    pub account_id: String,
    pub action: String,
    pub category: Option<String>,
    pub until: String,
    pub set_by: Option<String>,
}

/// The row counts of the last successful run in `dir`, from its run_summary.json
/// (this module owns that file), for the health check of a shrunk export.
pub fn previous_rows(dir: &Path) -> crate::health::PreviousRows {
    let Ok(text) = std::fs::read_to_string(dir.join("run_summary.json")) else {
        return Default::default();
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Default::default();
    };
    if json["outcome"] != "ok" {
        return Default::default();
    }
    let as_of = json["as_of"].as_str().unwrap_or("").to_owned();
    json["tables"]
        .as_object()
        .map(|tables| {
            tables
                .iter()
                .filter_map(|(name, t)| {
                    let file = t["file"].as_str()?;
                    let rows = t["rows_read"].as_u64()?;
                    Some((name.clone(), (file.into(), rows, as_of.clone())))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_count_records_not_lines() {
        let mut doc = CsvDoc::new(&["a", "b"]);
        doc.row(&[
            Cell::Text("two\nlines, \"quoted\""),
            Cell::Number("1".into()),
        ]);
        doc.row(&[Cell::Text("x"), Cell::Empty]);
        assert_eq!(csv_rows(&doc.into_bytes()), 2);
        assert_eq!(csv_rows(b"a,b\n1,2"), 1);
        assert_eq!(csv_rows(b""), 0);
    }

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
    fn a_failed_commit_puts_every_previous_file_back() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a.csv"),
            dir.path().join("b.csv"),
            dir.path().join("new.csv"),
        );
        write_atomic(&a, b"old a").unwrap();
        write_atomic(&b, b"old b").unwrap();
        let mut batch = OutputBatch::new();
        batch.stage(&a, b"new a").unwrap();
        batch.stage(&c, b"new c").unwrap();
        batch.stage(&b, b"new b").unwrap();
        // The last rename fails: its staged file is gone.
        std::fs::remove_file(batch.staged[2].0.path()).unwrap();
        assert!(matches!(batch.commit(), Err(Error::Output { .. })));
        assert_eq!(std::fs::read(&a).unwrap(), b"old a");
        assert_eq!(std::fs::read(&b).unwrap(), b"old b");
        assert!(!c.exists(), "a file new in the failed batch is removed");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "nothing left behind: {names:?}");
    }

    /// A run killed after its journal was written and one of two renames done: the
    /// next lock completes the other, and removes what killed runs left behind.
    #[test]
    fn a_commit_stopped_half_way_is_completed_by_the_next_lock() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("quarantine")).unwrap();
        let (a, b) = (d.join("a.csv"), d.join("quarantine/b.csv"));
        std::fs::write(&a, b"new a").unwrap(); // already renamed
        std::fs::write(&b, b"old b").unwrap();
        let tmp_a = d.join(".churnwatch-1.tmp"); // gone: it was renamed
        let tmp_b = d.join("quarantine/.churnwatch-2.tmp");
        std::fs::write(&tmp_b, b"new b").unwrap();
        std::fs::write(d.join(".churnwatch-orphan.tmp"), b"x").unwrap();
        std::fs::write(d.join(".churnwatch-previous-a.csv"), b"old a").unwrap();
        std::fs::write(
            d.join(JOURNAL),
            format!(
                "{}\t{}\n{}\t{}\n",
                tmp_a.display(),
                a.display(),
                tmp_b.display(),
                b.display()
            ),
        )
        .unwrap();
        let _lock = OutputLock::acquire(d).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new a");
        assert_eq!(std::fs::read(&b).unwrap(), b"new b");
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .chain(std::fs::read_dir(d.join("quarantine")).unwrap())
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".churnwatch.lock", "a.csv", "b.csv", "quarantine"]);
    }

    #[test]
    fn a_folder_in_the_way_fails_before_anything_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        write_atomic(&a, b"old a").unwrap();
        std::fs::create_dir(dir.path().join("b.csv")).unwrap();
        let mut batch = OutputBatch::new();
        batch.stage(&a, b"new a").unwrap();
        batch.stage(&dir.path().join("b.csv"), b"new b").unwrap();
        let err = batch.commit().unwrap_err().to_string();
        assert!(err.contains("b.csv") && err.contains("folder"), "{err}");
        assert_eq!(std::fs::read(&a).unwrap(), b"old a");
    }

    #[cfg(unix)]
    #[test]
    fn outputs_are_as_readable_as_the_umask_allows() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_atomic(&path, b"x").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // Whatever the umask, the file may be read by more than its owner unless the
        // umask forbids it; under the usual 022 it is 0644.
        let umask = current_umask();
        assert_eq!(mode, 0o666 & !umask, "mode {mode:o} under umask {umask:o}");
    }

    /// The process's umask, read from /proc (Linux), else the usual 022.
    #[cfg(unix)]
    fn current_umask() -> u32 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("Umask:"))?;
                u32::from_str_radix(line.split_whitespace().nth(1)?, 8).ok()
            })
            .unwrap_or(0o022)
    }

    #[test]
    fn an_output_folder_that_is_a_file_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out");
        std::fs::write(&file, b"").unwrap();
        let err = OutputLock::acquire(&file).err().unwrap().to_string();
        assert!(
            err.contains("not a folder") && err.contains("--output-dir"),
            "{err}"
        );
    }

    #[test]
    fn second_lock_on_same_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = OutputLock::acquire(dir.path()).unwrap();
        let second = OutputLock::acquire(dir.path());
        assert!(matches!(second, Err(Error::Locked { .. })));
    }
}
