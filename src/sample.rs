//! Sample CRM exports with planted ground truth: the data `churnwatch sample` writes.
//!
//! Every account is given a scenario (healthy; healthy with one bad week, in varied
//! exports about half the time with a second isolated bad event weeks apart; naturally
//! quiet; new; stressed in one of the four stress categories; or churned) and its
//! activity over the last `months` months is simulated from per-account base rates plus
//! noise. From a stressed account's onset the evidence of its category worsens, ramping
//! from normal to full severity over [`RAMP_DAYS`]; the other categories keep their
//! ordinary noise. The truth file records what was planted so detection can be scored.
//!
//! Output depends only on the options: a small PRNG defined here (xoshiro256** seeded by
//! SplitMix64) drives everything, so the same options give byte-identical files. The
//! only floating-point functions used beyond IEEE arithmetic are `ln`, `exp` and `cos`.

use std::cmp::Reverse;
use std::f64::consts::TAU;
use std::fmt::{self, Display, Write as _};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write as _};
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Weekday};

/// What to generate and where to write it.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub seed: u64,
    pub accounts: usize,
    /// Last day of generated history (the sample's "today").
    pub end: NaiveDate,
    /// History length in months (the CLI default is 18).
    pub months: u32,
    /// Receives accounts.csv, meetings.csv, messages.csv, action_items.csv,
    /// study_sessions.csv, invoices.csv, outcomes.csv and churn_events.csv.
    pub out_dir: PathBuf,
    /// Ground truth CSV; kept apart from `out_dir` so the job never reads it by accident.
    pub truth_path: PathBuf,
    /// Vary what real exports vary: sparse, medium and dense accounts, each account's
    /// own month-to-month KPI spread (0–15%), and the New Year, Golden Week and Obon
    /// weeks when most meetings and messages do not happen, clients writing in
    /// phases, and routine billing (price revisions, extra invoices:
    /// [`billing_events`]). Off, the generator writes
    /// what it always wrote (medium volumes, ±10% KPI noise, no holidays), byte for
    /// byte, for the shipped `data/` and the tests pinned to it.
    pub varied: bool,
    /// With `varied`: the widest spread (log scale) of an account's four-weekly
    /// message rate ([`PHASE_SPREAD`] by default), each account's own drawn from 0
    /// to this...
    pub phase_spread: f64,
    /// ...and the widest month-to-month spread of its KPI attainment
    /// ([`KPI_NOISE`] by default). Larger values make exports harder than the
    /// ones the thresholds were chosen on: a check of how detection generalises.
    pub kpi_noise: f64,
}

/// The widest spread (log scale) of a varied account's four-weekly message rate, by
/// default: at 0.6 a month's rate is within ×0.5–×1.8 of the usual one about nine
/// months in ten, so a 60-day count varies about twice as much as Poisson at 8
/// messages.
pub const PHASE_SPREAD: f64 = 0.6;

/// The widest month-to-month spread of a varied account's KPI attainment, by default
/// (issue #10's "steady to ±15% monthly").
pub const KPI_NOISE: f64 = 0.15;

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSummary {
    pub accounts: usize,
    /// Data rows over the eight CRM tables (headers and the truth file not counted).
    pub rows_written: u64,
}

/// Days over which a stressed account's evidence goes from normal to full severity.
const RAMP_DAYS: f64 = 30.0;
/// Churned accounts left within this many days before `end` (about 15 months).
const CHURN_WINDOW_DAYS: i64 = 456;
/// Odd constant that spreads account indexes over the seed space.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
/// The team works weekdays from 9:00 to 19:00 (seconds from midnight).
const OFFICE: (i64, i64) = (9 * 3600, 19 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Healthy,
    HealthyBlip,
    Quiet,
    New,
    Stressed,
    Churned,
}

impl Scenario {
    fn as_str(self) -> &'static str {
        [
            "healthy",
            "healthy_blip",
            "quiet",
            "new",
            "stressed",
            "churned",
        ][self as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    None,
    Outcome,
    Expectation,
    Discomfort,
    Cost,
    External,
}

impl Category {
    fn as_str(self) -> &'static str {
        [
            "none",
            "outcome",
            "expectation",
            "discomfort",
            "cost",
            "external",
        ][self as usize]
    }
}

/// Scenario mix in percent (sums to 100); counts are exact up to rounding.
const MIX: [(Scenario, Category, usize); 13] = [
    (Scenario::Healthy, Category::None, 40),
    (Scenario::HealthyBlip, Category::None, 10),
    (Scenario::Quiet, Category::None, 8),
    (Scenario::New, Category::None, 7),
    (Scenario::Stressed, Category::Outcome, 5),
    (Scenario::Stressed, Category::Expectation, 5),
    (Scenario::Stressed, Category::Discomfort, 5),
    (Scenario::Stressed, Category::Cost, 5),
    (Scenario::Churned, Category::Outcome, 3),
    (Scenario::Churned, Category::Expectation, 3),
    (Scenario::Churned, Category::Discomfort, 3),
    (Scenario::Churned, Category::Cost, 3),
    (Scenario::Churned, Category::External, 3),
];

// Name pools (kept on few lines: they are data, not code).
#[rustfmt::skip]
const JP_SURNAMES: [&str; 20] = [
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
    "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水",
];
#[rustfmt::skip]
const JP_GIVEN: [&str; 20] = [
    "美咲", "健", "翔太", "陽子", "大輔", "直子", "拓也", "恵", "誠", "由美", "亮", "彩", "健太",
    "真由美", "隆", "さくら", "悠斗", "愛", "浩二", "結衣",
];
#[rustfmt::skip]
const EN_FIRST: [&str; 20] = [
    "Emily", "James", "Olivia", "Michael", "Sarah", "David", "Emma", "Daniel", "Laura", "Kevin",
    "Rachel", "Thomas", "Grace", "Ryan", "Hannah", "Mark", "Sophie", "Brian", "Chloe", "Peter",
];
#[rustfmt::skip]
const EN_LAST: [&str; 20] = [
    "Clark", "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thompson",
    "Walker", "White", "Harris", "Martin", "Lewis", "Young", "Allen", "King", "Wright", "Scott",
    "Green",
];
#[rustfmt::skip]
const JP_STEM_A: [&str; 20] = [
    "サクラ", "ミライ", "アオバ", "ヒカリ", "東京", "大阪", "横浜", "北斗", "日本", "グリーン",
    "ブルー", "富士", "青空", "新星", "光", "和", "匠", "大和", "湘南", "札幌",
];
#[rustfmt::skip]
const JP_STEM_B: [&str; 20] = [
    "テック", "商事", "物産", "工業", "不動産", "建設", "食品", "ホールディングス", "ソリューションズ",
    "デザイン", "製作所", "住宅", "電機", "企画", "運輸", "薬品", "観光", "ラボ", "メディカル",
    "システムズ",
];
#[rustfmt::skip]
const EN_STEM_A: [&str; 20] = [
    "Acme", "Northwind", "Bluebird", "Summit", "Harbor", "Redwood", "Pioneer", "Silverline",
    "Brightpath", "Evergreen", "Lakeside", "Ironclad", "Sunrise", "Oakmont", "Crescent", "Maple",
    "Atlas", "Beacon", "Cobalt", "Falcon",
];
#[rustfmt::skip]
const EN_STEM_B: [&str; 20] = [
    "Digital", "Foods", "Dental", "Logistics", "Realty", "Labs", "Media", "Clinic", "Consulting",
    "Outdoor", "Motors", "Academy", "Studio", "Supply", "Partners", "Wellness", "Travel", "Home",
    "Systems", "Apparel",
];
/// What leaving clients say, whatever the real cause was.
#[rustfmt::skip]
const REASONS_JA: [&str; 8] = [
    "事業縮小のため", "固定費の見直し", "社内方針の変更", "担当者の異動", "予算削減",
    "内製化のため", "経営方針の変更により", "他社サービスへの統合",
];
const REASONS_EN: [&str; 4] = [
    "business downsizing",
    "budget review",
    "change of company policy",
    "moving the work in-house",
];
const MEETING_HOURS: [i64; 7] = [10, 11, 13, 14, 15, 16, 17];

