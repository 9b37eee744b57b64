//! Test-only faults for the EC2 client, built only with the `test-faults`
//! feature (the test suite's): `RUNNER_TEST_EC2_FAULTS` (see [`Faults`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

use super::operation;

/// Test-only faults, `RUNNER_TEST_EC2_FAULTS="Op:Code:N,…"`: the first N
/// attempts of operation Op get the AWS error Code, and the server never
/// sees them (the request is turned into a harmless DescribeRegions), as
/// with real throttling or a capacity error; `Op:kill:N` makes runner kill
/// itself with SIGKILL when the Nth response of Op arrives (the server did
/// the call; runner could record nothing about it); `Op:slow:MS` delays
/// each response of Op.
#[derive(Debug)]
pub struct Faults {
    rules: Mutex<HashMap<String, Vec<(String, u64)>>>,
}

impl Faults {
    pub fn from_env() -> Option<Faults> {
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
