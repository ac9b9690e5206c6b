//! AWS Signature Version 4 for one POST to SNS, with the day's signing key kept.
//!
//! SigV4 derives a key from the secret through four HMACs per date, region and
//! service; the SDK does that for every request. The key changes once a day (or
//! when credentials rotate), so it is derived once and kept. Hashing uses aws-lc,
//! which rustls already links, and its SHA-NI code.

use std::sync::Mutex;
use std::time::SystemTime;

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::hmac;

use crate::core::event::format_timestamp;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub const SERVICE: &str = "sns";

/// Credentials as SigV4 needs them.
pub struct SigningCredentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
}

/// `x-amz-date` (`20261121T101204Z`) and its day (`20261121`).
pub struct AmzDate {
    pub timestamp: String,
}

impl AmzDate {
    pub fn new(time: SystemTime) -> Self {
        let ms = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        // The event timestamp's formatter, without its punctuation: chrono's
        // strftime parses its pattern on every request.
        let iso = format_timestamp(ms); // 2026-11-18T11:06:40.000Z
        let mut timestamp: String = iso[..19]
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        timestamp.push('Z');
        Self { timestamp }
    }

    fn day(&self) -> &str {
        &self.timestamp[..8]
    }
}

struct SigningKey {
    day: String,
    secret: String,
    key: hmac::Key,
}

/// Signs requests for one region.
pub struct RequestSigner {
    region: String,
    key: Mutex<Option<SigningKey>>,
}

impl RequestSigner {
    pub fn new(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            key: Mutex::new(None),
        }
    }

    /// The `Authorization` header for a request whose signed headers are `headers`
    /// (lower-case names, sorted, values trimmed, `x-amz-date` among them) and
    /// whose body hashes to `payload_sha256` (lower-case hex).
    pub fn authorization(
        &self,
        credentials: &SigningCredentials<'_>,
        date: &AmzDate,
        path: &str,
        headers: &[(&str, &str)],
        payload_sha256: &str,
    ) -> String {
        debug_assert!(headers.windows(2).all(|w| w[0].0 < w[1].0));
        let mut canonical = String::with_capacity(512);
        canonical.push_str("POST\n");
        canonical.push_str(path);
        canonical.push_str("\n\n");
        for (name, value) in headers {
            canonical.push_str(name);
            canonical.push(':');
            canonical.push_str(value);
            canonical.push('\n');
        }
        canonical.push('\n');
        let mut signed_headers = String::with_capacity(128);
        for (i, (name, _)) in headers.iter().enumerate() {
            if i > 0 {
                signed_headers.push(';');
            }
            signed_headers.push_str(name);
        }
        canonical.push_str(&signed_headers);
        canonical.push('\n');
        canonical.push_str(payload_sha256);

        let scope = format!("{}/{}/{SERVICE}/aws4_request", date.day(), self.region);
        let string_to_sign = format!(
            "{ALGORITHM}\n{}\n{scope}\n{}",
            date.timestamp,
            sha256_hex(canonical.as_bytes())
        );
        let signature = {
            let mut slot = self.key.lock().unwrap_or_else(|p| p.into_inner());
            let stale = slot
                .as_ref()
                .is_none_or(|k| k.day != date.day() || k.secret != credentials.secret_access_key);
            if stale {
                *slot = Some(SigningKey {
                    day: date.day().to_owned(),
                    secret: credentials.secret_access_key.to_owned(),
                    key: derive_key(credentials.secret_access_key, date.day(), &self.region),
                });
            }
            let key = &slot.as_ref().expect("set above").key;
            hex(hmac::sign(key, string_to_sign.as_bytes()).as_ref())
        };
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        )
    }
}

fn derive_key(secret: &str, day: &str, region: &str) -> hmac::Key {
    let step = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = step(format!("AWS4{secret}").as_bytes(), day);
    let k_region = step(k_date.as_ref(), region);
    let k_service = step(k_region.as_ref(), SERVICE);
    let k_signing = step(k_service.as_ref(), "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(digest(&SHA256, data).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request aws-sdk-sns signed (captured in `testdata/`): the same headers
    /// and body must give the same `Authorization`, byte for byte.
    #[test]
    fn same_signature_as_the_sdk() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("testdata/sdk-publish-batch.json")).unwrap();
        let h = |name: &str| fixture["headers"][name].as_str().unwrap();
        let body = fixture["body"].as_str().unwrap();
        let headers: Vec<(&str, &str)> = [
            "content-length",
            "content-type",
            "host",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-user-agent",
        ]
        .iter()
        .map(|n| (*n, h(n)))
        .collect();
        let signer = RequestSigner::new("us-east-1");
        let credentials = SigningCredentials {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        };
        let date = AmzDate {
            timestamp: h("x-amz-date").to_owned(),
        };
        let sign = || {
            signer.authorization(
                &credentials,
                &date,
                "/",
                &headers,
                &sha256_hex(body.as_bytes()),
            )
        };
        assert_eq!(sign(), h("authorization"));
        // Again, now with the kept key.
        assert_eq!(sign(), h("authorization"));
    }

    #[test]
    fn key_follows_the_day_and_the_secret() {
        let signer = RequestSigner::new("eu-west-1");
        let headers = [("host", "sns.eu-west-1.amazonaws.com"), ("x-amz-date", "")];
        let sign = |secret: &str, ts: &str| {
            let date = AmzDate {
                timestamp: ts.to_owned(),
            };
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (*n, if *n == "x-amz-date" { ts } else { *v }))
                .collect();
            signer.authorization(
                &SigningCredentials {
                    access_key_id: "AKID",
                    secret_access_key: secret,
                },
                &date,
                "/",
                &headers,
                &sha256_hex(b""),
            )
        };
        let fresh = |secret: &str, ts: &str| {
            let kept = signer.key.lock().unwrap().take();
            let out = sign(secret, ts);
            *signer.key.lock().unwrap() = kept;
            out
        };
        let a = sign("secret-1", "20261121T000000Z");
        let b = sign("secret-1", "20261122T000000Z");
        let c = sign("secret-2", "20261122T000000Z");
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert_eq!(c, fresh("secret-2", "20261122T000000Z"));
        assert_eq!(sign("secret-1", "20261121T000000Z"), a);
        assert!(a.contains("Credential=AKID/20261121/eu-west-1/sns/aws4_request, SignedHeaders=host;x-amz-date, Signature="));
    }

    #[test]
    fn amz_date_format() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        let d = AmzDate::new(t);
        assert_eq!(d.timestamp, "20261118T110640Z");
        assert_eq!(d.day(), "20261118");
    }
}