/// Writes the eight CRM exports and the truth file; see the module docs.
pub fn generate(opts: &SampleOptions) -> io::Result<SampleSummary> {
    fs::create_dir_all(&opts.out_dir)?;
    if let Some(parent) = opts.truth_path.parent()
        && !parent.as_os_str().is_empty()
    {
        fs::create_dir_all(parent)?;
    }
    let mut rng = Rng::new(opts.seed);
    let world = World::new(opts, &mut rng);
    let mut out = Outputs::create(&opts.out_dir, &opts.truth_path)?;
    let mut activity = Activity::default();
    for (i, &mix) in world.mix.iter().enumerate() {
        // One stream per account, so an account's data does not depend on its neighbours.
        let mut rng = Rng::new(opts.seed.rotate_left(17) ^ (i as u64 + 1).wrapping_mul(GOLDEN));
        let mut account = new_account(&world, i, mix, &mut rng);
        // Routine billing changes from a stream of their own, so every other row is
        // what it was before they existed.
        let mut billing = Rng::new(opts.seed.rotate_left(41) ^ (i as u64 + 1).wrapping_mul(GOLDEN));
        billing_events(&world, &mut account, &mut billing);
        activity.simulate(&world, &account, &mut rng);
        out.write_account(&world, &account, &activity)?;
        // What managers add, from a stream of its own: the exports above stay what
        // they were before these two files existed.
        let mut people = Rng::new(opts.seed.rotate_left(29) ^ (i as u64 + 1).wrapping_mul(GOLDEN));
        out.write_people(&world, &account, &mut people)?;
    }
    let rows_written = out.finish()?;
    Ok(SampleSummary {
        accounts: opts.accounts,
        rows_written,
    })
}

/// Everything shared by all accounts of one run.
struct World {
    varied: bool,
    /// [`SampleOptions::phase_spread`] and [`SampleOptions::kpi_noise`].
    phase_spread: f64,
    kpi_noise: f64,
    end: NaiveDate,
    history_start: NaiveDate,
    /// Study-session dates, ascending: every 14 days on a weekday, up to `end`.
    sessions: Vec<NaiveDate>,
    managers: Vec<String>,
    id_width: usize,
    /// Scenario of each account, in account order.
    mix: Vec<(Scenario, Category)>,
}

impl World {
    fn new(opts: &SampleOptions, rng: &mut Rng) -> Self {
        let end = opts.end;
        let history_start = end
            .checked_sub_months(Months::new(opts.months))
            .unwrap_or(end);
        let mut day = previous_weekday(end - days(rng.range(0..=13)));
        let mut sessions = Vec::new();
        while day >= history_start {
            sessions.push(day);
            day -= days(14);
        }
        sessions.reverse();
        World {
            varied: opts.varied,
            phase_spread: opts.phase_spread,
            kpi_noise: opts.kpi_noise,
            end,
            history_start,
            sessions,
            managers: managers(opts.accounts, rng),
            id_width: opts.accounts.to_string().len().max(5),
            mix: scenario_mix(opts.accounts, rng),
        }
    }
}

/// Exact counts per scenario (largest remainder), shuffled over the account ids.
fn scenario_mix(n: usize, rng: &mut Rng) -> Vec<(Scenario, Category)> {
    let mut counts: Vec<usize> = MIX.iter().map(|m| n * m.2 / 100).collect();
    let mut order: Vec<usize> = (0..MIX.len()).collect();
    order.sort_by_key(|&i| Reverse(n * MIX[i].2 % 100));
    let missing = n - counts.iter().sum::<usize>();
    for &i in order.iter().take(missing) {
        counts[i] += 1;
    }
    let mut mix = Vec::with_capacity(n);
    for (m, &count) in MIX.iter().zip(&counts) {
        mix.extend(std::iter::repeat_n((m.0, m.1), count));
    }
    rng.shuffle(&mut mix);
    mix
}

/// About 8 managers per 300 accounts, three in four with Japanese names, all distinct.
fn managers(accounts: usize, rng: &mut Rng) -> Vec<String> {
    let want = ((accounts * 8 + 150) / 300).clamp(1, 800);
    let pairs = |rng: &mut Rng| {
        let mut v: Vec<(usize, usize)> = (0..400).map(|k| (k / 20, k % 20)).collect();
        rng.shuffle(&mut v);
        v
    };
    let (mut jp, mut en) = (pairs(rng), pairs(rng));
    let mut names = Vec::with_capacity(want);
    while names.len() < want {
        let prefer_jp = rng.chance(0.75);
        let name = if (prefer_jp || en.is_empty())
            && let Some((i, j)) = jp.pop()
        {
            format!("{} {}", JP_SURNAMES[i], JP_GIVEN[j])
        } else if let Some((i, j)) = en.pop() {
            format!("{} {}", EN_FIRST[i], EN_LAST[j])
        } else {
            break;
        };
        names.push(name);
    }
    names
}

/// Japanese and English company names; a few carry a comma or double quotes.
fn company_name(rng: &mut Rng) -> String {
    if rng.chance(0.7) {
        let stem = format!("{}{}", rng.choose(&JP_STEM_A), rng.choose(&JP_STEM_B));
        match rng.range(0..=19) {
            0..=9 => format!("株式会社{stem}"),
            10..=14 => format!("{stem}株式会社"),
            15..=17 => format!("{stem}合同会社"),
            _ => format!("有限会社{stem}"),
        }
    } else {
        let (a, b) = (rng.choose(&EN_STEM_A), rng.choose(&EN_STEM_B));
        match rng.range(0..=99) {
            0..=2 => format!("{a}, {b} & Partners, Inc."),
            3..=5 => format!("{a} \"{b}\" LLC"),
            6..=60 => format!("{a} {b} Inc."),
            _ => format!("{a} {b} LLC"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Leads,
    Cpa,
    CvRate,
}

impl Metric {
    fn as_str(self) -> &'static str {
        ["leads", "cpa", "cv_rate"][self as usize]
    }
    /// A cost per acquisition is better when lower.
    fn higher_is_better(self) -> bool {
        self != Metric::Cpa
    }
    fn decimals(self) -> usize {
        if self == Metric::CvRate { 2 } else { 0 }
    }
    fn with_target(self, rng: &mut Rng) -> (Metric, f64) {
        let target = match self {
            Metric::Leads => rng.range(20..=400) as f64,
            Metric::Cpa => round_to(rng.uniform(3_000.0..40_000.0), 100.0) as f64,
            Metric::CvRate => (rng.uniform(0.5..5.0) * 10.0).round() / 10.0, // percent
        };
        (self, target)
    }
}

/// How much an account does: most B2B accounts are quiet most of the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Volume {
    /// About three client messages a month, a meeting every two or four weeks, few
    /// promises.
    Sparse,
    Medium,
    /// Several messages a day, weekly meetings.
    Dense,
}

impl Volume {
    fn as_str(self) -> &'static str {
        ["sparse", "medium", "dense"][self as usize]
    }

    fn draw(quiet: bool, rng: &mut Rng) -> Volume {
        match rng.f64() {
            _ if quiet => Volume::Sparse,
            u if u < 0.3 => Volume::Sparse,
            u if u < 0.8 => Volume::Medium,
            _ => Volume::Dense,
        }
    }
}

/// One account: its master data, its scenario and its base behaviour before stress.
struct Account {
    /// [`SampleOptions::varied`].
    varied: bool,
    volume: Volume,
    /// Month-to-month spread of KPI attainment (standard deviation, 0–15% by
    /// default).
    kpi_noise: f64,
    id: String,
    scenario: Scenario,
    category: Category,
    severity: f64,
    onset: Option<NaiveDate>,
    churned_on: Option<NaiveDate>,
    /// First day of a healthy_blip account's one bad week.
    blip: Option<NaiveDate>,
    /// First and last day with activity: history or contract start, to `end` or the
    /// day before the cancellation took effect.
    start: NaiveDate,
    last: NaiveDate,
    name: String,
    manager: Option<usize>,
    plan: &'static str,
    fee_base: i64,
    /// Fee after a cost-stress increase or a price revision (equals `fee_base`
    /// otherwise): the accounts export's `monthly_fee`.
    fee_now: i64,
    /// The day a calm varied account's price revision took effect
    /// ([`billing_events`]).
    revised: Option<NaiveDate>,
    /// Extra invoices (additional work) of a varied account: the day issued and
    /// the share of the fee billed ([`billing_events`]).
    extra_invoices: Vec<(NaiveDate, f64)>,
    /// Months whose invoice a varied account is not sent: billed with the next
    /// month's ([`billing_events`]); the first of each month.
    unbilled: Vec<NaiveDate>,
    contract_start: NaiveDate,
    renewal: Option<NaiveDate>,
    outcome_agreed: Option<bool>,
    stated_reason: &'static str,
    cadence_days: f64,
    /// Factor by which meeting intervals stretch under full expectation stress.
    cadence_stretch: f64,
    messages_per_week: f64,
    chat_share: f64,
    /// Median reply delay in office hours (2–12).
    reply_hours: f64,
    /// Factor by which replies slow down under full discomfort stress.
    reply_slowdown: f64,
    late_p: f64,
    team_cancel_p: f64,
    client_cancel_p: f64,
    review_p: f64,
    study_member: bool,
    attend_p: f64,
    metrics: [Option<(Metric, f64)>; 2],
    attainment: f64,
    actions_per_month: f64,
}

