"""The documented export path, proven on DynamoDB Local: the table's items written as DynamoDB's
export to S3 writes them (DYNAMODB_JSON: gzipped lines of {"Item": {...}} under
AWSDynamoDB/<export id>/data/, with its manifests), then docs/athena/ledger_totals.sql run
unchanged by DuckDB as the stand-in for Athena, over the table docs/athena/create_table.sql
declares. Its row count and totals must equal the ledger's as the API lists it, for the whole
history and for a period that cuts it in two, and the credits less the debits must equal the sum of
the balances.

Run by infra/test.sh after the SDK tests, with DYNAMODB_ENDPOINT, TABLE_NAME, DODO_BASE_URL and
DODO_API_KEY set and EXPORT_DIR a directory to write the export in. Needs duckdb (lib.sh installs
it into .local/venv); DynamoDB Local is read with plain HTTP (it checks no signature).
"""

import collections
import datetime
import gzip
import json
import os
import pathlib
import sys
import urllib.parse
import urllib.request
import uuid

import duckdb

ROOT = pathlib.Path(__file__).resolve().parents[2]
ENDPOINT = os.environ["DYNAMODB_ENDPOINT"]
TABLE = os.environ["TABLE_NAME"]
BASE_URL = os.environ["DODO_BASE_URL"].rstrip("/")
API_KEY = os.environ["DODO_API_KEY"]
EXPORT_DIR = pathlib.Path(os.environ["EXPORT_DIR"])
ITEMS_PER_FILE = 500   # DynamoDB writes several data files per export; so does this
checks = 0
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never an HTTP(S)_PROXY


def check(condition, what):
    global checks
    if not condition:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1
    print(f"ok: {what}")


def dynamodb(target, body):
    request = urllib.request.Request(ENDPOINT, data=json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"DynamoDB_20120810.{target}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0",
    })
    return json.load(opener.open(request, timeout=60))


def api(path, **query):
    url = f"{BASE_URL}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {API_KEY}"})
    return json.load(opener.open(request, timeout=60))


def pages(path):
    """Every item of a paged list (page_number from 0, page_size 100)."""
    number = 0
    while True:
        items = api(path, page_number=number, page_size=100)["items"]
        yield from items
        if len(items) < 100:
            return
        number += 1


def route_export(start, end):
    """GET /reports/ledger-entries over [start, end) as JSON lines, 1,000 a page, followed through
    its `Link` headers: every entry it answers, in order."""
    query = {"from": start, "to": end, "format": "jsonl"}
    entries, pages_read = [], 0
    while True:
        url = f"{BASE_URL}/reports/ledger-entries?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {API_KEY}"})
        with opener.open(request, timeout=60) as response:
            check(response.headers["Content-Type"] == "application/x-ndjson",
                  f"page {pages_read} of the route's export is JSON lines")
            entries += [json.loads(line) for line in response.read().decode().splitlines()]
            link = response.headers.get("Link")
        pages_read += 1
        if not link:
            return entries
        query["cursor"] = urllib.parse.unquote(link.split("&cursor=")[1].split(">")[0])


def write_export():
    """The whole table, as an export to S3 lays it out; answers the data directory and the item count."""
    export = EXPORT_DIR / "AWSDynamoDB" / f"{uuid.uuid4().int % 10**17:017d}-{uuid.uuid4().hex[:8]}"
    data = export / "data"
    data.mkdir(parents=True)
    files, count, batch, start = [], 0, [], None

    def flush():
        if batch:
            name = data / f"{uuid.uuid4().hex}.json.gz"
            with gzip.open(name, "wt", encoding="utf-8") as out:
                for item in batch:
                    out.write(json.dumps({"Item": item}, separators=(",", ":")) + "\n")
            files.append({"itemCount": len(batch), "dataFileS3Key": str(name.relative_to(EXPORT_DIR))})
            batch.clear()

    while True:
        page = dynamodb("Scan", {"TableName": TABLE, **({"ExclusiveStartKey": start} if start else {})})
        for item in page["Items"]:
            batch.append(item)
            count += 1
            if len(batch) == ITEMS_PER_FILE:
                flush()
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    flush()
    (export / "manifest-files.json").write_text("".join(json.dumps(f) + "\n" for f in files))
    (export / "manifest-summary.json").write_text(json.dumps(
        {"version": "2020-06-30", "exportType": "FULL_EXPORT", "outputFormat": "DYNAMODB_JSON",
         "itemCount": count, "manifestFilesS3Key": str((export / "manifest-files.json").relative_to(EXPORT_DIR))}))
    return data, count, len(files)


