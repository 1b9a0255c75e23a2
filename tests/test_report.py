"""``badges report``: the HTML and Markdown documents, escaping, atomic writing, and what a browser shows.

The browser checks run headless Chromium (Debian's ``chromium``). CI starts from a clean
machine as root with apt reachable, so the session fixture installs it when it is missing.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

CHROMIUM = Path("/usr/bin/chromium")
STAMP = "2026-11-25T10:00:00Z"
HOSTILE_NAME = "<script>alert(1)</script> & Co"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Headless Chromium, installed with apt when the machine lacks it (as CI's clean machine does)."""
    if not CHROMIUM.exists():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.fail("these tests need /usr/bin/chromium: install the Debian package 'chromium'")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(command, check=True, env=env, capture_output=True, timeout=1800)
    return CHROMIUM


def browse(chromium: Path, page: Path, tmp_path: Path, *what: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium-profile'}"]
    return subprocess.run([str(chromium), *flags, *what, page.as_uri()], capture_output=True, text=True,
                          timeout=180, check=True)


@pytest.fixture
def portfolio(tmp_path):
    """The example partners plus one whose name and evidence are hostile markup."""
    folder = tmp_path / "partners"
    shutil.copytree(EXAMPLES, folder)
    (folder / "zz-hostile.yaml").write_text(
        "kind: partner\nid: hostile\n"
        f"name: \"{HOSTILE_NAME}\"\n"
        "description: \"**bold** | pipe [link](http://example.com) <img src=x onerror=alert(2)>\"\n"
        "facts:\n"
        "  share_women:\n    value: 0.3\n    source: self_reported\n"
        "    reference: \"<b>ref</b> `tick` | pipe\"\n")
    return folder


def _report(cli, portfolio, tmp_path, fmt):
    out = tmp_path / f"report.{fmt}"
    run = cli("report", portfolio, "--out", out, "--generated-at", STAMP)
    assert run.status == 0, run.err
    assert run.out == f"wrote {out} ({fmt}: 13 entities, {13 * 13} decisions)\n"
    return out


class Elements(HTMLParser):
    """Counts the elements of a page and collects its visible text."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def matrices(kb) -> int:
    """One matrix per partner pack and kind of reported conclusion in it."""
    return sum(len({c.kind for c in pack.conclusions.values() if c.is_reported}) for pack in kb.packs_for("partner"))


# ---------------------------------------------------------------- the HTML document itself

def test_html_is_self_contained_and_escapes_every_facts_value(cli, portfolio, tmp_path):
    html = _report(cli, portfolio, tmp_path, "html").read_text(encoding="utf-8")
    page = parse(html)
    assert "script" not in page.tags and "img" not in page.tags  # nothing from a facts file became markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert HOSTILE_NAME in "".join(page.text)
    # self-contained: no external stylesheet, script, image or font
    assert not [a for tag, a in page.attrs if tag in ("link", "img", "script", "iframe")]
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert page.tags.count("style") == 1 and "@media print" in html
    assert page.tags.count("details") >= 13 * 13  # every decision's trail is collapsible
    assert STAMP.replace("Z", ".000Z") in html


def test_html_carries_identity_matrix_trails_evidence_citations_and_to_qualify(cli, portfolio, tmp_path, bundled_kb):
    html = _report(cli, portfolio, tmp_path, "html").read_text(encoding="utf-8")
    assert bundled_kb.sha256 in html and f"{bundled_kb.name} v{bundled_kb.version}" in html
    assert html.count('<table class="matrix">') == matrices(bundled_kb)
    assert 'id="e5-client-voice"' in html and 'href="#e5-client-voice"' in html
    assert "Personal guarantor required for every loan." in html  # evidence behind a fact
    assert "seed <code>000_265ff2294ee979fe.txt</code>" in html  # the seed a rule cites
    assert "To qualify" in html and "change share_women: 42% → at least 50%" in html
    assert 'class="tone-good"' in html and 'class="tone-bad"' in html and 'class="tone-unknown"' in html


def test_same_facts_and_stamp_give_the_same_bytes(cli, portfolio, tmp_path, monkeypatch):
    first = _report(cli, portfolio, tmp_path, "html").read_bytes()
    monkeypatch.setenv("BADGES_NOW", STAMP)
    again = tmp_path / "again.html"
    assert cli("report", portfolio, "--out", again).status == 0
    assert again.read_bytes() == first


def test_a_failed_write_leaves_nothing_behind(cli, portfolio, tmp_path):
    target = tmp_path / "kept.html"
    target.write_text("the previous report")
    blocked = tmp_path / "locked"
    blocked.mkdir()
    run = cli("report", portfolio, "--out", blocked / "missing" / "r.html", "--generated-at", STAMP)
    assert run.status == 1 and re.match(r".*r\.html:0:0: BD503 cannot write the report: ", run.err)
    assert "Traceback" not in run.err
    # an invalid facts file stops the report before anything is written
    (portfolio / "broken.yaml").write_text("kind: partner\nid: broken\nname: B\nfacts:\n  share_women: 45%\n")
    run = cli("report", portfolio, "--out", target, "--generated-at", STAMP)
    assert run.status == 1 and "BD302" in run.err
    assert target.read_text() == "the previous report"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_write_that_fails_midway_keeps_the_previous_report(cli, tmp_path, monkeypatch):
    import errno

    target = tmp_path / "kept.html"
    target.write_text("the previous report")

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    run = cli("report", EXAMPLES / "crecer.yaml", "--out", target, "--generated-at", STAMP)
    assert run.status == 1 and run.err == f"{target}:0:0: BD503 cannot write the report: No space left on device\n"
    assert target.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.html"]  # the temporary file is gone


@pytest.mark.parametrize("args,message", [
    (["--generated-at", "yesterday"], "is not an ISO 8601 time"),
    (["--format", "pdf"], "invalid choice"),
])
def test_usage_errors(cli, tmp_path, args, message):
    run = cli("report", EXAMPLES / "crecer.yaml", "--out", tmp_path / "r.html", *args)
    assert run.status == 2 and message in run.err and not (tmp_path / "r.html").exists()


# ---------------------------------------------------------------- Markdown

def test_markdown_report_escapes_and_carries_every_section(cli, portfolio, tmp_path, bundled_kb):
    text = _report(cli, portfolio, tmp_path, "md").read_text(encoding="utf-8")
    assert "<script>" not in text and "\\<script\\>alert(1)\\</script\\> & Co" in text
    assert "\\*\\*bold\\*\\* \\| pipe \\[link\\](http://example.com) \\<img" in text
    assert f"- Rule base sha256: `{bundled_kb.sha256}`" in text
    assert "| Partner | Anti-Poverty Focus |" in text
    assert "#### To qualify" in text and "#### Explanation trail" in text
    assert "1. change share\\_clients\\_vulnerable\\_groups: 12% → at least 25% (overturns a known value)" in text
    assert "(seed `000\\_265ff2294ee979fe.txt`)" in text  # inside backticks the escape is harmless text
    # every matrix row has as many cells as the header
    for table in re.findall(r"(\| Partner \|.*?)\n\n", text, re.S):
        widths = {line.count(" |") for line in table.splitlines() if not line.startswith("|---")}
        assert len(widths) == 1, table


def test_format_follows_the_out_suffix(cli, tmp_path):
    out = tmp_path / "r.md"
    assert cli("report", EXAMPLES / "crecer.yaml", "--out", out, "--generated-at", STAMP).status == 0
    assert out.read_text(encoding="utf-8").startswith("# Decisions report\n")


# ---------------------------------------------------------------- what a reader sees in a browser

def test_chromium_shows_names_as_text_and_the_matrix(chromium, cli, portfolio, tmp_path, bundled_kb):
    page = _report(cli, portfolio, tmp_path, "html")
    dom = browse(chromium, page, tmp_path, "--dump-dom").stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in dom  # the browser kept it as text
    assert "<script" not in dom and "<img" not in dom
    assert dom.count('<table class="matrix">') == matrices(bundled_kb)
    assert "Drina Kredit (Bosnia and Herzegovina)" in dom and "To qualify" in dom


def test_chromium_screenshot_is_not_blank(chromium, cli, portfolio, tmp_path):
    from PIL import Image

    page = _report(cli, portfolio, tmp_path, "html")
    shot = tmp_path / "shot.png"
    browse(chromium, page, tmp_path, "--window-size=1280,1600", f"--screenshot={shot}")
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        assert rgb.size == (1280, 1600)
        colours = rgb.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # text, the coloured matrix cells and their borders, not one flat colour
    white = max(count for count, colour in colours if colour == (255, 255, 255))
    assert white < 0.95 * 1280 * 1600
    # the matrix's outcome colours are on screen (granted green, not granted red, undetermined amber)
    present = {colour for _, colour in colours}
    assert {(0xda, 0xfb, 0xe1), (0xff, 0xe4, 0xe0), (0xff, 0xf1, 0xc2)} <= present


def test_printing_shows_the_collapsed_trails(chromium, cli, tmp_path):
    """On paper nothing can be clicked open: the print styles expand every <details>."""
    page = tmp_path / "report.html"
    assert cli("report", EXAMPLES / "made-up-4-drina-kredit.yaml", "--out", page, "--generated-at", STAMP).status == 0
    opened = tmp_path / "opened.html"
    opened.write_text(page.read_text(encoding="utf-8").replace("<details class=", "<details open class="),
                      encoding="utf-8")

    def pages(html: Path) -> int:
        pdf = tmp_path / f"{html.stem}.pdf"
        browse(chromium, html, tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
        return len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))

    assert pages(page) == pages(opened) > 5


# ---------------------------------------------------------------- golden files (mini knowledge base)

@pytest.mark.parametrize("fmt", ["md", "html"])
def test_report_matches_its_golden_file(cli, tmp_path, monkeypatch, fmt):
    """The whole document for two partners of the mini knowledge base; BADGES_UPDATE_GOLDEN=1 rewrites it."""
    from tests.conftest import REPO
    from tests.golden import assert_golden

    monkeypatch.chdir(REPO)  # paths in the report are the ones given on the command line
    out = tmp_path / f"report.{fmt}"
    run = cli("report", "tests/golden_report/inputs", "--kb", "tests/fixtures/mini_kb", "--out", out,
              "--generated-at", STAMP)
    assert run.status == 0, run.err
    assert_golden(f"../golden_report/mini.{fmt}", out.read_text(encoding="utf-8"))
