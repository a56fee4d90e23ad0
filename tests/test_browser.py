"""The HTML report in a real browser: headless Chromium, driven over the DevTools protocol.

Chromium runs with ``--remote-debugging-pipe`` (the protocol on file descriptors 3 and 4), so
no extra Python package and no port are needed. The page must load with no console error, no
script error and no network request; a screenshot goes to tests/artifacts/report.png.
"""

import base64
import fcntl
import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest

from conftest import FakeEmbedder
from test_report import open_coded_study
from themesift.export.report import export_report

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
# Offline machine: without these, Chromium tries to reach Google's services.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--mute-audio", "--remote-debugging-pipe"]

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium; "
           "'make' installs it)")


class _Browser:
    """One headless Chromium, spoken to in DevTools-protocol messages over a pipe."""

    def __init__(self, profile: Path, timeout: float = 60):
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        # Above 4, so that moving them to 3 and 4 in the child cannot overwrite one another.
        keep = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser, from_browser)]
        os.close(to_browser)
        os.close(from_browser)

        def pipe_on_3_and_4():
            os.dup2(keep[0], 3)
            os.dup2(keep[1], 4)

        self._process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=pipe_on_3_and_4, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in keep:
            os.close(fd)
        self._deadline = time.monotonic() + timeout
        self._buffer = b""
        self._next_id = 0
        self.events = []

    def call(self, method, session=None, **params):
        """Send a command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method):
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._receive())

    def _receive(self):
        while b"\0" not in self._buffer:
            left = self._deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.call("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._write)
        os.close(self._read)


def open_page(page: Path, profile: Path, screenshot: Path | None = None, script: str = "1",
              keys: tuple[str, ...] = (), before: str = "1", width: int = 1280):
    """Load ``page`` in headless Chromium, run ``before`` in it, press ``keys`` (names of
    keys, as "Enter" or " ", sent as real key presses to whatever has the focus), run
    ``script``, and take a screenshot, in a viewport ``width`` CSS pixels wide.

    Returns the problems seen (an empty list when the page is clean) and the script's value.

    Problems: console errors and failed assertions, uncaught script errors, browser log
    errors (blocked or failed loads, security policy violations), and any request that is
    not for the page itself or inline data.
    """
    browser = _Browser(profile)
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            browser.call(f"{domain}.enable", session)
        browser.call("Emulation.setDeviceMetricsOverride", session, width=width, height=2400,
                     deviceScaleFactor=1, mobile=False)
        browser.call("Page.navigate", session, url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        browser.call("Runtime.evaluate", session, expression=before)
        for key in keys:
            code = {"Enter": 13, " ": 32, "Tab": 9}[key]
            text = {"Enter": "\r", " ": " "}.get(key, "")
            for kind in ("keyDown", "keyUp"):
                browser.call("Input.dispatchKeyEvent", session, type=kind, key=key,
                             windowsVirtualKeyCode=code, text=text if kind == "keyDown" else "")
        value = browser.call("Runtime.evaluate", session, expression=script,
                             returnByValue=True)["result"].get("value")
        if screenshot is not None:
            shot = browser.call("Page.captureScreenshot", session, format="png")
            screenshot.write_bytes(base64.b64decode(shot["data"]))
    finally:
        browser.close()
    return _problems(browser.events, page.resolve().as_uri()), value


def _problems(events, own_url):
    problems = []
    for event in events:
        method, p = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            problems.append("console error: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif method == "Runtime.exceptionThrown":
            details = p["exceptionDetails"]
            problems.append("script error: " + details.get("exception", {}).get(
                "description", details.get("text", "")))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            problems.append(f"browser error: {p['entry']['text']} {p['entry'].get('url', '')}")
        elif method == "Network.requestWillBeSent":
            url = p["request"]["url"]
            if url != own_url and not url.startswith(("data:", "about:")):
                problems.append(f"network request: {url}")
        elif method == "Network.loadingFailed":
            problems.append(f"failed load: {p.get('errorText')} {p.get('blockedReason', '')}")
    return problems


# Click the first header of the per-transcript table; read the transcripts' new order.
SORT_BY_TRANSCRIPT = """(() => {
  const table = document.querySelector('#prevalence table.sortable');
  table.tHead.rows[0].cells[0].click();
  return Array.from(table.tBodies[0].rows, row => row.cells[0].textContent).join(',');
})()"""


# The per-transcript table as the keyboard leaves it: focus, the order, the column's aria-sort.
FOCUS_TRANSCRIPT_HEADER = """document.querySelector('#prevalence table.sortable')
  .tHead.rows[0].cells[0].querySelector('button').focus()"""
READ_SORTED = """(() => {
  const table = document.querySelector('#prevalence table.sortable');
  const th = table.tHead.rows[0].cells[0];
  return [document.activeElement === th.querySelector('button'),
          Array.from(table.tBodies[0].rows, row => row.cells[0].textContent).join(','),
          th.getAttribute('aria-sort')];
})()"""


@pytest.fixture
def study_report(tmp_path, monkeypatch):
    """The report of a small study with decisions and a map."""
    with open_coded_study(tmp_path / "s", monkeypatch) as study:
        return export_report(study, tmp_path / "report.html", embedder=FakeEmbedder())


def test_report_opens_in_chromium_without_errors_or_requests(study_report, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    problems, order = open_page(study_report, tmp_path / "profile", screenshot, SORT_BY_TRANSCRIPT)
    assert problems == []
    assert order == "fg_c,fg_b,fg_a"  # the optional sorting script works (descending first)
    assert screenshot.read_bytes().startswith(b"\x89PNG")


def test_report_tables_sort_with_the_keyboard(study_report, tmp_path):
    problems, value = open_page(study_report, tmp_path / "profile", before=FOCUS_TRANSCRIPT_HEADER,
                                keys=("Enter",), script=READ_SORTED)
    assert problems == []
    assert value == [True, "fg_c,fg_b,fg_a", "descending"]
    _, value = open_page(study_report, tmp_path / "profile2", before=FOCUS_TRANSCRIPT_HEADER,
                         keys=("Enter", " "), script=READ_SORTED)  # Space sorts the other way
    assert value == [True, "fg_a,fg_b,fg_c", "ascending"]


@pytest.mark.parametrize("script, expected", [
    ("console.error('deliberate ' + 'failure')", "console error: deliberate failure"),
    ("notDefinedAnywhere()", "script error: ReferenceError: notDefinedAnywhere is not defined"),
])
def test_a_page_with_errors_is_caught(tmp_path, script, expected):
    page = tmp_path / "bad.html"
    page.write_text(f"<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head>"
                    f"<body><p>bad</p><script>{script}</script></body></html>")
    assert any(p.startswith(expected) for p in open_page(page, tmp_path / "profile")[0])


def test_a_page_fetching_from_the_network_is_caught(tmp_path):
    page = tmp_path / "fetching.html"
    page.write_text("<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head><body>"
                    "<img src='http://127.0.0.1:9/tracker.png' alt=''></body></html>")
    problems, _ = open_page(page, tmp_path / "profile")
    assert "network request: http://127.0.0.1:9/tracker.png" in problems


def test_the_report_itself_blocks_any_request(study_report, tmp_path):
    """Even markup that slipped through unescaped could not fetch: the page's policy blocks it."""
    html = study_report.read_text(encoding="utf-8")
    study_report.write_text(html.replace("</body>", "<img src='http://127.0.0.1:9/x.png'></body>"),
                            encoding="utf-8")
    problems, _ = open_page(study_report, tmp_path / "profile")
    assert any(p.startswith("browser error") and "Content Security Policy" in p
               for p in problems)
    assert any(p.startswith("failed load") and p.endswith("csp") for p in problems)



# How wide the page is, and whether every legend entry sits inside the screen.
PAGE_WIDTH = """[document.documentElement.scrollWidth,
  Array.from(document.querySelectorAll('.legend span'))
    .every(span => span.getBoundingClientRect().right <= window.innerWidth)]"""


def test_report_does_not_scroll_sideways_on_a_narrow_screen(study_report, tmp_path):
    """At 400 px (a phone) the legends wrap and wide tables and charts scroll in their own
    boxes: the page itself never scrolls sideways."""
    ARTIFACTS.mkdir(exist_ok=True)
    problems, (width, legends_fit) = open_page(study_report, tmp_path / "profile",
                                               ARTIFACTS / "report_400.png", PAGE_WIDTH,
                                               width=400)
    assert problems == []
    assert width <= 400
    assert legends_fit