fn new_account(w: &World, index: usize, mix: (Scenario, Category), rng: &mut Rng) -> Account {
    let (scenario, category) = mix;
    let end = w.end;
    let history_days = (end - w.history_start).num_days();
    let churned_on = (scenario == Scenario::Churned)
        .then(|| end - days(rng.range(7..=CHURN_WINDOW_DAYS.min(history_days - 60))));
    let contract_start = if scenario == Scenario::New {
        end - days(rng.range(20..=80))
    } else {
        // At least six months of contract before `end` (or before leaving), at most eight years.
        let min = churned_on.map_or(0, |c| (end - c).num_days()) + 183;
        end - days(rng.range(min..=min.max(2920)))
    };
    let has_stress = !matches!(category, Category::None | Category::External);
    let severity = if has_stress {
        rng.uniform(0.6..1.0)
    } else {
        0.0
    };
    let onset = match (has_stress, churned_on) {
        (false, _) => None,
        // At least six weeks before `end`: monthly KPIs and fortnightly meetings need
        // that long to show a change at all, so earlier "onsets" are not yet evidence.
        (true, None) => Some(end - days(rng.range(45..=150))),
        (true, Some(churned)) => Some(churned - days(rng.range(60..=150))),
    };
    let (plan, fees) = match rng.f64() {
        u if u < 0.5 => ("standard", 50_000.0..250_000.0),
        u if u < 0.8 => ("growth", 150_000.0..500_000.0),
        _ => ("premium", 300_000.0..800_000.0),
    };
    let fee_base = round_to(rng.uniform(fees), 5_000.0);
    let raise = if category == Category::Cost {
        rng.uniform(1.2..1.4)
    } else {
        1.0
    };
    let agreed_p = if category == Category::Outcome {
        0.5
    } else {
        0.85
    };
    let quiet = scenario == Scenario::Quiet;
    let volume = match (w.varied, quiet) {
        (true, _) => Volume::draw(quiet, rng),
        (false, true) => Volume::Sparse,
        (false, false) => Volume::Medium,
    };
    let first_metric = METRICS[rng.range(0..=2) as usize];
    let second_metric = METRICS[(first_metric as usize + rng.range(1..=2) as usize) % 3];
    Account {
        volume,
        kpi_noise: if w.varied {
            rng.uniform(0.0..w.kpi_noise)
        } else {
            0.0
        },
        varied: w.varied,
        id: format!("A{:0width$}", index + 1, width = w.id_width),
        scenario,
        category,
        severity,
        onset,
        churned_on,
        blip: (scenario == Scenario::HealthyBlip).then(|| end - days(rng.range(14..=90))),
        start: w.history_start.max(contract_start),
        last: churned_on.map_or(end, |c| c - days(1)),
        name: company_name(rng),
        manager: (!rng.chance(0.02)).then(|| rng.range(0..=w.managers.len() as i64 - 1) as usize),
        plan,
        fee_base,
        fee_now: round_to(fee_base as f64 * raise, 1_000.0),
        revised: None,
        extra_invoices: Vec::new(),
        unbilled: Vec::new(),
        contract_start,
        renewal: next_anniversary(contract_start, end).filter(|_| !rng.chance(0.08)),
        outcome_agreed: (!rng.chance(0.03)).then(|| rng.chance(agreed_p)),
        stated_reason: match churned_on {
            None => "",
            Some(_) if rng.chance(0.8) => rng.choose(&REASONS_JA),
            Some(_) => rng.choose(&REASONS_EN),
        },
        cadence_days: match volume {
            _ if quiet => rng.uniform(30.0..45.0),
            Volume::Sparse => rng.choose(&[14.0, 28.0]),
            Volume::Medium => rng.choose(&CADENCES),
            Volume::Dense => 7.0,
        },
        cadence_stretch: rng.uniform(2.0..3.0),
        messages_per_week: rng.uniform(match volume {
            _ if quiet => 0.3..0.8,
            Volume::Sparse => 0.5..1.0,
            Volume::Medium => 0.8..6.0,
            Volume::Dense => 6.0..15.0,
        }),
        chat_share: rng.uniform(0.2..0.7),
        // Log-uniform, so fast and slow teams are equally common on a ratio scale.
        reply_hours: rng.uniform(2f64.ln()..12f64.ln()).exp(),
        reply_slowdown: rng.uniform(4.0..10.0),
        late_p: rng.uniform(0.0..0.08),
        team_cancel_p: rng.uniform(0.0..0.06),
        client_cancel_p: rng.uniform(0.0..0.08),
        review_p: rng.uniform(0.05..0.25),
        study_member: rng.chance(0.6),
        attend_p: rng.uniform(0.5..0.95),
        metrics: [
            Some(first_metric.with_target(rng)),
            rng.chance(0.5).then(|| second_metric.with_target(rng)),
        ],
        attainment: rng.uniform(0.9..1.25),
        actions_per_month: rng.uniform(match volume {
            Volume::Sparse => 0.3..1.0,
            Volume::Medium => 1.0..3.0,
            Volume::Dense => 2.0..5.0,
        }),
    }
}

/// Holiday weeks (New Year, Golden Week, Obon): most meetings and messages do not
/// happen; what remains is the share kept.
const HOLIDAY_ACTIVITY: f64 = 0.25;

fn holiday(day: NaiveDate) -> bool {
    crate::calendar::is_holiday_week(crate::calendar::day_number(day))
}

const METRICS: [Metric; 3] = [Metric::Leads, Metric::Cpa, Metric::CvRate];
/// Meeting every week, two weeks (most common) or month.
const CADENCES: [f64; 4] = [7.0, 14.0, 14.0, 30.0];

/// How stress distorts the evidence. `s_*` is the current stress of that category
/// (0 = normal, up to the account's severity); only the account's own category is ever
/// non-zero, so stressed accounts keep ordinary noise everywhere else.
impl Account {
    /// Stress of `category` on `day`: 0 before onset, then a linear ramp to `severity`.
    fn stress(&self, category: Category, day: NaiveDate) -> f64 {
        match self.onset {
            Some(onset) if self.category == category && day >= onset => {
                self.severity * ((day - onset).num_days() as f64 / RAMP_DAYS).min(1.0)
            }
            _ => 0.0,
        }
    }

    // Outcome: KPI attainment sags to base × (1 − 0.5·s).
    fn attainment_on(&self, day: NaiveDate) -> f64 {
        self.attainment * (1.0 - 0.5 * self.stress(Category::Outcome, day))
    }

    // Expectation: meetings thin out to a third/half, the client cancels ~40% and writes
    // less, study attendance falls to ~15%; proposals stop (see `gen_meetings`).
    fn meeting_interval(&self, s_exp: f64) -> f64 {
        self.cadence_days * lerp(1.0, self.cadence_stretch, s_exp)
    }
    fn client_cancel_p(&self, s_exp: f64) -> f64 {
        lerp(self.client_cancel_p, 0.4, s_exp)
    }
    fn message_rate(&self, s_exp: f64) -> f64 {
        self.messages_per_week * (1.0 - 0.6 * s_exp)
    }
    fn attend_p(&self, day: NaiveDate) -> f64 {
        let expecting = lerp(self.attend_p, 0.15, self.stress(Category::Expectation, day));
        // Cost: paying for the community yet no longer using it.
        expecting * (1.0 - self.stress(Category::Cost, day)).powi(3)
    }

    // Discomfort: replies ×4–10 slower and ~20% never answered, the team cancels or
    // reschedules ~30% and is late to ~half (see `late_minutes`), promises go overdue.
    fn team_cancel_p(&self, s_dis: f64) -> f64 {
        lerp(self.team_cancel_p, 0.3, s_dis)
    }
    fn reply_factor(&self, s_dis: f64) -> f64 {
        lerp(1.0, self.reply_slowdown, s_dis)
    }
    fn unanswered_p(s_dis: f64) -> f64 {
        0.005 + 0.2 * s_dis
    }
    fn overdue_p(s_dis: f64) -> f64 {
        0.85 * s_dis
    }

