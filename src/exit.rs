//! How a command ends, as its exit status: the one place the numbers are
//! written. The README's table of exit codes is tested against this.

/// A command's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It did what was asked; `plan`: also, no changes.
    Success,
    /// Something failed (the message says what), or the user said no.
    Failure,
    /// `plan --detailed-exitcode`: there are changes to apply.
    Changes,
    /// Everything ran, but a `[[check]]` failed.
    ChecksFailed,
}

impl Exit {
    pub const ALL: [Exit; 4] = [
        Exit::Success,
        Exit::Failure,
        Exit::Changes,
        Exit::ChecksFailed,
    ];

    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Changes => 2,
            Exit::ChecksFailed => 3,
        }
    }

    /// What the code means, as the README's table says it.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success (`plan`: no changes)",
            Exit::Failure => {
                "an error: bad input, a failed node, a refused or stale plan, a cancelled confirmation"
            }
            Exit::Changes => "`plan --detailed-exitcode`: there are changes",
            Exit::ChecksFailed => {
                "everything ran, but a `[[check]]` failed (`apply`, `check`), or `history --changes` found a change for the worse"
            }
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table of exit codes is this enum's.
    #[test]
    fn the_readme_table_is_the_enum() {
        let readme = include_str!("../README.md");
        let rows: Vec<(u8, &str)> = readme
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").collect();
                let code = cells.first()?.trim().parse::<u8>().ok()?;
                (cells.len() == 2).then(|| (code, cells[1].trim()))
            })
            .collect();
        let enum_rows: Vec<(u8, &str)> =
            Exit::ALL.iter().map(|e| (e.code(), e.meaning())).collect();
        assert_eq!(rows, enum_rows);
    }
}
