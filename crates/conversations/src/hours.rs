//! Opening hours in the tenant's time zone: whether someone is in now, and when they are next,
//! for what the customer is told on handoff.

use crate::model::OpeningHours;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// Parses `"09:00-18:00"`; `None` when malformed or empty.
pub fn parse_range(range: &str) -> Option<(Time, Time)> {
    let (a, b) = range.trim().split_once('-')?;
    let from: Time = a.trim().parse().ok()?;
    let to: Time = b.trim().parse().ok()?;
    (from < to).then_some((from, to))
}

/// Whether every range of every day is well formed (for validation).
pub fn invalid_ranges(hours: &OpeningHours) -> Vec<String> {
    (0..7).flat_map(|d| hours.day(d).iter()).filter(|r| parse_range(r).is_none()).cloned().collect()
}

fn day_index(w: Weekday) -> usize {
    w.to_monday_zero_offset() as usize
}

/// Where the business stands at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// No hours are set: nothing can be promised.
    Unknown,
    OpenNow,
    /// Closed; opens next at this local time.
    OpensAt(Zoned),
    /// Hours are set but no opening within a week (all days empty or malformed).
    Closed,
}

pub fn availability(hours: &OpeningHours, time_zone: &str, now_ms: i64) -> Availability {
    if hours.is_empty() {
        return Availability::Unknown;
    }
    let tz = TimeZone::get(time_zone).unwrap_or(TimeZone::UTC);
    let Ok(ts) = Timestamp::from_millisecond(now_ms) else { return Availability::Unknown };
    let now = ts.to_zoned(tz);
    let today = now.date();
    for offset in 0..8i64 {
        let Ok(date) = today.checked_add(jiff::Span::new().days(offset)) else { break };
        let mut ranges: Vec<(Time, Time)> =
            hours.day(day_index(date.weekday())).iter().filter_map(|r| parse_range(r)).collect();
        ranges.sort();
        for (from, to) in ranges {
            if offset == 0 && now.time() >= from && now.time() < to {
                return Availability::OpenNow;
            }
            let Ok(opening) = date.to_datetime(from).to_zoned(now.time_zone().clone()) else { continue };
            if opening > now {
                return Availability::OpensAt(opening);
            }
        }
    }
    Availability::Closed
}

/// What the customer is told on handoff, in `lang` (`de` or English).
pub fn handoff_notice(business: &str, availability: &Availability, lang: &str) -> String {
    let de = lang.starts_with("de");
    let when = |z: &Zoned| {
        let day = z.strftime("%A").to_string();
        let day = if de { german_weekday(z.weekday()).to_owned() } else { day };
        format!("{day} {}", z.strftime("%H:%M"))
    };
    match (availability, de) {
        (Availability::OpenNow | Availability::Unknown, false) => {
            format!("I've passed your conversation to the team at {business}. Someone will reply here shortly.")
        }
        (Availability::OpenNow | Availability::Unknown, true) => {
            format!("Ich habe Ihr Anliegen an das Team von {business} übergeben. Jemand antwortet Ihnen hier in Kürze.")
        }
        (Availability::OpensAt(z), false) => format!(
            "I've passed your conversation to the team at {business}. We're closed right now and open again {}; \
             we'll reply here then.",
            when(z)
        ),
        (Availability::OpensAt(z), true) => format!(
            "Ich habe Ihr Anliegen an das Team von {business} übergeben. Wir haben gerade geschlossen und sind \
             {} wieder da; dann antworten wir Ihnen hier.",
            when(z)
        ),
        (Availability::Closed, false) => {
            format!("I've passed your conversation to the team at {business}. We'll reply here as soon as we can.")
        }
        (Availability::Closed, true) => format!(
            "Ich habe Ihr Anliegen an das Team von {business} übergeben. Wir antworten Ihnen hier so bald wie möglich."
        ),
    }
}

fn german_weekday(w: Weekday) -> &'static str {
    match w {
        Weekday::Monday => "Montag",
        Weekday::Tuesday => "Dienstag",
        Weekday::Wednesday => "Mittwoch",
        Weekday::Thursday => "Donnerstag",
        Weekday::Friday => "Freitag",
        Weekday::Saturday => "Samstag",
        Weekday::Sunday => "Sonntag",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week(range: &str) -> OpeningHours {
        let d = vec![range.to_owned()];
        OpeningHours {
            monday: d.clone(),
            tuesday: d.clone(),
            wednesday: d.clone(),
            thursday: d.clone(),
            friday: d,
            saturday: vec![],
            sunday: vec![],
        }
    }

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().map(|t| t.as_millisecond()).unwrap_or_default()
    }

    #[test]
    fn open_closed_and_next_opening_in_the_tenants_zone() {
        let hours = week("09:00-18:00");
        // Wednesday 2026-12-02 10:00 in Berlin is 09:00 UTC.
        assert_eq!(availability(&hours, "Europe/Berlin", ms("2026-12-02T09:00:00Z")), Availability::OpenNow);
        // Friday 23:00 Berlin: next opening Monday 09:00.
        match availability(&hours, "Europe/Berlin", ms("2026-12-04T22:00:00Z")) {
            Availability::OpensAt(z) => {
                assert_eq!(z.weekday(), Weekday::Monday);
                assert_eq!(z.strftime("%H:%M").to_string(), "09:00");
            }
            other => panic!("expected an opening, got {other:?}"),
        }
        assert_eq!(availability(&OpeningHours::default(), "Europe/Berlin", 0), Availability::Unknown);
    }

    #[test]
    fn notices_name_the_next_opening_in_the_customers_language() {
        let hours = week("09:00-18:00");
        let a = availability(&hours, "Europe/Berlin", ms("2026-12-04T22:00:00Z"));
        assert!(handoff_notice("Studio", &a, "en").contains("Monday 09:00"));
        assert!(handoff_notice("Studio", &a, "de").contains("Montag 09:00"));
    }

    #[test]
    fn malformed_ranges_are_found() {
        let mut hours = week("09:00-18:00");
        hours.sunday = vec!["late".into(), "18:00-09:00".into()];
        assert_eq!(invalid_ranges(&hours), vec!["late".to_owned(), "18:00-09:00".to_owned()]);
    }
}
