//! Credentials from aws-config's provider chain, kept until shortly before they
//! expire. The provider itself does not cache (the SDK puts an identity cache in
//! front of it); this is that cache, and a refresh runs once however many
//! requests wait for it.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use tokio::sync::Mutex;

/// Credentials are replaced this long before their expiry, so that a request
/// signed with them does not arrive after it.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(120);

pub struct CredentialCache {
    provider: SharedCredentialsProvider,
    current: Mutex<Option<Credentials>>,
}

impl CredentialCache {
    pub fn new(provider: SharedCredentialsProvider) -> Self {
        Self {
            provider,
            current: Mutex::new(None),
        }
    }

    /// Valid credentials, fetched from the provider only when there are none or
    /// they are about to expire. Errors are the provider's, as text: which source
    /// was tried and why it failed.
    pub async fn get(&self) -> Result<Credentials, String> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref().filter(|c| fresh(c, SystemTime::now())) {
            return Ok(c.clone());
        }
        let fetched = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| super::error_chain(&e))?;
        *current = Some(fetched.clone());
        Ok(fetched)
    }

    /// Drops the kept credentials (SNS said they expired), so that the next request
    /// fetches new ones.
    pub async fn forget(&self) {
        *self.current.lock().await = None;
    }
}

fn fresh(credentials: &Credentials, now: SystemTime) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| now + REFRESH_BEFORE_EXPIRY < expiry)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::future;

    use super::*;

    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        lifetime: Option<Duration>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if n == 99 {
                return future::ProvideCredentials::ready(Err(CredentialsError::provider_error(
                    "metadata service timed out",
                )));
            }
            future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("AKID{n}"),
                "secret",
                None,
                self.lifetime.map(|l| SystemTime::now() + l),
                "test",
            )))
        }
    }

    fn cache(lifetime: Option<Duration>) -> (CredentialCache, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let provider = Counting {
            calls: calls.clone(),
            lifetime,
        };
        (
            CredentialCache::new(SharedCredentialsProvider::new(provider)),
            calls,
        )
    }

    #[tokio::test]
    async fn long_lived_credentials_are_fetched_once() {
        let (cache, calls) = cache(None);
        for _ in 0..5 {
            assert_eq!(cache.get().await.unwrap().access_key_id(), "AKID0");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let (cache, calls) = cache_with_hour();
        cache.get().await.unwrap();
        cache.get().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    fn cache_with_hour() -> (CredentialCache, Arc<AtomicUsize>) {
        cache(Some(Duration::from_secs(3600)))
    }

    #[tokio::test]
    async fn credentials_near_expiry_are_replaced() {
        let (cache, calls) = cache(Some(Duration::from_secs(60)));
        assert_eq!(cache.get().await.unwrap().access_key_id(), "AKID0");
        assert_eq!(cache.get().await.unwrap().access_key_id(), "AKID1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn provider_errors_name_their_cause() {
        let (cache, calls) = cache(Some(Duration::ZERO));
        calls.store(99, Ordering::SeqCst);
        let e = cache.get().await.unwrap_err();
        assert!(e.contains("metadata service timed out"), "{e}");
        // The next call tries again.
        assert_eq!(cache.get().await.unwrap().access_key_id(), "AKID100");
        let (cache, calls) = cache_with_hour();
        cache.get().await.unwrap();
        cache.forget().await;
        assert_eq!(cache.get().await.unwrap().access_key_id(), "AKID1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
