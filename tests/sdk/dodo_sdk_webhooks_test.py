"""Webhooks through the official Dodo Payments Python SDK, unchanged, against the local API, with a
real HTTP receiver on 127.0.0.1 started here.

Run by infra/test.sh with DODO_BASE_URL and DODO_API_KEY set; the API must deliver webhooks (the
local stream poller and retry sweep running, loopback targets allowed: WEBHOOKS_ALLOW_PRIVATE=true).
Exits non-zero on the first failure. WEBHOOK_WAIT_S (default 30) bounds each wait for a delivery.

Endpoints (`client.webhooks`: create, retrieve, update, list across pages, retrieve_secret, headers,
delete), every event a credit, a debit, holds and a close cause, each verified with the SDK's
`unwrap` and with the `standardwebhooks` package (a tampered body refused by both), the envelope,
filters, a disabled endpoint, a receiver that answers 500 first (retried with the same webhook-id),
the delivery log and resend (raw HTTP: the SDK has no such methods), 404, 401 and 422.
"""

import atexit
import base64
import datetime
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import dodopayments
import standardwebhooks
from dodopayments import DodoPayments

BASE_URL = os.environ["DODO_BASE_URL"]
API_KEY = os.environ["DODO_API_KEY"]
WAIT_S = float(os.environ.get("WEBHOOK_WAIT_S") or 30)
# After an enabled endpoint got an event, how long a disabled or filtering one is given to
# (wrongly) get it too: the dispatcher sends one change's deliveries together.
GRACE_S = 3
client = DodoPayments(bearer_token=API_KEY, base_url=BASE_URL, max_retries=0)
strict = DodoPayments(bearer_token=API_KEY, base_url=BASE_URL, max_retries=0, _strict_response_validation=True)
ALL_TYPES = [
    "wallet.created", "wallet.topped_up", "wallet.payment_made", "wallet.closed",
    "wallet.hold.created", "wallet.hold.captured", "wallet.hold.released", "wallet.hold.expired",
    "wallet.balance_low", "wallet.balance_recovered", "wallet.auto_top_up_succeeded", "wallet.auto_top_up_failed",
]
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1
    print(f"ok: {what}")


def expect_error(error_class, status, call, what, code=None):
    try:
        call()
    except error_class as err:
        passed = err.status_code == status and (code is None or err.body.get("code") == code)
        check(passed, f"{what} -> {status}{f' {code}' if code else ''}" + ("" if passed else f" (got {err.status_code} {err.body})"))
        return err
    check(False, f"{what} raised {error_class.__name__}")


