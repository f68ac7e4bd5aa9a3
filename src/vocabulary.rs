//! The vocabulary of scores: the four stress categories, the risk levels and the
//! language people read them in. No polars, no IO. The signals themselves are
//! `crate::signals`' registry, a stage above (they read the per-account features).

/// The language of the reasons and labels people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Ja,
    En,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Outcome,
    Expectation,
    Discomfort,
    Cost,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Outcome,
        Category::Expectation,
        Category::Discomfort,
        Category::Cost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Outcome => "outcome",
            Category::Expectation => "expectation",
            Category::Discomfort => "discomfort",
            Category::Cost => "cost",
        }
    }

    pub fn label(self, lang: Language) -> &'static str {
        match (lang, self) {
            (Language::En, c) => c.as_str(),
            (Language::Ja, Category::Outcome) => "成果",
            (Language::Ja, Category::Expectation) => "期待",
            (Language::Ja, Category::Discomfort) => "不快",
            (Language::Ja, Category::Cost) => "費用",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
}
