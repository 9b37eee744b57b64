#!/usr/bin/env python3
"""cells.py ENGINE FILE [WIKI_DIR]: render a table file of runner's with a
real wiki engine and print what a reader sees, as JSON: the title, the
header cells, the body cells, the notes (text of the italic lines), and
the links the engine made (there should be none).

ENGINE: `mediawiki` (MediaWiki's parser, maintenance/parse.php, in the
scratch wiki WIKI_DIR made by `cells.py setup WIKI_DIR`), `mediawiki-saved`
(the page saved first — edit.php, getText.php — so that the pre-save
transform runs: signatures, subst), `trac` (Trac's formatter; run with a
Python that has Trac), `gfm` (cmark-gfm with GitHub's extensions)."""
import html.parser, json, os, subprocess, sys

MW = "/usr/share/mediawiki"


class Cells(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title, self.headers, self.rows, self.notes, self.links = None, [], [], [], []
        self.stack, self.text, self.in_table = [], None, 0

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs).get("href"))
        if tag == "br" and self.text is not None:
            self.text.append("\n")
        if tag == "table":
            self.in_table += 1
        if tag == "tr" and self.in_table:
            self.rows.append([])
        if tag in ("td", "th", "caption") or (tag in ("strong", "b", "em", "i") and not self.in_table and self.text is None):
            self.stack.append(tag)
            self.text = []

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table -= 1
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
            text = "".join(self.text).strip()
            self.text = None
            if tag in ("td", "th"):
                self.rows[-1].append(text)
            elif tag in ("caption", "strong", "b") and self.title is None:
                self.title = text
            elif tag in ("em", "i"):
                self.notes.append(text)

    def handle_data(self, data):
        if self.text is not None:
            self.text.append(data)


def render(engine, path, wiki):
    text = open(path, encoding="utf-8").read()
    conf = os.path.join(wiki or "", "conf/LocalSettings.php")
    if engine == "mediawiki":
        return subprocess.run(["php", f"{MW}/maintenance/parse.php", "--conf", conf, "--title", "T"],
                              input=text, capture_output=True, text=True, check=True).stdout
    if engine == "mediawiki-saved":
        subprocess.run(["php", f"{MW}/maintenance/edit.php", "--conf", conf, "--user", "Admin", "Runner table"],
                       input=text, capture_output=True, text=True, check=True)
        saved = subprocess.run(["php", f"{MW}/maintenance/getText.php", "--conf", conf, "Runner table"],
                               capture_output=True, text=True, check=True).stdout
        return subprocess.run(["php", f"{MW}/maintenance/parse.php", "--conf", conf, "--title", "Runner table"],
                              input=saved, capture_output=True, text=True, check=True).stdout
    if engine == "trac":
        from trac.test import EnvironmentStub, MockRequest
        from trac.wiki.formatter import format_to_html
        from trac.web.chrome import web_context
        from trac.resource import Resource
        env = EnvironmentStub(enable=["trac.*"])
        ctx = web_context(MockRequest(env), Resource("wiki", "T"))
        return str(format_to_html(env, ctx, text))
    if engine == "gfm":
        return subprocess.run(["cmark-gfm", "-e", "table", "-e", "strikethrough", "-e", "autolink", "-e", "tagfilter"],
                              input=text, capture_output=True, text=True, check=True).stdout
    raise SystemExit(f"unknown engine {engine}")


def setup(wiki):
    os.makedirs(os.path.join(wiki, "conf"), exist_ok=True)
    os.makedirs(os.path.join(wiki, "db"), exist_ok=True)
    subprocess.run(["php", f"{MW}/maintenance/install.php", "--dbtype", "sqlite", "--dbpath", os.path.join(wiki, "db"),
                    "--dbname", "wiki", "--server", "http://127.0.0.1", "--scriptpath", "", "--confpath",
                    os.path.join(wiki, "conf"), "--pass", "scratch-wiki-password-of-runner-tests", "Wiki", "Admin"],
                   capture_output=True, text=True, check=True)


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(sys.argv[2])
        sys.exit(0)
    out = render(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    p = Cells()
    p.feed(out)
    rows = [r for r in p.rows if r]
    headers = rows[0] if rows else []
    print(json.dumps({"title": p.title, "headers": headers, "rows": rows[1:], "notes": p.notes,
                      "links": p.links, "html": out}))
