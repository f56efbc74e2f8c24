"""Creates a customer with USD and INR balance for the fuzz test and writes its id as a
schemathesis dictionary (one quoted entry a line). Usage: seed.py BASE_URL API_KEY DICT_PATH"""

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
    base_url, api_key, dict_path = sys.argv[1:]
    customer = call(base_url, api_key, "POST", "/customers", {"email": "fuzz@example.com", "name": "Fuzz"})
    customer_id = customer["customer_id"]
    for currency in ("USD", "INR"):
        call(base_url, api_key, "POST", f"/customers/{customer_id}/wallets/ledger-entries",
             {"amount": 1_000_000, "currency": currency, "entry_type": "credit"})
    with open(dict_path, "w", encoding="utf-8") as out:
        out.write(f'"{customer_id}"\n')


if __name__ == "__main__":
    main()
