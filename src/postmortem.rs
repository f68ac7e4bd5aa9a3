//! `churnwatch postmortem`: for every past cancellation, the reason the client stated
//! beside what the data says — which stress categories were elevated in the 90 days
//! before, when each first crossed the flag threshold, and the top evidence — plus a
//! crosstab of stated reason × real primary category.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Instant;

use chrono::NaiveDate;
use tracing::info;

use crate::config::{Config, Language};
use crate::error::Error;
use crate::history::{churns, date_grid, exit_interviews, heard_agrees, replay};
use crate::output::{Cell, CsvDoc, OutputBatch, OutputLock};
use crate::pipeline::{Loaded, check_budget, load};
use crate::scoring::{AccountScore, Category, reasons};

const LOOKBACK_DAYS: i64 = 90;
const STEP_DAYS: i64 = 7;
/// Crosstab column for cancellations with no category over the threshold.
const NO_STRESS: &str = "none";

/// One cancellation, explained.
pub struct Case {
    pub acct: u32,
    pub churned_on: NaiveDate,
    pub stated_reason: String,
    /// The category driving the risk at its peak, if any category crossed the threshold.
    pub real: Option<Category>,
    pub peak_risk: i64,
    pub peak_date: Option<NaiveDate>,
    /// First replayed date each category was at or above `flags.medium`.
    pub first_crossed: [Option<NaiveDate>; 4],
    pub evidence: String,
    /// What the exit interview heard (a category or `external`) and its notes.
    pub heard: Option<(String, String)>,
}

impl Case {
    /// Whether the heard reason and the data agree: the same category, or `external`
    /// heard where the data shows no stress.
    pub fn agrees(&self) -> Option<bool> {
        let (heard, _) = self.heard.as_ref()?;
        Some(heard_agrees(heard, self.real))
    }
}

pub struct PostmortemReport {
    pub cases: Vec<Case>,
    /// stated reason → real category (or `none`) → count.
    pub crosstab: BTreeMap<String, BTreeMap<String, usize>>,
    /// heard reason → real category (or `none`) → count, interviewed cases only.
    pub heard: BTreeMap<String, BTreeMap<String, usize>>,
}

impl PostmortemReport {
    /// Interviewed cancellations, and the share where the heard reason and the data
    /// agree (`None` without interviews).
    pub fn agreement(&self) -> (usize, Option<f64>) {
        let judged: Vec<bool> = self.cases.iter().filter_map(Case::agrees).collect();
        let agree = judged.iter().filter(|&&a| a).count();
        let rate = (!judged.is_empty()).then(|| agree as f64 / judged.len() as f64);
        (judged.len(), rate)
    }
}

