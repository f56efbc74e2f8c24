"""The customer portal and top-up links (issue 21) in a real browser, against the local run with
localstripe: the official Python SDK opens a portal session, the customer adds funds by card
through localstripe's Stripe.js, and the wallet is credited once, by Stripe's webhook.

Environment (besides harness.py's): STRIPE_BASE_URL and STRIPE_SECRET_KEY (localstripe, the one the
functions use), STRIPE_WEBHOOK_SECRET (the secret localstripe signs its webhooks with, registered
by infra/lib.sh's register_stripe_webhook).

Run: .local/browser-venv/bin/python tests/browser/portal_test.py
"""

import hashlib
import hmac
import json
import os
import re
import sys
import time

from dodopayments import DodoPayments
from playwright.sync_api import expect

from harness import BASE, KEY, RUN, Browser, Flows, Receiver, api, call

STRIPE = os.environ["STRIPE_BASE_URL"].rstrip("/")
STRIPE_KEY = os.environ["STRIPE_SECRET_KEY"]
WEBHOOK_SECRET = os.environ["STRIPE_WEBHOOK_SECRET"]
# localstripe waits 1 s before it sends a webhook; the stream and the deliverer take seconds more.
SETTLE_SECONDS = 90

flow = Flows()


class Portal(Browser):
    """The customer's tab. Remembers the customers and ids the flows make."""

    def __init__(self, context):
        super().__init__(context)
        self.sdk = DodoPayments(bearer_token=KEY, base_url=BASE)
        self.customer = None      # the customer paying in the first flows
        self.other = None         # another customer of the same business
        self.top_up_url = None    # the succeeded top-up's page
        self.receiver = None
        self.endpoint_id = None
        self.expiring_link = None

    def new_customer(self, name):
        status, customer = api("POST", "/customers", {"email": f"{name}-{RUN}@example.com", "name": f"{name} {RUN}"})
        assert status in (200, 201), f"creating a customer answered {status}: {customer}"
        return customer["customer_id"]

    def portal_link(self, customer_id, **kwargs):
        return self.sdk.customers.customer_portal.create(customer_id, **kwargs).link

    def usd_balance(self, customer_id):
        status, wallets = api("GET", f"/customers/{customer_id}/wallets")
        assert status == 200, f"GET wallets answered {status}"
        items = wallets.get("items", [])
        return next((w["balance"] for w in items if w["currency"] == "USD"), 0)

    def fill_card(self, number):
        """Fill localstripe's card element (its Stripe.js renders plain inputs named by placeholder)."""
        page = self.page
        page.locator("input[placeholder=number]").fill(number)
        page.locator("input[placeholder=exp_month]").fill("12")
        page.locator("input[placeholder=exp_year]").fill("34")
        page.locator("input[placeholder=cvc]").fill("123")
        page.locator("input[placeholder=postal_code]").fill("75001")

    def add_funds(self, amount, card, save=False):
        """From the portal's home: Add funds in USD, the amount, the card, Pay."""
        page = self.page
        page.get_by_role("link", name="Add funds (USD)").click()
        page.wait_for_url(re.compile(r"/portal/wallets/USD/add-funds"))
        page.get_by_label(re.compile(r"^amount", re.I)).fill(amount)
        self.fill_card(card)
        if save:
            page.get_by_label(re.compile(r"save this card", re.I)).check()
        page.get_by_role("button", name=re.compile(r"^(pay|add)", re.I)).click()


def stripe(path):
    status, parsed, _ = call(STRIPE + path, headers={"Authorization": f"Bearer {STRIPE_KEY}"})
    assert status == 200, f"localstripe GET {path} answered {status}"
    return parsed


def intents_of(top_up_id):
    """The PaymentIntents at localstripe made for one top-up (its metadata names it)."""
    listed = stripe("/v1/payment_intents?limit=100")
    return [pi for pi in listed["data"] if (pi.get("metadata") or {}).get("card_top_up") == top_up_id]


def signed(payload, secret=WEBHOOK_SECRET, at=None):
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={at},v1={mac}", "Content-Type": "application/json"}


def wait_for(what, check, seconds=SETTLE_SECONDS):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not after {seconds} s"
        time.sleep(1)


