// Drives the gcbulk simulator with the official Genesys Cloud JavaScript SDK
// to show that the SDK logs in, reads, patches, searches, moves and reads a
// 429 against it exactly as against Genesys Cloud.
//
// Environment (set by genesys/sim/sdk_test.go):
//   SIM_HOST, SIM_PORT          the simulator's loopback address
//   SIM_CLIENT_ID, SIM_CLIENT_SECRET
//   SIM_USER_ID                 a user to read and patch
//   SIM_MANAGER_ID              another user, set as the manager
//   SIM_DIVISION_ID             a division to move the user into
//   SIM_RATE_LIMIT              requests per token per window
'use strict';

const assert = require('node:assert/strict');
const platformClient = require('purecloud-platform-client-v2');

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`missing environment variable ${name}`);
  return v;
}

async function main() {
  const client = platformClient.ApiClient.instance;
  client.setGateway({ host: env('SIM_HOST'), protocol: 'http', port: Number(env('SIM_PORT')) });

  // A wrong secret is refused with the OAuth error shape.
  await assert.rejects(client.loginClientCredentialsGrant(env('SIM_CLIENT_ID'), 'wrong'));

  const auth = await client.loginClientCredentialsGrant(env('SIM_CLIENT_ID'), env('SIM_CLIENT_SECRET'));
  assert.ok(auth.accessToken, 'no access token');
  assert.ok(auth.tokenExpiryTime > Date.now(), 'token already expired');
  let sent = 0;

  const users = new platformClient.UsersApi();
  const id = env('SIM_USER_ID');
  const before = await users.getUser(id);
  sent++;
  assert.equal(before.id, id);
  assert.equal(typeof before.version, 'number');

  const after = await users.patchUser(id, {
    title: 'SDK Fidelity', manager: env('SIM_MANAGER_ID'), version: before.version,
  });
  sent++;
  assert.equal(after.title, 'SDK Fidelity');
  assert.equal(after.manager.id, env('SIM_MANAGER_ID'));
  assert.equal(after.version, before.version + 1);

  // A stale version is a 409 general.conflict; by default the SDK rejects
  // with the error body itself.
  const stale = await users.patchUser(id, { title: 'x', version: before.version }).then(
    () => null, (e) => e);
  sent++;
  assert.ok(stale, 'stale patch succeeded');
  assert.equal(stale.status, 409);
  assert.equal(stale.code, 'general.conflict');
  assert.match(stale.message, /does not match/);

  const page = await users.getUsers({ id: [id, env('SIM_MANAGER_ID')] });
  sent++;
  assert.equal(page.entities.length, 2);

  const found = await users.postUsersSearch({
    query: [{ type: 'EXACT', fields: ['email'], value: before.email.toUpperCase() }],
  });
  sent++;
  assert.equal(found.total, 1);
  assert.equal(found.results[0].id, id);

  const objects = new platformClient.ObjectsApi();
  await objects.postAuthorizationDivisionObject(env('SIM_DIVISION_ID'), 'USER', [id]);
  sent++;
  const moved = await users.getUser(id);
  sent++;
  assert.equal(moved.division.id, env('SIM_DIVISION_ID'));
  assert.equal(moved.version, after.version);

  // Use up the window, then read the 429 the way a caller would: extended
  // responses carry the status, headers and body.
  const limit = Number(env('SIM_RATE_LIMIT'));
  client.setReturnExtendedResponses(true);
  for (; sent < limit; sent++) await users.getUser(id);
  const limited = await users.getUser(id).then(() => null, (e) => e);
  assert.ok(limited, 'request past the limit succeeded');
  assert.equal(limited.status, 429);
  const retryAfter = Number(limited.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${retryAfter}`);
  assert.equal(limited.body.code, 'too.many.requests.retry.after');
  assert.equal(limited.body.message,
    `Rate limit exceeded the maximum. Retry the request in [${retryAfter}] seconds`);
  assert.equal(limited.body.contextId, limited.headers['inin-correlation-id']);

  console.log(JSON.stringify({ ok: true, retry_after: retryAfter, version: moved.version }));
}

main().catch((err) => {
  const detail = err instanceof Error ? err.stack : JSON.stringify(err);
  console.error('sdk fidelity failed:', detail);
  process.exit(1);
});
