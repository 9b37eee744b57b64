//! `aws-sdk-ec2`, re-exported whole. The SDK is the longest unit of a
//! cold build (minutes, one core), and Cargo starts first the ready units
//! that the most others wait for: runner's direct dependencies all tie,
//! so the SDK often started last. Behind this crate it (and everything it
//! needs) counts one dependent more and starts as soon as it can, while the
//! other core builds the rest. runner names it `aws_sdk_ec2` as before.
pub use aws_sdk_ec2::*;
