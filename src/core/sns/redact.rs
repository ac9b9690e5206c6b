//! Error text with every credential taken out, before it reaches `onError`, logs
//! and support tickets.

use crate::core::options::SnsConfig;

/// Error text with every credential taken out: the configured keys and the
/// environment's, and whatever follows `Credential=`, `Signature=` or
/// `X-Amz-Security-Token` (a server may repeat the request's signature, as
/// SignatureDoesNotMatch does). Errors reach `onError`, logs and support tickets.
pub fn redact(message: &str, config: &SnsConfig) -> String {
    let mut out = message.to_owned();
    let mut secrets: Vec<String> = Vec::new();
    if let Some(c) = &config.credentials {
        secrets.push(c.access_key_id.clone());
        secrets.push(c.secret_access_key.clone());
        secrets.extend(c.session_token.clone());
    }
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        secrets.extend(std::env::var(var).ok());
    }
    for marker in [
        "Credential=",
        "Signature=",
        "X-Amz-Security-Token=",
        "x-amz-security-token:",
    ] {
        let mut from = 0;
        while let Some(i) = out[from..].find(marker) {
            let start = from + i + marker.len();
            let end = out[start..]
                .find(|c: char| matches!(c, ',' | '&' | '<' | ';' | '"') || c.is_whitespace())
                .map_or(out.len(), |j| start + j);
            out.replace_range(start..end, "<redacted>");
            from = start + "<redacted>".len();
        }
    }
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        out = out.replace(secret.as_str(), "<redacted>");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn redaction_takes_out_keys_and_signatures() {
        let config = SnsConfig {
            region: None,
            arn_region: "us-east-1".into(),
            endpoint: None,
            credentials: Some(crate::core::options::StaticCredentials {
                access_key_id: "AKIAQWERTYUIOPASDFGH".into(),
                secret_access_key: "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".into(),
                session_token: Some("FwoGZXIvYXdzEXAMPLE".into()),
            }),
            request_timeout: Duration::from_secs(1),
        };
        let text = "Authorization: AWS4-HMAC-SHA256 Credential=AKIAQWERTYUIOPASDFGH/20261121/us-east-1/sns/aws4_request, \
                    SignedHeaders=host;x-amz-date, Signature=0123abcd; token FwoGZXIvYXdzEXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY";
        let out = redact(text, &config);
        for leak in [
            "AKIAQWERTYUIOPASDFGH",
            "0123abcd",
            "FwoGZXIvYXdzEXAMPLE",
            "wJalrXUtnFEMI",
        ] {
            assert!(!out.contains(leak), "{out}");
        }
        assert!(
            out.contains(
                "Credential=<redacted>, SignedHeaders=host;x-amz-date, Signature=<redacted>;"
            ),
            "{out}"
        );
    }
}
