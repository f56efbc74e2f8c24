"""Creates a customer with USD and INR balance (and, with STRIPE_BASE_URL, a saved card at the local
Stripe paying what the wallet does not), a few holds and invoice payments, webhook
endpoints with deliveries, and API keys for the fuzz test, and writes their ids as schemathesis
dictionaries (one quoted entry a line) into DICT_DIR: customer_ids.dict, hold_ids.dict,
invoice_ids.dict, webhook_ids.dict, deletable_webhook_ids.dict, delivery_ids.dict, top_up_link_ids.dict,
revocable_key_ids.dict, rotatable_key_ids.dict.
Usage: seed.py BASE_URL API_KEY DICT_DIR

The API keys are for revoking and rotating: the fuzz run acts on these, never on API_KEY itself,
which would turn every later request into a 401 (schemathesis.toml).

The webhook endpoints are made first, so the customer's changes give them deliveries. Their URL is
a closed port on loopback (a local run allows loopback targets): every attempt fails at once and
stays in the log, so the deliveries exist for the delivery routes whatever the fuzzing does.
A delivery exists only once the dispatcher has read the change from the table's stream; if none
appears within DELIVERY_WAIT_S (the local stream poller is not running), a warning says so and the
delivery routes get a made-up id (404 only)."""

import base64
import json
import os
import sys
import time
import urllib.parse
import urllib.request

# Nothing listens here (port 9 is "discard", closed on loopback): attempts fail with a refused
# connection, fast.
UNREACHABLE_RECEIVER = "http://127.0.0.1:9/fuzz-receiver"
DELIVERY_WAIT_S = 60


def call(base_url, api_key, method, path, body=None):
    request = urllib.request.Request(
        base_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def stripe(path, form):
    """POST a form to the local Stripe (localstripe) that infra/test.sh started."""
    key = os.environ["STRIPE_SECRET_KEY"]
    request = urllib.request.Request(
        os.environ["STRIPE_BASE_URL"].rstrip("/") + path,
        method="POST",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
                 "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def save_card(base_url, api_key, customer):
    """Issue 22: a saved card at the local Stripe, owned by the business and customer (the gateway
    customer's metadata), set on the customer with auto_pay, so that fuzzed invoice payments
    above the balance charge it and reversals refund it. Answers the id of an invoice whose
    remainder the card paid."""
    card = stripe("/v1/payment_methods", {"type": "card", "card[number]": "4242424242424242",
                                          "card[exp_month]": "12", "card[exp_year]": "2034",
                                          "card[cvc]": "123"})["id"]
    gateway_customer = stripe("/v1/customers", {
        "payment_method": card,
        "metadata[wallet_business_id]": customer["business_id"],
        "metadata[wallet_customer_id]": customer["customer_id"],
    })["id"]
    call(base_url, api_key, "PATCH", f"/customers/{customer['customer_id']}",
         {"gateway_customer_id": gateway_customer,
          "payment_methods": [{"payment_method_id": card, "priority": 1}], "auto_pay": True})
    paid = call(base_url, api_key, "POST", f"/customers/{customer['customer_id']}/wallets/invoice-payments",
                {"invoice_id": "in_fuzz_card", "currency": "USD", "amount_due": 5_000})
    if paid["status"] != "paid":
        raise SystemExit(f"seed.py: the saved card did not pay the remainder: {paid}")
    return "in_fuzz_card"


def main():
    base_url, api_key, dict_dir = sys.argv[1:]
    # The endpoint most requests use, and a few that only DELETE /webhooks/{webhook_id} gets
    # (schemathesis.toml), so that deleting does not take the others' endpoint away.
    webhook_ids = [
        call(base_url, api_key, "POST", "/webhooks",
             {"url": UNREACHABLE_RECEIVER, "description": "fuzz", "metadata": {"seed": "fuzz"}})["id"]
    ]
    deletable_webhook_ids = [
        call(base_url, api_key, "POST", "/webhooks", {"url": UNREACHABLE_RECEIVER, "disabled": True})["id"]
        for _ in range(3)
    ]

    customer = call(base_url, api_key, "POST", "/customers", {"email": "fuzz@example.com", "name": "Fuzz"})
    customer_id = customer["customer_id"]
    # Paid by the card before the wallet has money: the balances below stay whole for the fuzzing.
    card_invoice_ids = [save_card(base_url, api_key, customer)] if os.environ.get("STRIPE_BASE_URL") else []
    for currency in ("USD", "INR"):
        call(base_url, api_key, "POST", f"/customers/{customer_id}/wallets/ledger-entries",
             {"amount": 1_000_000, "currency": currency, "entry_type": "credit"})
    wallets = f"/customers/{customer_id}/wallets"
    hold_ids = [
        call(base_url, api_key, "POST", f"{wallets}/holds", {"amount": 1_000, "currency": "USD"})["id"]
        for _ in range(5)
    ]
    invoice_ids = [f"in_fuzz_{n}" for n in range(3)]
    for invoice_id in invoice_ids:
        call(base_url, api_key, "POST", f"{wallets}/invoice-payments",
             {"invoice_id": invoice_id, "currency": "USD", "amount_due": 50_000})
    invoice_ids += card_invoice_ids
    # Top-up links of the seeded customer, so that reading and cancelling one gets past the lookup.
    top_up_link_ids = [
        call(base_url, api_key, "POST", f"{wallets}/top-up-links",
             {"currency": "USD", "amount": 1_000, "reason": f"fuzz link {n}"})["id"]
        for n in range(3)
    ]

    revocable_key_ids, rotatable_key_ids = (
        [call(base_url, api_key, "POST", "/api-keys", {"name": f"fuzz {use} {n}"})["id"] for n in range(3)]
        for use in ("revocable", "rotatable")
    )

    delivery_ids = []
    deadline = time.monotonic() + DELIVERY_WAIT_S
    while True:
        page = call(base_url, api_key, "GET", f"/webhooks/{webhook_ids[0]}/deliveries")
        delivery_ids = [d["id"] for d in page["data"]]
        if delivery_ids or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if not delivery_ids:
        print(f"seed.py: WARNING: no webhook delivery within {DELIVERY_WAIT_S} s (is the stream poller "
              "running?); the delivery routes are fuzzed with an unknown id only", file=sys.stderr)
        delivery_ids = ["evt_00000000000000000000000000"]

    for name, ids in (("customer_ids", [customer_id]), ("hold_ids", hold_ids), ("invoice_ids", invoice_ids),
                      ("webhook_ids", webhook_ids), ("deletable_webhook_ids", deletable_webhook_ids),
                      ("delivery_ids", delivery_ids), ("revocable_key_ids", revocable_key_ids),
                      ("rotatable_key_ids", rotatable_key_ids), ("top_up_link_ids", top_up_link_ids)):
        with open(f"{dict_dir}/{name}.dict", "w", encoding="utf-8") as out:
            out.writelines(f'"{i}"\n' for i in ids)


if __name__ == "__main__":
    main()