    // Cost: the fee goes up at onset, payments come 15–45 days late (with probability
    // s), ~30% of invoices are disputed.
    fn fee_on(&self, day: NaiveDate) -> i64 {
        match (self.onset, self.revised) {
            (Some(onset), _) if self.category == Category::Cost && day >= onset => self.fee_now,
            (_, Some(revised)) if day >= revised => self.fee_now,
            _ => self.fee_base,
        }
    }
    fn disputed_p(s_cost: f64) -> f64 {
        0.02 + 0.28 * s_cost
    }

    /// Where a varied healthy_blip account has a second isolated bad event (issue
    /// #10's "one or two isolated bad events"): each of the meetings, invoices and
    /// outcomes decides on its own stream, with probability OTHER_BAD_EVENT_P, so an
    /// account has one, two or (rarely) more. The day is three to six weeks from the
    /// blip week, before it where that stays inside the last 90 days, else after.
    /// Drawn last in each stream, so every other row stays as it was.
    fn other_bad_day(&self, rng: &mut Rng) -> Option<NaiveDate> {
        let blip = self.blip.filter(|_| self.varied)?;
        if !rng.chance(OTHER_BAD_EVENT_P) {
            return None;
        }
        let apart = days(rng.range(21..=42));
        let day = if blip - apart >= self.last - days(90) {
            blip - apart
        } else {
            (blip + apart).min(self.last)
        };
        (self.start..=self.last).contains(&day).then_some(day)
    }
}

/// The chance that one table (meetings, invoices, outcomes) of a varied
/// healthy_blip account holds a second bad event: about half of them have at least
/// one ([`Account::other_bad_day`]).
const OTHER_BAD_EVENT_P: f64 = 0.2;

/// The share of calm varied accounts (healthy, with a bad week, quiet) whose price
/// is revised once, by 3–15% ([`billing_events`]): routine revisions, not stress.
const FEE_REVISION_P: f64 = 0.1;

/// The chance of an extra invoice (additional work, 10–50% of the fee) in any month
/// of a varied account ([`billing_events`]).
const EXTRA_INVOICE_P: f64 = 0.03;

/// The share of varied accounts billed irregularly, by volume tier (sparse,
/// medium, dense): a month's invoice skipped and billed with the next month's,
/// for two or three invoices a quarter ([`billing_events`]).
const IRREGULAR_BILLING_P: [f64; 3] = [0.5, 0.15, 0.05];

/// How often an irregularly billed account skips a month's invoice: between these.
const SKIPPED_MONTH_P: std::ops::Range<f64> = 0.15..0.4;

/// What real billing holds beside the monthly fee (varied exports only): a price
/// revision on some calm accounts, from a day at least 60 days into the history on
/// (the accounts export shows the revised fee), now and then an extra invoice, and
/// on some accounts (most of them sparse) months billed together with the next.
/// Drawn from the account's billing stream; the invoices themselves are written by
/// `gen_invoices`.
fn billing_events(w: &World, a: &mut Account, rng: &mut Rng) {
    if !w.varied {
        return;
    }
    let calm = matches!(
        a.scenario,
        Scenario::Healthy | Scenario::HealthyBlip | Scenario::Quiet
    );
    let span = (a.last - a.start).num_days();
    if calm && span > 60 && rng.chance(FEE_REVISION_P) {
        a.revised = Some(a.start + days(rng.range(60..=span)));
        a.fee_now = round_to(a.fee_base as f64 * rng.uniform(1.03..1.15), 1_000.0);
    }
    for month in months(a.start, a.last) {
        if rng.chance(EXTRA_INVOICE_P) {
            let day = month + days(rng.range(5..=25));
            a.extra_invoices.push((day, rng.uniform(0.1..0.5)));
        }
    }
    if rng.chance(IRREGULAR_BILLING_P[a.volume as usize]) {
        let skip = rng.uniform(SKIPPED_MONTH_P);
        a.unbilled = months(a.start, a.last)
            .filter(|_| rng.chance(skip))
            .collect();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Held,
    Rescheduled,
    CancelledByClient,
    CancelledByTeam,
    NoShowClient,
    NoShowTeam,
}

impl Status {
    /// The contract's spelling; the variants are declared in the contract's order.
    fn as_str(self) -> &'static str {
        crate::contract::MEETING_STATUSES[self as usize]
    }
}

