"""The official Dodo Payments Python SDK, unchanged, against the local API.

Run by infra/test.sh with DODO_BASE_URL and DODO_API_KEY set; exits non-zero on the first failure.
With DODO_LOCAL_WATCH_PORT and DODO_LOCAL_CONCURRENCY (test.sh sets them) it also checks, from
Linux's /proc, that the races ran through several processes of the function, as on Lambda.
"""

import concurrent.futures
import datetime
import os
import sys
import threading
import time
import uuid

import dodopayments
from dodopayments import DodoPayments

BASE_URL = os.environ["DODO_BASE_URL"]
API_KEY = os.environ["DODO_API_KEY"]
client = DodoPayments(bearer_token=API_KEY, base_url=BASE_URL, max_retries=0)
strict = DodoPayments(bearer_token=API_KEY, base_url=BASE_URL, max_retries=0, _strict_response_validation=True)
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1
    print(f"ok: {what}")


def expect_error(error_class, status, call, what):
    try:
        call()
    except error_class as err:
        check(err.status_code == status, f"{what} -> {status}")
        return err
    check(False, f"{what} raised {error_class.__name__}")


run = uuid.uuid4().hex[:8]

# Customers
customer = strict.customers.create(email=f"sdk-{run}@example.com", name="SDK Customer", phone_number="+1 555 0100", metadata={"plan": "pro"})
check(customer.customer_id.startswith("cus_") and customer.email == f"sdk-{run}@example.com", "customers.create")
check(strict.customers.retrieve(customer.customer_id).name == "SDK Customer", "customers.retrieve")
updated = strict.customers.update(customer.customer_id, name="SDK Customer Renamed", phone_number=None)
check(updated.name == "SDK Customer Renamed" and updated.phone_number is None, "customers.update (PATCH, null clears)")
found = strict.customers.list(email=f"sdk-{run}@example.com", page_size=10)
check([c.customer_id for c in found.items] == [customer.customer_id], "customers.list with email filter")
named = strict.customers.list(name=f"renamed", created_at_gte=customer.created_at, created_at_lte=customer.created_at)
check([c.customer_id for c in named.items] == [customer.customer_id], "customers.list with name and created_at filters")
later = strict.customers.list(created_at_gte=customer.created_at + datetime.timedelta(milliseconds=1), email=f"sdk-{run}@example.com")
check(later.items == [], "customers.list created_at_gte after the customer")
localed = strict.customers.update(customer.customer_id, preferred_locale="de")
check(localed.preferred_locale == "de", "customers.update preferred_locale")

# Customer portal (Dodo's POST /customers/{id}/customer-portal/session, docs/portal.md)
PORTAL_PREFIX = f"{BASE_URL}/portal/session?token="
session = strict.customers.customer_portal.create(customer.customer_id)
check(session.link.startswith(PORTAL_PREFIX) and len(session.link) > len(PORTAL_PREFIX) + 40, "customer_portal.create answers a link to the portal")
mailed = strict.customers.customer_portal.create(customer.customer_id, return_url="https://shop.example.com/account", send_email=True)
check(mailed.link.startswith(PORTAL_PREFIX) and mailed.link != session.link, "customer_portal.create with return_url and send_email")
MAILBOX = os.environ.get("MAILBOX_DIR")
if MAILBOX:
    mails = [open(os.path.join(MAILBOX, name)).read() for name in os.listdir(MAILBOX) if name.endswith(".txt")]
    mine = [m for m in mails if m.startswith(f"To: sdk-{run}@example.com\n")]
    check(len(mine) == 1 and mailed.link in mine[0], "send_email=True put one mail holding the link in the mailbox")
expect_error(dodopayments.NotFoundError, 404, lambda: strict.customers.customer_portal.create("cus_doesnotexist"), "customer_portal.create for an unknown customer")
expect_error(dodopayments.UnprocessableEntityError, 422, lambda: strict.customers.customer_portal.create(customer.customer_id, return_url="javascript:alert(1)"), "customer_portal.create with a bad return_url")

# Wallets
wallets = strict.customers.wallets.list(customer.customer_id)
check(sorted(w.currency for w in wallets.items) == ["INR", "USD"] and all(w.balance == 0 for w in wallets.items), "wallets.list: zero USD and INR")
check(wallets.total_balance_usd == 0, "wallets.list total_balance_usd")

entries = strict.customers.wallets.ledger_entries
key = f"welcome-{run}"
wallet = entries.create(customer.customer_id, amount=5000, currency="USD", entry_type="credit", reason="Welcome bonus", idempotency_key=key)
check(wallet.balance == 5000 and wallet.currency == "USD", "ledger_entries.create credit")

err = expect_error(dodopayments.ConflictError, 409, lambda: entries.create(customer.customer_id, amount=5000, currency="USD", entry_type="credit", idempotency_key=key), "repeated idempotency key")
check(err.body["ledger_entry"]["amount"] == 5000, "409 body carries the original entry")

