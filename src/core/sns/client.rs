//! The connection side of the PublishBatch client: where requests go, and an
//! HTTP/1.1 client that keeps connections open between them (over rustls with the
//! system's roots for `https`, as the SDK's default client does).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Idle connections are closed after this long; SNS's front end closes them
/// itself after about a minute of silence.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);
/// Idle connections kept per host: one per request in flight is enough.
const POOL_MAX_IDLE_PER_HOST: usize = 16;

/// Where requests go, split the way the signer and the request need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The URI requests are posted to.
    pub uri: http::Uri,
    /// The `Host` header and its signed value: the authority as written, without a
    /// default port.
    pub host: String,
    /// The canonical path for signing.
    pub path: String,
}

impl Endpoint {
    /// `url` when one is given (the `endpoint` option or `AWS_ENDPOINT_URL[_SNS]`),
    /// otherwise SNS's regional endpoint.
    pub fn resolve(
        url: Option<&str>,
        region: &str,
        fips: bool,
        dual_stack: bool,
    ) -> Result<Self, String> {
        let url = match url {
            Some(url) => url.to_owned(),
            None => default_url(region, fips, dual_stack),
        };
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("endpoint {url:?} is not a URL: {e}"))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        if scheme != "http" && scheme != "https" {
            return Err(format!("endpoint {url:?} must be http:// or https://"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("endpoint {url:?} has no host"))?;
        let default_port = if scheme == "https" { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(p) if p == default_port => authority.host().to_owned(),
            _ => authority.as_str().to_owned(),
        };
        let path = match uri.path() {
            "" => "/".to_owned(),
            p => p.to_owned(),
        };
        Ok(Self { uri, host, path })
    }
}

/// SNS's endpoint in `region`: `amazonaws.com.cn` in China, `api.aws` (or
/// `amazonwebservices.com.cn`) when dual-stack, `sns-fips` for FIPS.
fn default_url(region: &str, fips: bool, dual_stack: bool) -> String {
    let china = region.starts_with("cn-");
    let service = if fips { "sns-fips" } else { "sns" };
    let domain = match (china, dual_stack) {
        (false, false) => "amazonaws.com",
        (false, true) => "api.aws",
        (true, false) => "amazonaws.com.cn",
        (true, true) => "api.amazonwebservices.com.cn",
    };
    format!("https://{service}.{region}.{domain}")
}

/// A keep-alive client for `http` and `https` endpoints.
pub fn http_client(connect_timeout: Duration) -> HttpClient {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable certificates are skipped, as the SDK does; with no roots at all an
    // https request fails with an "invalid peer certificate" error that says so.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    let tls = rustls::ClientConfig::builder_with_provider(
        rustls::crypto::aws_lc_rs::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .expect("aws-lc supports TLS 1.2 and 1.3")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build(connector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_endpoints() {
        let e = Endpoint::resolve(None, "eu-west-1", false, false).unwrap();
        assert_eq!(e.uri.to_string(), "https://sns.eu-west-1.amazonaws.com/");
        assert_eq!(e.host, "sns.eu-west-1.amazonaws.com");
        assert_eq!(e.path, "/");
        let host = |r: &str, fips, ds| Endpoint::resolve(None, r, fips, ds).unwrap().host;
        assert_eq!(
            host("cn-north-1", false, false),
            "sns.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            host("us-gov-west-1", true, false),
            "sns-fips.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(host("us-east-1", false, true), "sns.us-east-1.api.aws");
    }

    #[test]
    fn explicit_endpoints() {
        let e = Endpoint::resolve(Some("http://127.0.0.1:4566"), "us-east-1", true, true).unwrap();
        assert_eq!(e.host, "127.0.0.1:4566");
        assert_eq!(e.path, "/");
        let e =
            Endpoint::resolve(Some("https://sns.example.com:443/sns/"), "x", false, false).unwrap();
        assert_eq!(e.host, "sns.example.com");
        assert_eq!(e.path, "/sns/");
        for bad in ["ftp://x", "not a url", "/path"] {
            assert!(
                Endpoint::resolve(Some(bad), "us-east-1", false, false).is_err(),
                "{bad}"
            );
        }
    }
}
