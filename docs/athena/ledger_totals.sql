-- Every ledger entry of one business made in [from, to), per currency: how many, and the credits
-- and debits in minor units. Parameters, in order: the business id (bus_...), from and to (RFC 3339
-- in UTC with milliseconds, as the entries store created_at: 2026-11-01T00:00:00.000Z).
-- Ledger entries are the items whose sort key starts with LED# (the currency copies of the same
-- entries start with the currency's code and are not counted); a business's customer partitions
-- start with CUS#<business>#. tests/export/duckdb_export_test.py runs this text unchanged.
SELECT
  json_extract_scalar(Item.doc.S, '$.currency') AS currency,
  count(*) AS entries,
  sum(CASE WHEN json_extract_scalar(Item.doc.S, '$.is_credit') = 'true'
           THEN CAST(json_extract_scalar(Item.doc.S, '$.amount') AS BIGINT) ELSE 0 END) AS credits,
  sum(CASE WHEN json_extract_scalar(Item.doc.S, '$.is_credit') = 'false'
           THEN CAST(json_extract_scalar(Item.doc.S, '$.amount') AS BIGINT) ELSE 0 END) AS debits
FROM wallets_export
WHERE starts_with(Item.sk.S, 'LED#')
  AND starts_with(Item.pk.S, concat('CUS#', ?, '#'))
  AND json_extract_scalar(Item.doc.S, '$.created_at') >= ?
  AND json_extract_scalar(Item.doc.S, '$.created_at') < ?
GROUP BY 1
ORDER BY 1
