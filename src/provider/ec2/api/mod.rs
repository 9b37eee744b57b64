//! The EC2 client: built from the standard AWS chain (environment,
//! profile), retries with backoff and jitter, errors as one line naming the
//! call and the AWS error code. Credentials never leave the SDK.
//!
//! Two environment hooks exist for tests and benchmarks, and only those:
//! `RUNNER_EC2_CALL_LOG=FILE` appends each HTTP attempt's operation name to
//! FILE; in a build with the `test-faults` feature (the test suite's),
//! `RUNNER_TEST_EC2_FAULTS` injects faults (`api::faults`).

use std::io::Write as _;
use std::time::Duration;

use aws_sdk_ec2::config::{BehaviorVersion, ConfigBag, Intercept, Region, RuntimeComponents};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::retry::RetryConfig;

use super::Error;

#[cfg(feature = "test-faults")]
mod faults;

/// Attempts per call (the first and the retries) for throttling and
/// transient errors.
const ATTEMPTS: u32 = 6;

/// A duration in milliseconds from the environment (tests make waits short).
pub fn env_ms(var: &str, default: u64) -> Duration {
    Duration::from_millis(
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

pub async fn client(region: &str, endpoint: Option<&str>) -> Result<aws_sdk_ec2::Client, Error> {
    let retry = RetryConfig::standard()
        .with_max_attempts(ATTEMPTS)
        .with_initial_backoff(env_ms("RUNNER_EC2_BACKOFF_MS", 1000))
        .with_max_backoff(Duration::from_secs(20));
    // An endpoint that accepts connections but never answers must not hang
    // runner: every attempt and every call is bounded.
    let timeouts = aws_smithy_types::timeout::TimeoutConfig::builder()
        .connect_timeout(env_ms("RUNNER_EC2_CONNECT_TIMEOUT_MS", 10_000))
        .read_timeout(env_ms("RUNNER_EC2_ATTEMPT_TIMEOUT_MS", 60_000))
        .operation_attempt_timeout(env_ms("RUNNER_EC2_ATTEMPT_TIMEOUT_MS", 60_000))
        .operation_timeout(env_ms("RUNNER_EC2_CALL_TIMEOUT_MS", 300_000))
        .build();
    use aws_smithy_http_client::tls;
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .region(Region::new(region.to_string()))
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    let sdk = loader.load().await;
    // Fail at once, with what to do, rather than on every call.
    match sdk.credentials_provider() {
        None => return Err(Error::NoCredentials("no credentials provider".into())),
        Some(p) => {
            use aws_sdk_ec2::config::ProvideCredentials as _;
            if let Err(e) = p.provide_credentials().await {
                return Err(Error::NoCredentials(chain(&e)));
            }
        }
    }
    #[allow(unused_mut)] // Only a test build adds its faults.
    let mut conf = aws_sdk_ec2::config::Builder::from(&sdk).interceptor(CallLog);
    #[cfg(feature = "test-faults")]
    if let Some(f) = faults::Faults::from_env() {
        conf = conf.interceptor(f);
    }
    Ok(aws_sdk_ec2::Client::from_conf(conf.build()))
}

/// `RunInstances failed: InvalidAMIID.NotFound: The image id … does not exist`
pub fn error<E>(call: &str, e: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    Error::Api {
        call: call.to_string(),
        code: e.code().map(str::to_string),
        message: message(call, e),
    }
}

fn message<E>(call: &str, e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message()) {
        (Some(code), Some(msg)) => format!("{call} failed: {code}: {msg}"),
        (Some(code), None) => format!("{call} failed: {code}"),
        _ => match e {
            SdkError::DispatchFailure(d) if d.is_timeout() => format!(
                "{call} failed: the EC2 endpoint did not answer in time; check `endpoint`/`region` and the network"
            ),
            SdkError::TimeoutError(_) => format!(
                "{call} failed: the EC2 endpoint did not answer in time; check `endpoint`/`region` and the network"
            ),
            SdkError::DispatchFailure(_) => format!(
                "{call} failed: the EC2 endpoint cannot be reached ({}); check `endpoint`/`region` and the network",
                chain(e)
            ),
            SdkError::ResponseError(_) | SdkError::ServiceError(_) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                format!(
                    "{call} failed: the endpoint answered HTTP {} without an EC2 error (is `endpoint` an EC2 API? is `region` right?)",
                    status.map_or("?".to_string(), |s| s.to_string())
                )
            }
            _ => format!("{call} failed: {}", chain(e)),
        },
    }
}

/// An error and its causes on one line, each cause once, without the
/// SDK's Debug dumps; at most 300 characters.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        let text = text.split(" (").next().unwrap_or(&text).trim().to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    let mut out = parts.join(": ");
    if out.chars().count() > 300 {
        out = out.chars().take(300).collect::<String>() + "…";
    }
    out
}

/// The AWS error code of a failed call, if it has one.
pub fn code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<String> {
    e.code().map(str::to_string)
}

fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|m| m.name().to_string())
        .unwrap_or_default()
}

/// Appends each attempt's operation to `RUNNER_EC2_CALL_LOG`.
#[derive(Debug)]
struct CallLog;

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "runner-call-log"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(path) = std::env::var_os("RUNNER_EC2_CALL_LOG")
            && let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        {
            // One write: concurrent appends never interleave.
            let _ = f.write_all(format!("{}\n", operation(cfg)).as_bytes());
        }
        Ok(())
    }
}
