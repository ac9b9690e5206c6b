//! SNS topic ARNs: the one parser that options, routing and tracking plans share.

use super::error::InvalidOption;

/// The parts of an SNS topic ARN the logger uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn {
    pub region: String,
    pub fifo: bool,
}

/// `arn:<partition>:sns:<region>:<12-digit account>:<name>`, name 1–256 characters of
/// letters, digits, `-` and `_`, FIFO names ending in `.fifo`.
pub fn parse_topic_arn(arn: &str) -> Result<TopicArn, InvalidOption> {
    let bad = |why: &str| {
        InvalidOption::new(
            "topicArn",
            format!("must be an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:analytics.fifo ({why}), got {arn:?}"),
        )
    };
    let parts: Vec<&str> = arn.split(':').collect();
    let [arn_lit, partition, service, region, account, name] = parts[..] else {
        return Err(bad("six ':'-separated parts"));
    };
    if arn_lit != "arn" || !partition.starts_with("aws") || service != "sns" {
        return Err(bad("it must start with arn:aws:sns:"));
    }
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(bad("the region is missing or malformed"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the account id must be 12 digits"));
    }
    let fifo = name.ends_with(".fifo");
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    if stem.is_empty()
        || name.len() > 256
        || !stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad(
            "the topic name must be 1-256 letters, digits, '-' or '_'",
        ));
    }
    Ok(TopicArn {
        region: region.to_owned(),
        fifo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_arns() {
        let t = parse_topic_arn("arn:aws:sns:us-east-1:123456789012:rc-analytics.fifo").unwrap();
        assert_eq!(
            t,
            TopicArn {
                region: "us-east-1".into(),
                fifo: true
            }
        );
        assert!(
            !parse_topic_arn("arn:aws-cn:sns:cn-north-1:123456789012:rc_events")
                .unwrap()
                .fifo
        );
        for bad in [
            "",
            "rc-analytics",
            "arn:aws:sqs:us-east-1:123456789012:q",
            "arn:aws:sns:us-east-1:1234:t",
            "arn:aws:sns::123456789012:t",
            "arn:aws:sns:us-east-1:123456789012:",
            "arn:aws:sns:us-east-1:123456789012:.fifo",
            "arn:aws:sns:us-east-1:123456789012:bad name",
        ] {
            let err = parse_topic_arn(bad).unwrap_err();
            assert_eq!(err.option, "topicArn", "{bad}");
            assert!(err.to_string().contains("topicArn"));
        }
    }
}
