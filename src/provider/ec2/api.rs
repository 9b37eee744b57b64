//! The EC2 client: built from the standard AWS chain (environment,
//! profile), retries with backoff and jitter, errors as one line naming the
//! call and the AWS error code. Credentials never leave the SDK.
//!
//! Two environment hooks exist for tests and benchmarks, and only those:
//! `RUNNER_EC2_CALL_LOG=FILE` appends each HTTP attempt's operation name to
//! FILE; `RUNNER_TEST_EC2_FAULTS` injects faults (see [`Faults`]).

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_ec2::config::{BehaviorVersion, ConfigBag, Intercept, Region, RuntimeComponents};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use aws_smithy_types::retry::RetryConfig;

use super::Error;

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
    let mut conf = aws_sdk_ec2::config::Builder::from(&sdk).interceptor(CallLog);
    if let Some(f) = Faults::from_env() {
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

/// Test-only faults, `RUNNER_TEST_EC2_FAULTS="Op:Code:N,…"`: the first N
/// attempts of operation Op get the AWS error Code, and the server never
/// sees them (the request is turned into a harmless DescribeRegions), as
/// with real throttling or a capacity error; `Op:kill:N` makes runner kill
/// itself with SIGKILL when the Nth response of Op arrives (the server did
/// the call; runner could record nothing about it); `Op:slow:MS` delays
/// each response of Op.
#[derive(Debug)]
struct Faults {
    rules: Mutex<HashMap<String, Vec<(String, u64)>>>,
}

impl Faults {
    fn from_env() -> Option<Faults> {
        let spec = std::env::var("RUNNER_TEST_EC2_FAULTS").ok()?;
        let mut rules: HashMap<String, Vec<(String, u64)>> = HashMap::new();
        for rule in spec.split(',').filter(|r| !r.is_empty()) {
            let mut parts = rule.splitn(3, ':');
            let (Some(op), Some(what)) = (parts.next(), parts.next()) else {
                continue;
            };
            let n = parts.next().and_then(|n| n.parse().ok()).unwrap_or(1);
            rules
                .entry(op.to_string())
                .or_default()
                .push((what.to_string(), n));
        }
        Some(Faults {
            rules: Mutex::new(rules),
        })
    }
}

/// The error this attempt gets instead of the server's answer.
#[derive(Debug, Clone)]
struct Inject(String);

impl Storable for Inject {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Faults {
    fn name(&self) -> &'static str {
        "runner-test-faults"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation(cfg);
        let mut fail: Option<String> = None;
        {
            let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
            for (what, n) in rules.get_mut(&op).into_iter().flatten() {
                if !matches!(what.as_str(), "slow" | "kill") && *n > 0 {
                    *n -= 1;
                    fail = Some(what.clone());
                    break;
                }
            }
        }
        if let Some(code) = fail {
            let body = "Action=DescribeRegions&Version=2016-11-15";
            let req = context.request_mut();
            req.headers_mut()
                .insert("content-length", body.len().to_string());
            *req.body_mut() = SdkBody::from(body);
            cfg.interceptor_state().store_put(Inject(code));
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation(cfg);
        {
            let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
            for (what, n) in rules.get_mut(&op).into_iter().flatten() {
                match what.as_str() {
                    "slow" => std::thread::sleep(Duration::from_millis(*n)),
                    "kill" => {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            crate::os::kill_self();
                        }
                    }
                    _ => {}
                }
            }
        }
        let fail = cfg.load::<Inject>().map(|i| i.0.clone());
        cfg.interceptor_state().unset::<Inject>();
        if let Some(code) = fail {
            let status = if code == "RequestLimitExceeded" || code == "Unavailable" {
                503
            } else {
                400
            };
            let resp = context.response_mut();
            *resp.status_mut() = status.try_into().map_err(|_| "status")?;
            *resp.body_mut() = SdkBody::from(format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>injected by RUNNER_TEST_EC2_FAULTS</Message></Error></Errors><RequestID>test</RequestID></Response>"
            ));
        }
        Ok(())
    }
}
