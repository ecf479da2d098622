//! Instants: [`Timestamp`], and the operations on `Var<Timestamp>`.
//!
//! A timestamp is held as RFC 3339 text in UTC with milliseconds, `"2024-02-29T12:30:00.000Z"`,
//! in state, in deltas and in the browser, as serde users of `chrono` or `time` expect an instant
//! in JSON. Its text is canonical (one string per instant, of fixed width), so `eq` compares
//! instants; `lt` and the other comparisons compare the instants' milliseconds. Formatting
//! ([`Timestamp::format`], [`Var::format`]) takes a small `strftime` pattern and writes the same
//! on the server and in the browser, in UTC and English, for every machine's zone and locale.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{IntoVar, OPS, Ordered, Var, call};

const MS_PER_DAY: i64 = 86_400_000;
/// Days from 0000-03-01 (the start of the proleptic Gregorian calendar's 400-year cycle that
/// contains the epoch's, counted from March) to 1970-01-01.
const EPOCH_DAYS_FROM_0000_03_01: i64 = 719_468;
const DAYS_PER_400_YEARS: i64 = 146_097;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// An instant in UTC, to the millisecond, from `0000-01-01T00:00:00.000Z` ([`MIN`](Self::MIN))
/// to `9999-12-31T23:59:59.999Z` ([`MAX`](Self::MAX)), in the proleptic Gregorian calendar
/// without leap seconds.
///
/// Serialises as RFC 3339 text in UTC with three fraction digits (`Display` writes the same);
/// deserialises from any RFC 3339 text ([`parse`](Self::parse)). Orders by instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    millis: i64,
}

/// Text [`Timestamp::parse`] does not accept: not RFC 3339, or outside years 0000 to 9999.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 timestamp of years 0000 to 9999: {text:?}")]
pub struct TimestampError {
    text: String,
}

impl Timestamp {
    /// `0000-01-01T00:00:00.000Z`.
    pub const MIN: Timestamp = Timestamp {
        millis: -62_167_219_200_000,
    };
    /// `9999-12-31T23:59:59.999Z`.
    pub const MAX: Timestamp = Timestamp {
        millis: 253_402_300_799_999,
    };
    /// `1970-01-01T00:00:00.000Z`, millisecond 0 (also `Default`).
    pub const UNIX_EPOCH: Timestamp = Timestamp { millis: 0 };

    /// The instant `millis` milliseconds after 1970-01-01T00:00:00Z (before it when negative),
    /// clamped to [`MIN`](Self::MIN) ..= [`MAX`](Self::MAX).
    pub fn from_millis(millis: i64) -> Timestamp {
        Timestamp {
            millis: millis.clamp(Self::MIN.millis, Self::MAX.millis),
        }
    }

    /// Milliseconds since 1970-01-01T00:00:00Z (negative before it).
    pub fn millis(self) -> i64 {
        self.millis
    }

    /// The current instant, from the system clock (truncated to the millisecond).
    pub fn now() -> Timestamp {
        let millis = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Timestamp::from_millis(millis)
    }

    /// The instant `millis` milliseconds later (earlier when negative), clamped as
    /// [`from_millis`](Self::from_millis).
    pub fn add_millis(self, millis: i64) -> Timestamp {
        Timestamp::from_millis(self.millis.saturating_add(millis))
    }

    /// The instant RFC 3339 text names: `YYYY-MM-DDTHH:MM:SS`, then optionally `.` and one or
    /// more fraction digits (those after the third are dropped), then `Z` or an offset `±HH:MM`.
    /// `T` and `Z` may be lower case and `T` a space, as RFC 3339 allows. Not accepted: leap
    /// seconds (`:60`), dates that do not exist, instants outside years 0000 to 9999 in UTC.
    ///
    /// # Errors
    /// [`TimestampError`] when `text` is none of those.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        parse_rfc3339(text).ok_or_else(|| TimestampError {
            text: text.to_owned(),
        })
    }

    /// The instant written by `pattern` in UTC, with English names. Directives: `%Y` year (4
    /// digits), `%y` year in the century (2), `%m` month (2), `%d` day (2), `%e` day (space
    /// padded to 2), `%H` hour (00–23), `%I` hour (01–12), `%p` `AM`/`PM`, `%M` minute, `%S` second,
    /// `%3f` millisecond (3 digits), `%j` day of the year (3), `%a` `Mon`, `%A` `Monday`, `%b`
    /// `Jan`, `%B` `January`, `%u` ISO weekday (1 = Monday … 7), `%s` seconds since the epoch,
    /// `%F` = `%Y-%m-%d`, `%T` = `%H:%M:%S`, `%%` `%`. Anything else, an unknown directive too, is
    /// written as it is.
    pub fn format(self, pattern: &str) -> String {
        let f = Fields::of(self);
        let mut out = String::new();
        let mut rest = pattern;
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            rest = &rest[at + 1..];
            let directive = if rest.starts_with("3f") {
                "3f"
            } else {
                rest.get(..rest.chars().next().map_or(0, char::len_utf8))
                    .unwrap_or("")
            };
            match f.directive(directive) {
                Some(text) => {
                    out.push_str(&text);
                    rest = &rest[directive.len()..];
                }
                None => out.push('%'),
            }
        }
        out.push_str(rest);
        out
    }
}

