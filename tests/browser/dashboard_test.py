"""The merchant dashboard (issue 20) in a real browser: Debian's headless chromium driven by
Playwright for Python, against the local API served by `cargo lambda watch` (infra/test.sh runs it
after the SDK tests, with the same base URL and key).

Every page the flows reach is saved as a screenshot under SCREENSHOT_DIR (named by page) and
checked with axe-core: a violation of impact serious or critical fails the run. axe's source is
evaluated through the DevTools protocol (page.evaluate), which the page's Content-Security-Policy
(script-src 'self') does not govern, so the pages run under their real CSP throughout (no
bypass_csp): a CSP report in the console, an uncaught script error or any alert() fails the run.

Environment: DODO_BASE_URL, DODO_API_KEY (a full-scope key), CHROMIUM (the browser's path),
AXE_JS (axe.min.js), SCREENSHOT_DIR. BROWSER_FLOWS_ALL=1 runs the flows of pages still being built
(wallet settings, webhooks, API keys) without their guard: today a 404 from such a page reports
the flow as NOT YET AVAILABLE instead of failing it.

Run: .local/browser-venv/bin/python tests/browser/dashboard_test.py
"""

import json
import os
import re
import sys
import time

from playwright.sync_api import expect

from harness import BASE, KEY, RUN, Browser, Flows, NotYetAvailable, Receiver, api

ALL = os.environ.get("BROWSER_FLOWS_ALL") == "1"


class Dashboard(Browser):
    """The dashboard's tab: the flows run in order and share the signed-in session."""

    def __init__(self, context):
        super().__init__(context)
        self.customer_url = None

    def open(self, path, guard=False):
        """Go to `path`; with `guard`, a 404 means the page is not built yet."""
        return super().open(path, guard=guard, all_flows=ALL)

    def sign_in(self, key, next_path=None):
        page = self.page
        self.open("/dashboard/sign-in" + (f"?next={next_path}" if next_path else ""))
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda u: "/dashboard/sign-in" not in u)

    def sign_out(self):
        button = self.page.get_by_role("button", name="Sign out")
        if button.count() == 0:   # an error page has no navigation
            self.open("/dashboard/customers")
            if "/dashboard/sign-in" in self.page.url:
                return
        button.click()
        self.page.wait_for_url(re.compile(r"/dashboard/sign-in"))

    def adjust(self, direction, amount, reason):
        """Fill the adjustment form of the customer's page (not sent)."""
        form = self.page.get_by_role("region", name="Adjust a balance", exact=True)
        form.get_by_label("Credit (add money)" if direction == "credit" else "Debit (take money)").check()
        form.get_by_label("Currency").select_option("USD")
        form.get_by_label("Amount (e.g. 12.40)").fill(amount)
        form.get_by_label("Reason").fill(reason)
        return form

    def apply(self, form):
        """Send the adjustment form; the answer to its POST."""
        with self.page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/adjustments")
        ) as answer:
            form.get_by_role("button", name="Apply").click()
        self.page.wait_for_load_state("load")
        return answer.value

    def usd_balance(self):
        card = self.page.locator(".card", has=self.page.get_by_role("heading", name="USD", exact=True))
        return card.locator(".big")

    def ledger_rows(self, reason):
        return self.page.get_by_role("region", name="Ledger", exact=True).get_by_role("row").filter(has_text=reason)


# The flows, in order. Each takes the Dashboard; a core flow's failure stops the ones after it
# (they build on its state); a guarded flow reports NotYetAvailable apart.
flow = Flows()


