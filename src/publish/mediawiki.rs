//! A page written through MediaWiki's action API: a login token, then
//! `action=login` with a bot password (`Name@bot`, Special:BotPasswords),
//! the page's latest revision, a CSRF token, and `action=edit` (`bot`,
//! `summary`, the section if asked). An edit is made on top of runner's
//! last revision (`basetimestamp`): what someone wrote since is merged by
//! the wiki or refused as an edit conflict, never overwritten silently.

use serde_json::Value;

use super::http::Client;
use super::{Error, Result};

/// Where and as whom a page is written.
pub struct Target<'a> {
    pub api: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    pub page: &'a str,
    pub section: Option<u32>,
    pub overwrite: bool,
}

/// The revision runner made last, if any (from the state).
pub struct Last<'a> {
    pub revision: Option<u64>,
    pub timestamp: Option<&'a str>,
}

/// The page's revision after the edit (the wiki's `nochange`: the one it had).
#[derive(Debug)]
pub struct Edited {
    pub revision: u64,
    pub timestamp: String,
    pub unchanged: bool,
}

/// The page's latest revision.
struct Latest {
    revision: u64,
    timestamp: String,
    user: String,
}

pub fn publish(t: &Target<'_>, text: &str, summary: &str, last: &Last<'_>) -> Result<Edited> {
    let mut wiki = Wiki {
        client: Client::new(t.api)?,
        api: t.api,
    };
    let account = wiki.login(t.user, t.password)?;
    let latest = wiki.latest(t.page)?;
    let base = base(t, last, latest.as_ref(), &account)?;
    let token = wiki.token("csrf")?;
    let section = t.section.map(|s| s.to_string());
    let mut fields = vec![
        ("action", "edit"),
        ("title", t.page),
        ("text", text),
        ("summary", summary),
        ("bot", "1"),
        ("assert", "user"),
        ("format", "json"),
        ("formatversion", "2"),
    ];
    if let Some(s) = &section {
        fields.push(("section", s));
    }
    let base_id = base.as_ref().map(|(r, _)| r.to_string());
    if let (Some(id), Some((_, ts))) = (&base_id, &base) {
        fields.push(("baserevid", id));
        fields.push(("basetimestamp", ts));
    }
    // Last: the token ends the form, so a cut-off request is refused whole.
    fields.push(("token", &token));
    let v = wiki.call(&fields, false)?;
    if let Some(e) = v.get("error") {
        return Err(refused(t, e, latest.as_ref(), last));
    }
    let edit = &v["edit"];
    if edit["result"] != "Success" {
        return Err(Error::new(format!(
            "the wiki did not save page {:?}: {edit}",
            t.page
        )));
    }
    if edit["nochange"].as_bool() == Some(true) {
        let latest = latest.ok_or_else(|| {
            Error::new("the wiki says nothing changed on a page it does not have")
        })?;
        return Ok(Edited {
            revision: latest.revision,
            timestamp: latest.timestamp,
            unchanged: true,
        });
    }
    Ok(Edited {
        revision: edit["newrevid"].as_u64().unwrap_or(0),
        timestamp: edit["newtimestamp"].as_str().unwrap_or("").to_string(),
        unchanged: false,
    })
}

/// What the edit is made on top of (a revision and its time): runner's
/// last revision; for a page runner never wrote, its latest revision if
/// runner's account made it or only a section is replaced; `overwrite`:
/// nothing.
fn base(
    t: &Target<'_>,
    last: &Last<'_>,
    latest: Option<&Latest>,
    account: &str,
) -> Result<Option<(u64, String)>> {
    if t.overwrite {
        return Ok(None);
    }
    if let (Some(r), Some(ts)) = (last.revision, last.timestamp) {
        return Ok(Some((r, ts.to_string())));
    }
    match latest {
        None => Ok(None),
        Some(l) if l.user == account || t.section.is_some() => {
            Ok(Some((l.revision, l.timestamp.clone())))
        }
        Some(l) => Err(Error::new(format!(
            "page {:?} exists and was last edited by {} at {} (revision {}), not by runner's account {account}: runner does not replace what others wrote; publish into a section of it (`section = 1`), to a page of its own, or set `overwrite = true` in the `[[publish]]`",
            t.page, l.user, l.timestamp, l.revision
        ))),
    }
}

/// The API's refusal of an edit, said with what to do.
fn refused(t: &Target<'_>, e: &Value, latest: Option<&Latest>, last: &Last<'_>) -> Error {
    let code = e["code"].as_str().unwrap_or("");
    let info = e["info"].as_str().unwrap_or("");
    let page = t.page;
    match code {
        "protectedpage" | "cascadeprotected" | "protectednamespace" | "protectedtitle"
        | "permissiondenied" => Error::new(format!(
            "page {page:?} is protected, and {} may not edit it ({code}: {info}); ask a wiki administrator to lift the protection, or give the bot password the grant to edit protected pages (Special:BotPasswords)",
            t.user
        )),
        "editconflict" => {
            let since = match (latest, last.revision) {
                (Some(l), Some(r)) => format!(
                    " (revision {} by {} at {}, after runner's revision {r})",
                    l.revision, l.user, l.timestamp
                ),
                _ => String::new(),
            };
            Error::new(format!(
                "edit conflict: page {page:?} was changed by someone else{since} where runner writes; runner does not overwrite it: merge by hand on the wiki and apply again, or set `overwrite = true` in the `[[publish]]`"
            ))
        }
        "cantcreate" | "noedit" | "noimageredirect" | "writeapidenied" => Error::new(format!(
            "{} may not {} page {page:?} ({code}: {info}); give the bot password the grants to edit and to create pages (Special:BotPasswords: \"Edit existing pages\", \"Create, edit, and move pages\")",
            t.user,
            if code == "cantcreate" {
                "create"
            } else {
                "edit"
            }
        )),
        "assertuserfailed" | "badtoken" | "notloggedin" => Error::new(format!(
            "the wiki forgot runner's login while editing page {page:?} ({code}: {info}); its session cookies may not reach it (a proxy, another host name): apply again"
        )),
        _ => Error::new(format!(
            "the wiki refused the edit of page {page:?}: {code}: {info}"
        )),
    }
}