def api(method, path, body=None, key=API_KEY):
    """(status, JSON body or None) of one raw request: the delivery log has no SDK methods."""
    request = urllib.request.Request(
        BASE_URL + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as err:
        text = err.read()
        return err.code, json.loads(text) if text else None


def wait_for(find, timeout=WAIT_S):
    """find()'s first truthy value, polled until `timeout` seconds pass (then the last, falsy)."""
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request (path, lower-cased headers, body)
    and answers 200 `ok`, or 500 `fail` while `failures[path]` is above 0 (counting down)."""

    def __init__(self):
        self.requests = []
        self.failures = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                with receiver.lock:
                    left = receiver.failures.get(self.path, 0)
                    receiver.failures[self.path] = max(left - 1, 0)
                    receiver.requests.append({
                        "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body, "status": 500 if left else 200,
                    })
                answer = b"fail" if left else b"ok"
                self.send_response(500 if left else 200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name):
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def got(self, name, customer_id, event_type=None, where=lambda data: True):
        """The requests to /NAME about the customer (of EVENT_TYPE, whose data passes WHERE)."""
        with self.lock:
            requests = [r for r in self.requests if r["path"] == f"/{name}"]
        found = []
        for r in requests:
            try:
                event = json.loads(r["body"])
            except ValueError:
                continue
            data = event.get("data") or {}
            if data.get("customer_id") == customer_id and event_type in (None, event.get("type")) and where(data):
                found.append({**r, "event": event})
        return found


def entry_is(entry_id):
    return lambda data: (data.get("ledger_entry") or {}).get("id") == entry_id


def hold_is(hold_id, status):
    return lambda data: (data.get("hold") or {}).get("id") == hold_id and data["hold"].get("status") == status


def verify(request, secret, what):
    """The request's signature holds for the SDK's unwrap and for standardwebhooks; a tampered
    body and a wrong secret are refused by both."""
    body, headers = request["body"], request["headers"]
    event = client.webhooks.unwrap(body, headers=headers, key=secret)
    check(event.type == request["event"]["type"] and event.business_id == request["event"]["business_id"],
          f"{what}: client.webhooks.unwrap verifies it")
    check(standardwebhooks.Webhook(secret).verify(body, headers) == json.loads(body),
          f"{what}: standardwebhooks.Webhook(secret).verify verifies it")
    tampered_event = json.loads(body)
    tampered_event["data"]["sequence"] += 1
    tampered = json.dumps(tampered_event)
    for name, verifier in (("client.webhooks.unwrap", lambda b, s: client.webhooks.unwrap(b, headers=headers, key=s)),
                           ("standardwebhooks", lambda b, s: standardwebhooks.Webhook(s).verify(b, headers))):
        for bad, key in (("a tampered body", (tampered, secret)),
                         ("another secret", (body, "whsec_" + base64.b64encode(os.urandom(24)).decode()))):
            try:
                verifier(*key)
                refused = False
            except standardwebhooks.WebhookVerificationError:
                refused = True
            check(refused, f"{what}: {name} refuses {bad}")


def one(requests, what):
    """Exactly one event (one webhook-id; a resend of it may repeat it) among the requests."""
    ids = {r["headers"].get("webhook-id") for r in requests}
    check(len(ids) == 1, f"{what} arrives once (webhook-ids: {sorted(map(str, ids))})")
    return requests[0]


def all_deliveries(webhook_id, query=""):
    """Every delivery of the endpoint, following the iterator across pages."""
    items, iterator = [], None
    for _ in range(100):
        params = query + (f"&iterator={urllib.request.quote(iterator)}" if iterator else "")
        status, page = api("GET", f"/webhooks/{webhook_id}/deliveries?{params.lstrip('&')}")
        check(status == 200, f"GET /webhooks/{{id}}/deliveries?{query} -> 200 (got {status} {page})")
        items += page["data"]
        iterator = page["iterator"]
        if page["done"] or not iterator:
            return items
    check(False, "the delivery pages end")


run = uuid.uuid4().hex[:8]
receiver = Receiver()
created_ids = []


@atexit.register
def delete_leftovers():
    """An endpoint left by a failed run would be retried against the closed receiver for days."""
    for webhook_id in created_ids:
        try:
            client.webhooks.delete(webhook_id)
        except dodopayments.APIError:
            pass


def create(**fields):
    webhook = strict.webhooks.create(**fields)
    created_ids.append(webhook.id)
    return webhook


# ---- Endpoints ----
main = create(url=receiver.url("main"), filter_types=ALL_TYPES, description="SDK webhooks test",
              metadata={"run": run}, headers={"X-Test-Run": run}, idempotency_key=f"wh-main-{run}")
check(re.fullmatch(r"whk_[0-9a-z]{26}", main.id) is not None, "webhooks.create: a whk_ id")
check(main.url == receiver.url("main") and main.description == "SDK webhooks test" and main.metadata == {"run": run}
      and main.disabled is False and set(main.filter_types) == set(ALL_TYPES) and main.rate_limit is None,
      "webhooks.create answers the endpoint as sent")
again = strict.webhooks.create(url=receiver.url("main"), filter_types=ALL_TYPES, description="SDK webhooks test",
                               metadata={"run": run}, headers={"X-Test-Run": run}, idempotency_key=f"wh-main-{run}")
if again.id != main.id:
    created_ids.append(again.id)
check(again.id == main.id, "webhooks.create repeated with its idempotency_key answers the same endpoint")
got = strict.webhooks.retrieve(main.id)
check((got.id, got.url, got.description, got.metadata, got.created_at) == (main.id, main.url, main.description, main.metadata, main.created_at),
      "webhooks.retrieve")
updated = strict.webhooks.update(main.id, description="SDK webhooks test (renamed)", rate_limit=100)
check(updated.description == "SDK webhooks test (renamed)" and updated.rate_limit == 100 and updated.url == main.url
      and updated.metadata == {"run": run}, "webhooks.update changes what is given and keeps the rest")
check(strict.webhooks.retrieve(main.id).rate_limit == 100, "webhooks.retrieve after the update")

secret = strict.webhooks.retrieve_secret(main.id).secret
check(secret.startswith("whsec_") and len(base64.b64decode(secret[len("whsec_"):])) == 24,
      "webhooks.retrieve_secret: whsec_ + base64 of 24 bytes")
check(strict.webhooks.retrieve_secret(main.id).secret == secret, "the secret stays the same")

headers = strict.webhooks.headers.retrieve(main.id)
check({k.lower(): v for k, v in headers.headers.items()} == {"x-test-run": run} and headers.sensitive == [],
      "webhooks.headers.retrieve: the headers given at create")
check(client.webhooks.headers.update(main.id, headers={"X-Extra": "1"}) is None, "webhooks.headers.update (204)")
headers = strict.webhooks.headers.retrieve(main.id)
check({k.lower(): v for k, v in headers.headers.items()} == {"x-test-run": run, "x-extra": "1"},
      "webhooks.headers.update merges")

# One that answers 500 to its first request, one that only wants debits, one to be disabled.
flaky = create(url=receiver.url("flaky"), filter_types=["wallet.topped_up"])
receiver.failures["/flaky"] = 1
filtered = create(url=receiver.url("filtered"), filter_types=["wallet.payment_made"])
paused = create(url=receiver.url("paused"))
check(paused.filter_types == [] and paused.description == "" and paused.metadata == {},
      "webhooks.create defaults: every event, empty description and metadata")
secrets = {w.id: strict.webhooks.retrieve_secret(w.id).secret for w in (main, flaky, filtered, paused)}
check(len(set(secrets.values())) == 4, "each endpoint has its own secret")

first = strict.webhooks.list(limit=1)
check(len(first.data) == 1 and first.has_next_page(), "webhooks.list(limit=1): one endpoint and a next page")
pages = list(strict.webhooks.list(limit=1).iter_pages())
listed = [w.id for page in pages for w in page.data]
check(len(pages) >= 4 and len(listed) == len(set(listed)) and {main.id, flaky.id, filtered.id, paused.id} <= set(listed),
      f"webhooks.list pages through every endpoint once ({len(pages)} pages of 1)")
check(pages[-1].done is True or pages[-1].iterator is None, "the last page says done")
check([w.id for w in strict.webhooks.list(limit=1)] == listed, "the SDK's auto-pager follows the iterator")

# ---- Events of a new customer: wallet.created per currency ----
customer = strict.customers.create(email=f"webhooks-{run}@example.com", name="Webhook Customer")
cid = customer.customer_id
currencies = sorted(w.currency for w in strict.customers.wallets.list(cid).items)
created = wait_for(lambda: len({r["event"]["data"]["currency"] for r in receiver.got("main", cid, "wallet.created")}) == len(currencies)
                   and receiver.got("main", cid, "wallet.created"))
check(bool(created) and sorted(r["event"]["data"]["currency"] for r in created) == currencies,
      f"wallet.created arrives for each currency ({currencies})")
created_usd = one([r for r in created if r["event"]["data"]["currency"] == "USD"], "wallet.created USD")
verify(created_usd, secret, "wallet.created")
check(created_usd["event"]["data"]["wallet"]["balance"] == 0 and "ledger_entry" not in created_usd["event"]["data"]
      and "hold" not in created_usd["event"]["data"], "wallet.created carries the zero wallet, no entry or hold")

# ---- A credit: wallet.topped_up ----
entries = strict.customers.wallets.ledger_entries
wallet = entries.create(cid, amount=5000, currency="USD", entry_type="credit", reason="Webhook test credit",
                        idempotency_key=f"wh-credit-{run}")
credit = entries.list(cid, currency="USD", page_size=1).items[0]
topped = wait_for(lambda: receiver.got("main", cid, "wallet.topped_up", entry_is(credit.id)))
check(bool(topped), f"a credit: wallet.topped_up reaches the receiver within {WAIT_S:.0f} s")
topped = one(topped, "wallet.topped_up")
verify(topped, secret, "wallet.topped_up")
event, sent = topped["event"], topped["headers"]
check(re.fullmatch(r"evt_[0-9a-z]{26}", sent.get("webhook-id", "")) is not None, "webhook-id is an evt_ id")
check(abs(int(sent.get("webhook-timestamp", "0")) - time.time()) < 300, "webhook-timestamp is now")
check(sent.get("webhook-signature", "").startswith("v1,"), "webhook-signature is v1,<base64>")
check(sent.get("content-type", "").startswith("application/json"), "content-type: application/json")
check(sent.get("x-test-run") == run and sent.get("x-extra") == "1", "the endpoint's custom headers are sent")
check(set(event) == {"business_id", "type", "timestamp", "data"}, "envelope: business_id, type, timestamp, data")
check(event["business_id"] == customer.business_id and event["type"] == "wallet.topped_up", "envelope business_id and type")
at = datetime.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
check(at.tzinfo is not None and abs((datetime.datetime.now(datetime.timezone.utc) - at).total_seconds()) < 300,
      "envelope timestamp: RFC 3339, the time of the change")
data = event["data"]
check(data["customer_id"] == cid and data["currency"] == "USD", "data.customer_id and data.currency")
check(isinstance(data["sequence"], int) and data["sequence"] > created_usd["event"]["data"]["sequence"],
      "data.sequence rises after wallet.created")
check(data["wallet"]["balance"] == wallet.balance == 5000 and data["wallet"]["currency"] == "USD"
      and data["wallet"]["customer_id"] == cid, "data.wallet is the wallet after the credit")
check(data["ledger_entry"]["id"] == credit.id and data["ledger_entry"]["amount"] == 5000 and data["ledger_entry"]["is_credit"] is True
      and data["ledger_entry"]["after_balance"] == 5000 and "hold" not in data, "data.ledger_entry is the credit")
topped_id = sent["webhook-id"]

# The receiver that answered 500 first got it again, with the same webhook-id (the 5 s retry).
flaky_got = wait_for(lambda: len(receiver.got("flaky", cid, "wallet.topped_up", entry_is(credit.id))) >= 2
                     and receiver.got("flaky", cid, "wallet.topped_up", entry_is(credit.id)))
check(bool(flaky_got) and [r["status"] for r in flaky_got[:2]] == [500, 200],
      "an endpoint that answered 500 gets the event again (the retry), then answers 200")
check(len({r["headers"]["webhook-id"] for r in flaky_got}) == 1, "the retry has the same webhook-id")
verify(flaky_got[1], secrets[flaky.id], "the retried wallet.topped_up")

# ---- A debit: wallet.payment_made, to the filtering endpoint too ----
entries.create(cid, amount=1200, currency="USD", entry_type="debit", reason="Webhook test debit")
debit = entries.list(cid, currency="USD", page_size=1).items[0]
paid = wait_for(lambda: receiver.got("main", cid, "wallet.payment_made", entry_is(debit.id)))
check(bool(paid), "a debit: wallet.payment_made arrives")
paid = one(paid, "wallet.payment_made")
verify(paid, secret, "wallet.payment_made")
check(paid["event"]["data"]["ledger_entry"]["amount"] == 1200 and paid["event"]["data"]["ledger_entry"]["is_credit"] is False
      and paid["event"]["data"]["wallet"]["balance"] == 3800, "wallet.payment_made carries the debit and the wallet after it")
check(paid["event"]["data"]["sequence"] > data["sequence"], "data.sequence rises with each change")
filtered_paid = wait_for(lambda: receiver.got("filtered", cid, "wallet.payment_made", entry_is(debit.id)))
check(bool(filtered_paid), "filter_types [wallet.payment_made]: the debit arrives")
verify(filtered_paid[0], secrets[filtered.id], "the filtered endpoint's wallet.payment_made (its own secret)")
time.sleep(GRACE_S)
check({r["event"]["type"] for r in receiver.got("filtered", cid)} == {"wallet.payment_made"},
      "filter_types [wallet.payment_made]: no wallet.created or wallet.topped_up arrives")
check({r["event"]["type"] for r in receiver.got("flaky", cid)} == {"wallet.topped_up"},
      "filter_types [wallet.topped_up]: nothing else arrives")

# ---- A disabled endpoint receives nothing ----
check(bool(wait_for(lambda: receiver.got("paused", cid, "wallet.topped_up", entry_is(credit.id)))),
      "the endpoint to disable got the first credit")
disabled = strict.webhooks.update(paused.id, disabled=True)
check(disabled.disabled is True and strict.webhooks.retrieve(paused.id).disabled is True, "webhooks.update disabled=True")
entries.create(cid, amount=700, currency="USD", entry_type="credit", reason="After disabling")
later = entries.list(cid, currency="USD", page_size=1).items[0]
check(bool(wait_for(lambda: receiver.got("main", cid, "wallet.topped_up", entry_is(later.id)))),
      "a later credit reaches the enabled endpoint")
time.sleep(GRACE_S)
check(receiver.got("paused", cid, "wallet.topped_up", entry_is(later.id)) == [], "the disabled endpoint receives nothing")

# ---- Holds and a close (raw HTTP: extensions the SDK has no methods for) ----
holds = f"/customers/{cid}/wallets/holds"
status, captured_hold = api("POST", holds, {"amount": 300, "currency": "USD", "reason": "to capture"})
check(status == 200, f"POST holds -> 200 (got {status} {captured_hold})")
status, released_hold = api("POST", holds, {"amount": 200, "currency": "USD", "reason": "to release"})
check(status == 200, "POST holds -> 200")
status, captured_hold = api("POST", f"{holds}/{captured_hold['id']}/capture")
check(status == 200 and captured_hold["status"] == "captured", "capture -> 200")
status, released_hold = api("POST", f"{holds}/{released_hold['id']}/release")
check(status == 200 and released_hold["status"] == "released", "release -> 200")
for hold, event_type, hold_status in ((captured_hold, "wallet.hold.created", "pending"), (released_hold, "wallet.hold.created", "pending"),
                                      (captured_hold, "wallet.hold.captured", "captured"), (released_hold, "wallet.hold.released", "released")):
    found = wait_for(lambda: receiver.got("main", cid, event_type, hold_is(hold["id"], hold_status)))
    check(bool(found), f"{event_type} arrives for hold {hold['reason']!r}")
    verify(one(found, event_type), secret, event_type)
    check(found[0]["event"]["data"]["hold"]["amount"] == hold["amount"] and "ledger_entry" not in found[0]["event"]["data"],
          f"{event_type} carries the hold")
capture_debit = wait_for(lambda: receiver.got("main", cid, "wallet.payment_made",
                                              lambda d: (d.get("ledger_entry") or {}).get("id") == captured_hold["ledger_entry_id"]))
check(bool(capture_debit) and capture_debit[0]["event"]["data"]["ledger_entry"]["amount"] == 300,
      "the capture's debit comes as wallet.payment_made")
other = next(c for c in currencies if c != "USD") if len(currencies) > 1 else None
if other:
    status, closed = api("POST", f"/customers/{cid}/wallets/close", {"currency": other, "reason": "Webhook test close"})
    check(status == 200 and closed["status"] == "closed", f"close the {other} wallet -> 200")
    found = wait_for(lambda: receiver.got("main", cid, "wallet.closed"))
    check(bool(found) and found[0]["event"]["data"]["currency"] == other and found[0]["event"]["data"]["wallet"]["status"] == "closed",
          "wallet.closed arrives with the closed wallet")
    verify(one(found, "wallet.closed"), secret, "wallet.closed")

# Each change arrived once: no two webhook-ids for one change (a repeat keeps its webhook-id).
time.sleep(GRACE_S)
changes = {}
for r in receiver.got("main", cid):
    d = r["event"]["data"]
    key = (r["event"]["type"], d["currency"], (d.get("ledger_entry") or {}).get("id"), (d.get("hold") or {}).get("id"))
    changes.setdefault(key, set()).add(r["headers"]["webhook-id"])
check(all(len(ids) == 1 for ids in changes.values()), f"each of the {len(changes)} changes has one webhook-id")

# ---- The delivery log (raw HTTP) ----
def delivery_of(webhook_id, delivery_id):
    status, delivery = api("GET", f"/webhooks/{webhook_id}/deliveries/{delivery_id}")
    return delivery if status == 200 else None


done = wait_for(lambda: (d := delivery_of(main.id, topped_id)) and d["status"] == "succeeded" and d)
check(bool(done), "GET /webhooks/{id}/deliveries/{evt}: the topped_up delivery is succeeded")
check(done["id"] == topped_id and done["webhook_id"] == main.id and done["event_type"] == "wallet.topped_up"
      and done["attempt_count"] == 1 and done["next_attempt_at"] is None, "the delivery: its id is the webhook-id, one attempt")
check(done["payload"] == json.loads(topped["body"]), "the delivery's payload is the body sent")
check(len(done["attempts"]) == 1 and done["attempts"][0]["attempt"] == 1 and done["attempts"][0]["status_code"] == 200
      and done["attempts"][0]["error"] is None and done["attempts"][0]["response"] == "ok"
      and isinstance(done["attempts"][0]["duration_ms"], int), "its attempt: 200, the receiver's answer, no error")

listed = all_deliveries(main.id)
mine = [d for d in listed if d["id"] == topped_id]
check(len(mine) == 1 and mine[0]["status"] == "succeeded" and mine[0]["attempt_count"] == 1 and "attempts" not in mine[0],
      "GET /webhooks/{id}/deliveries lists it, succeeded, one attempt, without the attempts")
check([d["created_at"] for d in listed] == sorted((d["created_at"] for d in listed), reverse=True), "deliveries newest first")
check({d["id"] for d in all_deliveries(main.id, "limit=1")} == {d["id"] for d in listed}, "deliveries page with limit=1")
typed = all_deliveries(main.id, "event_type=wallet.topped_up")
check(topped_id in {d["id"] for d in typed} and {d["event_type"] for d in typed} == {"wallet.topped_up"}, "deliveries filtered by event_type")
succeeded = all_deliveries(main.id, "status=succeeded")
check(topped_id in {d["id"] for d in succeeded} and {d["status"] for d in succeeded} == {"succeeded"}, "deliveries filtered by status")
check(all(d["id"] != topped_id for d in all_deliveries(main.id, "status=failed")), "status=failed leaves it out")

flaky_id = flaky_got[0]["headers"]["webhook-id"]
retried = wait_for(lambda: (d := delivery_of(flaky.id, flaky_id)) and d["status"] == "succeeded" and d)
check(bool(retried) and retried["attempt_count"] == 2 and [a["status_code"] for a in retried["attempts"]] == [500, 200]
      and retried["attempts"][0]["response"] == "fail", "the retried delivery logs both attempts: 500 then 200")

before = len(receiver.got("main", cid, "wallet.topped_up", entry_is(credit.id)))
status, resent = api("POST", f"/webhooks/{main.id}/deliveries/{topped_id}/resend")
check(status == 200 and resent["id"] == topped_id and resent["attempt_count"] == 2 and resent["status"] == "succeeded",
      f"POST .../resend -> 200, a second attempt (got {status})")
again = wait_for(lambda: len(receiver.got("main", cid, "wallet.topped_up", entry_is(credit.id))) > before
                 and receiver.got("main", cid, "wallet.topped_up", entry_is(credit.id)))
check(bool(again) and again[-1]["headers"]["webhook-id"] == topped_id, "resend delivers it again with the same webhook-id")
verify(again[-1], secret, "the resent wallet.topped_up")
check(json.loads(again[-1]["body"]) == event, "the resent body is the same event")
check(len(delivery_of(main.id, topped_id)["attempts"]) == 2, "the resend is in the log")

# ---- 404, 401, 422 ----
NotFound = dodopayments.NotFoundError
expect_error(NotFound, 404, lambda: strict.webhooks.retrieve("whk_doesnotexist"), "unknown webhook: retrieve")
expect_error(NotFound, 404, lambda: strict.webhooks.update("whk_doesnotexist", description="x"), "unknown webhook: update")
expect_error(NotFound, 404, lambda: strict.webhooks.retrieve_secret("whk_doesnotexist"), "unknown webhook: retrieve_secret")
expect_error(NotFound, 404, lambda: strict.webhooks.headers.retrieve("whk_doesnotexist"), "unknown webhook: headers.retrieve")
expect_error(NotFound, 404, lambda: strict.webhooks.headers.update("whk_doesnotexist", headers={"x-a": "1"}), "unknown webhook: headers.update")
expect_error(NotFound, 404, lambda: strict.webhooks.delete("whk_doesnotexist"), "unknown webhook: delete")
expect_error(NotFound, 404, lambda: strict.webhooks.retrieve(credit.id), "an id of another kind")
for method, path in (("GET", "/webhooks/whk_doesnotexist/deliveries"), ("GET", f"/webhooks/whk_doesnotexist/deliveries/{topped_id}"),
                     ("GET", f"/webhooks/{main.id}/deliveries/evt_doesnotexist"), ("POST", f"/webhooks/{main.id}/deliveries/evt_doesnotexist/resend"),
                     ("GET", f"/webhooks/{filtered.id}/deliveries/{topped_id}")):
    status, body = api(method, path)
    check(status == 404 and body["code"].endswith("not_found"), f"{method} {path.replace(main.id, '{id}').replace(filtered.id, '{other}')} -> 404")
expect_error(dodopayments.AuthenticationError, 401,
             lambda: DodoPayments(bearer_token="cw_wrong", base_url=BASE_URL, max_retries=0).webhooks.list(), "wrong API key")
status, _ = api("GET", f"/webhooks/{main.id}/deliveries", key="cw_wrong")
check(status == 401, "deliveries with a wrong API key -> 401")

ids_before = [w.id for w in strict.webhooks.list()]
Invalid = dodopayments.UnprocessableEntityError
expect_error(Invalid, 422, lambda: strict.webhooks.create(url="not a url"), "url 'not a url'", "invalid_url")
expect_error(Invalid, 422, lambda: strict.webhooks.create(url=receiver.url("x"), filter_types=["nope.nope"]), "filter_types [nope.nope]", "unknown_event_type")
expect_error(Invalid, 422, lambda: strict.webhooks.create(url=receiver.url("x"), headers={f"X-H{i}": "v" for i in range(21)}), "21 headers", "too_many_headers")
expect_error(Invalid, 422, lambda: strict.webhooks.create(url=receiver.url("x"), headers={"bad name": "v"}), "a header name with a space", "invalid_header")
expect_error(Invalid, 422, lambda: strict.webhooks.create(url=receiver.url("x"), headers={"webhook-signature": "v"}), "a header the service sets", "invalid_header")
expect_error(Invalid, 422, lambda: strict.webhooks.create(url=receiver.url("x"), metadata={f"k{i}": "v" for i in range(51)}), "51 metadata keys", "metadata_too_large")
expect_error(Invalid, 422, lambda: strict.webhooks.create(url=receiver.url("x"), metadata={"k" * 41: "v"}), "a 41-byte metadata key", "metadata_too_large")
expect_error(Invalid, 422, lambda: strict.webhooks.create(url=receiver.url("x"), rate_limit=0), "rate_limit 0", "invalid_rate_limit")
expect_error(Invalid, 422, lambda: strict.webhooks.create(url=receiver.url("x"), description="d" * 501), "a 501-byte description", "invalid_description")
check([w.id for w in strict.webhooks.list()] == ids_before, "the refused creates created nothing")
expect_error(Invalid, 422, lambda: strict.webhooks.update(main.id, url="not a url"), "update url 'not a url'", "invalid_url")
expect_error(Invalid, 422, lambda: strict.webhooks.update(main.id, filter_types=["nope.nope"]), "update filter_types [nope.nope]", "unknown_event_type")
check(strict.webhooks.retrieve(main.id).url == main.url, "the refused update changed nothing")
expect_error(Invalid, 422, lambda: strict.webhooks.headers.update(main.id, headers={f"X-M{i}": "v" for i in range(19)}),
             "headers.update past 20 in all", "too_many_headers")
check(len(strict.webhooks.headers.retrieve(main.id).headers) == 2, "the refused headers.update changed nothing")
status, body = api("GET", f"/webhooks/{main.id}/deliveries?status=nope")
check(status == 422, f"deliveries?status=nope -> 422 (got {status} {body})")
status, body = api("GET", f"/webhooks/{main.id}/deliveries?event_type=nope.nope")
check(status == 422, f"deliveries?event_type=nope.nope -> 422 (got {status} {body})")

# ---- Delete ----
for webhook in (paused, filtered, flaky, main):
    check(client.webhooks.delete(webhook.id) is None, f"webhooks.delete {webhook.url.rsplit('/', 1)[1]} (204)")
    expect_error(NotFound, 404, lambda: strict.webhooks.retrieve(webhook.id), "retrieve after delete")
    created_ids.remove(webhook.id)
check(not {main.id, flaky.id, filtered.id, paused.id} & {w.id for w in strict.webhooks.list()}, "deleted endpoints are not listed")
status, _ = api("GET", f"/webhooks/{main.id}/deliveries")
check(status == 404, "a deleted endpoint's deliveries -> 404")

print(f"Dodo SDK {dodopayments.__version__} webhooks: {checks} checks passed against {BASE_URL}")
