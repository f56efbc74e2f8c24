// The official Dodo Payments Node SDK, unchanged, against the local API.
// Run by infra/test.sh with DODO_BASE_URL and DODO_API_KEY set; exits non-zero on the first failure.
import DodoPayments from 'dodopayments';

const baseURL = process.env.DODO_BASE_URL;
const client = new DodoPayments({ bearerToken: process.env.DODO_API_KEY, baseURL, maxRetries: 0 });
let checks = 0;

function check(condition, what) {
  if (!condition) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
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

const run = Math.random().toString(16).slice(2, 10);
const customer = await client.customers.create({ email: `node-${run}@example.com`, name: 'Node Customer' });
check(customer.customer_id.startsWith('cus_'), 'customers.create');
check((await client.customers.retrieve(customer.customer_id)).name === 'Node Customer', 'customers.retrieve');
check((await client.customers.update(customer.customer_id, { name: 'Renamed' })).name === 'Renamed', 'customers.update');
const found = await client.customers.list({ email: `node-${run}@example.com` });
check(found.items.length === 1 && found.items[0].customer_id === customer.customer_id, 'customers.list with email filter');

// Customer portal (Dodo's POST /customers/{id}/customer-portal/session).
const portalPrefix = `${baseURL}/portal/session?token=`;
const portal = await client.customers.customerPortal.create(customer.customer_id);
check(portal.link.startsWith(portalPrefix) && portal.link.length > portalPrefix.length + 40, 'customerPortal.create answers a link to the portal');
const withBack = await client.customers.customerPortal.create(customer.customer_id, { return_url: 'https://shop.example.com/account', send_email: false });
check(withBack.link.startsWith(portalPrefix) && withBack.link !== portal.link, 'customerPortal.create with return_url and send_email');
await expectError(DodoPayments.NotFoundError, 404, () => client.customers.customerPortal.create('cus_doesnotexist'), 'customerPortal.create for an unknown customer');

const wallets = await client.customers.wallets.list(customer.customer_id);
check(wallets.items.length === 2 && wallets.total_balance_usd === 0, 'wallets.list');

const entries = client.customers.wallets.ledgerEntries;
const key = `welcome_${run}`;
const credited = await entries.create(customer.customer_id, { amount: 10000, currency: 'USD', entry_type: 'credit', reason: 'Welcome', idempotency_key: key });
check(credited.balance === 10000, 'ledgerEntries.create credit');
const conflict = await expectError(DodoPayments.ConflictError, 409, () => entries.create(customer.customer_id, { amount: 10000, currency: 'USD', entry_type: 'credit', idempotency_key: key }), 'repeated idempotency key');
check(conflict.error.ledger_entry.amount === 10000, '409 body carries the original entry');
check((await entries.create(customer.customer_id, { amount: 2500, currency: 'USD', entry_type: 'debit' })).balance === 7500, 'ledgerEntries.create debit');
await expectError(DodoPayments.BadRequestError, 400, () => entries.create(customer.customer_id, { amount: 7501, currency: 'USD', entry_type: 'debit' }), 'insufficient debit');
await expectError(DodoPayments.NotFoundError, 404, () => client.customers.retrieve('cus_doesnotexist'), 'unknown customer');

const page0 = await entries.list(customer.customer_id, { page_size: 1 });
const page1 = await entries.list(customer.customer_id, { page_size: 1, page_number: 1 });
check(page0.items[0].amount === 2500 && page1.items[0].amount === 10000, 'ledgerEntries.list pages newest first');

// 20 debits of 1 at once against a balance of 10 (maxRetries: 0, so each is one request).
const racing = await client.customers.create({ email: `node-race-${run}@example.com`, name: 'Node Racing' });
await entries.create(racing.customer_id, { amount: 10, currency: 'USD', entry_type: 'credit' });
const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => entries.create(racing.customer_id, { amount: 1, currency: 'USD', entry_type: 'debit', reason: `race ${i}` })));
const won = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value);
const refused = outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof DodoPayments.BadRequestError && o.reason.error.code === 'insufficient_balance');
check(won.length === 10 && refused.length === 10, '20 concurrent debits of 1 against 10: 10 succeed, 10 get 400 insufficient_balance');
check(won.map((w) => w.balance).sort((a, b) => a - b).join() === [...Array(10).keys()].join(), 'each winning debit answers its own balance after: 9 down to 0');
const raced = await client.customers.wallets.list(racing.customer_id);
check(raced.items.find((w) => w.currency === 'USD').balance === 0, 'the balance ends at 0');
console.log(`Dodo Node SDK: ${checks} checks passed against ${baseURL}`);