// One row each, in column order after account_id.
struct Meeting(NaiveDateTime, Status, Option<i64>, &'static str);
struct Message(NaiveDateTime, Option<NaiveDateTime>, &'static str);
struct ActionItem(NaiveDate, NaiveDate, Option<NaiveDate>);
struct Invoice(NaiveDate, NaiveDate, i64, Option<NaiveDate>, bool);
struct Outcome(NaiveDate, Metric, f64, f64);

/// One account's rows, sorted by time; the buffers are reused from account to account.
#[derive(Default)]
struct Activity {
    meetings: Vec<Meeting>,
    messages: Vec<Message>,
    action_items: Vec<ActionItem>,
    study: Vec<(NaiveDate, bool)>,
    invoices: Vec<Invoice>,
    outcomes: Vec<Outcome>,
}

impl Activity {
    fn simulate(&mut self, w: &World, a: &Account, rng: &mut Rng) {
        self.meetings.clear();
        self.messages.clear();
        self.action_items.clear();
        self.study.clear();
        self.invoices.clear();
        self.outcomes.clear();
        if a.start > a.last {
            return; // churned before the generated history begins
        }
        // A stream per table, so changing one table's logic leaves the others unchanged.
        self.gen_meetings(a, &mut rng.fork());
        self.gen_messages(w, a, &mut rng.fork());
        self.gen_action_items(a, &mut rng.fork());
        self.gen_study(w, a, &mut rng.fork());
        self.gen_invoices(a, &mut rng.fork());
        self.gen_outcomes(a, &mut rng.fork());
    }

    fn gen_meetings(&mut self, a: &Account, rng: &mut Rng) {
        let mut next_proposal = a.start + days(rng.range(0..=150));
        let mut day = a.start + days(rng.range(0..=a.cadence_days as i64 - 1));
        loop {
            day = next_weekday(day);
            if day > a.last {
                break;
            }
            let s_exp = a.stress(Category::Expectation, day);
            let s_dis = a.stress(Category::Discomfort, day);
            if a.varied && holiday(day) && !rng.chance(HOLIDAY_ACTIVITY) {
                // Closed for the holidays: the meeting simply does not happen.
                day += days(a.meeting_interval(s_exp).round().max(1.0) as i64);
                continue;
            }
            // A client who no longer expects anything is offered nothing new either.
            let propose = s_exp <= 0.0 && day >= next_proposal;
            let purpose = match (propose, rng.chance(a.review_p)) {
                (true, _) => "proposal",
                (false, true) => "review",
                (false, false) => "regular",
            };
            let status = meeting_status(rng, a.team_cancel_p(s_dis), a.client_cancel_p(s_exp));
            let mut held = status == Status::Held;
            let late = held.then(|| late_minutes(rng, a.late_p, s_dis)).flatten();
            self.meetings
                .push(Meeting(at(day, meeting_secs(rng)), status, late, purpose));
            if status == Status::Rescheduled {
                let moved = next_weekday(day + days(rng.range(2..=7)));
                if moved <= a.last {
                    let (at, late) = (
                        at(moved, meeting_secs(rng)),
                        late_minutes(rng, a.late_p, s_dis),
                    );
                    self.meetings.push(Meeting(at, Status::Held, late, purpose));
                    held = true;
                }
            }
            if propose && held {
                next_proposal = day + days(rng.range(60..=150));
            }
            let interval = a.meeting_interval(s_exp) * rng.uniform(0.85..1.15);
            day += days(interval.round().max(1.0) as i64);
        }
        if let Some(blip) = a.blip {
            // The blip week: the team drops one meeting, once.
            let day = next_weekday(blip + days(rng.range(0..=4)));
            let at = at(day, meeting_secs(rng));
            if (a.start..=a.last).contains(&day) {
                self.meetings
                    .push(Meeting(at, Status::CancelledByTeam, None, "regular"));
            }
            // A second bad event, weeks apart: the client calls one meeting off, or
            // the team is badly late to one.
            if let Some(day) = a.other_bad_day(rng) {
                let near = |m: &&mut Meeting| (m.0.date() - day).num_days().abs();
                if let Some(m) = self
                    .meetings
                    .iter_mut()
                    .filter(|m| m.1 == Status::Held && near(m) <= 10)
                    .min_by_key(near)
                {
                    if rng.chance(0.5) {
                        (m.1, m.2) = (Status::CancelledByClient, None);
                    } else {
                        m.2 = Some(rng.range(20..=40));
                    }
                }
            }
        }
        self.meetings.sort_by_key(|m| m.0);
    }

    fn gen_messages(&mut self, w: &World, a: &Account, rng: &mut Rng) {
        // Replies that would come after the last day are simply not there (yet).
        let cutoff = at(a.last + days(1), 0);
        let mut week = a.start - days(a.start.weekday().num_days_from_monday().into());
        // Varied exports: clients write in phases (a project, a quiet month), so
        // counts vary more than Poisson, by a per-account amount: each four weeks'
        // rate is the usual one times a log-normal factor of mean 1 and spread
        // `phase_sigma` (0 to the world's `phase_spread`; drawn from this table's
        // own stream).
        let phase_sigma = if a.varied {
            rng.uniform(0.0..w.phase_spread)
        } else {
            0.0
        };
        let mut phase = 1.0;
        let mut weeks = 0u32;
        while week <= a.last {
            let s_exp = a.stress(Category::Expectation, week);
            let s_dis = a.stress(Category::Discomfort, week);
            if a.varied && weeks.is_multiple_of(4) {
                phase = rng.lognormal((-phase_sigma * phase_sigma / 2.0).exp(), phase_sigma);
            }
            weeks += 1;
            for _ in 0..rng.poisson(a.message_rate(s_exp) * phase) {
                let weekend = rng.chance(0.08);
                let day = week + days(rng.range(if weekend { 5..=6 } else { 0..=4 }));
                if a.varied && holiday(day) && !rng.chance(HOLIDAY_ACTIVITY) {
                    continue;
                }
                let received = at(day, message_secs(rng));
                let channel = match rng.f64() {
                    u if u < a.chat_share => "chat",
                    u if u < a.chat_share + 0.1 => "phone",
                    _ => "email",
                };
                let hours = rng.lognormal(a.reply_hours, 0.8) * a.reply_factor(s_dis);
                let answered = !rng.chance(Account::unanswered_p(s_dis));
                let response = answered.then(|| office_time_after(received, hours));
                if (a.start..=a.last).contains(&day) {
                    let response = response.filter(|t| *t < cutoff);
                    self.messages.push(Message(received, response, channel));
                }
            }
            week += days(7);
        }
        if let Some(blip) = a.blip {
            // The blip week: two messages wait two to four office days for an answer.
            for _ in 0..2 {
                let day = next_weekday(blip + days(rng.range(0..=4)));
                let received = at(day, rng.range(OFFICE.0..=OFFICE.1 - 3600));
                let response = office_time_after(received, rng.uniform(20.0..40.0));
                if (a.start..=a.last).contains(&day) {
                    let response = Some(response).filter(|t| *t < cutoff);
                    self.messages.push(Message(received, response, "email"));
                }
            }
        }
        self.messages.sort_by_key(|m| m.0);
    }

    fn gen_action_items(&mut self, a: &Account, rng: &mut Rng) {
        for month in months(a.start, a.last) {
            let month_days = (month_end(month) - month).num_days();
            for _ in 0..rng.poisson(a.actions_per_month) {
                let promised = next_weekday(month + days(rng.range(0..=month_days)));
                let mut due = promised + days(rng.range(7..=21));
                if let Some(churned) = a.churned_on {
                    due = due.min(churned); // nothing of a churned account points past its exit
                }
                let s_dis = a.stress(Category::Discomfort, promised);
                let done = if rng.chance(Account::overdue_p(s_dis)) {
                    // Discomfort: promises slip badly or are quietly dropped.
                    (!rng.chance(0.35)).then(|| due + days(rng.range(10..=40)))
                } else if rng.chance(0.12) {
                    Some(due + days(rng.range(1..=4)))
                } else {
                    Some(promised + days(rng.range(1..=(due - promised).num_days())))
                };
                if (a.start..=a.last).contains(&promised) {
                    let done = done.filter(|d| *d <= a.last);
                    self.action_items.push(ActionItem(promised, due, done));
                }
            }
        }
        self.action_items.sort_by_key(|i| i.0);
    }

    fn gen_study(&mut self, w: &World, a: &Account, rng: &mut Rng) {
        if a.study_member {
            for &day in w
                .sessions
                .iter()
                .filter(|d| (a.start..=a.last).contains(*d))
            {
                self.study.push((day, rng.chance(a.attend_p(day))));
            }
        }
    }

    fn gen_invoices(&mut self, a: &Account, rng: &mut Rng) {
        // What skipped months left to bill with the next invoice.
        let mut carried = 0;
        // Billed from the first whole month.
        for month in months(a.start, a.last).filter(|m| *m >= a.start) {
            let s_cost = a.stress(Category::Cost, month);
            let due = a
                .churned_on
                .map_or(month_end(month), |c| c.min(month_end(month)));
            let paid = if rng.chance(s_cost) {
                due + days(rng.range(15..=45)) // cost: paid later and later
            } else if rng.chance(0.7) {
                (due - days(rng.range(0..=7))).max(month)
            } else {
                due + days(rng.range(1..=7))
            };
            let paid = Some(paid).filter(|d| *d <= a.last);
            let amount = a.fee_on(month);
            let disputed = rng.chance(Account::disputed_p(s_cost));
            let credit_on = month + days(rng.range(10..=30));
            let credited = disputed && rng.chance(0.3);
            // A month not billed on its own (the same draws either way, so every
            // other invoice is as it would be): the next invoice bills it too.
            if a.unbilled.contains(&month) {
                carried += amount;
                continue;
            }
            let amount = amount + std::mem::take(&mut carried);
            self.invoices
                .push(Invoice(month, due, amount, paid, disputed));
            if credited && credit_on <= a.last {
                // Some disputes end in a partial credit note, settled when issued.
                let credit = -round_to(amount as f64 * rng.uniform(0.1..0.3), 1_000.0);
                self.invoices.push(Invoice(
                    credit_on,
                    credit_on,
                    credit,
                    Some(credit_on),
                    false,
                ));
            }
        }
        if let Some(day) = a.other_bad_day(rng) {
            // A second bad event: one invoice paid two or three weeks late.
            let late = rng.range(10..=25);
            if let Some(i) = self
                .invoices
                .iter_mut()
                .filter(|i| i.2 > 0 && (i.0 - day).num_days().abs() <= 20)
                .min_by_key(|i| (i.0 - day).num_days().abs())
            {
                i.3 = Some(i.1 + days(late)).filter(|d| *d <= a.last);
            }
        }
        for &(day, share) in &a.extra_invoices {
            if (a.start..=a.last).contains(&day) {
                let amount = round_to(a.fee_on(day) as f64 * share, 1_000.0);
                let paid = Some(day + days(20)).filter(|d| *d <= a.last);
                self.invoices
                    .push(Invoice(day, day + days(30), amount, paid, false));
            }
        }
        self.invoices.sort_by_key(|i| i.0);
    }

    fn gen_outcomes(&mut self, a: &Account, rng: &mut Rng) {
        let mut period_end = month_end(a.start);
        while period_end <= a.last {
            // A month needs a couple of weeks of service before it is measured.
            if (period_end - a.start).num_days() >= 14 {
                let base = a.attainment_on(period_end);
                for &(metric, target) in a.metrics.iter().flatten() {
                    // Each account's own month-to-month spread around its level.
                    let attainment = if a.varied {
                        (base * (1.0 + a.kpi_noise * rng.normal())).max(0.05)
                    } else {
                        base * rng.uniform(0.9..1.1)
                    };
                    let actual = if metric.higher_is_better() {
                        target * attainment
                    } else {
                        target / attainment
                    };
                    self.outcomes
                        .push(Outcome(period_end, metric, target, actual));
                }
            }
            period_end = month_end(period_end + days(1));
        }
        if let Some(day) = a.other_bad_day(rng) {
            // A second bad event: one month's KPIs 15–25% below the account's level.
            let dip = rng.uniform(0.75..0.85);
            let month = month_end(day);
            for o in self.outcomes.iter_mut().filter(|o| o.0 == month) {
                o.3 = if o.1.higher_is_better() {
                    o.3 * dip
                } else {
                    o.3 / dip
                };
            }
        }
    }
}

/// Team-side trouble first, then client-side; anything else is held.
fn meeting_status(rng: &mut Rng, team_p: f64, client_p: f64) -> Status {
    let (u, v) = (rng.f64(), rng.f64());
    if u < team_p {
        match v {
            v if v < 0.5 => Status::Rescheduled,
            v if v < 0.9 => Status::CancelledByTeam,
            _ => Status::NoShowTeam,
        }
    } else if u < team_p + client_p {
        match v {
            v if v < 0.65 => Status::CancelledByClient,
            v if v < 0.9 => Status::NoShowClient,
            _ => Status::Rescheduled,
        }
    } else {
        Status::Held
    }
}

/// Minutes the team started late; the CRM field is left blank now and then.
fn late_minutes(rng: &mut Rng, base_p: f64, s_dis: f64) -> Option<i64> {
    if rng.chance(0.04) {
        None
    } else if rng.chance(0.5 * s_dis) {
        Some(rng.range(10..=40)) // discomfort: about half the meetings, badly late
    } else if rng.chance(base_p) {
        Some(rng.range(5..=15))
    } else {
        Some(0)
    }
}

fn meeting_secs(rng: &mut Rng) -> i64 {
    rng.choose(&MEETING_HOURS) * 3600 + 1800 * rng.range(0..=1)
}

/// Clients write mostly in office hours, sometimes early or late.
fn message_secs(rng: &mut Rng) -> i64 {
    if rng.chance(0.85) {
        rng.range(OFFICE.0..=OFFICE.1)
    } else {
        rng.range(7 * 3600..=23 * 3600 - 1)
    }
}

/// `t` plus `hours` of office time: the team answers on weekdays in office hours only.
fn office_time_after(t: NaiveDateTime, hours: f64) -> NaiveDateTime {
    let (open, close) = OFFICE;
    let mut left = (hours * 3600.0).round() as i64;
    let mut day = t.date();
    let mut secs = i64::from(t.num_seconds_from_midnight()).max(open);
    loop {
        if day.weekday().num_days_from_monday() < 5 && secs < close {
            if left <= close - secs {
                return at(day, secs + left);
            }
            left -= close - secs;
        }
        day += days(1);
        secs = open;
    }
}

/// The nine output files.
struct Outputs {
    accounts: Table,
    meetings: Table,
    messages: Table,
    action_items: Table,
    study_sessions: Table,
    invoices: Table,
    outcomes: Table,
    churn_events: Table,
    overrides: Table,
    exit_interviews: Table,
    truth: Table,
    /// Invoice ids run over all accounts, so they are unique.
    next_invoice: u64,
}

impl Outputs {
    fn create(dir: &Path, truth: &Path) -> io::Result<Self> {
        let table = |name: &str, header: &str| Table::create(&dir.join(name), header);
        Ok(Outputs {
            accounts: table(
                "accounts.csv",
                "account_id,account_name,manager,plan,monthly_fee,contract_start,renewal_date,outcome_agreed",
            )?,
            meetings: table(
                "meetings.csv",
                "account_id,scheduled_at,status,late_minutes,purpose",
            )?,
            messages: table(
                "messages.csv",
                "account_id,received_at,first_response_at,channel",
            )?,
            action_items: table("action_items.csv", "account_id,promised_on,due_on,done_on")?,
            study_sessions: table(
                "study_sessions.csv",
                "account_id,session_date,session_id,attended",
            )?,
            invoices: table(
                "invoices.csv",
                "account_id,invoice_id,issued_on,due_on,amount,paid_on,disputed",
            )?,
            outcomes: table(
                "outcomes.csv",
                "account_id,period_end,metric,target,actual,higher_is_better",
            )?,
            churn_events: table("churn_events.csv", "account_id,churned_on,stated_reason")?,
            overrides: table(
                "overrides.csv",
                "account_id,action,category,until,comment,set_by,set_on",
            )?,
            exit_interviews: table(
                "exit_interviews.csv",
                "account_id,interviewed_on,heard_category,notes",
            )?,
            truth: Table::create(
                truth,
                "account_id,scenario,category,severity,onset,churned_on,volume",
            )?,
            next_invoice: 1,
        })
    }

    fn write_account(&mut self, w: &World, a: &Account, act: &Activity) -> io::Result<()> {
        let id = &a.id;
        let manager = Opt(a.manager.map(|m| &w.managers[m]));
        let (fee, start, renewal, agreed) = (
            a.fee_now,
            a.contract_start,
            Opt(a.renewal),
            Opt(a.outcome_agreed),
        );
        self.accounts.row(&[
            id, &a.name, &manager, &a.plan, &fee, &start, &renewal, &agreed,
        ])?;
        let (scenario, category) = (a.scenario.as_str(), a.category.as_str());
        let severity = Dec(a.severity, if a.severity > 0.0 { 2 } else { 0 });
        let (onset, churned_on) = (Opt(a.onset), Opt(a.churned_on));
        let volume = a.volume.as_str();
        self.truth.row(&[
            id,
            &scenario,
            &category,
            &severity,
            &onset,
            &churned_on,
            &volume,
        ])?;
        if let Some(churned) = a.churned_on {
            self.churn_events.row(&[id, &churned, &a.stated_reason])?;
        }
        for Meeting(at, status, late, purpose) in &act.meetings {
            self.meetings
                .row(&[id, at, &status.as_str(), &Opt(*late), purpose])?;
        }
        for Message(received, response, channel) in &act.messages {
            self.messages
                .row(&[id, received, &Opt(*response), channel])?;
        }
        for ActionItem(promised, due, done) in &act.action_items {
            self.action_items.row(&[id, promised, due, &Opt(*done)])?;
        }
        for (day, attended) in &act.study {
            self.study_sessions
                .row(&[id, day, &SessionId(*day), attended])?;
        }
        for Invoice(issued, due, amount, paid, disputed) in &act.invoices {
            let invoice_id = InvoiceId(self.next_invoice);
            self.next_invoice += 1;
            self.invoices
                .row(&[id, &invoice_id, issued, due, amount, &Opt(*paid), disputed])?;
        }
        for &Outcome(period_end, metric, target, actual) in &act.outcomes {
            let (name, better) = (metric.as_str(), metric.higher_is_better());
            let (target, actual) = (
                Dec(target, metric.decimals()),
                Dec(actual, metric.decimals()),
            );
            self.outcomes
                .row(&[id, &period_end, &name, &target, &actual, &better])?;
        }
        Ok(())
    }

    /// A manager's overrides and, after a cancellation, the exit interview:
    /// - about one stressed account in eight snoozed by its manager (a reason that
    ///   may or may not be right), a third of them long expired;
    /// - about one healthy account in fifty flagged by its manager ("the numbers are
    ///   fine but …"), some expired;
    /// - four cancellations in five interviewed, the heard reason the planted stress
    ///   three times in four (external when it was external), otherwise another.
    fn write_people(&mut self, w: &World, a: &Account, rng: &mut Rng) -> io::Result<()> {
        let id = &a.id;
        let by = Opt(a.manager.map(|m| &w.managers[m]));
        let stressed = a.scenario == Scenario::Stressed;
        let healthy = a.scenario == Scenario::Healthy;
        if a.churned_on.is_none()
            && ((stressed && rng.chance(0.125)) || (healthy && rng.chance(0.02)))
        {
            let set_on = previous_weekday(w.end - days(rng.range(3..=60)));
            let until = if rng.chance(0.3) {
                set_on + days(rng.range(7..=20)).min(w.end - set_on - days(1))
            } else {
                set_on + days(rng.range(60..=150))
            };
            if set_on >= a.start && until >= set_on {
                let (action, category, comment) = if stressed {
                    let category = if rng.chance(0.5) {
                        a.category.as_str()
                    } else {
                        ""
                    };
                    let comments = [
                        "年度末の予算凍結で会議が減っている。4月まで様子見",
                        "先方の担当者が休職中。復帰まで連絡頻度が落ちるのは想定内",
                        "Their fiscal-year freeze; agreed to pause until April",
                    ];
                    ("snooze", category, comments[rng.range(0..=2) as usize])
                } else {
                    let comments = [
                        "数字は順調だが新任のCFOが契約の見直しを示唆",
                        "New CFO is reviewing every vendor; numbers look fine",
                    ];
                    ("flag", "", comments[rng.range(0..=1) as usize])
                };
                self.overrides
                    .row(&[id, &action, &category, &until, &comment, &by, &set_on])?;
            }
        }
        if let Some(churned) = a.churned_on
            && rng.chance(0.8)
        {
            let on = churned + days(rng.range(3..=21));
            if on <= w.end {
                let planted = a.category.as_str();
                let others = ["outcome", "expectation", "discomfort", "cost", "external"];
                let heard = if rng.chance(0.75) {
                    planted
                } else {
                    others[rng.range(0..=4) as usize]
                };
                let notes = match heard {
                    "outcome" => "成果が見えないと言われた",
                    "expectation" => "他に何ができるのか分からなかったとのこと",
                    "discomfort" => "返信が遅く、約束が守られないことへの不満",
                    "cost" => "料金に見合う価値を感じないとのこと",
                    _ => "親会社の方針で外部委託を全て停止",
                };
                self.exit_interviews.row(&[id, &on, &heard, &notes])?;
            }
        }
        Ok(())
    }

    /// Flushes everything; returns the data rows of the ten tables.
    fn finish(self) -> io::Result<u64> {
        self.truth.finish()?;
        let mut rows = 0;
        for table in [
            self.accounts,
            self.meetings,
            self.messages,
            self.action_items,
            self.study_sessions,
            self.invoices,
            self.outcomes,
            self.churn_events,
            self.overrides,
            self.exit_interviews,
        ] {
            rows += table.finish()?;
        }
        Ok(rows)
    }
}

/// One CSV file. Fields are formatted into a reused buffer, so a row costs no allocation.
struct Table {
    writer: csv::Writer<BufWriter<File>>,
    buf: String,
    rows: u64,
}

impl Table {
    /// `header` lists the column names separated by commas.
    fn create(path: &Path, header: &str) -> io::Result<Self> {
        let mut writer = csv::Writer::from_writer(BufWriter::new(File::create(path)?));
        writer.write_record(header.split(','))?;
        Ok(Table {
            writer,
            buf: String::new(),
            rows: 0,
        })
    }

    fn row(&mut self, fields: &[&dyn Display]) -> io::Result<()> {
        for field in fields {
            self.buf.clear();
            write!(self.buf, "{field}").map_err(io::Error::other)?;
            self.writer.write_field(&self.buf)?;
        }
        self.writer.write_record(None::<&[u8]>)?;
        self.rows += 1;
        Ok(())
    }

    fn finish(self) -> io::Result<u64> {
        let mut file = self.writer.into_inner().map_err(|e| e.into_error())?;
        file.flush()?;
        Ok(self.rows)
    }
}

/// An empty cell for a missing value.
struct Opt<T>(Option<T>);

impl<T: Display> Display for Opt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_ref().map_or(Ok(()), |v| v.fmt(f))
    }
}