wallet = entries.create(customer.customer_id, amount=1500, currency="USD", entry_type="debit", reason="Subscription", idempotency_key=f"charge-{run}")
check(wallet.balance == 3500, "ledger_entries.create debit")

err = expect_error(dodopayments.BadRequestError, 400, lambda: entries.create(customer.customer_id, amount=999_999, currency="USD", entry_type="debit"), "insufficient debit")
check(err.body["code"] == "insufficient_balance", "400 body says insufficient_balance")
expect_error(dodopayments.UnprocessableEntityError, 422, lambda: entries.create(customer.customer_id, amount=0, currency="USD", entry_type="credit"), "amount 0")
expect_error(dodopayments.NotFoundError, 404, lambda: strict.customers.retrieve("cus_doesnotexist"), "unknown customer")
expect_error(dodopayments.AuthenticationError, 401, lambda: DodoPayments(bearer_token="cw_wrong", base_url=BASE_URL, max_retries=0).customers.list(), "wrong API key")

entries.create(customer.customer_id, amount=100_000, currency="INR", entry_type="credit")
for i in range(3):
    entries.create(customer.customer_id, amount=10 + i, currency="USD", entry_type="credit")

# Paging: explicit page numbers (the SDK's auto-pager jumps from page 0 to page 2; see docs/api.md "Paging with the Dodo SDKs").
page0 = entries.list(customer.customer_id, page_size=2)
page1 = entries.list(customer.customer_id, page_size=2, page_number=1)
page2 = entries.list(customer.customer_id, page_size=2, page_number=2)
page3 = entries.list(customer.customer_id, page_size=2, page_number=3)
check([e.amount for e in page0.items] == [12, 11], "ledger_entries.list page 0, newest first")
check([e.amount for e in page1.items] == [10, 100_000], "ledger_entries.list page 1")
check([e.amount for e in page2.items] == [1500, 5000], "ledger_entries.list page 2")
check(page3.items == [], "ledger_entries.list past the end is empty")
usd = entries.list(customer.customer_id, currency="USD", page_size=100)
check([e.amount for e in usd.items] == [12, 11, 10, 1500, 5000], "ledger_entries.list currency filter")
check(all(isinstance(e.is_credit, bool) and e.event_type == "merchant_adjustment" for e in usd.items), "transactions parse strictly")
from_page_one = list(entries.list(customer.customer_id, page_size=2, page_number=1))
check([e.amount for e in from_page_one] == [10, 100_000, 1500, 5000], "auto-paging from page 1 reaches the end")

wallets = strict.customers.wallets.list(customer.customer_id)
balances = {w.currency: w.balance for w in wallets.items}
check(balances == {"USD": 3533, "INR": 100_000}, "final balances")
check(wallets.total_balance_usd == 3533 + 1200, "total_balance_usd converts INR at the configured rate")


# Races: many requests at once from threads, each exactly one HTTP request (max_retries=0: the SDK
# would otherwise resend some answers, e.g. a 409 without x-should-retry: false).
racer = DodoPayments(bearer_token=API_KEY, base_url=BASE_URL, max_retries=0)
WATCH_PORT = os.environ.get("DODO_LOCAL_WATCH_PORT")
CONCURRENCY = int(os.environ.get("DODO_LOCAL_CONCURRENCY") or 0)


def at_once(n, call):
    """call(0) .. call(n-1) from n threads released together; each one's result or exception."""
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        try:
            return call(i)
        except Exception as err:  # the outcome under test, kept for the checks
            return err

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def instances(function):
    """{pid: bytes written so far} of each process of FUNCTION that cargo lambda watch on
    WATCH_PORT runs: the binary's name, and the runtime API it was given, from /proc."""
    runtime_api = f"http://127.0.0.1:{WATCH_PORT}/.rt/{function}".encode()
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if os.path.basename(f.read().split(b"\0")[0]) != function.encode():
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
            if env.get(b"AWS_LAMBDA_RUNTIME_API") != runtime_api:
                continue
            with open(f"/proc/{pid}/io") as f:
                found[int(pid)] = int(dict(line.split(": ") for line in f.read().splitlines())["wchar"])
        except (OSError, ValueError, KeyError):
            continue  # gone, or not ours to read
    return found


# The function (and binary) of POST /customers/{id}/wallets/ledger-entries.
DEBITS = "create-ledger-entry"

if WATCH_PORT:
    # cargo lambda watch starts another instance only while a request waits and none is free: send
    # bursts until all CONCURRENCY instances of the ledger-entry function (its own binary,
    # create-ledger-entry) run, so that the races below meet them all (instances are never stopped
    # while it runs).
    warm = strict.customers.create(email=f"warm-{run}@example.com", name="Warm-up")
    deadline = time.monotonic() + 120
    while len(instances(DEBITS)) < CONCURRENCY and time.monotonic() < deadline:
        at_once(4 * CONCURRENCY, lambda i: racer.customers.wallets.ledger_entries.create(warm.customer_id, amount=1, currency="USD", entry_type="credit"))
    check(len(instances(DEBITS)) == CONCURRENCY, f"cargo lambda watch runs {CONCURRENCY} instances of {DEBITS}")
    before = instances(DEBITS)