struct Wiki<'a> {
    client: Client,
    api: &'a str,
}

impl Wiki<'_> {
    /// Logs in; the account's name (`Perfbot` of `Perfbot@runner`).
    fn login(&mut self, user: &str, password: &str) -> Result<String> {
        let token = self.token("login")?;
        let v = self.call(
            &[
                ("action", "login"),
                ("lgname", user),
                ("lgpassword", password),
                ("format", "json"),
                ("formatversion", "2"),
                ("lgtoken", &token),
            ],
            false,
        )?;
        let login = &v["login"];
        if login["result"] == "Success" {
            return Ok(login["lgusername"].as_str().unwrap_or(user).to_string());
        }
        let why = login["reason"]
            .as_str()
            .map(str::to_string)
            .or_else(|| v["error"]["info"].as_str().map(str::to_string))
            .unwrap_or_else(|| login["result"].to_string());
        Err(Error::new(format!(
            "the wiki at {} refused the login of {user}: {}; check the bot password (Special:BotPasswords: the user is `Name@bot`, the password the 32 letters and digits it gave)",
            self.api,
            why.trim()
        )))
    }

    fn token(&mut self, kind: &str) -> Result<String> {
        let v = self.call(
            &[
                ("action", "query"),
                ("meta", "tokens"),
                ("type", kind),
                ("format", "json"),
                ("formatversion", "2"),
            ],
            true,
        )?;
        v["query"]["tokens"][format!("{kind}token")]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                Error::new(format!(
                    "the wiki at {} gave no {kind} token: {v}",
                    self.api
                ))
            })
    }

    fn latest(&mut self, page: &str) -> Result<Option<Latest>> {
        let v = self.call(
            &[
                ("action", "query"),
                ("prop", "revisions"),
                ("titles", page),
                ("rvprop", "ids|timestamp|user"),
                ("format", "json"),
                ("formatversion", "2"),
            ],
            true,
        )?;
        let p = &v["query"]["pages"][0];
        if p["invalid"].as_bool() == Some(true) {
            return Err(Error::new(format!(
                "the wiki says {page:?} cannot be a page title: {}",
                p["invalidreason"].as_str().unwrap_or("")
            )));
        }
        let r = &p["revisions"][0];
        Ok(r["revid"].as_u64().map(|revision| Latest {
            revision,
            timestamp: r["timestamp"].as_str().unwrap_or("").to_string(),
            user: r["user"].as_str().unwrap_or("").to_string(),
        }))
    }

    /// One API call (GET for queries, POST for the rest), its JSON.
    fn call(&mut self, fields: &[(&str, &str)], get: bool) -> Result<Value> {
        let r = if get {
            self.client.get(fields)?
        } else {
            self.client.post(fields)?
        };
        if let (300..=399, Some(to)) = (r.status, &r.location) {
            return Err(Error::new(format!(
                "the wiki at {} answered {}: moved to {to}; set `wiki` to the API's URL there",
                self.api, r.status
            )));
        }
        serde_json::from_slice(&r.body).map_err(|_| {
            let body = String::from_utf8_lossy(&r.body);
            let start: String = body.chars().take(200).collect();
            Error::new(format!(
                "{} answered {} with what is not the API's JSON ({start:?}); is `wiki` the wiki's api.php?",
                self.api, r.status
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(section: Option<u32>, overwrite: bool) -> Target<'static> {
        Target {
            api: "http://w/api.php",
            user: "Bot@runner",
            password: "p",
            page: "P",
            section,
            overwrite,
        }
    }

    #[test]
    fn an_edit_goes_on_top_of_runners_revision_and_never_over_someone_elses_page() {
        let theirs = Latest {
            revision: 7,
            timestamp: "2026-12-01T00:00:00Z".into(),
            user: "Alice".into(),
        };
        let none = Last {
            revision: None,
            timestamp: None,
        };
        let ours = Last {
            revision: Some(5),
            timestamp: Some("2026-11-30T00:00:00Z"),
        };
        // Runner's last revision is the base, whoever edited since.
        let got = base(&target(None, false), &ours, Some(&theirs), "Bot").unwrap();
        assert_eq!(got, Some((5, "2026-11-30T00:00:00Z".to_string())));
        // A page runner never wrote: someone else's is refused whole…
        let e = base(&target(None, false), &none, Some(&theirs), "Bot").unwrap_err();
        assert!(e.message.contains("last edited by Alice"), "{e}");
        // …but a section of it, or its own account's page, is edited on top.
        let theirs_base = Some((7, "2026-12-01T00:00:00Z".to_string()));
        let got = base(&target(Some(1), false), &none, Some(&theirs), "Bot").unwrap();
        assert_eq!(got, theirs_base);
        let got = base(&target(None, false), &none, Some(&theirs), "Alice").unwrap();
        assert_eq!(got, theirs_base);
        // A new page, or `overwrite`: no base.
        assert_eq!(
            base(&target(None, false), &none, None, "Bot").unwrap(),
            None
        );
        assert_eq!(
            base(&target(None, true), &ours, Some(&theirs), "Bot").unwrap(),
            None
        );
    }
}
