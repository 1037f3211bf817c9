//! Dates and times as canonical text, both ways, without chrono's format
//! strings: every temporal cell of a workbook is parsed on export and
//! printed on import, and chrono's `parse_from_str` and `format` interpret
//! their pattern anew for each value (most of a timestamp cell's cost).
//!
//! Only the canonical shapes are handled here (`YYYY-MM-DD`,
//! `HH:MM:SS[.f]`, the two joined by a space); anything else is `None`, and
//! the caller falls back to chrono, so what is accepted never widens. The
//! text printed is [`crate::value::canonical_timestamp`]'s, byte for byte
//! (a test compares them), for the years a workbook holds (1900 to 9999).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// `YYYY-MM-DD`, as chrono's `%Y-%m-%d` reads it.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        digits(&b[..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )
}

/// `HH:MM:SS` with an optional fraction of 1 to 9 digits, as chrono's
/// `%H:%M:%S%.f` reads it (a leap second, `:60`, is left to chrono).
pub(crate) fn parse_time(s: &str) -> Option<NaiveTime> {
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, sec) = (digits(&b[..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    let nano = match &b[8..] {
        [] => 0,
        [b'.', frac @ ..] if (1..=9).contains(&frac.len()) => {
            digits(frac)? * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    if sec > 59 {
        return None;
    }
    NaiveTime::from_hms_nano_opt(h, m, sec, nano)
}

/// `YYYY-MM-DD HH:MM:SS[.f]`, as chrono's `%Y-%m-%d %H:%M:%S%.f` reads it.
pub(crate) fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    let (date, time) = (s.get(..10)?, s.get(10..)?);
    let time = time.strip_prefix(' ')?;
    Some(parse_date(date)?.and_time(parse_time(time)?))
}

/// The value of 1 to 9 ASCII digits.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// `YYYY-MM-DD` (years 0 to 9999).
pub(crate) fn date_text(d: NaiveDate) -> String {
    let mut s = String::with_capacity(10);
    push_date(&mut s, d);
    s
}

/// [`crate::value::canonical_time`]: `HH:MM:SS`, then the microseconds
/// without trailing zeros.
pub(crate) fn time_text(t: NaiveTime) -> String {
    if is_leap(t) {
        return crate::value::canonical_time(t);
    }
    let mut s = String::with_capacity(15);
    push_time(&mut s, t);
    s
}

/// [`crate::value::canonical_timestamp`] (years 0 to 9999).
pub(crate) fn timestamp_text(t: NaiveDateTime) -> String {
    if is_leap(t.time()) {
        return crate::value::canonical_timestamp(t);
    }
    let mut s = String::with_capacity(26);
    push_date(&mut s, t.date());
    s.push(' ');
    push_time(&mut s, t.time());
    s
}

/// A leap second (chrono's nanoseconds past 10^9), which no workbook
/// serial gives: left to the canonical functions.
fn is_leap(t: NaiveTime) -> bool {
    t.nanosecond() >= 1_000_000_000
}

fn push_date(s: &mut String, d: NaiveDate) {
    use chrono::Datelike;
    debug_assert!((0..=9999).contains(&d.year()));
    push_digits(s, d.year() as u32, 4);
    s.push('-');
    push_digits(s, d.month(), 2);
    s.push('-');
    push_digits(s, d.day(), 2);
}

fn push_time(s: &mut String, t: NaiveTime) {
    push_digits(s, t.hour(), 2);
    s.push(':');
    push_digits(s, t.minute(), 2);
    s.push(':');
    push_digits(s, t.second(), 2);
    let micros = t.nanosecond() / 1000;
    if micros != 0 {
        s.push('.');
        let mut frac = [0u8; 6];
        let mut n = micros;
        for d in frac.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let len = 6 - frac.iter().rev().take_while(|d| **d == b'0').count();
        frac[..len].iter().for_each(|d| s.push(char::from(*d)));
    }
}

/// `n` in `width` digits, zero-padded.
fn push_digits(s: &mut String, n: u32, width: u32) {
    for i in (0..width).rev() {
        s.push(char::from(b'0' + (n / 10u32.pow(i) % 10) as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{canonical_time, canonical_timestamp};

    fn chrono_timestamp(s: &str) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok()
    }

    #[test]
    fn texts_are_the_canonical_ones() {
        let base = NaiveDate::from_ymd_opt(1900, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        // Steps of a prime number of microseconds over 8,100 years.
        let step = chrono::Duration::microseconds(255_551_234_567_891);
        for i in 0..1000 {
            let t = base + step * i;
            assert_eq!(timestamp_text(t), canonical_timestamp(t));
            assert_eq!(time_text(t.time()), canonical_time(t.time()));
            assert_eq!(date_text(t.date()), t.format("%Y-%m-%d").to_string());
        }
        let t = NaiveDate::from_ymd_opt(2024, 3, 5)
            .unwrap()
            .and_hms_micro_opt(8, 30, 0, 120_000)
            .unwrap();
        assert_eq!(timestamp_text(t), "2024-03-05 08:30:00.12");
        let leap = NaiveTime::from_hms_milli_opt(23, 59, 59, 1500).unwrap();
        assert_eq!(time_text(leap), canonical_time(leap));
    }

    #[test]
    fn parsing_agrees_with_chrono_or_leaves_it_to_chrono() {
        let cases = [
            "2024-03-05 08:30:00",
            "2024-03-05 08:30:00.5",
            "2024-03-05 08:30:00.123456",
            "2024-03-05 08:30:00.123456789",
            "9999-12-31 23:59:59.999",
            "0001-01-01 00:00:00",
            "2024-02-30 08:30:00",
            "2024-13-05 08:30:00",
            "2024-03-05 24:00:00",
            "2024-03-05 08:60:00",
            "2024-03-05 08:30:00.",
            "2024-03-05 08:30:00.1234567890",
            "2024-03-05T08:30:00",
            "2024-03-05 8:30:00",
            "2024-3-05 08:30:00",
            "+2024-03-05 08:30:00",
            "2024-03-05 08:30:0a",
            "2024-03-05 08:30",
            "",
        ];
        for s in cases {
            if let Some(t) = parse_timestamp(s) {
                assert_eq!(Some(t), chrono_timestamp(s), "{s}");
            }
        }
        assert!(parse_timestamp("2024-03-05 08:30:00.5").is_some());
        assert_eq!(parse_timestamp("2024-02-30 08:30:00"), None);
        let leap = "2024-03-05 23:59:60";
        assert_eq!(parse_timestamp(leap), None);
        assert_eq!(
            parse_date("2024-03-05"),
            NaiveDate::parse_from_str("2024-03-05", "%Y-%m-%d").ok()
        );
        assert_eq!(parse_date("2024-3-5"), None);
        assert_eq!(
            parse_time("08:30:00.25"),
            NaiveTime::parse_from_str("08:30:00.25", "%H:%M:%S%.f").ok()
        );
    }
}
