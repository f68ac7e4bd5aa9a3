//! The data contract's vocabulary (contract.md): each input table's columns, their
//! types and constraints, the meeting statuses, and the stable codes a quarantined
//! row is given. No polars, no IO: validation and the config read it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Text,
    Date,
    DateTime,
    Bool,
    Decimal,
    /// Decimal that must be `>= 0`.
    NonNegative,
    /// Decimal that must be `> 0`.
    Positive,
    /// Whole number that must be `>= 0`.
    Count,
    /// One of [`MEETING_STATUSES`], kept as its index ([`status_code`]).
    MeetingStatus,
    /// Free text of which only "is it `proposal`" is kept, as `is_proposal`.
    Purpose,
    /// A datetime of which only the local day is kept, as `NAME_day`.
    LocalDay,
    /// One of a few words (any case), kept as the contract's spelling.
    Choice(&'static [&'static str]),
}

pub struct ColSpec {
    pub name: &'static str,
    pub ty: ColType,
    pub required: bool,
    /// Kept in the frame; `false` for columns only validated (nothing reads them).
    pub kept: bool,
    /// Free text that may run over several lines (in a quoted field). Elsewhere a
    /// line break means a stray quote swallowed the rows after it.
    pub multiline: bool,
}

/// The stress categories, as the overrides table names them.
pub const CATEGORIES: [&str; 4] = ["outcome", "expectation", "discomfort", "cost"];
/// What an exit interview heard: a category, or a cause outside the four.
pub const HEARD: [&str; 5] = ["outcome", "expectation", "discomfort", "cost", "external"];
/// What a manager's override does.
pub const OVERRIDE_ACTIONS: [&str; 2] = ["snooze", "flag"];

/// The widest contract table (accounts) has eight columns.
pub const MAX_COLUMNS: usize = 8;

pub struct TableSpec {
    pub cols: &'static [ColSpec],
    /// Column whose repeats are quarantined (the first occurrence is kept).
    pub unique: Option<&'static str>,
    /// Two columns where the second must not be earlier than the first.
    pub ordered: Option<(&'static str, &'static str, ReasonCode)>,
}

impl TableSpec {
    pub fn has_column(&self, name: &str) -> bool {
        self.cols.iter().any(|c| c.name == name)
    }
}

pub(crate) const fn c(name: &'static str, ty: ColType, required: bool) -> ColSpec {
    ColSpec {
        name,
        ty,
        required,
        kept: true,
        multiline: false,
    }
}

/// Free text, kept, that may hold line breaks.
const fn prose(name: &'static str, required: bool) -> ColSpec {
    ColSpec {
        multiline: true,
        ..c(name, Text, required)
    }
}

/// A column that is validated but not kept.
const fn checked(name: &'static str, ty: ColType, required: bool) -> ColSpec {
    ColSpec {
        name,
        ty,
        required,
        kept: false,
        multiline: false,
    }
}

use ColType::*;

/// The code a meeting status is stored as in the meetings frame (its index; an
/// `i32`, since polars is built without its 8-bit integer types).
pub fn status_code(status: &str) -> i32 {
    MEETING_STATUSES
        .iter()
        .position(|s| *s == status)
        .expect("a contract status") as i32
}

pub const MEETING_STATUSES: [&str; 6] = [
    "held",
    "rescheduled",
    "cancelled_by_client",
    "cancelled_by_team",
    "no_show_client",
    "no_show_team",
];

