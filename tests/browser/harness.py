"""What the browser tests share (tests/browser/*_test.py): one headless Debian chromium driven by
Playwright for Python, a screenshot and an axe-core run of every page a flow reaches, the flows
run in order with their outcomes, a webhook receiver and a call to the API.

Every page the flows reach is saved as a screenshot under SCREENSHOT_DIR (named by page) and
checked with axe-core: a violation of impact serious or critical fails the run. axe's source is
evaluated through the DevTools protocol (page.evaluate), which the page's Content-Security-Policy
does not govern, so the pages run under their real CSP throughout (no bypass_csp): a CSP report in
the console, an uncaught script error or any alert() fails the run.

Environment: DODO_BASE_URL, DODO_API_KEY (a full-scope key), CHROMIUM (the browser's path),
AXE_JS (axe.min.js), SCREENSHOT_DIR, BROWSER_TIMEOUT_MS.
"""

import http.server
import json
import os
import shutil
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

from playwright.sync_api import expect, sync_playwright

BASE = os.environ["DODO_BASE_URL"].rstrip("/")
KEY = os.environ["DODO_API_KEY"]
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AXE_JS = os.environ["AXE_JS"]
SHOTS = os.environ.get("SCREENSHOT_DIR") or os.path.join(os.getcwd(), ".local", "screenshots")
# Local pages answer in well under a second; the 2 shared cores and cold function instances
# (the first request to each function starts its process) need more.
TIMEOUT_MS = int(os.environ.get("BROWSER_TIMEOUT_MS", "30000"))
FAILING_IMPACTS = ("serious", "critical")
RUN = str(int(time.time() * 1000))


class NotYetAvailable(Exception):
    """A page of the flow answers 404: it is still being built."""


class Browser:
    """One browser, one context, one tab: the flows run in order and share it."""

    # Console lines that are not problems (a subclass adds its own).
    expected_console = ()

    def __init__(self, context):
        self.context = context
        self.page = context.pages[0] if context.pages else context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        self.axe_source = open(AXE_JS, encoding="utf-8").read()
        self.axe = {}            # page name -> {impact: count}
        self.axe_failures = []   # "page: rule (impact)"
        self.shots = []
        self.problems = []       # CSP reports, script errors, dialogs
        self.page.on("dialog", self.on_dialog)
        self.page.on("pageerror", lambda e: self.problems.append(f"uncaught script error: {e}"))
        self.page.on("console", self.on_console)

    def on_dialog(self, dialog):
        # Only the confirmations of app.js (data-confirm on a destructive button) are expected.
        if dialog.type == "confirm":
            print(f"    (confirm accepted: {dialog.message!r})")
            dialog.accept()
        else:
            self.problems.append(f"a {dialog.type} dialog fired: {dialog.message!r}")
            dialog.dismiss()

    def on_console(self, message):
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.problems.append(f"CSP report in the console: {text}")

    def url(self, path):
        return BASE + path

    def visit(self, name):
        """Screenshot the page as it is and run axe on it."""
        page = self.page
        page.wait_for_load_state("load")
        os.makedirs(SHOTS, exist_ok=True)
        path = os.path.join(SHOTS, f"{name}.png")
        page.screenshot(path=path, full_page=True)
        self.shots.append(path)
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(self.axe_source)
        violations = page.evaluate(
            """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"""
        )
        counts = {}
        for v in violations:
            counts[v["impact"]] = counts.get(v["impact"], 0) + 1
            line = f"{name}: {v['id']} ({v['impact']}): {v['help']} at {', '.join(v['nodes'])}"
            print(f"    axe {line}")
            if v["impact"] in FAILING_IMPACTS:
                self.axe_failures.append(line)
        self.axe[name] = counts
        print(f"    page {name}: {page.url} (axe: {describe(counts)}; screenshot {os.path.relpath(path)})")

    def open(self, path, guard=False, all_flows=False):
        """Go to `path`; with `guard` (and not `all_flows`), a 404 means the page is not built yet."""
        response = self.page.goto(self.url(path))
        if guard and not all_flows and response is not None and response.status == 404:
            raise NotYetAvailable(f"GET {path} answers {response.status}")
        return response


def describe(counts):
    return ", ".join(f"{n} {impact}" for impact, n in sorted(counts.items())) or "no violation"


