"""A person's visit, in headless Chromium (Debian's `chromium`; `make chromium` installs it): open
a database crawled from the mirror, follow the link to the articles, type `cao bang` in the search
box, press Enter, click the best match, read the article. Screenshots go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.datasette_site import crawled_db, served

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
TITLE = "Đoàn công tác Tỉnh ủy Hải Dương thăm và làm việc tại Cao Bằng"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--hide-scrollbars", "--window-size=1280,2000", "--remote-debugging-port=0")


def chromium_path() -> str:
    path = shutil.which("chromium")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: `make chromium` (apt-get install chromium) must run before the tests")
        pytest.skip("chromium is not installed (`make chromium`, as root)")
    return path


class Browser:
    """Just enough of the Chrome DevTools protocol to type, press keys, click and take screenshots."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for_load(self, timeout: float = 30) -> None:
        """Until the page that a navigation, an Enter or a click started has loaded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == "Page.loadEventFired" for e in self.events):
                self.events.clear()
                return
            try:
                self.events.append(json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
            except TimeoutError:
                break
        raise TimeoutError("the page did not load")

    def open(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_for_load()

    def js(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def type(self, text: str) -> None:
        self.send("Input.insertText", text=text)

    def press_enter(self) -> None:
        self.events.clear()
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13,
                      **({"text": "\r"} if kind == "keyDown" else {}))
        self.wait_for_load()

    def click(self, selector: str) -> None:
        box = self.js(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            e.scrollIntoView({{block: "center"}}); const r = e.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        self.events.clear()
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        self.wait_for_load()

    def screenshot(self, path: Path) -> Path:
        self.js("window.scrollTo(0, 0)")
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))
        return path



@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from websockets.sync.client import connect

    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen([chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in proc.stderr:  # "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/..."
            if line.startswith("DevTools listening on ws://"):
                port = line.split("ws://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]
                break
        assert port, "chromium did not open its DevTools port"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            yield Browser(ws)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with served(crawled_db(tmp_path_factory.getbasetemp())) as base:
        yield base


def test_a_person_searches_cao_bang_and_reads_the_article(browser, site):
    ARTIFACTS.mkdir(exist_ok=True)
    browser.open(site + "/news")
    browser.click("a[href='/news/articles_view']")  # "Browse and search the articles →"
    assert browser.js("document.querySelector('h1').innerText").startswith("Articles (Bài báo)")

    browser.js("document.querySelector('input#_search').focus()")
    browser.type("cao bang")
    browser.press_enter()
    assert "_search=cao+bang" in browser.js("location.search")
    seen = browser.js("document.body.innerText")
    assert "Best matches for “cao bang”" in seen
    assert browser.js("document.querySelector('section.vn-best li a').innerText") == TITLE
    assert "rows where search matches" in seen
    for facet in ("paper", "province", "category", "month"):
        assert browser.js(f"!!document.querySelector('.facet-info[data-column=\"{facet}\"]')"), facet
    results = browser.screenshot(ARTIFACTS / "browser-search-cao-bang.png")

    browser.click("section.vn-best li a")
    assert "/news/articles/" in browser.js("location.pathname")
    assert browser.js("document.querySelector('article.vn-article h1').innerText") == TITLE
    paragraphs = browser.js("[...document.querySelectorAll('article.vn-article p.vn-paragraph')].map(p => p.innerText)")
    assert len(paragraphs) >= 3 and all(len(p) > 40 for p in paragraphs)
    # Paragraphs are laid out one below the other, not run together in one blob.
    tops = browser.js("[...document.querySelectorAll('article.vn-article p.vn-paragraph')]"
                      ".map(p => p.getBoundingClientRect().top)")
    assert tops == sorted(tops) and len(set(tops)) == len(tops)
    link = browser.js("""(() => { const a = [...document.querySelectorAll('article.vn-article a')]
        .find(a => a.innerText.startsWith('Đọc bài gốc')); return a && a.href; })()""")
    assert link and link.startswith("https://baocaobang.vn/")
    assert "Thế Hiển" in browser.js("document.querySelector('article.vn-article').innerText")
    article = browser.screenshot(ARTIFACTS / "browser-article-cao-bang.png")
    print(f"\nscreenshots: {results} {article}")
    assert results.stat().st_size > 10_000 and article.stat().st_size > 10_000