def entries(customer_id):
    status, listed = api("GET", f"/customers/{customer_id}/wallets/ledger-entries?currency=USD&page_size=100")
    assert status == 200, f"ledger answered {status}"
    return listed.get("items", [])


@flow()
def the_sdk_opens_a_portal_session_and_the_token_leaves_the_url(p):
    """client.customers.customer_portal.create gives a link; opening it sets an HttpOnly cookie and
    lands on a clean /portal (the token is in neither the URL nor the history)."""
    p.customer = p.new_customer("portal")
    p.other = p.new_customer("other")
    # A receiver of the business's webhooks, to count wallet.topped_up.
    p.receiver = Receiver()
    status, endpoint = api("POST", "/webhooks", {"url": p.receiver.url, "filter_types": ["wallet.topped_up"]})
    assert status in (200, 201), f"creating the webhook answered {status}: {endpoint}"
    p.endpoint_id = endpoint["id"]
    link = p.portal_link(p.customer, return_url="https://merchant.example/account")
    assert "/portal/session?token=" in link, f"unexpected link {link}"
    token = link.split("token=", 1)[1]
    page = p.page
    page.goto(link)
    page.wait_for_url(re.compile(r"/portal/?$"))
    assert token not in page.url
    cookies = {c["name"]: c for c in p.context.cookies()}
    assert "cw_portal" in cookies and cookies["cw_portal"]["httpOnly"], f"no HttpOnly portal cookie: {list(cookies)}"
    history = page.evaluate("() => [location.href, document.referrer]")
    assert all(token not in h for h in history), f"the token is still reachable: {history}"
    expect(page.get_by_role("link", name=re.compile(r"back", re.I)).first).to_have_attribute(
        "href", "https://merchant.example/account")
    p.visit("portal-home")
    # A link that expires within the run (the shortest lifetime a business may set, 60 s), opened
    # by the last flow once it has.
    status, _ = api("PATCH", "/customer-portal/settings", {"session_ttl_seconds": 60})
    assert status == 200, f"setting a 60 s lifetime answered {status}"
    try:
        p.expiring_link = (p.portal_link(p.customer), time.monotonic() + 60)
    finally:
        status, _ = api("PATCH", "/customer-portal/settings", {"session_ttl_seconds": 86400})
        assert status == 200, f"restoring the 24 h lifetime answered {status}"


@flow()
def adding_25_00_by_card_credits_2500_once(p):
    """Add funds 25.00 with 4242 4242 4242 4242: the page shows the new balance once the webhook
    credited it; one PaymentIntent at localstripe, one ledger entry, one wallet.topped_up."""
    page = p.page
    before = p.usd_balance(p.customer)
    p.add_funds("25.00", "4242424242424242", save=True)
    page.wait_for_url(re.compile(r"/portal/top-ups/ctu_[0-9a-z]+"))
    p.top_up_url = page.url
    top_up_id = page.url.rstrip("/").rsplit("/", 1)[1]
    p.visit("portal-top-up-pending")
    # The page reloads itself while pending; it shows the new balance once the webhook credited.
    expect(page.locator("#top-up-status")).to_have_text("Added to your wallet.", timeout=SETTLE_SECONDS * 1000)
    expect(page.locator("#new-balance")).to_have_text(f"${(before + 2500) / 100:,.2f}")
    assert p.usd_balance(p.customer) == before + 2500, "the API's balance is not the page's"
    p.visit("portal-top-up-succeeded")
    intents = intents_of(top_up_id)
    assert len(intents) == 1, f"{len(intents)} PaymentIntents for {top_up_id}"
    tops = [e for e in entries(p.customer) if e.get("reason") == "Top-up"]
    assert len(tops) == 1 and tops[0]["amount"] == 2500, f"ledger: {tops}"
    assert tops[0].get("reference_object_id") == intents[0]["id"], tops[0]
    bodies = wait_for("one wallet.topped_up", lambda: [b for b in p.receiver.received
                                                      if "wallet.topped_up" in b and p.customer in b])
    time.sleep(3)   # a second delivery would come within this
    bodies = [b for b in p.receiver.received if "wallet.topped_up" in b and p.customer in b]
    assert len(bodies) == 1, f"{len(bodies)} wallet.topped_up deliveries"
    # "Save this card for automatic top-ups" was ticked: the card is the USD wallet's auto top-up
    # payment method (a disabled setting, for the business to turn on), with the consent noted.
    status, settings = api("GET", f"/customers/{p.customer}/wallets/settings?currency=USD")
    usd = next(w for w in settings["items"] if w["currency"] == "USD")
    method = (usd.get("auto_top_up") or {}).get("payment_method") or {}
    assert status == 200 and method.get("payment_method_id", "").startswith("pm_"), usd
    assert intents[0].get("payment_method") in (None, method["payment_method_id"]), (intents[0], method)
    assert top_up_id in usd["updated_by"]["process"] and "consent" in usd["updated_by"]["process"], usd
    page.goto(BASE + "/portal")
    expect(page.get_by_text("$25.00").first).to_be_visible()
    p.visit("portal-home-credited")


