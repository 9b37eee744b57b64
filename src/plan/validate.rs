//! `RawPlan` → `Plan`: names, references, resource files, provider facts.
//! Every problem becomes a `Diagnostic`; all of them are returned together.

use std::path::Path;

use super::model::{Plan, Provider};
use super::syntax::RawPlan;
use super::values;
use crate::diag::Diagnostic;

pub struct Context<'a> {
    pub file: &'a Path,
    pub file_hash: String,
    /// Resource paths are relative to this directory (the working directory).
    pub base: &'a Path,
}

pub fn validate(raw: RawPlan, cx: Context<'_>) -> Result<Plan, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let name = plan_name(&raw, &mut diags);
    let provider = provider_kind(&raw, &mut diags);
    let ec2 = provider
        .is_ec2()
        .then(|| super::ec2::validate_config(&raw, &name, &mut diags))
        .flatten();
    if !provider.is_ec2() {
        super::ec2::refuse_ec2_keys(&raw, &mut diags);
    }
    let network = super::network::network(&raw, &provider, &mut diags);
    let groups = super::groups::validate_groups(&raw, &provider, &network, &mut diags);
    if let Some(config) = &ec2 {
        super::ec2::check_groups(&raw, config, &groups, &mut diags);
    }
    if raw.groups.is_empty() {
        diags.push(
            Diagnostic::new("the plan defines no groups", Some(0..0))
                .help("add a group, for example `[groups.server]` with `count = 1`"),
        );
    }
    let mut steps = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        if let Some(step) = super::steps::validate_step(
            s,
            &raw.steps[..i],
            &raw.steps,
            &groups,
            cx.base,
            &mut diags,
        ) {
            steps.push(step);
        }
    }
    let mut analyses = super::analyses::validate_analyses(&raw, &mut diags);
    let mut monitors = super::trial::validate_monitors(&raw, &groups, &mut diags);
    let tests = super::trial::validate_tests(&raw, &groups, &mut diags);
    let taken: Vec<String> = monitors
        .iter()
        .map(|m| m.name.clone())
        .chain(tests.iter().map(|t| t.name.clone()))
        .collect();
    monitors.extend(super::monitoring::expand(
        &raw, &name, &groups, &taken, &mut diags,
    ));
    let collects = super::trial::validate_collects(&raw, &groups, &mut diags);
    let checks = super::checks::validate(&raw, &analyses, &mut diags);
    let series = super::series::validate(&raw, &groups, &tests, &mut diags);
    let publishes = super::publish::validate(&raw, &mut analyses, cx.base, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Plan {
        name,
        file: cx.file.to_path_buf(),
        file_hash: cx.file_hash,
        provider,
        workdir: raw.provider.workdir.as_ref().map(|w| w.value.clone()),
        ec2,
        network,
        vars: raw.vars,
        groups,
        steps,
        monitors,
        tests,
        collects,
        analyses,
        checks,
        series,
        publishes,
    })
}

fn plan_name(raw: &RawPlan, diags: &mut Vec<Diagnostic>) -> String {
    match &raw.name {
        None => {
            diags.push(
                Diagnostic::new("the plan has no `name`", Some(0..0))
                    .help("add `name = \"my-test\"` at the top (lowercase letters, digits, `-`)"),
            );
            String::new()
        }
        Some(n) => {
            values::check_name(n, "plan name", diags);
            n.value.clone()
        }
    }
}

fn provider_kind(raw: &RawPlan, diags: &mut Vec<Diagnostic>) -> Provider {
    let Some(k) = &raw.provider.kind else {
        return Provider::default();
    };
    Provider::parse(&k.value).unwrap_or_else(|| {
        diags.push(values::unknown(
            "provider",
            &k.value,
            k.span.clone(),
            &Provider::names(),
        ));
        Provider::default()
    })
}
