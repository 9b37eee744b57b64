//! `Table` → bytes. CSV goes through the csv crate (RFC 4180, full
//! precision); Markdown, Mediawiki and Trac are minijinja templates
//! (`analysis/*.j2`, compiled in; a project's own `analysis/` overrides them).

use std::path::Path;

use minijinja::context;

pub use crate::kinds::Format;
use crate::table::Table;

/// A format's template: its name and runner's own text.
fn template(format: Format) -> (&'static str, &'static str) {
    let text = match format {
        Format::Csv => "",
        Format::Markdown => include_str!("../analysis/markdown.md.j2"),
        Format::Mediawiki => include_str!("../analysis/mediawiki.wiki.j2"),
        Format::Trac => include_str!("../analysis/trac.trac.j2"),
    };
    (format.template_name().unwrap_or(""), text)
}

pub fn render(table: &Table, format: Format, overrides: Option<&Path>) -> Result<String, String> {
    // Text from logs and hosts may carry control bytes (ESC, BEL): never
    // passed on to a terminal or a wiki, whatever the format.
    let table = &without_controls(table);
    if format == Format::Csv {
        return csv(table);
    }
    let (name, builtin) = template(format);
    let own = overrides.map(|d| d.join(name)).filter(|p| p.is_file());
    let text = match &own {
        Some(p) => fs_err::read_to_string(p).map_err(|e| e.to_string())?,
        None => builtin.to_string(),
    };
    let mut env = crate::template::environment();
    env.add_template(name, &text)
        .map_err(|e| format!("template {name}: {e}"))?;
    let columns: Vec<_> = table
        .columns
        .iter()
        .map(|c| context! { name => &c.name, unit => &c.unit, header => c.header(), numeric => c.numeric })
        .collect();
    let rows: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, c)| table.shown(i, c))
                .collect()
        })
        .collect();
    let tmpl = env.get_template(name).map_err(|e| e.to_string())?;
    tmpl.render(
        context! { title => &table.title, columns => columns, rows => rows, notes => &table.notes },
    )
    .map_err(|e| format!("template {name}: {e}"))
}

/// The table with every control byte of its text as a `\x1b`-style escape.
fn without_controls(table: &Table) -> Table {
    let clean = |s: &str| crate::style::escape_controls(s);
    Table {
        title: clean(&table.title),
        columns: table
            .columns
            .iter()
            .map(|c| crate::table::Column {
                name: clean(&c.name),
                unit: c.unit.as_deref().map(clean),
                ..c.clone()
            })
            .collect(),
        rows: table
            .rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|c| match c {
                        crate::table::Cell::Text(t) => crate::table::Cell::Text(clean(t)),
                        other => other.clone(),
                    })
                    .collect()
            })
            .collect(),
        notes: table.notes.iter().map(|n| clean(n)).collect(),
    }
}

fn csv(table: &Table) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(table.columns.iter().map(|c| c.header()))
        .map_err(|e| e.to_string())?;
    for row in &table.rows {
        w.write_record(row.iter().map(Table::exact))
            .map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Cell, Column};

    fn sample() -> Table {
        Table {
            title: "t".into(),
            columns: vec![
                Column::text("host"),
                Column::float("rate", Some("bit/s"), 2),
            ],
            rows: vec![vec![Cell::Text("a|b, \"c\"".into()), Cell::Float(1.23456)]],
            notes: vec!["computed from x".into()],
        }
    }

    #[test]
    fn every_format_from_one_table() {
        let t = sample();
        assert_eq!(
            render(&t, Format::Csv, None).unwrap(),
            "host,rate (bit/s)\n\"a|b, \"\"c\"\"\",1.23456\n"
        );
        assert_eq!(
            render(&t, Format::Markdown, None).unwrap(),
            "**t**\n\n| host | rate (bit/s) |\n|:--|--:|\n| a\\|b, \"c\" | 1.23 |\n\n\n\n_computed from x_\n"
        );
        assert_eq!(
            render(&t, Format::Mediawiki, None).unwrap(),
            "{| class=\"wikitable\"\n|+ t\n! host !! rate (bit/s)\n|-\n| a&#124;b, &#34;c&#34; || style=\"text-align:right\" | 1.23\n|}\n\n\n''computed from x''\n"
        );
        assert_eq!(
            render(&t, Format::Trac, None).unwrap(),
            "'''t'''\n\n||= host =||= rate (bit/s) =||\n|| {{{a|b, \"c\"}}} || 1.23 ||\n\n\n\n''computed from x''\n"
        );
    }
}
