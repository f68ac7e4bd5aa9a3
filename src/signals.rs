//! The vocabulary of scores: the four stress categories, the risk levels and the
//! signals, with the keys config.toml and evidence.csv name them by. No polars, no
//! IO: the config checks its `[signals]` against it, scoring measures each one.

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    KpiShortfall,
    KpiDecline,
    NoOutcomeDefinition,
    MeetingDrop,
    ContactDrop,
    ClientCancellations,
    AttendanceDrop,
    ProposalGap,
    TouchpointGap,
    MeetingGap,
    ReplyDelay,
    Unanswered,
    TeamLateness,
    TeamCancellations,
    OverduePromises,
    FeeIncrease,
    PaymentDelay,
    Disputes,
    UnusedService,
    BillingWithoutTouch,
}

impl Signal {
    pub const ALL: [Signal; 20] = [
        Signal::KpiShortfall,
        Signal::KpiDecline,
        Signal::NoOutcomeDefinition,
        Signal::MeetingDrop,
        Signal::ContactDrop,
        Signal::ClientCancellations,
        Signal::AttendanceDrop,
        Signal::ProposalGap,
        Signal::TouchpointGap,
        Signal::MeetingGap,
        Signal::ReplyDelay,
        Signal::Unanswered,
        Signal::TeamLateness,
        Signal::TeamCancellations,
        Signal::OverduePromises,
        Signal::FeeIncrease,
        Signal::PaymentDelay,
        Signal::Disputes,
        Signal::UnusedService,
        Signal::BillingWithoutTouch,
    ];

    /// Whether the signal's change is tested against chance ([`chance`]); facts
    /// (no agreed outcome, a raised fee, months without a proposal) are not.
    pub fn is_tested(self) -> bool {
        !matches!(
            self,
            Signal::NoOutcomeDefinition | Signal::FeeIncrease | Signal::ProposalGap
        )
    }

    /// The signal's key under `[signals]` in config.toml.
    pub fn key(self) -> &'static str {
        match self {
            Signal::KpiShortfall => "kpi_shortfall",
            Signal::KpiDecline => "kpi_decline",
            Signal::NoOutcomeDefinition => "no_outcome_definition",
            Signal::MeetingDrop => "meeting_drop",
            Signal::ContactDrop => "contact_drop",
            Signal::ClientCancellations => "client_cancellations",
            Signal::AttendanceDrop => "attendance_drop",
            Signal::ProposalGap => "proposal_gap",
            Signal::TouchpointGap => "touchpoint_gap",
            Signal::MeetingGap => "meeting_gap",
            Signal::ReplyDelay => "reply_delay",
            Signal::Unanswered => "unanswered",
            Signal::TeamLateness => "team_lateness",
            Signal::TeamCancellations => "team_cancellations",
            Signal::OverduePromises => "overdue_promises",
            Signal::FeeIncrease => "fee_increase",
            Signal::PaymentDelay => "payment_delay",
            Signal::Disputes => "disputes",
            Signal::UnusedService => "unused_service",
            Signal::BillingWithoutTouch => "billing_without_touch",
        }
    }

    pub fn category(self) -> Category {
        use Signal::*;
        match self {
            KpiShortfall | KpiDecline | NoOutcomeDefinition => Category::Outcome,
            MeetingDrop | ContactDrop | ClientCancellations | AttendanceDrop | ProposalGap
            | TouchpointGap | MeetingGap => Category::Expectation,
            ReplyDelay | Unanswered | TeamLateness | TeamCancellations | OverduePromises => {
                Category::Discomfort
            }
            FeeIncrease | PaymentDelay | Disputes | UnusedService | BillingWithoutTouch => {
                Category::Cost
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The config keeps each signal's parameters at `signal as usize`.
    #[test]
    fn all_lists_the_signals_in_their_order() {
        for (i, s) in Signal::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i, "{}", s.key());
        }
        let mut keys: Vec<&str> = Signal::ALL.iter().map(|s| s.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Signal::ALL.len(), "keys are unique");
    }
}
