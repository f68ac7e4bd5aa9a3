//! digest.html: the morning view people look at. One self-contained page (inline CSS
//! and SVG, no script, no network) in the configured language: the company on top,
//! then a section per manager with their flagged accounts. Pure: bytes out, no IO.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::NaiveDate;

use crate::config::{Config, Language};
use crate::report::{AccountInfo, Change, CompanyTrend, ScoreRow, points};
use crate::scoring::{Category, RiskLevel, describe, next_action};

/// The words of the page, in each language.
struct Words {
    title: &'static str,
    flagged: &'static str,
    high: &'static str,
    medium: &'static str,
    new_this_week: &'static str,
    rising: &'static str,
    by_category: &'static str,
    by_manager: &'static str,
    manager: &'static str,
    no_manager: &'static str,
    trend: &'static str,
    account: &'static str,
    risk: &'static str,
    since: &'static str,
    weeks: &'static str,
    why: &'static str,
    next: &'static str,
    none_flagged: &'static str,
    file: &'static str,
    footer: &'static str,
}

const JA: Words = Words {
    title: "解約リスク 朝のまとめ",
    flagged: "要注意",
    high: "高",
    medium: "中",
    new_this_week: "今週新規",
    rising: "上昇中",
    by_category: "カテゴリ別（主因）",
    by_manager: "担当者別",
    manager: "担当者",
    no_manager: "担当者なし",
    trend: "要注意の口座数の推移（4週ごと）",
    account: "口座",
    risk: "リスク",
    since: "から要注意",
    weeks: "13週間のリスク",
    why: "理由",
    next: "次の一手",
    none_flagged: "要注意の口座はありません。",
    file: "この担当者のCSV",
    footer: "churnwatch が CRM のエクスポートから作成。リスク {medium} 以上が要注意、{high} 以上が高。理由の「偶然なら N 回に 1 回」は、この口座でこれほどの変化が偶然に起きる頻度です。",
};

const EN: Words = Words {
    title: "Cancellation risk: morning digest",
    flagged: "flagged",
    high: "high",
    medium: "medium",
    new_this_week: "new this week",
    rising: "rising",
    by_category: "By primary category",
    by_manager: "By manager",
    manager: "manager",
    no_manager: "no manager",
    trend: "Flagged accounts over 13 weeks (every 4 weeks)",
    account: "account",
    risk: "risk",
    since: "flagged since",
    weeks: "risk, 13 weeks",
    why: "why",
    next: "next action",
    none_flagged: "No flagged accounts.",
    file: "this manager's CSV",
    footer: "Made by churnwatch from the CRM exports. A risk of {medium} or more is flagged, {high} or more is high. \"By chance about 1 in N\" in a reason is how often a change this large happens by chance for that account.",
};

/// One manager's part of the page: their name (`None`: accounts without one), the
/// file of their rows, and their flagged rows by risk.
pub struct ManagerRows<'a> {
    pub manager: Option<&'a str>,
    pub file: String,
    pub rows: Vec<&'a ScoreRow>,
}