@flow()
def signing_in_is_required(d):
    """/dashboard without a session goes to sign-in; a wrong key is refused there (401, the
    message); the dev key opens the customers page."""
    page = d.page
    d.open("/dashboard")
    page.wait_for_url(re.compile(r"/dashboard/sign-in"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    d.visit("sign-in")
    page.get_by_label("API key").fill("cw_" + "0" * 64)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401, f"a wrong key answered {answer.value.status}, not 401"
    expect(page.get_by_role("alert")).to_contain_text("does not open this dashboard")
    d.visit("sign-in-refused")
    page.get_by_label("API key").fill(KEY)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dashboard/customers$"))
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    cookies = {c["name"]: c for c in d.context.cookies()}
    assert "cw_session" in cookies and cookies["cw_session"]["httpOnly"], "no HttpOnly session cookie"
    assert KEY not in json.dumps(d.context.storage_state()), "the API key is in the browser's storage"
    d.visit("customers")


@flow()
def creating_a_customer(d):
    """The customers page's form creates a customer and lands on its page."""
    page = d.page
    page.get_by_label("Email", exact=True).fill(f"ada.{RUN}@example.com")
    page.get_by_label("Name", exact=True).fill("Ada Browser")
    page.get_by_role("button", name="Create customer").click()
    page.wait_for_url(re.compile(r"/dashboard/customers/cus_[^/?]+\?done=created"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Browser")
    expect(page.get_by_role("status")).to_have_text("Created.")
    d.customer_url = page.url.split("?")[0]
    expect(d.usd_balance()).to_have_text("$0.00")
    d.visit("customer-new")


@flow()
def crediting_shows_balance_ledger_and_chart(d):
    """A credit of 50.00 USD: balance $50.00, its ledger row, the balance chart (svg role=img)."""
    page = d.page
    form = d.adjust("credit", "50.00", f"browser credit {RUN}")
    answer = d.apply(form)
    assert answer.status == 303, f"the credit answered {answer.status}, not 303"
    expect(page.get_by_role("status")).to_have_text("Credit applied.")
    expect(d.usd_balance()).to_have_text("$50.00")
    row = d.ledger_rows(f"browser credit {RUN}")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("credit")
    expect(row).to_contain_text("$50.00")
    chart = page.get_by_role("img", name=re.compile("USD"))
    expect(chart).to_be_visible()
    assert chart.evaluate("e => e.tagName.toLowerCase()") == "svg"
    assert chart.locator("path").count() >= 1, "the chart draws no line"
    d.visit("customer-credited")


@flow()
def a_debit_above_the_balance_changes_nothing(d):
    """A debit of 80.00 against 50.00: the page answers 400 with the insufficient-balance message,
    and, read again, the balance is still $50.00 with no debit row."""
    page = d.page
    form = d.adjust("debit", "80.00", f"browser overdraft {RUN}")
    answer = d.apply(form)
    assert answer.status == 400, f"the debit answered {answer.status}, not 400"
    expect(page.get_by_role("alert")).to_contain_text(re.compile("insufficient", re.I))
    d.visit("customer-debit-refused")
    d.open(d.customer_url.removeprefix(BASE))
    expect(d.usd_balance()).to_have_text("$50.00")
    expect(d.ledger_rows(f"browser overdraft {RUN}")).to_have_count(0)


@flow()
def a_resubmitted_form_applies_once(d):
    """One filled adjustment form (one idempotency key) sent three times, twice at once then once
    more: one credit of 10.00, balance $60.00. Then a double click on Apply: one credit of 5.00."""
    page = d.page
    d.adjust("credit", "10.00", f"browser resubmitted {RUN}")
    answers = page.evaluate(
        """async () => {
            const form = [...document.forms].find(f => f.action.endsWith('/adjustments'));
            const body = new URLSearchParams(new FormData(form));
            const send = () => fetch(form.action, {method: 'POST', body, credentials: 'same-origin'})
                .then(r => ({status: r.status, url: r.url}));
            const both = await Promise.all([send(), send()]);
            return [...both, await send()];
        }"""
    )
    print(f"    three sends of one form answered {[(a['status'], a['url'].split('?')[-1]) for a in answers]}")
    assert all(a["status"] < 500 for a in answers), f"a resubmission answered 5xx: {answers}"
    assert any(a["url"].endswith("?done=credited") for a in answers), f"no send applied: {answers}"
    d.open(d.customer_url.removeprefix(BASE))
    expect(d.ledger_rows(f"browser resubmitted {RUN}")).to_have_count(1)
    expect(d.usd_balance()).to_have_text("$60.00")
    # A double click on the button, as a person does it: one credit of 5.00.
    form = d.adjust("credit", "5.00", f"browser double click {RUN}")
    form.get_by_role("button", name="Apply").dblclick()
    expect(page.get_by_role("status")).to_have_text("Credit applied.")
    d.open(d.customer_url.removeprefix(BASE))
    expect(d.ledger_rows(f"browser double click {RUN}")).to_have_count(1)
    expect(d.usd_balance()).to_have_text("$65.00")


@flow()
def a_script_in_a_name_shows_as_text(d):
    """A customer named <script>alert(1)</script> shows as that text, on its page and in the
    list; no dialog fires (any dialog but a confirmation fails the run)."""
    page = d.page
    name = "<script>alert(1)</script>"
    d.open("/dashboard/customers")
    page.get_by_label("Email", exact=True).fill(f"script.{RUN}@example.com")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create customer").click()
    page.wait_for_url(re.compile(r"/dashboard/customers/cus_[^/?]+\?done=created"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    assert page.locator("main script").count() == 0, "the name became a script element"
    assert name in page.title(), f"the title is {page.title()!r}"
    d.visit("customer-script-name")
    page.get_by_role("link", name="← Customers").click()
    page.wait_for_url(re.compile(r"/dashboard/customers$"))
    expect(page.get_by_role("link", name=name, exact=True).first).to_be_visible()
    assert page.locator("main script").count() == 0
    d.visit("customers-list")
    assert not any("dialog" in p for p in d.problems), d.problems


@flow()
def usable_at_375_px(d):
    """At 375 px wide the customer and customers pages do not scroll sideways, and the adjustment
    form's fields and button lie within the screen."""
    page = d.page
    page.set_viewport_size({"width": 375, "height": 812})
    try:
        for name, path in (("customer-375px", d.customer_url.removeprefix(BASE)),
                           ("customers-375px", "/dashboard/customers")):
            d.open(path)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 375, f"{name}: the page is {width} px wide at a 375 px viewport"
            d.visit(name)
        d.open(d.customer_url.removeprefix(BASE))
        form = page.get_by_role("region", name="Adjust a balance", exact=True)
        for control in (form.get_by_label("Amount (e.g. 12.40)"), form.get_by_role("button", name="Apply"),
                        page.get_by_role("button", name="Sign out")):
            box = control.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375, f"{control} lies at {box}"
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


@flow(guarded=True)
def a_low_balance_threshold_sends_its_webhook(d):
    """Register a receiver on the webhooks page, set the USD wallet's low-balance threshold to
    55.00 on its settings page, debit 15.00 (65.00 -> 50.00): a `wallet.balance_low` delivery shows
    in the endpoint's delivery log (and reached the receiver)."""
    page = d.page
    receiver = Receiver()
    endpoint_url = None
    try:
        d.open("/dashboard/webhooks", guard=True)
        d.visit("webhooks")
        page.get_by_label("URL", exact=True).fill(receiver.url)
        page.get_by_role("button", name=re.compile(r"^(create|add)", re.I)).first.click()
        page.wait_for_url(re.compile(r"/dashboard/webhooks/[^/?]+"))
        endpoint_url = page.url.split("?")[0]
        d.visit("webhook")
        d.open(d.customer_url.removeprefix(BASE) + "/settings?currency=USD", guard=True)
        d.visit("wallet-settings")
        alert = page.get_by_role("group", name=re.compile(r"low.balance", re.I))
        threshold = (alert.get_by_label(re.compile(r"threshold", re.I)) if alert.count()
                     else page.get_by_label(re.compile(r"low.balance", re.I)))
        threshold.first.fill("55.00")
        page.get_by_role("button", name=re.compile(r"^save", re.I)).first.click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        expect(threshold.first).to_have_value("55.00")
        d.visit("wallet-settings-saved")
        d.open(d.customer_url.removeprefix(BASE))
        answer = d.apply(d.adjust("debit", "15.00", f"browser low balance {RUN}"))
        assert answer.status == 303, f"the debit answered {answer.status}"
        expect(d.usd_balance()).to_have_text("$50.00")
        # The event goes through the table's stream, the dispatcher and the deliverer: seconds.
        deadline = time.monotonic() + 90
        while True:
            d.open(endpoint_url.removeprefix(BASE))
            row = page.get_by_role("region", name="Deliveries").get_by_role("row").filter(has_text="wallet.balance_low")
            if row.count() > 0 and "succeeded" in row.first.inner_text():
                break
            assert time.monotonic() < deadline, \
                f"no succeeded wallet.balance_low delivery in the log after 90 s: {row.all_inner_texts()}"
            page.wait_for_timeout(2000)
        d.visit("webhook-deliveries")
        assert any("wallet.balance_low" in body for body in receiver.received), \
            "the log shows a succeeded wallet.balance_low delivery but the receiver got none"
    finally:
        receiver.close()
        if endpoint_url:   # not left registered: the run's later events would go to a closed port
            try:
                d.open(endpoint_url.removeprefix(BASE))
                page.get_by_role("button", name=re.compile(r"delete", re.I)).first.click()
                page.wait_for_load_state("load")
            except Exception as e:   # the flow's own outcome matters more
                print(f"    could not delete the test endpoint {endpoint_url}: {e}")


def revoke_test_keys():
    """Revoke the keys this run made (by their names), through the API: none is left usable."""
    status, listed = api("GET", "/api-keys")
    items = listed.get("items", listed.get("data", [])) if isinstance(listed, dict) else listed or []
    for key in items:
        if RUN in key.get("name", "") and key.get("status") != "revoked":
            api("DELETE", f"/api-keys/{key['id']}")


def shown_secret(page):
    """The secret a page shows once (a new or rotated key)."""
    expect(page.get_by_role("status")).to_be_visible()
    secret = re.search(r"cw_[0-9a-f]{64}", page.content())
    assert secret, "no key secret on the page"
    return secret.group(0)


@flow(guarded=True)
def a_rotated_key_signs_in(d):
    """Create a key on the API keys page (its secret shown once), rotate it there, sign in with
    the new secret. (The dev key is never rotated: the run's other tests use it.)"""
    page = d.page
    d.open("/dashboard/api-keys", guard=True)
    d.visit("api-keys")
    name = f"browser rotate {RUN}"
    try:
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_role("button", name=re.compile(r"^create", re.I)).first.click()
        shown_secret(page)
        d.visit("api-key-created")
        d.open("/dashboard/api-keys")
        row = page.get_by_role("row").filter(has_text=name)
        if row.locator("summary").count():   # the row's actions fold away
            row.locator("summary").first.click()
        row.get_by_role("button", name=re.compile(r"^rotate", re.I)).click()
        secret = shown_secret(page)
        d.visit("api-key-rotated")
        d.sign_out()
        d.sign_in(secret)
        expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
        d.sign_out()
        d.sign_in(KEY)
    finally:
        revoke_test_keys()


@flow(guarded=True)
def a_read_only_key_cannot_adjust(d):
    """Signed in with a read-only key (made through the API), the customer's page shows, but the
    adjustment form answers the 403 page and the balance stays."""
    page = d.page
    status, made = api("POST", "/api-keys", {"name": f"browser read-only {RUN}", "scope": "read_only"})
    # Never print `made`: it holds the new key's secret.
    what = f"POST /api-keys with scope read_only answered {status}, scope {made.get('scope') if isinstance(made, dict) else None}"
    if not ALL and not (status == 200 and made.get("scope") == "read_only"):
        revoke_test_keys()   # a key made without the scope is a full one: not left usable
        raise NotYetAvailable(what + " (no read-only keys yet)")
    assert status == 200 and made.get("scope") == "read_only", what
    d.sign_out()
    try:
        d.sign_in(made["key_secret"])
        d.open(d.customer_url.removeprefix(BASE))
        before = d.usd_balance().inner_text()
        d.visit("customer-read-only")
        answer = d.apply(d.adjust("credit", "1.00", f"browser read-only {RUN}"))
        assert answer.status == 403, f"an adjustment with a read-only key answered {answer.status}, not 403"
        expect(page.get_by_role("alert")).to_be_visible()
        d.visit("adjust-read-only-403")
        d.open(d.customer_url.removeprefix(BASE))
        expect(d.usd_balance()).to_have_text(before)
        expect(d.ledger_rows(f"browser read-only {RUN}")).to_have_count(0)
    finally:
        d.sign_out()
        d.sign_in(KEY)
        revoke_test_keys()


@flow(guarded=True)
def the_settings_webhooks_and_keys_pages_at_375_px(d):
    """At 375 px wide the wallet settings, webhooks and API keys pages do not scroll sideways."""
    page = d.page
    page.set_viewport_size({"width": 375, "height": 812})
    try:
        for name, path in (("wallet-settings-375px", d.customer_url.removeprefix(BASE) + "/settings?currency=USD"),
                           ("webhooks-375px", "/dashboard/webhooks"),
                           ("api-keys-375px", "/dashboard/api-keys")):
            d.open(path, guard=True)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 375, f"{name}: the page is {width} px wide at a 375 px viewport"
            d.visit(name)
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


@flow()
def finance_sees_the_liability_and_a_printable_statement(d):
    """The liability report draws its chart (an svg with role=img) beside the day's table; a
    customer's USD statement closes at the balance the customer's page shows."""
    page = d.page
    d.open("/dashboard/reports/liability?currency=USD")
    expect(page.get_by_role("heading", name="Liability", exact=True)).to_be_visible()
    chart = page.get_by_role("img", name=re.compile("USD liability per day"))
    expect(chart).to_be_visible()
    assert chart.evaluate("e => e.tagName.toLowerCase()") == "svg"
    expect(page.get_by_role("region", name="Liability per day")).to_be_visible()
    d.visit("reports-liability")
    d.open(d.customer_url.removeprefix(BASE))
    balance = d.usd_balance().inner_text()
    d.open(d.customer_url.removeprefix(BASE) + "/statement?currency=USD")
    expect(page.get_by_role("heading", name="Statement, USD wallet")).to_be_visible()
    expect(page.locator("#closing")).to_have_text(balance)
    expect(page.locator("#opening")).to_have_text("$0.00")
    d.visit("statement")


@flow()
def usable_by_keyboard_alone(d):
    """From the top of the customer page, the first Tab stop is the skip link; Tab alone then
    reaches the adjustment form's amount field; typing and Enter apply a credit (no mouse)."""
    page = d.page
    d.open(d.customer_url.removeprefix(BASE))
    page.keyboard.press("Tab")
    first = page.evaluate("document.activeElement.textContent.trim()")
    assert first == "Skip to content", f"the first Tab stop is {first!r}"
    on_amount = """() => { const e = document.activeElement;
        return e.name === 'amount' && !!e.closest('form') &&
               e.closest('form').getAttribute('action').endsWith('/adjustments'); }"""
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate(on_amount):
            break
    else:
        raise AssertionError("Tab never reached the adjustment form's amount field")
    page.keyboard.type("1.00")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "reason", "Tab from the amount goes to the reason"
    page.keyboard.type(f"keyboard credit {RUN}")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Credit applied.")
    expect(d.ledger_rows(f"keyboard credit {RUN}")).to_have_count(1)
    d.visit("customer-keyboard-credit")


@flow()
def signing_out_ends_the_session(d):
    """Sign out lands on sign-in; the old session cookie, put back, opens nothing."""
    page = d.page
    d.open("/dashboard/customers")
    old = [c for c in d.context.cookies() if c["name"] == "cw_session"]
    assert old, "no session cookie before signing out"
    d.sign_out()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    d.visit("signed-out")
    d.context.add_cookies(old)
    d.open("/dashboard/customers")
    page.wait_for_url(re.compile(r"/dashboard/sign-in"))


def main():
    return flow.run("dashboard browser flows", Dashboard)


if __name__ == "__main__":
    sys.exit(main())