/// The calendar fields of an instant in UTC.
struct Fields {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    milli: i64,
    /// 0 = Sunday.
    weekday: i64,
    /// 1 = January 1st.
    day_of_year: i64,
    /// Seconds since the epoch, rounded down.
    epoch_seconds: i64,
}

impl Fields {
    fn of(t: Timestamp) -> Fields {
        let days = t.millis.div_euclid(MS_PER_DAY);
        let in_day = t.millis.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Fields {
            year,
            month,
            day,
            hour: in_day / 3_600_000,
            minute: in_day / 60_000 % 60,
            second: in_day / 1000 % 60,
            milli: in_day % 1000,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7),
            day_of_year: days - days_from_civil(year, 1, 1) + 1,
            epoch_seconds: t.millis.div_euclid(1000),
        }
    }

    /// The text of the directive `d` (what follows `%`), or `None` when it is not one.
    fn directive(&self, d: &str) -> Option<String> {
        let month = MONTHS[(self.month - 1) as usize];
        let weekday = WEEKDAYS[self.weekday as usize];
        Some(match d {
            "Y" => format!("{:04}", self.year),
            "y" => format!("{:02}", self.year % 100),
            "m" => format!("{:02}", self.month),
            "d" => format!("{:02}", self.day),
            "e" => format!("{:2}", self.day),
            "H" => format!("{:02}", self.hour),
            "I" => format!("{:02}", (self.hour + 11) % 12 + 1),
            "p" => (if self.hour < 12 { "AM" } else { "PM" }).to_owned(),
            "M" => format!("{:02}", self.minute),
            "S" => format!("{:02}", self.second),
            "3f" => format!("{:03}", self.milli),
            "j" => format!("{:03}", self.day_of_year),
            "a" => weekday[..3].to_owned(),
            "A" => weekday.to_owned(),
            "b" => month[..3].to_owned(),
            "B" => month.to_owned(),
            "u" => ((self.weekday + 6) % 7 + 1).to_string(),
            "s" => self.epoch_seconds.to_string(),
            "F" => format!("{:04}-{:02}-{:02}", self.year, self.month, self.day),
            "T" => format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second),
            "%" => "%".to_owned(),
            _ => return None,
        })
    }
}

// The two calendar conversions count days in 400-year cycles that start on March 1st, so that a
// leap day is the last day of its year (Howard Hinnant's `days_from_civil` and `civil_from_days`).

/// Days since 1970-01-01 of the date `year`-`month`-`day` (month 1–12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let cycle = year.div_euclid(400);
    let year_of_cycle = year - cycle * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
    cycle * DAYS_PER_400_YEARS + day_of_cycle - EPOCH_DAYS_FROM_0000_03_01
}

/// The date (year, month 1–12, day) `days` days after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + EPOCH_DAYS_FROM_0000_03_01;
    let cycle = days.div_euclid(DAYS_PER_400_YEARS);
    let day_of_cycle = days - cycle * DAYS_PER_400_YEARS;
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads RFC 3339 text left to right.
struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    /// Exactly `width` ASCII digits, as a number.
    fn number(&mut self, width: usize) -> Option<i64> {
        let digits = self.rest.get(..width)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.rest = &self.rest[width..];
        Some(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    }

    /// The next byte, if it is one of `allowed`.
    fn one_of(&mut self, allowed: &[u8]) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        allowed.contains(&first).then(|| {
            self.rest = rest;
            first
        })
    }
}

fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let mut r = Reader {
        rest: text.as_bytes(),
    };
    let year = r.number(4)?;
    r.one_of(b"-")?;
    let month = r.number(2)?;
    r.one_of(b"-")?;
    let day = r.number(2)?;
    r.one_of(b"Tt ")?;
    let hour = r.number(2)?;
    r.one_of(b":")?;
    let minute = r.number(2)?;
    r.one_of(b":")?;
    let second = r.number(2)?;
    let mut milli = 0;
    if r.one_of(b".").is_some() {
        let mut digits: u32 = 0;
        while let Some(d) = r.number(1) {
            if digits < 3 {
                milli = milli * 10 + d;
            }
            digits += 1;
        }
        if digits == 0 {
            return None;
        }
        milli *= 10_i64.pow(3_u32.saturating_sub(digits));
    }
    let sign = match r.one_of(b"Zz+-")? {
        b'+' => 1,
        b'-' => -1,
        _ => 0,
    };
    let mut offset_minutes = 0;
    if sign != 0 {
        let offset_hour = r.number(2)?;
        r.one_of(b":")?;
        let offset_minute = r.number(2)?;
        if offset_hour > 23 || offset_minute > 59 {
            return None;
        }
        offset_minutes = sign * (offset_hour * 60 + offset_minute);
    }
    let valid = r.rest.is_empty()
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let millis = days_from_civil(year, month, day) * MS_PER_DAY
        + ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000
        + milli;
    (Timestamp::MIN.millis..=Timestamp::MAX.millis)
        .contains(&millis)
        .then_some(Timestamp { millis })
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format("%FT%T.%3fZ"))
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(text: &str) -> Result<Timestamp, TimestampError> {
        Timestamp::parse(text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Ordered for Timestamp {
    /// By instant: `$rf.millis(a) op $rf.millis(b)`.
    fn compare_js(a: &str, op: &str, b: &str) -> String {
        format!("({OPS}millis({a}) {op} {OPS}millis({b}))")
    }
}

impl Var<Timestamp> {
    /// The instant `millis` milliseconds after the epoch ([`Timestamp::from_millis`], clamped).
    pub fn from_millis(millis: impl IntoVar<i64>) -> Var<Timestamp> {
        call("timestamp", &[millis.into_var().expr()])
    }
    /// Milliseconds since 1970-01-01T00:00:00Z ([`Timestamp::millis`]).
    pub fn millis(&self) -> Var<i64> {
        call("millis", &[self.expr()])
    }
    /// The instant `millis` later ([`Timestamp::add_millis`], clamped).
    pub fn add_millis(&self, millis: impl IntoVar<i64>) -> Var<Timestamp> {
        call("addMillis", &[self.expr(), millis.into_var().expr()])
    }
    /// The instant written by a `strftime` pattern in UTC ([`Timestamp::format`], whose
    /// directives it takes): `t.format("%a %e %b %Y, %H:%M")` is `"Thu 29 Feb 2024, 12:30"`.
    pub fn format(&self, pattern: impl IntoVar<String>) -> Var<String> {
        call("formatTimestamp", &[self.expr(), pattern.into_var().expr()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn known_instants_have_their_millis_and_text() {
        assert_eq!(at("1970-01-01T00:00:00Z").millis(), 0);
        assert_eq!(at("2000-02-29T00:00:00Z").millis(), 951_782_400_000);
        assert_eq!(at("1969-12-31T23:59:59.999Z").millis(), -1);
        assert_eq!(Timestamp::MIN.to_string(), "0000-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            at("2024-02-29t13:30:00.1234+01:30").to_string(),
            "2024-02-29T12:00:00.123Z"
        );
        assert_eq!(Timestamp::from_millis(i64::MIN), Timestamp::MIN);
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        let start = days_from_civil(1900, 1, 1);
        for days in start..start + DAYS_PER_400_YEARS {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=days_in_month(y, m)).contains(&d));
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn bad_text_is_refused() {
        for text in [
            "",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-1-01T00:00:00Z",
            "0000-01-01T00:00:00+00:01",
            "2024-01-01T00:00:00+24:00",
            "2024-01-01T00:00:00Z ",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn format_writes_each_directive() {
        let t = at("2024-03-05T09:07:08.042Z");
        assert_eq!(
            t.format("%Y %y %m %d %e %H %I %p %M %S %3f %j %a %A %b %B %u %F %T %% %q %"),
            "2024 24 03 05  5 09 09 AM 07 08 042 065 Tue Tuesday Mar March 2 2024-03-05 09:07:08 % %q %"
        );
        assert_eq!(at("1969-12-31T23:59:59.500Z").format("%s"), "-1");
    }

    #[test]
    fn serde_writes_canonical_text_and_reads_any_offset() {
        let t: Timestamp = serde_json::from_str(r#""2024-01-01T01:00:00+01:00""#).unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#""2024-01-01T00:00:00.000Z""#
        );
        assert!(serde_json::from_str::<Timestamp>(r#""yesterday""#).is_err());
    }
}