/// HTML text with the five special characters escaped.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A relative link to a file: every byte but unreserved ASCII and `/` percent-encoded,
/// so `#`, `%`, spaces and Japanese names reach the file they name.
fn href(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const STYLE: &str = r#"
:root { --high: #b3261e; --medium: #d08a00; --ink: #1d1d1f; --muted: #6b6b70; --line: #e3e3e8; }
* { box-sizing: border-box; }
body { font-family: "Hiragino Sans", "Noto Sans CJK JP", "Yu Gothic", Meiryo, system-ui, sans-serif;
       color: var(--ink); margin: 24px auto; max-width: 1100px; padding: 0 16px; font-size: 13px; line-height: 1.45; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 8px; border-bottom: 2px solid var(--ink); padding-bottom: 4px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.date { color: var(--muted); margin-bottom: 16px; }
.counts { display: flex; gap: 12px; flex-wrap: wrap; margin: 8px 0 12px; }
.count { border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; min-width: 96px; }
.count b { display: block; font-size: 20px; }
.count.high b { color: var(--high); }
.count.medium b { color: var(--medium); }
.grid { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 6px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: normal; font-size: 12px; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; }
tr { break-inside: avoid; }
.risk { font-weight: bold; font-size: 16px; white-space: nowrap; }
.risk.high { color: var(--high); }
.risk.medium { color: var(--medium); }
.badge { display: inline-block; border-radius: 4px; padding: 0 5px; font-size: 11px; color: #fff; margin-left: 4px; }
.badge.new { background: #3468c0; }
.badge.rising { background: var(--high); }
.name { font-weight: bold; }
.id, .since { color: var(--muted); font-size: 12px; }
.since { white-space: nowrap; }
.override { font-size: 12px; color: #3468c0; margin-top: 2px; }
tr.account td:first-child { min-width: 170px; }
ul.why { margin: 0; padding-left: 16px; }
ul.why li { margin-bottom: 2px; }
.next { font-weight: bold; }
section.manager { margin-top: 28px; break-before: page; }
section.manager.empty { break-before: auto; }
a { color: inherit; }
footer { color: var(--muted); font-size: 11px; margin-top: 28px; border-top: 1px solid var(--line); padding-top: 8px; }
@page { size: A4; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10px; }
  section.manager { margin-top: 0; }
  /* A4 is narrow: the figures shrink (their viewBox scales them), the reasons keep the room. */
  tr.account td:first-child { min-width: 0; width: 18%; }
  svg.bars { width: 96px; height: auto; }
  svg.spark { width: 80px; height: auto; }
  th, td { padding: 4px 4px; }
  .risk { font-size: 13px; }
}
"#;

/// Four bars, one per category, 0–100.
fn category_bars(categories: [f64; 4], lang: Language, (medium, high): (f64, f64)) -> String {
    let mut svg = String::from(
        r#"<svg class="bars" width="160" height="52" viewBox="0 0 160 52" role="img">"#,
    );
    for (i, c) in Category::ALL.iter().enumerate() {
        let value = points(categories[i]).clamp(0, 100);
        let y = i as i64 * 13;
        let _ = write!(
            svg,
            r##"<text x="0" y="{}" font-size="9" fill="#6b6b70">{}</text><rect x="38" y="{}" width="100" height="8" fill="#eeeef2"/><rect x="38" y="{}" width="{value}" height="8" fill="{}"/><text x="160" y="{}" font-size="8" fill="#6b6b70" text-anchor="end">{value}</text>"##,
            y + 9,
            esc(c.label(lang)),
            y + 2,
            y + 2,
            if value as f64 >= high {
                "#b3261e"
            } else if value as f64 >= medium {
                "#d08a00"
            } else {
                "#8e8e96"
            },
            y + 9,
        );
        let _ = write!(svg, r##"<title>{}: {value}</title>"##, esc(c.label(lang)));
    }
    svg.push_str("</svg>");
    svg
}

/// The weekly risk as a small line, oldest left, with the `medium` bar dashed.
fn sparkline(weekly: &[Option<i64>], medium: f64) -> String {
    let (w, h) = (130.0, 28.0);
    let step = w / (weekly.len().max(2) - 1) as f64;
    let y = |risk: f64| h - 2.0 - risk.clamp(0.0, 100.0) / 100.0 * (h - 4.0);
    let mut svg = format!(
        r##"<svg class="spark" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><line x1="0" x2="{w}" y1="{m:.1}" y2="{m:.1}" stroke="#d08a00" stroke-dasharray="2 2" stroke-width="0.8"/>"##,
        m = y(medium)
    );
    // A gap where the account was not active.
    let mut segment: Vec<String> = Vec::new();
    let flush = |segment: &mut Vec<String>, svg: &mut String| {
        if segment.len() > 1 {
            let _ = write!(
                svg,
                r##"<polyline fill="none" stroke="#1d1d1f" stroke-width="1.4" points="{}"/>"##,
                segment.join(" ")
            );
        }
        segment.clear();
    };
    for (i, risk) in weekly.iter().enumerate() {
        match risk {
            Some(r) => segment.push(format!("{:.1},{:.1}", i as f64 * step, y(*r as f64))),
            None => flush(&mut segment, &mut svg),
        }
    }
    flush(&mut segment, &mut svg);
    if let Some(Some(last)) = weekly.last() {
        let _ = write!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.2" fill="#1d1d1f"/>"##,
            (weekly.len() - 1) as f64 * step,
            y(*last as f64)
        );
    }
    let shown: Vec<String> = weekly
        .iter()
        .map(|r| r.map_or("–".to_owned(), |r| r.to_string()))
        .collect();
    let _ = write!(svg, "<title>{}</title></svg>", shown.join(" → "));
    svg
}

/// The company's flagged count over the weeks, as a line with its figures.
fn company_line(trend: &CompanyTrend) -> String {
    let (w, h) = (320.0, 110.0);
    let max = trend.flagged.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = (w - 60.0) / (trend.flagged.len().max(2) - 1) as f64;
    let x = |i: usize| 30.0 + i as f64 * step;
    let y = |n: usize| h - 24.0 - n as f64 / max * (h - 44.0);
    let points: Vec<String> = trend
        .flagged
        .iter()
        .enumerate()
        .map(|(i, &n)| format!("{:.1},{:.1}", x(i), y(n)))
        .collect();
    let mut svg = format!(
        r##"<svg class="trend" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><polyline fill="none" stroke="#1d1d1f" stroke-width="2" points="{}"/>"##,
        points.join(" ")
    );
    for (i, (&n, date)) in trend.flagged.iter().zip(&trend.weeks).enumerate() {
        let _ = write!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#1d1d1f"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{n}</text><text x="{:.1}" y="{:.1}" font-size="10" fill="#6b6b70" text-anchor="middle">{}</text>"##,
            x(i),
            y(n),
            x(i),
            y(n) - 7.0,
            x(i),
            h - 6.0,
            date.format("%m/%d")
        );
    }
    svg.push_str("</svg>");
    svg
}

fn count_box(class: &str, label: &str, n: usize) -> String {
    format!(
        r#"<div class="count {class}"><b>{n}</b>{}</div>"#,
        esc(label)
    )
}

fn changes(rows: &[&ScoreRow]) -> (usize, usize) {
    let count = |c: Change| {
        rows.iter()
            .filter(|r| r.trail.as_ref().and_then(|t| t.change) == Some(c))
            .count()
    };
    (count(Change::New), count(Change::Rising))
}

/// The page.
pub fn digest_html(
    managers: &[ManagerRows],
    info: &AccountInfo,
    cfg: &Config,
    as_of: NaiveDate,
    company: &CompanyTrend,
) -> Vec<u8> {
    let lang = cfg.language;
    let t = match lang {
        Language::Ja => &JA,
        Language::En => &EN,
    };
    let all: Vec<&ScoreRow> = managers
        .iter()
        .flat_map(|m| m.rows.iter().copied())
        .collect();
    let level = |l: RiskLevel| all.iter().filter(|r| r.score.level == l).count();
    let (new, rising) = changes(&all);
    let manager_name = |m: &ManagerRows| m.manager.unwrap_or(t.no_manager).to_owned();

    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="{}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{} {}</title><style>{STYLE}</style></head><body>"#,
        match lang {
            Language::Ja => "ja",
            Language::En => "en",
        },
        esc(t.title),
        as_of
    );
    let _ = write!(
        html,
        r#"<header><h1>{}</h1><div class="date">{}</div></header><section class="company"><div class="counts">{}{}{}{}{}</div><div class="grid">"#,
        esc(t.title),
        as_of,
        count_box("", t.flagged, all.len()),
        count_box("high", t.high, level(RiskLevel::High)),
        count_box("medium", t.medium, level(RiskLevel::Medium)),
        count_box("", t.new_this_week, new),
        count_box("", t.rising, rising),
    );
    // By primary category.
    let mut by_category: BTreeMap<Category, usize> = BTreeMap::new();
    for r in &all {
        if let Some(c) = r.score.primary {
            *by_category.entry(c).or_default() += 1;
        }
    }
    let _ = write!(
        html,
        "<div><h3>{}</h3><table class=\"by-category\">",
        esc(t.by_category)
    );
    let most = by_category.values().copied().max().unwrap_or(1).max(1);
    for c in Category::ALL {
        let n = by_category.get(&c).copied().unwrap_or(0);
        let _ = write!(
            html,
            r##"<tr><td>{}</td><td class="num">{n}</td><td><svg width="120" height="10"><rect width="{}" height="10" fill="#1d1d1f"/></svg></td></tr>"##,
            esc(c.label(lang)),
            120 * n / most
        );
    }
    html.push_str("</table></div>");
    // By manager.
    let _ = write!(
        html,
        "<div><h3>{}</h3><table class=\"by-manager\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(t.by_manager),
        esc(t.manager),
        esc(t.flagged),
        esc(t.new_this_week),
        esc(t.rising)
    );
    for (i, m) in managers.iter().enumerate() {
        let (new, rising) = changes(&m.rows);
        let _ = write!(
            html,
            r##"<tr><td><a href="#m{i}">{}</a></td><td class="num">{}</td><td class="num">{new}</td><td class="num">{rising}</td></tr>"##,
            esc(&manager_name(m)),
            m.rows.len()
        );
    }
    html.push_str("</table></div>");
    let _ = write!(
        html,
        "<div><h3>{}</h3>{}</div></div></section>",
        esc(t.trend),
        company_line(company)
    );

    // A section per manager.
    for (i, m) in managers.iter().enumerate() {
        let (new, rising) = changes(&m.rows);
        let _ = write!(
            html,
            r#"<section class="manager{}" id="m{i}" data-manager="{}" data-file="{}"><h2>{}</h2><div class="counts">{}{}{}</div><div class="id"><a href="{}">{}</a></div>"#,
            // A manager with nothing flagged takes no page of their own in print.
            if m.rows.is_empty() { " empty" } else { "" },
            esc(m.manager.unwrap_or("")),
            esc(&m.file),
            esc(&manager_name(m)),
            count_box("", t.flagged, m.rows.len()),
            count_box("", t.new_this_week, new),
            count_box("", t.rising, rising),
            href(&m.file),
            esc(t.file),
        );
        if m.rows.is_empty() {
            let _ = write!(html, "<p>{}</p></section>", esc(t.none_flagged));
            continue;
        }
        let _ = write!(
            html,
            "<table class=\"accounts\"><tr><th>{}</th><th>{}</th><th></th><th>{}</th><th>{} / {}</th></tr>",
            esc(t.account),
            esc(t.risk),
            esc(t.weeks),
            esc(t.why),
            esc(t.next)
        );
        for r in &m.rows {
            let a = r.score.acct as usize;
            let class = r.score.level.as_str();
            let badge = r
                .trail
                .as_ref()
                .and_then(|t| t.change)
                .map_or(String::new(), |c| {
                    let label = match c {
                        Change::New => t.new_this_week,
                        Change::Rising => t.rising,
                    };
                    format!(
                        r#"<span class="badge {}">{}</span>"#,
                        c.as_str(),
                        esc(label)
                    )
                });
            let since = r.trail.as_ref().map_or(String::new(), |tr| match lang {
                Language::Ja => format!("{}{}", tr.flagged_since, esc(t.since)),
                Language::En => format!("{} {}", esc(t.since), tr.flagged_since),
            });
            let spark = r.trail.as_ref().map_or(String::new(), |tr| {
                sparkline(&tr.weekly_risk, cfg.flags.medium)
            });
            let reasons: String = r
                .first_reason
                .iter()
                .cloned()
                .chain(
                    r.score
                        .findings
                        .iter()
                        .take(cfg.flags.max_reasons)
                        .map(|f| describe(f, lang)),
                )
                .map(|text| format!("<li>{}</li>", esc(&text)))
                .collect();
            let overridden = r.override_cell.as_deref().map_or(String::new(), |o| {
                format!(r#"<div class="override">{}</div>"#, esc(o))
            });
            let action = next_action(&r.score, cfg).map_or(String::new(), |a| {
                format!(r#"<div class="next">→ {}</div>"#, esc(a))
            });
            let _ = write!(
                html,
                r#"<tr class="account" data-account="{id}"><td><div class="name">{}</div><div class="id">{id}</div><div class="since">{since}</div>{overridden}</td><td><span class="risk {class}">{}</span>{badge}</td><td>{}</td><td>{spark}</td><td><ul class="why">{reasons}</ul>{action}</td></tr>"#,
                esc(&info.name[a]),
                r.risk_score,
                category_bars(r.score.categories, lang, (cfg.flags.medium, cfg.flags.high)),
                id = esc(&info.id[a]),
            );
        }
        html.push_str("</table></section>");
    }
    let footer = t
        .footer
        .replace("{medium}", &cfg.flags.medium.to_string())
        .replace("{high}", &cfg.flags.high.to_string());
    let _ = writeln!(html, "<footer>{}</footer></body></html>", esc(&footer));
    html.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_reach_any_file_name() {
        assert_eq!(
            href("by_manager/Team #2 100%.csv"),
            "by_manager/Team%20%232%20100%25.csv"
        );
        assert_eq!(
            href("by_manager/中村.csv"),
            "by_manager/%E4%B8%AD%E6%9D%91.csv"
        );
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<b>\"A&B\"</b> 'x'"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt; &#39;x&#39;"
        );
    }

    #[test]
    fn a_sparkline_breaks_where_the_account_was_not_active() {
        let svg = sparkline(
            &[None, None, Some(10), Some(50), None, Some(70), Some(80)],
            40.0,
        );
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("– → – → 10 → 50 → – → 70 → 80"));
    }
}