@flow()
def the_stripe_webhook_replayed_twice_credits_once_and_a_bad_signature_is_400(p):
    """The succeeded event, signed again and sent twice: 200 each, no second credit. A wrong or
    stale signature: 400."""
    top_up_id = p.top_up_url.rstrip("/").rsplit("/", 1)[1]
    intent = intents_of(top_up_id)[0]
    event = {"id": f"evt_replay_{RUN}", "object": "event", "type": "payment_intent.succeeded",
             "created": int(time.time()), "data": {"object": intent}}
    payload = json.dumps(event).encode()
    before = p.usd_balance(p.customer)
    for attempt in (1, 2):
        status, answer, _ = call(BASE + "/stripe/webhooks", "POST", payload, signed(payload))
        assert status == 200, f"replay {attempt} answered {status}: {answer}"
    bad = dict(event, id=f"evt_bad_{RUN}")
    bad_payload = json.dumps(bad).encode()
    status, answer, _ = call(BASE + "/stripe/webhooks", "POST", bad_payload, signed(bad_payload, secret="whsec_wrong"))
    assert status == 400, f"a wrong signature answered {status}"
    stale = signed(bad_payload, at=int(time.time()) - 3600)
    status, answer, _ = call(BASE + "/stripe/webhooks", "POST", bad_payload, stale)
    assert status == 400, f"a stale signature answered {status}"
    time.sleep(2)
    assert p.usd_balance(p.customer) == before, "a replayed or refused webhook changed the balance"
    tops = [e for e in entries(p.customer) if e.get("reason") == "Top-up"]
    assert len(tops) == 1, f"{len(tops)} top-up entries after the replays"


@flow()
def a_declined_card_shows_the_decline_and_credits_nothing(p):
    """4000 0000 0000 0002 is declined when the card is set up (the page says so, nothing is
    charged); 4000 0000 0000 0341 sets up but its charge is declined (the top-up's page says so).
    The balance does not move."""
    page = p.page
    before = p.usd_balance(p.customer)
    page.goto(BASE + "/portal")
    p.add_funds("10.00", "4000000000000002")
    expect(page.locator("#card-errors")).to_contain_text(re.compile(r"declined", re.I))
    assert "/add-funds" in page.url, f"a card refused by Stripe.js left the form: {page.url}"
    p.visit("portal-card-declined")
    page.goto(BASE + "/portal")
    p.add_funds("10.00", "4000000000000341")
    page.wait_for_url(re.compile(r"/portal/top-ups/ctu_[0-9a-z]+"))
    expect(page.locator("#top-up-status")).to_contain_text("declined", timeout=SETTLE_SECONDS * 1000)
    p.visit("portal-charge-declined")
    time.sleep(3)
    assert p.usd_balance(p.customer) == before, "a declined card changed the balance"


@flow()
def another_customers_ids_give_404(p):
    """With another customer's portal cookie, this customer's top-up answers 404; so does an id
    that names no top-up."""
    page = p.page
    other_link = p.portal_link(p.other)
    page.goto(other_link)
    page.wait_for_url(re.compile(r"/portal/?$"))
    expect(page.get_by_role("heading", name=re.compile(r"Hello, other", re.I))).to_be_visible()
    response = page.goto(p.top_up_url)
    assert response.status == 404, f"another customer's top-up answered {response.status}"
    p.visit("portal-not-found")
    own = p.top_up_url.rstrip("/").rsplit("/", 1)[1]
    missing = own[:-1] + ("0" if own[-1] != "0" else "1")
    response = page.goto(BASE + f"/portal/top-ups/{missing}")
    assert response.status == 404, f"a top-up id of nobody answered {response.status}"
    # Back to this customer's own portal for the flows after.
    page.goto(p.portal_link(p.customer))
    page.wait_for_url(re.compile(r"/portal/?$"))


