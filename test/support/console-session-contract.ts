// The console sessions' contract (src/control/console/sessions.ts over a ConsoleSessionStore), run
// against the in-memory table and the PostgreSQL one: bounds in number and time, sign-out, ids and
// CSRF tokens; and, where two tables share one store (two replicas), a session made through one is
// valid through the other and ends for both.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionTable, csrfTokenMatches } from '../../src/control/console/sessions.ts';
import type { ConsoleSessionStore } from '../../src/store/console-sessions.ts';

export function consoleSessionContract(name: string, makeStore: () => Promise<ConsoleSessionStore>): void {
  describe(`console sessions: ${name}`, () => {
    test('the session table is bounded: past its size the oldest session is dropped', async () => {
      const table = new SessionTable({ maxSessions: 3 }, await makeStore());
      const sessions = [];
      for (const i of [0, 1, 2, 3]) sessions.push(await table.create(`client-${i}`, 1_000 + i));
      assert.equal(await table.get(sessions[0]!.id, 2_000), undefined);
      for (const i of [1, 2, 3]) assert.equal((await table.get(sessions[i]!.id, 2_000))?.clientId, `client-${i}`);
    });

    test('a session ends after its lifetime however busy, and after its idle time', async () => {
      const table = new SessionTable({ lifetimeMs: 10_000, idleMs: 3_000 }, await makeStore());
      const busy = await table.create('busy', 0);
      for (let now = 2_000; now < 10_000; now += 2_000) assert.ok(await table.get(busy.id, now), `alive at ${now}`);
      assert.equal(await table.get(busy.id, 10_000), undefined, 'lifetime over');
      const idle = await table.create('idle', 20_000);
      assert.equal(await table.get(idle.id, 23_000), undefined, 'idle too long');
      assert.equal(table.maxAgeSeconds(await table.create('new', 30_000), 31_000), 9);
    });

    test('sign-out deletes; ids and CSRF tokens are random and compared exactly; odd cookies are no session', async () => {
      const table = new SessionTable({}, await makeStore());
      const a = await table.create('a');
      const b = await table.create('a');
      assert.notEqual(a.id, b.id);
      assert.notEqual(a.csrfToken, b.csrfToken);
      assert.ok(csrfTokenMatches(a, a.csrfToken));
      for (const wrong of [b.csrfToken, a.csrfToken.slice(1), `${a.csrfToken}x`, '', undefined, 42]) assert.equal(csrfTokenMatches(a, wrong), false);
      await table.delete(a.id);
      assert.equal(await table.get(a.id), undefined);
      assert.equal(await table.get(undefined), undefined);
      assert.equal(await table.get('x'.repeat(10_000)), undefined);
      assert.ok(await table.get(b.id));
    });

    test('two tables on one store (two replicas): a session from one is valid on the other, with the same CSRF token, and sign-out ends it on both', async () => {
      const store = await makeStore();
      const [one, two] = [new SessionTable({}, store), new SessionTable({}, store)];
      const session = await one.create('partner-admin');
      const elsewhere = await two.get(session.id);
      assert.equal(elsewhere?.clientId, 'partner-admin');
      assert.ok(elsewhere && csrfTokenMatches(elsewhere, session.csrfToken), 'the CSRF token rendered by one replica is accepted by the other');
      await two.delete(session.id);
      assert.equal(await one.get(session.id), undefined);
    });
  });
}