/// A plain decimal with a fixed number of places.
struct Dec(f64, usize);

impl Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.*}", self.1, self.0)
    }
}

struct InvoiceId(u64);

impl Display for InvoiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "INV-{:07}", self.0)
    }
}

struct SessionId(NaiveDate);

impl Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S{}", self.0)
    }
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

fn at(day: NaiveDate, secs: i64) -> NaiveDateTime {
    day.and_time(NaiveTime::MIN) + TimeDelta::seconds(secs)
}

fn next_weekday(day: NaiveDate) -> NaiveDate {
    match day.weekday() {
        Weekday::Sat => day + days(2),
        Weekday::Sun => day + days(1),
        _ => day,
    }
}

fn previous_weekday(day: NaiveDate) -> NaiveDate {
    match day.weekday() {
        Weekday::Sat => day - days(1),
        Weekday::Sun => day - days(2),
        _ => day,
    }
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day - days(day.day0().into())
}

fn month_end(day: NaiveDate) -> NaiveDate {
    first_of_month(first_of_month(day) + days(32)) - days(1)
}

/// The first day of every month from `from`'s month up to `to`.
fn months(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    std::iter::successors(Some(first_of_month(from)), |m| {
        Some(month_end(*m) + days(1))
    })
    .take_while(move |m| *m <= to)
}