pub fn postmortem(
    loaded: &Loaded,
    cfg: &Config,
    as_of: NaiveDate,
) -> Result<PostmortemReport, Error> {
    let churns: Vec<_> = churns(loaded)?
        .into_values()
        .filter(|c| c.churned_on <= as_of)
        .collect();
    let Some(earliest) = churns.iter().map(|c| c.churned_on).min() else {
        return Ok(PostmortemReport {
            cases: Vec::new(),
            crosstab: BTreeMap::new(),
            heard: BTreeMap::new(),
        });
    };
    // One weekly grid ending at the as-of date serves every cancellation.
    // Rounded up to whole steps so the earliest cancellation gets its full 90 days.
    let span = (as_of - earliest).num_days() + LOOKBACK_DAYS;
    let start = as_of - chrono::Duration::days((span + STEP_DAYS - 1) / STEP_DAYS * STEP_DAYS);
    let series = replay(loaded, cfg, &date_grid(start, as_of, STEP_DAYS))?;
    let by_acct: Vec<HashMap<u32, &AccountScore>> = series
        .iter()
        .map(|s| s.scores.iter().map(|x| (x.acct, x)).collect())
        .collect();

    let interviews = exit_interviews(loaded)?;
    let mut cases = Vec::new();
    for churn in churns {
        let window: Vec<(NaiveDate, &AccountScore)> = series
            .iter()
            .zip(&by_acct)
            .filter(|(s, _)| {
                s.date < churn.churned_on && (churn.churned_on - s.date).num_days() <= LOOKBACK_DAYS
            })
            .filter_map(|(s, scores)| scores.get(&churn.acct).map(|x| (s.date, *x)))
            .collect();
        let mut first_crossed = [None; 4];
        for (date, score) in &window {
            for c in Category::ALL {
                if score.category(c) >= cfg.flags.medium && first_crossed[c as usize].is_none() {
                    first_crossed[c as usize] = Some(*date);
                }
            }
        }
        let peak = window
            .iter()
            .max_by(|a, b| a.1.risk.total_cmp(&b.1.risk).then(a.0.cmp(&b.0)));
        // The driving category counts only if it reached the flag threshold itself.
        let real = peak.and_then(|(_, s)| s.primary.filter(|&c| s.category(c) >= cfg.flags.medium));
        cases.push(Case {
            acct: churn.acct,
            churned_on: churn.churned_on,
            stated_reason: churn.stated_reason,
            real,
            peak_risk: peak.map_or(0, |(_, s)| crate::report::points(s.risk)),
            peak_date: peak.map(|(d, _)| *d),
            first_crossed,
            evidence: peak.map_or_else(String::new, |(_, s)| {
                reasons(s, cfg.language, cfg.flags.max_reasons)
            }),
            heard: interviews.get(&churn.acct).cloned(),
        });
    }
    cases.sort_by(|a, b| b.churned_on.cmp(&a.churned_on).then(a.acct.cmp(&b.acct)));
    let mut crosstab: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut heard: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for case in &cases {
        let stated = if case.stated_reason.is_empty() {
            "(none)".to_owned()
        } else {
            case.stated_reason.clone()
        };
        let real = case.real.map_or(NO_STRESS, Category::as_str).to_owned();
        *crosstab
            .entry(stated)
            .or_default()
            .entry(real.clone())
            .or_default() += 1;
        if let Some((heard_category, _)) = &case.heard {
            *heard
                .entry(heard_category.clone())
                .or_default()
                .entry(real)
                .or_default() += 1;
        }
    }
    Ok(PostmortemReport {
        cases,
        crosstab,
        heard,
    })
}