def athena_table(connection, data):
    """docs/athena/create_table.sql's table in DuckDB: the same columns, over the same files. And
    Athena's (Trino's) json_extract_scalar, which DuckDB calls json_extract_string."""
    ddl = (ROOT / "docs/athena/create_table.sql").read_text()
    for name in ("pk", "sk", "doc"):
        check(f"{name}: struct<S: string>" in ddl, f"create_table.sql declares Item.{name}.S")
    connection.execute("CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)")
    columns = "{'Item': 'STRUCT(pk STRUCT(S VARCHAR), sk STRUCT(S VARCHAR), doc STRUCT(S VARCHAR))'}"
    connection.execute(f"CREATE VIEW wallets_export AS SELECT * FROM read_json('{data}/*.json.gz', "
                       f"format = 'newline_delimited', compression = 'gzip', columns = {columns})")


def ledger_totals(entries, start, end):
    """What the query must answer, from the API's entries: {currency: (entries, credits, debits)}."""
    totals = collections.defaultdict(lambda: [0, 0, 0])
    for entry in entries:
        if start <= entry["created_at"] < end:
            row = totals[entry["currency"]]
            row[0] += 1
            row[1 if entry["is_credit"] else 2] += entry["amount"]
    return {currency: tuple(row) for currency, row in sorted(totals.items())}


def main():
    customers = list(pages("/customers"))
    check(customers, "the business has customers (the SDK tests made them)")
    business = customers[0]["business_id"]
    entries, balances = [], collections.Counter()
    for customer in customers:
        entries += pages(f"/customers/{customer['customer_id']}/wallets/ledger-entries")
        for wallet in api(f"/customers/{customer['customer_id']}/wallets")["items"]:
            balances[wallet["currency"]] += wallet["balance"]
    check(len(entries) >= 20, f"the ledger has entries to export ({len(entries)} of {len(customers)} customers)")

    data, items, files = write_export()
    check(items > len(entries), f"the export holds the table's {items} items in {files} gzipped files")
    connection = duckdb.connect()
    athena_table(connection, data)
    exported = connection.execute("SELECT count(*) FROM wallets_export").fetchone()[0]
    check(exported == items, f"DuckDB reads back every exported item ({exported})")

    query = (ROOT / "docs/athena/ledger_totals.sql").read_text()
    times = sorted(e["created_at"] for e in entries)
    whole = ("2000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z")
    halves = [(whole[0], times[len(times) // 2]), (times[len(times) // 2], whole[1])]
    for start, end in [whole, *halves]:
        rows = connection.execute(query, [business, start, end]).fetchall()
        got = {currency: (count, credits, debits) for currency, count, credits, debits in rows}
        expected = ledger_totals(entries, start, end)
        check(got == expected, f"[{start}, {end}): the export's rows and totals per currency equal the ledger's: {got}")
    halves_count = sum(sum(c for c, _, _ in ledger_totals(entries, *h).values()) for h in halves)
    check(halves_count == len(entries), f"the two halves hold every entry once ({halves_count})")
    # The route's full export, the path for periods that fit in pages, has the ledger's rows.
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    routed = route_export(whole[0], now)
    duckdb_count = sum(r[1] for r in connection.execute(query, [business, whole[0], now]).fetchall())
    check(len(routed) == duckdb_count == len(entries),
          f"GET /reports/ledger-entries answers DuckDB's row count ({len(routed)} of {duckdb_count})")
    check(sorted(e["id"] for e in routed) == sorted(e["id"] for e in entries),
          "the route's export holds each entry of the ledger once")
    for start, end in halves:
        end = min(end, now)
        got = sum(r[1] for r in connection.execute(query, [business, start, end]).fetchall())
        check(len(route_export(start, end)) == got, f"[{start}, {end}): the route's rows equal DuckDB's ({got})")
    rows = connection.execute(query, [business, *whole]).fetchall()
    net = {currency: credits - debits for currency, _, credits, debits in rows}
    check(net == {c: b for c, b in balances.items() if c in net} and all(b == 0 for c, b in balances.items() if c not in net),
          f"credits less debits per currency equal the sum of the balances: {net}")
    print(f"{checks} passed, 0 failed")


main()
