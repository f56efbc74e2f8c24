"""The official Dodo Payments Python SDK, unchanged, against the local API.

Run by infra/test.sh with DODO_BASE_URL and DODO_API_KEY set; exits non-zero on the first failure.
"""

import datetime
import os
import sys
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

# Paging: explicit page numbers (the SDK's auto-pager jumps from page 0 to page 2; see README).
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

print(f"Dodo SDK {dodopayments.__version__}: {checks} checks passed against {BASE_URL}")
