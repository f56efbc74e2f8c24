// Webhooks through the official Dodo Payments Node SDK, unchanged, against the local API, with a
// real HTTP receiver on 127.0.0.1 started here (the Python test, dodo_sdk_webhooks_test.py, goes
// further). Run by infra/test.sh with DODO_BASE_URL and DODO_API_KEY set, from beside the installed
// SDK; the API must deliver webhooks. Exits non-zero on the first failure.
import http from 'node:http';
import DodoPayments from 'dodopayments';

const baseURL = process.env.DODO_BASE_URL;
const client = new DodoPayments({ bearerToken: process.env.DODO_API_KEY, baseURL, maxRetries: 0 });
const waitMs = 1000 * Number(process.env.WEBHOOK_WAIT_S || 30);
let checks = 0;

// A failed check throws, so that the endpoints made so far are deleted before the exit.
class CheckFailed extends Error {}

function check(condition, what) {
  if (!condition) {
    console.error(`FAIL: ${what}`);
    throw new CheckFailed(what);
  }
  checks += 1;
  console.log(`ok: ${what}`);
}

async function expectError(ErrorClass, status, call, what) {
  try {
    await call();
  } catch (err) {
    check(err instanceof ErrorClass && err.status === status, `${what} -> ${status}`);
    return err;
  }
  check(false, `${what} raised ${ErrorClass.name}`);
}

async function waitFor(find) {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const found = find();
    if (found || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Records every request (headers as Node gives them, lower-cased; the raw body) and answers 200.
const received = [];
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    received.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${receiver.address().port}/node`;
const created = [];
let exitCode = 0;

try {
  const run = Math.random().toString(16).slice(2, 10);
  const webhook = await client.webhooks.create({
    url, filter_types: ['wallet.topped_up'], description: 'Node SDK webhooks test', metadata: { run },
  });
  created.push(webhook.id);
  check(/^whk_[0-9a-z]{26}$/.test(webhook.id) && webhook.url === url && webhook.metadata.run === run, 'webhooks.create');
  const second = await client.webhooks.create({ url: `${url}-second`, disabled: true });
  created.push(second.id);
  const got = await client.webhooks.retrieve(webhook.id);
  check(got.description === 'Node SDK webhooks test' && got.filter_types.join() === 'wallet.topped_up' && got.disabled === false,
    'webhooks.retrieve');
  const first = await client.webhooks.list({ limit: 1 });
  check(first.data.length === 1 && first.hasNextPage(), 'webhooks.list({limit: 1}): one endpoint and a next page');
  const listed = [];
  for await (const w of client.webhooks.list({ limit: 1 })) listed.push(w.id);
  check(listed.includes(webhook.id) && listed.includes(second.id) && new Set(listed).size === listed.length,
    'webhooks.list auto-pages through every endpoint once');
  const { secret } = await client.webhooks.retrieveSecret(webhook.id);
  check(/^whsec_[A-Za-z0-9+/]{32}$/.test(secret), 'webhooks.retrieveSecret: whsec_...');

  const customer = await client.customers.create({ email: `node-webhooks-${run}@example.com`, name: 'Node Webhooks' });
  await client.customers.wallets.ledgerEntries.create(customer.customer_id, { amount: 4200, currency: 'USD', entry_type: 'credit' });
  const delivery = await waitFor(() => received.find((r) => r.path === '/node' && r.body.includes(customer.customer_id)));
  check(Boolean(delivery), 'a credit: wallet.topped_up reaches the Node receiver');
  const event = client.webhooks.unwrap(delivery.body, { headers: delivery.headers, key: secret });
  check(event.type === 'wallet.topped_up' && event.business_id === customer.business_id
    && event.data.customer_id === customer.customer_id && event.data.ledger_entry.amount === 4200 && event.data.wallet.balance === 4200,
  'webhooks.unwrap verifies it: type, business_id, data.ledger_entry, data.wallet');
  const tampered = delivery.body.replace('4200', '4201');
  let refused = false;
  try {
    client.webhooks.unwrap(tampered, { headers: delivery.headers, key: secret });
  } catch {
    refused = true;
  }
  check(tampered !== delivery.body && refused, 'webhooks.unwrap refuses a tampered body');

  for (const id of [webhook.id, second.id]) {
    await client.webhooks.delete(id);
    created.splice(created.indexOf(id), 1);
  }
  await expectError(DodoPayments.NotFoundError, 404, () => client.webhooks.retrieve(webhook.id), 'webhooks.retrieve after delete');
  console.log(`Dodo Node SDK webhooks: ${checks} checks passed against ${baseURL}`);
} catch (err) {
  if (!(err instanceof CheckFailed)) console.error(`FAIL: ${err.stack || err}`);
  exitCode = 1;
} finally {
  // An endpoint left by a failed run would be retried against the closed receiver for days.
  for (const id of created) await client.webhooks.delete(id).catch(() => {});
  receiver.close();
}
process.exit(exitCode);
