//! Time as the exports are kept: day numbers and epoch minutes, and the business
//! calendar (which days a Japanese B2B team and its clients work) for judging how
//! stale an export is and when a quiet week is simply a holiday.
//!
//! Weekends, and the three weeks when nearly every Japanese company is closed or
//! quiet: the New Year holidays (12/29–1/3), Golden Week (4/29–5/5) and Obon
//! (8/13–8/16). Single public holidays are left out on purpose: they move from year
//! to year, many B2B teams work them, and one day does not make an export look stale.

use chrono::{Datelike, NaiveDate, Weekday};

/// A datetime column holds whole minutes since 1970-01-01 UTC as `i32` (good until
/// the year 6053): reply delays are judged in hours, and at a million accounts the
/// seconds of an `i64` would cost 1.6 GB of messages for nothing.
pub fn epoch_minutes(seconds: i64) -> i32 {
    seconds.div_euclid(60) as i32
}

/// Days since 1970-01-01: the integer form of every date in the frames.
pub fn day_number(date: NaiveDate) -> i32 {
    // 1970-01-01 is day 719,163 of the common era.
    date.num_days_from_ce() - 719_163
}

pub fn date_of_day(day: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch")
        + chrono::Duration::days(i64::from(day))
}

/// `(month, first day, month, last day)` of each holiday week, inclusive.
const HOLIDAY_WEEKS: [(u32, u32, u32, u32); 4] = [
    (12, 29, 12, 31),
    (1, 1, 1, 3),
    (4, 29, 5, 5),
    (8, 13, 8, 16),
];

/// Whether `day` (days since 1970-01-01) falls in a holiday week.
pub fn is_holiday_week(day: i32) -> bool {
    let date = date_of_day(day);
    let md = (date.month(), date.day());
    HOLIDAY_WEEKS
        .iter()
        .any(|&(m1, d1, m2, d2)| (m1, d1) <= md && md <= (m2, d2))
}

/// A weekday outside the holiday weeks.
pub fn is_business_day(day: i32) -> bool {
    !matches!(date_of_day(day).weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday_week(day)
}

/// Business days after `from` up to and including `to` (0 when `to <= from`).
pub fn business_days_between(from: i32, to: i32) -> i64 {
    ((from + 1)..=to).filter(|&d| is_business_day(d)).count() as i64
}

/// Whether any day of `from..=to` is in a holiday week.
pub fn touches_holiday_week(from: i32, to: i32) -> bool {
    (from..=to).any(is_holiday_week)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn d(y: i32, m: u32, dd: u32) -> i32 {
        day_number(NaiveDate::from_ymd_opt(y, m, dd).unwrap())
    }

    #[test]
    fn weekends_and_holiday_weeks_are_not_business_days() {
        assert!(is_business_day(d(2026, 11, 20))); // Friday
        assert!(!is_business_day(d(2026, 11, 21))); // Saturday
        assert!(!is_business_day(d(2026, 12, 30)));
        assert!(!is_business_day(d(2027, 1, 1)));
        assert!(is_business_day(d(2027, 1, 4)));
        assert!(!is_business_day(d(2026, 5, 1)));
        assert!(!is_business_day(d(2026, 8, 14)));
        assert!(is_business_day(d(2026, 8, 17)));
    }

    #[test]
    fn business_days_count_the_working_days_in_between() {
        // Friday 2026-11-20 to Sunday 2026-11-29: Mon–Fri of one week.
        assert_eq!(business_days_between(d(2026, 11, 20), d(2026, 11, 29)), 5);
        // Over New Year: 12/26 (Sat) .. 1/4 (Mon): only the Monday works.
        assert_eq!(business_days_between(d(2026, 12, 25), d(2027, 1, 4)), 2);
        assert_eq!(business_days_between(d(2026, 11, 20), d(2026, 11, 20)), 0);
    }
}
