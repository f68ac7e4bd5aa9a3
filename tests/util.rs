//! Helpers for the integration tests: a scratch workspace with generated sample
//! exports and a config, the real binary, and CSV readers for its outputs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const END: &str = "2026-11-20";

/// A temporary folder holding `data/`, `truth.csv`, `config.toml` and `out/`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// Generates a sample with `seed` and writes the shipped config next to it.
    pub fn sample(seed: u64, accounts: usize) -> Workspace {
        Workspace::sample_with(seed, accounts, &[])
    }

    /// [`Workspace::sample`] with extra `sample` flags (e.g. `--varied`).
    pub fn sample_with(seed: u64, accounts: usize, extra: &[&str]) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let ws = Workspace { dir };
        let (seed, accounts) = (seed.to_string(), accounts.to_string());
        let (data, truth) = (ws.path("data"), ws.path("truth.csv"));
        let mut args = vec![
            "sample",
            "--seed",
            &seed,
            "--accounts",
            &accounts,
            "--end",
            END,
            "--out",
            data.to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = churnwatch(&args);
        assert!(out.status.success(), "sample failed: {}", stderr(&out));
        ws.write("config.toml", &shipped_config());
        ws
    }

    /// The shipped sample (`data/` of the project) and the shipped config, copied
    /// into a scratch folder so that a run's outputs land beside them.
    pub fn shipped() -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let ws = Workspace { dir };
        let data = project_root().join("data");
        for entry in std::fs::read_dir(&data).expect("the shipped data/") {
            let path = entry.unwrap().path();
            if path.is_file() {
                let to = ws.path("data").join(path.file_name().unwrap());
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(&path, to).unwrap();
            }
        }
        ws.write("config.toml", &shipped_config());
        ws
    }

    /// Detection is measured on the data alone: the managers' snoozes and flags the
    /// generator writes would hide and add flags.
    pub fn without_overrides(self) -> Workspace {
        std::fs::remove_file(self.path("data/overrides.csv")).expect("the sample has overrides");
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Appends lines to a data file (which ends with a newline).
    pub fn append(&self, rel: &str, lines: &str) {
        let mut text = self.read(rel);
        text.push_str(lines);
        self.write(rel, &text);
    }

    /// `churnwatch run --config <ws>/config.toml --as-of <as_of> [extra]`.
    pub fn run(&self, as_of: &str, extra: &[&str]) -> Output {
        let config = self.path("config.toml");
        let mut args = vec![
            "run",
            "--config",
            config.to_str().unwrap(),
            "--as-of",
            as_of,
        ];
        args.extend_from_slice(extra);
        churnwatch(&args)
    }

    /// `run` with its outputs in `<ws>/<dir>` instead of `out/`.
    pub fn run_into(&self, as_of: &str, dir: &str) -> Output {
        let out = self.path(dir);
        self.run(as_of, &["--output-dir", out.to_str().unwrap()])
    }

    /// `churnwatch <command> --config <ws>/config.toml [args]`.
    pub fn command(&self, command: &str, args: &[&str]) -> Output {
        let config = self.path("config.toml");
        let mut all = vec!["-q", command, "--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        churnwatch(&all)
    }

    /// Asserts that each of `files` is byte-identical in the output folders `a` and
    /// `b`; `why` says what must not change them.
    pub fn assert_same_outputs(&self, a: &str, b: &str, files: &[&str], why: &str) {
        for f in files {
            let read = |dir: &str| {
                std::fs::read(self.path(dir).join(f)).unwrap_or_else(|e| panic!("{dir}/{f}: {e}"))
            };
            assert!(
                read(a) == read(b),
                "{f} differs between {a}/ and {b}/: {why}"
            );
        }
    }

    pub fn truth(&self) -> Vec<HashMap<String, String>> {
        read_csv(&self.read("truth.csv"))
    }

    /// An account the generator kept healthy and active (so it is always scored).
    pub fn healthy_id(&self) -> String {
        self.truth()
            .into_iter()
            .find(|t| t["scenario"] == "healthy")
            .expect("every sample has healthy accounts")["account_id"]
            .clone()
    }
}

pub fn project_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The config.toml the project ships (relative folders resolve against the copy).
pub fn shipped_config() -> String {
    std::fs::read_to_string(project_root().join("config.toml")).expect("shipped config.toml")
}

pub fn churnwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_churnwatch"))
        .args(args)
        .output()
        .expect("run churnwatch")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Parses a CSV (BOM tolerated) into rows keyed by header.
pub fn read_csv(text: &str) -> Vec<HashMap<String, String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

pub fn header_of(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader.headers().unwrap().iter().map(String::from).collect()
}

/// Rewrites the rows of one table with `edit(header, fields)`.
pub fn edit_rows(ws: &Workspace, rel: &str, mut edit: impl FnMut(&[String], &mut Vec<String>)) {
    let text = ws.read(rel);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header).unwrap();
    for record in reader.records() {
        let mut fields: Vec<String> = record.unwrap().iter().map(String::from).collect();
        edit(&header, &mut fields);
        writer.write_record(&fields).unwrap();
    }
    ws.write(
        rel,
        &String::from_utf8(writer.into_inner().unwrap()).unwrap(),
    );
}

/// Index of a header cell.
pub fn pos(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}
