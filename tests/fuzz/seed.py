"""Creates a customer with USD and INR balance, a few holds and invoice payments for the fuzz test,
and writes their ids as schemathesis dictionaries (one quoted entry a line) into DICT_DIR:
customer_ids.dict, hold_ids.dict, invoice_ids.dict. Usage: seed.py BASE_URL API_KEY DICT_DIR"""

import json
import sys
import urllib.request


def call(base_url, api_key, method, path, body):
    request = urllib.request.Request(
        base_url + path,
        method=method,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def main():
    base_url, api_key, dict_dir = sys.argv[1:]
    customer = call(base_url, api_key, "POST", "/customers", {"email": "fuzz@example.com", "name": "Fuzz"})
    customer_id = customer["customer_id"]
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
    for name, ids in (("customer_ids", [customer_id]), ("hold_ids", hold_ids), ("invoice_ids", invoice_ids)):
        with open(f"{dict_dir}/{name}.dict", "w", encoding="utf-8") as out:
            out.writelines(f'"{i}"\n' for i in ids)


if __name__ == "__main__":
    main()