fn date_cell(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

impl PostmortemReport {
    /// postmortem.csv: one row per cancellation.
    pub fn cases_csv(&self, loaded: &Loaded) -> Vec<u8> {
        let mut header = vec![
            "account_id",
            "account_name",
            "manager",
            "churned_on",
            "stated_reason",
            "real_category",
            "peak_risk",
            "peak_date",
        ];
        let first: Vec<String> = Category::ALL
            .iter()
            .map(|c| format!("{}_first_crossed", c.as_str()))
            .collect();
        header.extend(first.iter().map(String::as_str));
        header.extend(["evidence", "heard_category", "heard_notes"]);
        let mut doc = CsvDoc::new(&header);
        let info = &loaded.info;
        for case in &self.cases {
            let i = case.acct as usize;
            let churned = date_cell(Some(case.churned_on));
            let peak_date = date_cell(case.peak_date);
            let crossed: Vec<String> = case.first_crossed.iter().map(|d| date_cell(*d)).collect();
            let mut cells = vec![
                Cell::Text(&info.id[i]),
                Cell::Text(&info.name[i]),
                info.manager[i].as_deref().map_or(Cell::Empty, Cell::Text),
                Cell::Text(&churned),
                Cell::Text(&case.stated_reason),
                Cell::Text(case.real.map_or(NO_STRESS, Category::as_str)),
                Cell::Number(case.peak_risk.to_string()),
                Cell::Text(&peak_date),
            ];
            cells.extend(crossed.iter().map(|d| Cell::Text(d)));
            cells.push(Cell::Text(&case.evidence));
            match &case.heard {
                Some((h, notes)) => cells.extend([Cell::Text(h), Cell::Text(notes)]),
                None => cells.extend([Cell::Empty, Cell::Empty]),
            }
            doc.row(&cells);
        }
        doc.into_bytes()
    }

    fn columns(&self) -> Vec<&'static str> {
        let mut cols: Vec<&'static str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        cols.push(NO_STRESS);
        cols
    }

    /// postmortem_crosstab.csv: stated reason × real category.
    pub fn crosstab_csv(&self) -> Vec<u8> {
        self.table_csv("stated_reason", &self.crosstab)
    }

    /// postmortem_heard.csv: heard reason × real category, interviewed cases only;
    /// the agreement rate is in postmortem.txt and backtest.csv.
    pub fn heard_csv(&self) -> Vec<u8> {
        self.table_csv("heard_category", &self.heard)
    }

    fn table_csv(&self, first: &str, table: &BTreeMap<String, BTreeMap<String, usize>>) -> Vec<u8> {
        let cols = self.columns();
        let mut header = vec![first];
        header.extend(&cols);
        let mut doc = CsvDoc::new(&header);
        for (stated, row) in table {
            let counts: Vec<String> = cols
                .iter()
                .map(|c| row.get(*c).copied().unwrap_or(0).to_string())
                .collect();
            let mut cells = vec![Cell::Text(stated)];
            cells.extend(counts.into_iter().map(Cell::Number));
            doc.row(&cells);
        }
        doc.into_bytes()
    }

    /// The morning-meeting text, in the configured language.
    pub fn text(&self, loaded: &Loaded, lang: Language) -> String {
        let ja = lang == Language::Ja;
        let label = |c: Option<Category>| {
            c.map_or(if ja { "該当なし" } else { "none" }, |c| c.label(lang))
        };
        let mut t = String::new();
        let _ = writeln!(
            t,
            "{}",
            if ja {
                format!(
                    "解約の振り返り: {}件（解約前{LOOKBACK_DAYS}日間のデータから）",
                    self.cases.len()
                )
            } else {
                format!(
                    "Cancellation post-mortem: {} cases (data from the {LOOKBACK_DAYS} days before each)",
                    self.cases.len()
                )
            }
        );
        for case in &self.cases {
            let i = case.acct as usize;
            let crossed: Vec<String> = Category::ALL
                .iter()
                .filter_map(|c| {
                    case.first_crossed[*c as usize]
                        .map(|d| format!("{} {}", c.label(lang), d.format("%m/%d")))
                })
                .collect();
            let _ = writeln!(
                t,
                "\n{} {} ({})",
                loaded.info.id[i],
                loaded.info.name[i],
                case.churned_on.format("%Y-%m-%d")
            );
            if ja {
                let _ = writeln!(t, "  表明された理由: {}", or_dash(&case.stated_reason));
                if let Some((h, notes)) = &case.heard {
                    let _ = writeln!(
                        t,
                        "  面談で聞いた理由: {}（{}）",
                        heard_label(h, lang),
                        or_dash(notes)
                    );
                }
                let _ = writeln!(
                    t,
                    "  データが示す理由: {}（ピーク {}）",
                    label(case.real),
                    case.peak_risk
                );
                let _ = writeln!(t, "  しきい値超え: {}", or_dash(&crossed.join("、")));
                let _ = writeln!(t, "  根拠: {}", or_dash(&case.evidence));
            } else {
                let _ = writeln!(t, "  stated reason: {}", or_dash(&case.stated_reason));
                if let Some((h, notes)) = &case.heard {
                    let _ = writeln!(
                        t,
                        "  heard in the exit interview: {} ({})",
                        heard_label(h, lang),
                        or_dash(notes)
                    );
                }
                let _ = writeln!(
                    t,
                    "  what the data says: {} (peak risk {})",
                    label(case.real),
                    case.peak_risk
                );
                let _ = writeln!(
                    t,
                    "  crossed the threshold: {}",
                    or_dash(&crossed.join(", "))
                );
                let _ = writeln!(t, "  evidence: {}", or_dash(&case.evidence));
            }
        }
        let title = if ja {
            "表明された理由 × データが示す理由"
        } else {
            "stated reason × real category"
        };
        self.table_text(&mut t, title, &self.crosstab, lang);
        let (interviewed, rate) = self.agreement();
        if let Some(rate) = rate {
            let title = if ja {
                "面談で聞いた理由 × データが示す理由"
            } else {
                "heard reason × real category"
            };
            let heard: BTreeMap<String, BTreeMap<String, usize>> = self
                .heard
                .iter()
                .map(|(h, row)| (heard_label(h, lang).to_owned(), row.clone()))
                .collect();
            self.table_text(&mut t, title, &heard, lang);
            let pct = (rate * 1000.0).round() / 10.0;
            let _ = writeln!(
                t,
                "{}",
                if ja {
                    format!("面談した{interviewed}件のうち、聞いた理由とデータが一致: {pct}%")
                } else {
                    format!(
                        "heard reason and data agree in {pct}% of {interviewed} interviewed cancellations"
                    )
                }
            );
        }
        t
    }

    /// A crosstab as aligned text, under its title.
    fn table_text(
        &self,
        t: &mut String,
        title: &str,
        table: &BTreeMap<String, BTreeMap<String, usize>>,
        lang: Language,
    ) {
        let ja = lang == Language::Ja;
        let label = |c: Option<Category>| {
            c.map_or(if ja { "該当なし" } else { "none" }, |c| c.label(lang))
        };
        let cols = self.columns();
        let _ = writeln!(t, "\n{title}");
        let width = table
            .keys()
            .map(|k| display_width(k))
            .max()
            .unwrap_or(10)
            .max(10);
        let _ = write!(t, "{:<width$}", "");
        for c in &cols {
            let name = Category::ALL
                .iter()
                .find(|x| x.as_str() == *c)
                .map_or(label(None), |x| x.label(lang));
            let pad = 12usize.saturating_sub(display_width(name));
            let _ = write!(t, " {}{name}", " ".repeat(pad));
        }
        let _ = writeln!(t);
        for (stated, row) in table {
            let pad = width.saturating_sub(display_width(stated));
            let _ = write!(t, "{stated}{}", " ".repeat(pad));
            for c in &cols {
                let _ = write!(t, " {:>12}", row.get(*c).copied().unwrap_or(0));
            }
            let _ = writeln!(t);
        }
    }
}