class Flows:
    """The flows of one test file, in order. A core flow's failure stops the ones after it (they
    build on its state); a guarded flow reports NotYetAvailable apart."""

    def __init__(self):
        self.flows = []

    def __call__(self, guarded=False):
        def register(fn):
            self.flows.append((fn, guarded))
            return fn

        return register

    def run(self, title, make_browser):
        """Runs every flow in one browser made by `make_browser(context)`; the exit status."""
        started = time.monotonic()
        results = []
        user_data = tempfile.mkdtemp(prefix="browser-test-")
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                user_data,
                executable_path=CHROMIUM,
                headless=True,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
                viewport={"width": 1280, "height": 900},
                timezone_id="Europe/Paris",
                locale="en-GB",
            )
            try:
                d = make_browser(context)
                print(f"chromium {context.browser.version if context.browser else '(persistent)'} "
                      f"at {CHROMIUM}, axe-core from {AXE_JS}, against {BASE}")
                stopped = False
                for fn, guarded in self.flows:
                    name = fn.__name__
                    if stopped and not guarded:
                        results.append((name, "SKIPPED (an earlier flow failed)"))
                        continue
                    print(f"--- {name}")
                    t0 = time.monotonic()
                    problems_before = len(d.problems)
                    try:
                        fn(d)
                        new = d.problems[problems_before:]
                        assert not new, "; ".join(new)
                        results.append((name, f"passed ({time.monotonic() - t0:.1f}s)"))
                    except NotYetAvailable as e:
                        print("!" * 78)
                        print(f"!!! {name}: NOT YET AVAILABLE: {e}")
                        print("!" * 78)
                        results.append((name, f"NOT YET AVAILABLE ({e})"))
                    except Exception as e:
                        traceback.print_exc()
                        shot = os.path.join(SHOTS, f"FAILED-{name}.png")
                        try:
                            d.page.screenshot(path=shot, full_page=True)
                            print(f"    at {d.page.url}; screenshot {os.path.relpath(shot)}")
                        except Exception:
                            pass
                        results.append((name, f"FAILED: {str(e).splitlines()[0] if str(e) else type(e).__name__}"))
                        if not guarded:
                            stopped = True
            finally:
                context.close()
                shutil.rmtree(user_data, ignore_errors=True)
        print(f"\n=== {title}")
        for name, outcome in results:
            print(f"  {name:48} {outcome}")
        print("=== axe-core per page (serious or critical fail the run)")
        for name, counts in d.axe.items():
            print(f"  {name:48} {describe(counts)}")
        print(f"=== {len(d.shots)} screenshots in {os.path.relpath(SHOTS)}: {', '.join(os.path.basename(s) for s in d.shots)}")
        print(f"=== {time.monotonic() - started:.1f}s")
        failed = [n for n, o in results if o.startswith(("FAILED", "SKIPPED"))]
        if d.axe_failures:
            print("axe found serious or critical violations:\n  " + "\n  ".join(d.axe_failures))
        if failed or d.axe_failures:
            print(f"FAILED: {', '.join(failed) or 'axe'}")
            return 1
        return 0


class Receiver:
    """A webhook receiver on a free port of 127.0.0.1 that keeps what it receives."""

    def __init__(self):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                received.append(self.rfile.read(length).decode("utf-8", "replace"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def call(url, method="GET", body=None, headers=None, form=False):
    """(status, parsed answer, raw bytes) of an HTTP call, never through a proxy. `body`: a dict
    sent as JSON, or as a form with `form`, or bytes as they are."""
    headers = dict(headers or {})
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    elif body is None:
        data = None
    elif form:
        data = urllib.parse.urlencode(body).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    else:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, method=method, data=data, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never an HTTP(S)_PROXY
    try:
        with opener.open(request, timeout=60) as answer:
            raw = answer.read()
            status = answer.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    try:
        parsed = json.loads(raw or b"null")
    except ValueError:
        parsed = None
    return status, parsed, raw


def api(method, path, body=None, key=KEY):
    """(status, JSON answer) of a call to the API itself, with `key`."""
    status, parsed, _ = call(BASE + path, method, body, {"Authorization": f"Bearer {key}"})
    return status, parsed
