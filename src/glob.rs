//! Globs as runner reads them everywhere (collect, analyze): `*`, `?` and
//! `[…]` within one path component, `**` across components.

/// A glob that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("the glob `{glob}` is not valid: {reason}")]
pub struct Error {
    pub glob: String,
    pub reason: String,
}

/// The globs as one set; a glob that does not parse is an error naming it.
pub fn glob_set(globs: &[String]) -> Result<globset::GlobSet, Error> {
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        let glob = globset::GlobBuilder::new(g)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| Error {
                glob: g.clone(),
                reason: e.kind().to_string(),
            })?;
        b.add(glob);
    }
    b.build().map_err(|e| Error {
        glob: globs.join(", "),
        reason: e.kind().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob_match(pattern: &str, path: &str) -> bool {
        glob_set(&[pattern.to_string()]).unwrap().is_match(path)
    }

    #[test]
    fn globs() {
        assert!(glob_match("*/tcp/stdout", "client-0/tcp/stdout"));
        assert!(!glob_match("*/tcp/stdout", "client-0/udp/stdout"));
        assert!(!glob_match("*/tcp/stdout", "a/b/tcp/stdout"));
        assert!(glob_match("**/*.hlog", "a/b/c.hlog"));
        assert!(glob_match("**/*.hlog", "c.hlog"));
        assert!(glob_match(
            "server-?/dstat/*.csv",
            "server-0/dstat/dstat.csv"
        ));
        assert!(!glob_match("*.csv", "x.csvx"));
        assert!(glob_match("client-[01]/*.csv", "client-1/a.csv"));
        assert!(!glob_match("client-[01]/*.csv", "client-2/a.csv"));
        // Linear, not exponential, on patterns with many stars.
        let long = format!("{}b", "a".repeat(60));
        assert!(!glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*c", &long));
        assert!(glob_set(&["a[".to_string()]).is_err());
    }
}