# 40 debits of 1 at once against a balance of 20.
racing = strict.customers.create(email=f"race-{run}@example.com", name="Racing Customer")
entries.create(racing.customer_id, amount=20, currency="USD", entry_type="credit", reason="Race funds")
outcomes = at_once(40, lambda i: racer.customers.wallets.ledger_entries.create(racing.customer_id, amount=1, currency="USD", entry_type="debit", reason=f"Race debit {i}"))
won = [o for o in outcomes if not isinstance(o, Exception)]
refused = [o for o in outcomes if isinstance(o, dodopayments.BadRequestError)]
others = [repr(o) for o in outcomes if isinstance(o, Exception) and not isinstance(o, dodopayments.BadRequestError)]
check(len(won) == 20 and len(refused) == 20, f"40 concurrent debits of 1 against 20: 20 succeed, 20 get 400 (other outcomes: {others})")
check(all(e.status_code == 400 and e.body["code"] == "insufficient_balance" for e in refused), "the refused debits are 400 insufficient_balance")
check(sorted(w.balance for w in won) == list(range(20)), "each winning debit answers its own balance after: 19 down to 0, once each")
usd = {w.currency: w for w in strict.customers.wallets.list(racing.customer_id).items}["USD"]
check(usd.balance == 0, "the balance ends at 0")
ledger = strict.customers.wallets.ledger_entries.list(racing.customer_id, currency="USD", page_size=100).items
check(len(ledger) == 21 and sum(e.amount if e.is_credit else -e.amount for e in ledger) == 0, "the ledger holds the credit and the 20 debits, summing to the balance")
check(ledger[-1].before_balance == 0 and ledger[0].after_balance == 0
      and all(newer.before_balance == older.after_balance for newer, older in zip(ledger, ledger[1:]))
      and all(e.after_balance == e.before_balance + (e.amount if e.is_credit else -e.amount) for e in ledger),
      "the ledger entries chain: each one starts at the balance the one before ended at")

if WATCH_PORT:
    # An instance waiting on the runtime API writes nothing; one that serves a request writes to
    # DynamoDB Local, its log and the runtime API. So the instances whose writes grew served some.
    after = instances(DEBITS)
    served = {pid: after[pid] - before.get(pid, 0) for pid in after if after[pid] > before.get(pid, 0)}
    print(f"  the 40 debits: {len(served)} of {len(after)} {DEBITS} processes served some; bytes written by pid: {served}")
    check(len(served) >= 2, f"the racing debits ran through several processes of {DEBITS}")

# 20 credits at once with one idempotency key.
key = f"race-key-{run}"
outcomes = at_once(20, lambda i: racer.customers.wallets.ledger_entries.create(racing.customer_id, amount=7, currency="USD", entry_type="credit", idempotency_key=key))
won = [o for o in outcomes if not isinstance(o, Exception)]
conflicts = [o for o in outcomes if isinstance(o, dodopayments.ConflictError)]
others = [repr(o) for o in outcomes if isinstance(o, Exception) and not isinstance(o, dodopayments.ConflictError)]
check(len(won) == 1 and len(conflicts) == 19, f"20 concurrent credits with one idempotency key: 1 succeeds, 19 get 409 (other outcomes: {others})")
originals = {e.body["ledger_entry"]["id"] for e in conflicts}
check(len(originals) == 1 and all(e.body["code"] == "idempotency_key_reused" and e.body["ledger_entry"]["amount"] == 7 for e in conflicts),
      "every 409 is idempotency_key_reused and carries the one original entry")
check(all(e.response.headers.get("x-should-retry") == "false" for e in conflicts), "every 409 says x-should-retry: false")
ledger = strict.customers.wallets.ledger_entries.list(racing.customer_id, currency="USD", page_size=100).items
check(won[0].balance == 7 and [e.id for e in ledger if e.amount == 7] == list(originals), "one credit of 7 in the ledger, the one the 409s carry")

if WATCH_PORT:
    # Each route the calls above used ran in its own function's binary (functions/<route>/), which
    # the local router (Cargo.toml's [workspace.metadata.lambda.watch.router]) chose by method and
    # path; on AWS, API Gateway does the same.
    used = ["create-customer", "get-customer", "update-customer", "list-wallets",
            "create-ledger-entry", "list-ledger-entries"]
    running = {function: len(instances(function)) for function in used}
    check(all(running.values()), f"each route called ran in its own binary: processes per function {running}")

print(f"Dodo SDK {dodopayments.__version__}: {checks} checks passed against {BASE_URL}")
