#!/usr/bin/env python3
"""mw.py: a scratch MediaWiki for the publish tests, and what they ask of it.

  mw.py setup DIR            install a wiki (SQLite) in DIR, a bot password
                             `Admin@runner` (password on stdout) that may
                             create and edit pages (not protected ones), and
                             a second user, `Other`
  mw.py revisions API PAGE   the page's revisions, newest first, as JSON
                             [{"revid": .., "user": ..}] ([] if it is missing)
  mw.py cells API PAGE       the page as the wiki renders it (action=parse):
                             JSON {"headers": [[..]..], "rows": [[..]..]} of
                             every table
  mw.py text API PAGE        the page's wikitext (its latest revision)
  mw.py edit DIR PAGE USER   save stdin as PAGE, by USER (maintenance script)
  mw.py protect DIR PAGE     protect PAGE: only administrators may edit it

The wiki is served by `php -S` with MW_CONFIG_FILE=DIR/conf/LocalSettings.php
(the tests start and stop it by PID)."""
import json, os, subprocess, sys, urllib.parse, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cells  # noqa: E402

MW = cells.MW
# A bot password is 32 characters of [0-9a-w]: MediaWiki tells it from a
# main password by that.
BOT_PASSWORD = "0123456789abcdefghijklmnopqrstuv"


def conf(d):
    return os.path.join(d, "conf", "LocalSettings.php")


def php(script, *args, text=None):
    return subprocess.run(["php", f"{MW}/maintenance/{script}", "--conf", *args], input=text,
                          capture_output=True, text=True, check=True).stdout


def setup(d):
    cells.setup(d)
    php("createBotPassword.php", conf(d), "--appid", "runner", "--grants",
        "basic,editpage,createeditmovepage,highvolume", "Admin", BOT_PASSWORD)
    php("createAndPromote.php", conf(d), "Other", "other-password-of-runner-tests")
    print(BOT_PASSWORD)


def api(url, **params):
    params.update(format="json", formatversion="2")
    with urllib.request.urlopen(url + "?" + urllib.parse.urlencode(params), timeout=60) as r:
        return json.load(r)


def revisions(url, page):
    p = api(url, action="query", prop="revisions", titles=page, rvprop="ids|user", rvlimit="max")
    return [{"revid": r["revid"], "user": r["user"]} for r in p["query"]["pages"][0].get("revisions", [])]


def tables(url, page):
    html = api(url, action="parse", page=page, prop="text")["parse"]["text"]
    out, rest = [], html
    while "<table" in rest:
        start = rest.index("<table")
        end = rest.index("</table>", start) + len("</table>")
        p = cells.Cells()
        p.feed(rest[start:end])
        rows = [r for r in p.rows if r]
        out.append({"title": p.title, "headers": rows[0] if rows else [], "rows": rows[1:]})
        rest = rest[end:]
    return out


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "setup":
        setup(args[0])
    elif cmd == "revisions":
        print(json.dumps(revisions(args[0], args[1])))
    elif cmd == "cells":
        print(json.dumps(tables(args[0], args[1])))
    elif cmd == "text":
        p = api(args[0], action="query", prop="revisions", titles=args[1], rvprop="content", rvslots="main")
        print(p["query"]["pages"][0]["revisions"][0]["slots"]["main"]["content"])
    elif cmd == "edit":
        php("edit.php", conf(args[0]), "--user", args[2], args[1], text=sys.stdin.read())
    elif cmd == "protect":
        php("protect.php", conf(args[0]), "--user", "Admin", args[1])
    else:
        raise SystemExit(f"unknown command {cmd}")
