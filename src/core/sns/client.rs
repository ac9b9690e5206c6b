//! The aws-sdk-sns client of one configuration, built from aws-config on the
//! delivery runtime the first time a batch goes out.
//!
//! The SDK is set to do only what the delivery loop does not: it signs, sends and
//! parses, and learns the clock skew. Retries stay the delivery loop's (it resends
//! only the entries that failed, with its own budget and throttle pause), so the
//! SDK's are off; so is its stalled-stream watchdog (the request timeout bounds a
//! stuck request). There is no request checksum to turn off: aws-sdk-sns has no
//! operation with one.

use std::time::Duration;

use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, Region};
use aws_sdk_sns::config::Credentials;
use aws_sdk_sns::Client;

use crate::core::options::SnsConfig;

/// Time allowed to open a connection, separate from the whole attempt's timeout so
/// that an unreachable endpoint is retried quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Our name in the User-Agent the SDK sends, for the account's CloudTrail.
const APP_NAME: &str = "rocketchat-sns-analytics";

/// Builds the client: region from the options, the environment, the profile or the
/// topic ARN (never the instance metadata service: the ARN names the region);
/// credentials from the options or aws-config's default chain; the endpoint from
/// the options, or aws-config's (`AWS_ENDPOINT_URL_SNS`, profiles), or SNS's own.
pub(super) async fn build(config: &SnsConfig) -> Client {
    let region = RegionProviderChain::first_try(config.region.clone().map(Region::new))
        .or_else(EnvironmentVariableRegionProvider::new())
        .or_else(ProfileFileRegionProvider::builder().build())
        .or_else(Region::new(config.arn_region.clone()));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .app_name(AppName::new(APP_NAME).expect("a valid app name"))
        .retry_config(RetryConfig::disabled())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(config.request_timeout)
                .operation_timeout(config.request_timeout)
                .build(),
        );
    if let Some(endpoint) = &config.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(c) = &config.credentials {
        loader = loader.credentials_provider(Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            c.session_token.clone(),
            None,
            "rocketchat-sns-analytics options",
        ));
    }
    Client::new(&loader.load().await)
}