/// The first anniversary of `start` strictly after `after`.
fn next_anniversary(start: NaiveDate, after: NaiveDate) -> Option<NaiveDate> {
    let mut years = u32::try_from(after.year() - start.year()).unwrap_or(0);
    loop {
        let day = start.checked_add_months(Months::new(12 * years))?;
        if day > after {
            return Some(day);
        }
        years += 1;
    }
}

fn lerp(from: f64, to: f64, t: f64) -> f64 {
    from + (to - from) * t
}

fn round_to(x: f64, step: f64) -> i64 {
    ((x / step).round() * step) as i64
}

/// xoshiro256** seeded through SplitMix64: small, fast, and fixed forever, so a seed
/// always yields the same data (no dependency whose stream could change).
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut state = seed;
        Rng(std::array::from_fn(|_| {
            state = state.wrapping_add(GOLDEN);
            let z = (state ^ (state >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }))
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn uniform(&mut self, r: Range<f64>) -> f64 {
        r.start + (r.end - r.start) * self.f64()
    }

    /// Uniform integer in the range (its start when the range is empty).
    fn range(&mut self, r: RangeInclusive<i64>) -> i64 {
        let (lo, hi) = r.into_inner();
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u128 + 1;
        lo + ((u128::from(self.next_u64()) * span) >> 64) as i64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Standard normal by Box-Muller.
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (1.0 - self.f64(), self.f64());
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }

    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    fn choose<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.range(0..=items.len() as i64 - 1) as usize]
    }

    /// Poisson by Knuth's method; fine for the small rates used here.
    fn poisson(&mut self, lambda: f64) -> u32 {
        let limit = (-lambda).exp();
        let (mut product, mut k) = (self.f64(), 0);
        while product > limit {
            product *= self.f64();
            k += 1;
        }
        k
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.range(0..=i as i64) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    const TABLES: [&str; 8] = [
        "accounts.csv",
        "meetings.csv",
        "messages.csv",
        "action_items.csv",
        "study_sessions.csv",
        "invoices.csv",
        "outcomes.csv",
        "churn_events.csv",
    ];

    fn end() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 31).expect("valid date")
    }

    /// Generates into a fresh temporary folder (crm/ and truth/truth.csv inside it).
    fn run(seed: u64, accounts: usize, tag: &str) -> PathBuf {
        run_with(seed, accounts, tag, false)
    }

    fn run_with(seed: u64, accounts: usize, tag: &str, varied: bool) -> PathBuf {
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("churnwatch-sample-{pid}-{tag}-{seed}"));
        let _ = fs::remove_dir_all(&dir);
        let opts = SampleOptions {
            seed,
            accounts,
            end: end(),
            months: 18,
            out_dir: dir.join("crm"),
            truth_path: dir.join("truth").join("truth.csv"),
            varied,
            phase_spread: PHASE_SPREAD,
            kpi_noise: KPI_NOISE,
        };
        let summary = generate(&opts).expect("generate sample");
        assert_eq!(summary.accounts, accounts);
        dir
    }

    /// Rows of a CSV as maps from column name to value.
    fn read(path: &Path) -> Vec<HashMap<String, String>> {
        let mut reader = csv::Reader::from_path(path).expect("open csv");
        let header = reader.headers().expect("header").clone();
        reader
            .records()
            .map(|r| {
                let r = r.expect("record");
                header
                    .iter()
                    .map(String::from)
                    .zip(r.iter().map(String::from))
                    .collect()
            })
            .collect()
    }

    fn date(value: &str) -> NaiveDate {
        NaiveDate::parse_from_str(&value[..10], "%Y-%m-%d").expect("date")
    }

    fn hours(from: &str, to: &str) -> f64 {
        let parse = |v| NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S").expect("datetime");
        (parse(to) - parse(from)).num_minutes() as f64 / 60.0
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_data() {
        let (a, b, c) = (run(7, 150, "a"), run(7, 150, "b"), run(8, 150, "c"));
        for name in TABLES {
            let read = |dir: &Path| fs::read(dir.join("crm").join(name)).expect("read table");
            assert_eq!(read(&a), read(&b), "{name} differs for the same seed");
        }
        let truth = |dir: &Path| fs::read(dir.join("truth/truth.csv")).expect("read truth");
        assert_eq!(truth(&a), truth(&b));
        for name in ["accounts.csv", "meetings.csv", "messages.csv"] {
            let read = |dir: &Path| fs::read(dir.join("crm").join(name)).expect("read table");
            assert_ne!(read(&a), read(&c), "{name} is the same for another seed");
        }
        for dir in [a, b, c] {
            fs::remove_dir_all(dir).expect("clean up");
        }
    }

    #[test]
    fn nothing_after_end_or_churn_and_ids_known() {
        let dir = run(3, 400, "dates");
        let churned: HashMap<String, NaiveDate> = read(&dir.join("truth/truth.csv"))
            .into_iter()
            .filter(|r| !r["churned_on"].is_empty())
            .map(|r| (r["account_id"].clone(), date(&r["churned_on"])))
            .collect();
        let ids: HashSet<String> = read(&dir.join("crm/accounts.csv"))
            .into_iter()
            .map(|r| r["account_id"].clone())
            .collect();
        assert_eq!(ids.len(), 400);
        // Every date column; only the deadlines of active accounts may lie after `end`.
        let dated = "contract_start scheduled_at received_at first_response_at promised_on \
                     due_on done_on session_date issued_on paid_on period_end churned_on";
        for name in TABLES {
            for row in read(&dir.join("crm").join(name)) {
                let id = &row["account_id"];
                assert!(ids.contains(id), "{name}: unknown account {id}");
                for (column, value) in &row {
                    if value.is_empty() || !dated.split_whitespace().any(|c| c == column) {
                        continue;
                    }
                    let day = date(value);
                    if column != "due_on" {
                        assert!(day <= end(), "{name}: {column} {value} after end");
                    }
                    if let Some(&churned) = churned.get(id) {
                        assert!(day <= churned, "{name}: {column} {value} after {id} left");
                    }
                }
            }
        }
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn scenario_mix_as_specified() {
        let dir = run(11, 1000, "mix");
        let truth = read(&dir.join("truth/truth.csv"));
        let count = |scenario: &str, category: &str| {
            truth
                .iter()
                .filter(|r| r["scenario"] == scenario && r["category"] == category)
                .count()
        };
        for (scenario, category, percent) in MIX {
            let got = count(scenario.as_str(), category.as_str());
            assert!(
                got.abs_diff(percent * 10) <= 1,
                "{scenario:?}/{category:?}: {got}"
            );
        }
        let churn_rows = read(&dir.join("crm/churn_events.csv")).len();
        assert_eq!(churn_rows, 150);
        fs::remove_dir_all(dir).expect("clean up");
    }

    /// Healthy clients of varied exports write in phases: their four-weekly message
    /// counts vary more than Poisson's (index of dispersion well above 1, larger
    /// for busier clients), where classic exports stay at Poisson's 1.
    #[test]
    fn varied_clients_write_in_phases() {
        let dispersion = |varied: bool| {
            let dir = run_with(11, 300, "phases", varied);
            let healthy: std::collections::HashSet<String> = read(&dir.join("truth/truth.csv"))
                .into_iter()
                .filter(|r| r["scenario"] == "healthy")
                .map(|r| r["account_id"].clone())
                .collect();
            let from = end() - days(336);
            let mut blocks: HashMap<String, [f64; 12]> = HashMap::new();
            for m in read(&dir.join("crm/messages.csv")) {
                let day = date(&m["received_at"]);
                if healthy.contains(&m["account_id"]) && day > from && day <= end() {
                    let b = ((day - from).num_days() - 1) / 28;
                    blocks.entry(m["account_id"].clone()).or_insert([0.0; 12])[b as usize] += 1.0;
                }
            }
            fs::remove_dir_all(dir).expect("clean up");
            // Median over accounts of the variance-to-mean ratio of their blocks.
            let ratios: Vec<f64> = blocks
                .values()
                .filter(|b| b.iter().sum::<f64>() >= 60.0)
                .map(|b| {
                    let mean = b.iter().sum::<f64>() / 12.0;
                    b.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 11.0 / mean
                })
                .collect();
            assert!(ratios.len() > 20, "{} busy healthy accounts", ratios.len());
            median(ratios)
        };
        let (classic, varied) = (dispersion(false), dispersion(true));
        assert!(classic < 1.3, "classic exports vary {classic:.2}x Poisson");
        assert!(
            varied > 1.5,
            "varied exports vary only {varied:.2}x Poisson"
        );
    }

    /// Varied exports bill some accounts irregularly, sparse ones most: a month
    /// without an invoice is billed with the next, so every month is billed once
    /// (an invoice is the fee times the months since the previous one).
    #[test]
    fn varied_billing_skips_months_and_bills_them_with_the_next() {
        let dir = run_with(13, 400, "billing", true);
        let truth: HashMap<String, HashMap<String, String>> = read(&dir.join("truth/truth.csv"))
            .into_iter()
            .map(|r| (r["account_id"].clone(), r))
            .collect();
        let fees: HashMap<String, f64> = read(&dir.join("crm/accounts.csv"))
            .into_iter()
            .map(|r| (r["account_id"].clone(), r["monthly_fee"].parse().unwrap()))
            .collect();
        // The monthly invoices (issued on the 1st, positive) of healthy accounts.
        let mut monthly: HashMap<String, Vec<(NaiveDate, f64)>> = HashMap::new();
        for i in read(&dir.join("crm/invoices.csv")) {
            let (day, amount) = (date(&i["issued_on"]), i["amount"].parse::<f64>().unwrap());
            if day.day() == 1 && amount > 0.0 && truth[&i["account_id"]]["scenario"] == "healthy" {
                monthly
                    .entry(i["account_id"].clone())
                    .or_default()
                    .push((day, amount));
            }
        }
        fs::remove_dir_all(dir).expect("clean up");
        // (accounts, with a skipped month) by volume tier
        let mut skipping: HashMap<String, (usize, usize)> = HashMap::new();
        for (id, invoices) in &monthly {
            let fee = fees[id];
            // Accounts whose price was revised bill two fees: left out.
            if invoices.iter().any(|(_, a)| (a / fee).fract() != 0.0) {
                continue;
            }
            let mut skipped = false;
            for pair in invoices.windows(2) {
                let months = (pair[1].0.year() - pair[0].0.year()) * 12 + pair[1].0.month() as i32
                    - pair[0].0.month() as i32;
                assert_eq!(pair[1].1, fee * f64::from(months), "{id}: {pair:?}");
                skipped |= months > 1;
            }
            let e = skipping.entry(truth[id]["volume"].clone()).or_default();
            e.0 += 1;
            e.1 += usize::from(skipped);
        }
        let share = |tier: &str| skipping[tier].1 as f64 / skipping[tier].0 as f64;
        assert!(share("sparse") > 0.3, "sparse: {:?}", skipping["sparse"]);
        assert!(share("dense") < 0.2, "dense: {:?}", skipping["dense"]);
        assert!(share("sparse") > share("medium"), "{skipping:?}");
    }

    #[test]
    fn planted_discomfort_shows_and_healthy_stays_stable() {
        let dir = run(5, 800, "signal");
        let truth: HashMap<String, HashMap<String, String>> = read(&dir.join("truth/truth.csv"))
            .into_iter()
            .map(|r| (r["account_id"].clone(), r))
            .collect();
        let (mut calm, mut stressed, mut healthy_old, mut healthy_recent) =
            (vec![], vec![], vec![], vec![]);
        for m in read(&dir.join("crm/messages.csv")) {
            if m["first_response_at"].is_empty() {
                continue;
            }
            let t = &truth[&m["account_id"]];
            let delay = hours(&m["received_at"], &m["first_response_at"]);
            let day = date(&m["received_at"]);
            if t["scenario"] == "stressed" && t["category"] == "discomfort" {
                let onset = date(&t["onset"]);
                if day < onset {
                    calm.push(delay);
                } else if day >= onset + days(30) {
                    stressed.push(delay);
                }
            } else if t["scenario"] == "healthy" {
                if day < end() - days(90) {
                    healthy_old.push(delay);
                } else {
                    healthy_recent.push(delay);
                }
            }
        }
        let ratio = median(stressed) / median(calm);
        assert!(ratio > 3.0, "discomfort replies only {ratio:.1}x slower");
        let drift = median(healthy_recent) / median(healthy_old);
        assert!(
            (0.75..1.33).contains(&drift),
            "healthy replies drifted {drift:.2}x"
        );
        fs::remove_dir_all(dir).expect("clean up");
    }
}
