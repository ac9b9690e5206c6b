//! Event timestamps as ISO-8601 UTC with milliseconds (`2022-09-26T17:50:47.225Z`),
//! the form `Date.prototype.toJSON` writes and the message body carries: written and,
//! in that exact form, read by hand. Both run in every `log()`, where chrono's
//! formatter allocated and its RFC 3339 parser took a tenth of the event's parsing.

use super::MAX_TIMESTAMP_MS;

/// `2022-09-26T17:50:47.225Z`: the length of the one form read here, and of every
/// timestamp [`write_timestamp`] writes.
pub const ISO_LEN: usize = 24;

/// ISO-8601 UTC with milliseconds, as in `2022-09-26T17:50:47.225Z`.
pub fn format_timestamp(ms: i64) -> String {
    let mut out = String::with_capacity(ISO_LEN);
    write_timestamp(&mut out, ms);
    out
}

/// Appends `ms` (0 to [`MAX_TIMESTAMP_MS`]) as ISO-8601 UTC with milliseconds.
pub fn write_timestamp(out: &mut String, ms: i64) {
    let ms = ms.clamp(0, MAX_TIMESTAMP_MS);
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm, days >= 0).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut text = *b"0000-00-00T00:00:00.000Z";
    put_digits(&mut text[0..4], year);
    put_digits(&mut text[5..7], month);
    put_digits(&mut text[8..10], day);
    put_digits(&mut text[11..13], in_day / 3_600_000);
    put_digits(&mut text[14..16], in_day / 60_000 % 60);
    put_digits(&mut text[17..19], in_day / 1000 % 60);
    put_digits(&mut text[20..23], in_day % 1000);
    // Digits and the template's ASCII: always UTF-8.
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// `n` (non-negative) as exactly `slot.len()` decimal digits.
fn put_digits(slot: &mut [u8], n: i64) {
    let mut n = n;
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Epoch milliseconds of `s` if it is exactly `YYYY-MM-DDTHH:MM:SS.sssZ` naming a real
/// date and time (no leap second); `None` for anything else, which chrono then reads.
/// Agrees with chrono's `parse_from_rfc3339` wherever it answers (a property test).
pub(crate) fn parse_iso_millis(s: &str) -> Option<i64> {
    let b: &[u8; ISO_LEN] = s.as_bytes().try_into().ok()?;
    if b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    let milli = digits(&b[20..23])?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days since 1970-01-01 from the civil date (H. Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli)
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use proptest::prelude::*;

    use super::*;

    fn chrono_ms(s: &str) -> Option<i64> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis())
    }

    #[test]
    fn reads_what_it_writes_and_refuses_what_is_not_a_date() {
        assert_eq!(
            parse_iso_millis("2022-09-26T17:50:47.225Z"),
            Some(1_664_214_647_225)
        );
        assert_eq!(parse_iso_millis("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_iso_millis("9999-12-31T23:59:59.999Z"),
            Some(MAX_TIMESTAMP_MS)
        );
        assert_eq!(
            parse_iso_millis("2024-02-29T00:00:00.000Z"),
            chrono_ms("2024-02-29T00:00:00.000Z")
        );
        for s in [
            "2023-02-29T00:00:00.000Z",
            "1900-02-29T00:00:00.000Z",
            "2022-04-31T00:00:00.000Z",
            "2022-13-01T00:00:00.000Z",
            "2022-00-01T00:00:00.000Z",
            "2022-01-00T00:00:00.000Z",
            "2022-01-01T24:00:00.000Z",
            "2022-01-01T00:60:00.000Z",
            // A leap second: chrono reads it; this leaves it to chrono.
            "2016-12-31T23:59:60.000Z",
            "2022-01-01t00:00:00.000Z",
            "2022-01-01T00:00:00.000z",
            "2022-01-01T00:00:00Z",
            "2022-01-01T00:00:00.000+00:00",
            "2022-01-01T00:00:00.0000Z",
            "+2022-01-01T00:00:00.000Z",
            "2022-01-01T00:00:0a.000Z",
            "2022-01-01T00:00:00,000Z",
        ] {
            assert_eq!(parse_iso_millis(s), None, "{s}");
        }
    }

    #[test]
    fn writes_like_chrono_at_the_edges() {
        for ms in [0, 951_782_400_000, 1_709_208_000_000, MAX_TIMESTAMP_MS] {
            let text = format_timestamp(ms);
            assert_eq!(chrono_ms(&text), Some(ms), "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::core::fuzz_cases(4096)))]

        #[test]
        fn every_timestamp_reads_back(ms in 0..=MAX_TIMESTAMP_MS) {
            let text = format_timestamp(ms);
            prop_assert_eq!(parse_iso_millis(&text), Some(ms));
            prop_assert_eq!(chrono_ms(&text), Some(ms));
        }

        /// Date-shaped text with any digits: where this answers, chrono answers the same.
        #[test]
        fn agrees_with_chrono(
            y in 0u32..10_000, mo in 0u32..14, d in 0u32..33,
            h in 0u32..26, mi in 0u32..62, s in 0u32..62, ms in 0u32..1000,
        ) {
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z");
            if let Some(got) = parse_iso_millis(&text) {
                prop_assert_eq!(Some(got), chrono_ms(&text), "{}", text);
            } else {
                // Refused here: chrono refuses it too, or it is a leap second.
                prop_assert!(chrono_ms(&text).is_none() || s == 60, "{}", text);
            }
        }
    }
}