@flow()
def a_used_link_and_an_expired_session_show_their_pages(p):
    """A single-use top-up link paid once shows 'already paid' and charges nothing more; a revoked
    (ended) portal session shows the expired page."""
    page = p.page
    status, link = api("POST", f"/customers/{p.customer}/wallets/top-up-links",
                       {"currency": "USD", "amount": 1500, "reason": f"link {RUN}"})
    assert status in (200, 201), f"creating a link answered {status}: {link}"
    before = p.usd_balance(p.customer)
    page.goto(link["url"])
    p.visit("pay-link")
    expect(page.get_by_text("$15.00").first).to_be_visible()
    p.fill_card("4242424242424242")
    page.get_by_role("button", name=re.compile(r"^pay", re.I)).click()
    wait_for("the link's credit", lambda: p.usd_balance(p.customer) == before + 1500)
    page.reload()
    p.visit("pay-link-paid")
    page.goto(link["url"])
    expect(page.get_by_text(re.compile(r"already (been )?paid|used", re.I)).first).to_be_visible()
    p.visit("pay-link-used")
    assert p.page.locator("input[placeholder=number]").count() == 0, "a used link still shows the card form"
    status, shown = api("GET", f"/customers/{p.customer}/wallets/top-up-links/{link['id']}")
    assert status == 200 and shown["status"] == "paid", f"the link: {status} {shown}"
    # An expired session: the 60 s link of the first flow, opened after its minute.
    link, expires = p.expiring_link
    time.sleep(max(0.0, expires - time.monotonic() + 2))
    response = page.goto(link)
    assert response.status == 401, f"an expired link answered {response.status}"
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    p.visit("portal-session-expired")
    response = page.goto(BASE + "/portal")
    assert response.status != 200, "after an expired link, the portal still opens"
    # An ended session: a valid link, then every session of the customer revoked.
    ended = p.portal_link(p.customer)
    status, _ = api("POST", f"/customers/{p.customer}/customer-portal/revoke")
    assert status == 200, f"revoke answered {status}"
    response = page.goto(ended)
    assert response.status == 401, f"a revoked link answered {response.status}"
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()


@flow()
def the_dashboard_shows_the_top_ups_and_links_and_makes_a_portal_link(p):
    """The business signs in to the dashboard: the customer's top-ups page lists the succeeded and
    the failed top-ups and the paid link; it makes a portal link that opens the portal."""
    page = p.page
    page.goto(BASE + "/dashboard/sign-in")
    page.get_by_label("API key").fill(KEY)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dashboard/customers"))
    page.goto(BASE + f"/dashboard/customers/{p.customer}/top-ups")
    top_ups = page.get_by_role("region", name="Card top-ups list", exact=True)
    expect(top_ups.get_by_role("row").filter(has_text="succeeded")).to_have_count(2)
    expect(top_ups.get_by_role("row").filter(has_text="failed")).to_have_count(1)
    links = page.get_by_role("region", name="Top-up links list", exact=True)
    expect(links.get_by_role("row").filter(has_text="paid")).to_have_count(1)
    p.visit("dashboard-top-ups")
    page.get_by_role("button", name="Create a portal link").click()
    link = page.locator("#portal-link").input_value()
    assert "/portal/session?token=" in link, link
    p.visit("dashboard-portal-link")
    page.goto(link)
    page.wait_for_url(re.compile(r"/portal/?$"))
    expect(page.get_by_role("heading", name=re.compile(r"^Hello, portal"))).to_be_visible()


def main():
    made = []

    def browser(context):
        made.append(Portal(context))
        return made[0]

    try:
        return flow.run("portal browser flows", browser)
    finally:
        for p in made:   # no endpoint left registered: later events would go to a closed port
            if p.endpoint_id:
                api("DELETE", f"/webhooks/{p.endpoint_id}")
            if p.receiver:
                p.receiver.close()


if __name__ == "__main__":
    sys.exit(main())