/// The contract's tables (contract.md), column by column.
pub fn spec(table: &str) -> &'static TableSpec {
    static ACCOUNTS: TableSpec = TableSpec {
        cols: &[
            c("account_id", Text, true),
            prose("account_name", true),
            c("manager", Text, false),
            checked("plan", Text, false),
            c("monthly_fee", NonNegative, true),
            c("contract_start", Date, true),
            c("renewal_date", Date, false),
            c("outcome_agreed", Bool, false),
        ],
        unique: Some("account_id"),
        ordered: None,
    };
    static MEETINGS: TableSpec = TableSpec {
        cols: &[
            c("account_id", Text, true),
            c("scheduled_at", LocalDay, true),
            c("status", MeetingStatus, true),
            c("late_minutes", Count, false),
            c("purpose", Purpose, false),
        ],
        unique: None,
        ordered: None,
    };
    static MESSAGES: TableSpec = TableSpec {
        cols: &[
            c("account_id", Text, true),
            c("received_at", DateTime, true),
            c("first_response_at", DateTime, false),
            checked("channel", Text, false),
        ],
        unique: None,
        ordered: Some((
            "received_at",
            "first_response_at",
            ReasonCode::ResponseBeforeReceived,
        )),
    };
    static ACTION_ITEMS: TableSpec = TableSpec {
        cols: &[
            c("account_id", Text, true),
            c("promised_on", Date, true),
            c("due_on", Date, true),
            c("done_on", Date, false),
        ],
        unique: None,
        ordered: Some(("promised_on", "due_on", ReasonCode::DueBeforePromised)),
    };
    static STUDY_SESSIONS: TableSpec = TableSpec {
        cols: &[
            c("account_id", Text, true),
            c("session_date", Date, true),
            checked("session_id", Text, false),
            c("attended", Bool, true),
        ],
        unique: None,
        ordered: None,
    };
    static INVOICES: TableSpec = TableSpec {
        cols: &[
            c("account_id", Text, true),
            c("invoice_id", Text, true),
            c("issued_on", Date, true),
            c("due_on", Date, false),
            c("amount", Decimal, true),
            c("paid_on", Date, false),
            c("disputed", Bool, false),
        ],
        unique: Some("invoice_id"),
        ordered: None,
    };
    static OUTCOMES: TableSpec = TableSpec {
        cols: &[
            c("account_id", Text, true),
            c("period_end", Date, true),
            checked("metric", Text, true),
            c("target", Positive, true),
            c("actual", Decimal, true),
            c("higher_is_better", Bool, false),
        ],
        unique: None,
        ordered: None,
    };
    static CHURN_EVENTS: TableSpec = TableSpec {
        cols: &[
            c("account_id", Text, true),
            c("churned_on", Date, true),
            prose("stated_reason", false),
        ],
        // An account cancels once: a second event would otherwise be ignored
        // without a trace.
        unique: Some("account_id"),
        ordered: None,
    };
    // The extensions' tables (contract.md, "Extensions"): what people know.
    static OVERRIDES: TableSpec = TableSpec {
        cols: &[
            c("account_id", Text, true),
            c("action", Choice(&OVERRIDE_ACTIONS), true),
            c("category", Choice(&CATEGORIES), false),
            // No override lives forever, and none without its reason.
            c("until", Date, true),
            prose("comment", true),
            c("set_by", Text, false),
            // Without it a backfill could not tell whether the override existed yet.
            c("set_on", Date, true),
        ],
        unique: None,
        ordered: Some(("set_on", "until", ReasonCode::UntilBeforeSetOn)),
    };
    static EXIT_INTERVIEWS: TableSpec = TableSpec {
        cols: &[
            c("account_id", Text, true),
            c("interviewed_on", Date, true),
            c("heard_category", Choice(&HEARD), true),
            prose("notes", false),
        ],
        unique: None,
        ordered: None,
    };
    match table {
        "overrides" => &OVERRIDES,
        "exit_interviews" => &EXIT_INTERVIEWS,
        "accounts" => &ACCOUNTS,
        "meetings" => &MEETINGS,
        "messages" => &MESSAGES,
        "action_items" => &ACTION_ITEMS,
        "study_sessions" => &STUDY_SESSIONS,
        "invoices" => &INVOICES,
        "outcomes" => &OUTCOMES,
        "churn_events" => &CHURN_EVENTS,
        other => unreachable!(
            "no table spec for `{other}`: config validation admits only contract tables"
        ),
    }
}

/// Why a row was quarantined. The snake_case codes are stable: documented in the
/// README and read by people's filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReasonCode {
    WrongFieldCount,
    MissingValue,
    BadDate,
    BadDatetime,
    BadBool,
    BadNumber,
    BadInteger,
    BadStatus,
    OutOfRange,
    UnknownAccountId,
    DuplicateKey,
    ResponseBeforeReceived,
    DueBeforePromised,
    UnclosedQuote,
    AccountQuarantined,
    BadValue,
    UntilBeforeSetOn,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 17] = [
        ReasonCode::WrongFieldCount,
        ReasonCode::MissingValue,
        ReasonCode::BadDate,
        ReasonCode::BadDatetime,
        ReasonCode::BadBool,
        ReasonCode::BadNumber,
        ReasonCode::BadInteger,
        ReasonCode::BadStatus,
        ReasonCode::OutOfRange,
        ReasonCode::UnknownAccountId,
        ReasonCode::DuplicateKey,
        ReasonCode::ResponseBeforeReceived,
        ReasonCode::DueBeforePromised,
        ReasonCode::UnclosedQuote,
        ReasonCode::AccountQuarantined,
        ReasonCode::BadValue,
        ReasonCode::UntilBeforeSetOn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::WrongFieldCount => "wrong_field_count",
            ReasonCode::MissingValue => "missing_value",
            ReasonCode::BadDate => "bad_date",
            ReasonCode::BadDatetime => "bad_datetime",
            ReasonCode::BadBool => "bad_bool",
            ReasonCode::BadNumber => "bad_number",
            ReasonCode::BadInteger => "bad_integer",
            ReasonCode::BadStatus => "bad_status",
            ReasonCode::OutOfRange => "out_of_range",
            ReasonCode::UnknownAccountId => "unknown_account_id",
            ReasonCode::DuplicateKey => "duplicate_key",
            ReasonCode::ResponseBeforeReceived => "response_before_received",
            ReasonCode::DueBeforePromised => "due_before_promised",
            ReasonCode::UnclosedQuote => "unclosed_quote",
            ReasonCode::AccountQuarantined => "account_quarantined",
            ReasonCode::BadValue => "bad_value",
            ReasonCode::UntilBeforeSetOn => "until_before_set_on",
        }
    }
}
