//! Integration tests: the built `runner` binary on temp dirs, against real
//! OpenSSH sshd processes on 127.0.0.1. One test binary, one link step.

mod analysis;
mod checks;
mod common;
mod ec2;
mod examples;
mod faults;
mod hardening;
mod history;
mod hosts;
mod house;
mod local;
mod malformed;
mod monitoring;
mod network;
mod network_faults;
mod operator;
mod publish;
mod report;
mod saved_plan;
mod series;
mod series_faults;
mod static_hosts;
mod stats;
mod tools;
mod trials;
mod uploads;
mod wiki;