/// A heard reason in the reader's language.
fn heard_label(heard: &str, lang: Language) -> &str {
    match Category::ALL.iter().find(|c| c.as_str() == heard) {
        Some(c) => c.label(lang),
        None if lang == Language::Ja => "外部要因",
        None => heard,
    }
}

/// Columns a string takes in a terminal: East Asian wide characters take two.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if ('\u{1100}'..='\u{FFEF}').contains(&c) && !('\u{2000}'..='\u{2E7F}').contains(&c) {
                2
            } else {
                1
            }
        })
        .sum()
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// `churnwatch postmortem`: writes the cases, the crosstab and the text; returns the text.
pub fn command(cfg: &Config, as_of: NaiveDate) -> Result<String, Error> {
    let _lock = OutputLock::acquire(&cfg.output_dir)?;
    let loaded = load(cfg)?;
    check_budget(cfg, &loaded.tables)?;
    let t = Instant::now();
    let report = postmortem(&loaded, cfg, as_of)?;
    let text = report.text(&loaded, cfg.language);
    let out = &cfg.output_dir;
    let mut batch = OutputBatch::in_dir(out);
    batch.stage(&out.join("postmortem.csv"), &report.cases_csv(&loaded))?;
    batch.stage(&out.join("postmortem_crosstab.csv"), &report.crosstab_csv())?;
    batch.stage(&out.join("postmortem_heard.csv"), &report.heard_csv())?;
    batch.stage(&out.join("postmortem.txt"), text.as_bytes())?;
    batch.commit()?;
    info!(
        cases = report.cases.len(),
        elapsed_ms = t.elapsed().as_millis() as u64,
        "postmortem written"
    );
    Ok(text)
}
