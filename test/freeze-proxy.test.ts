// The freeze proxy against a real server: it forwards, freeze() silences it without closing
// anything, thaw() delivers what was held, close() cleans up.
import t from 'tap';
import postgres from 'postgres';
import { startFreezeProxy } from './helpers/freeze-proxy.js';
import { canConnect, startTestServer } from './helpers/server.js';

const server = await startTestServer(t);
const TIMEOUT = Symbol('timeout');

function within<T>(ms: number, promise: Promise<T>): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function backends(name: string): Promise<number> {
  const [row] = await server.admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where application_name = ${name}`;
  return row?.n ?? 0;
}


t.test('forwards, freezes silently, thaws, and closes', async (t) => {
  const proxy = await startFreezeProxy(server.host, server.port);
  t.teardown(() => proxy.close());
  const name = `freeze-proxy-test-${process.pid}`;
  const url = new URL(server.url);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {}, connection: { application_name: name } });
  t.teardown(() => sql.end({ timeout: 0 }));

  const [row] = await sql<{ one: number }[]>`select 1 as one`;
  t.equal(row?.one, 1, 'a query through the proxy works');
  t.equal(proxy.connections(), 1, 'one client connection');

  proxy.freeze();
  const held = sql<{ two: number }[]>`select 2 as two`;
  held.catch(() => {});
  t.equal(await within(1000, held), TIMEOUT, 'after freeze() the query gets no answer within 1 s');
  t.equal(proxy.connections(), 1, 'the client connection stays open while frozen');
  t.equal(await backends(name), 1, 'the server still has the backend: nothing was closed upstream');

  proxy.thaw();
  const [thawed] = await held;
  t.equal(thawed?.two, 2, 'after thaw() the held query is delivered and answered');

  proxy.freeze();
  const lost = sql`select 3`;
  lost.catch(() => {});
  t.equal(await within(500, lost), TIMEOUT, 'frozen again');

  await proxy.close();
  t.equal(proxy.connections(), 0, 'close() drops every connection');
  t.notOk(await canConnect(proxy.port), 'close() stops listening');
  await t.rejects(lost, 'the client sees its connection end once the proxy is closed');
  const deadline = Date.now() + 5000;
  while ((await backends(name)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(await backends(name), 0, 'the server backend ends once the proxy is closed');
});

t.test('a client that connects while frozen gets no handshake', async (t) => {
  const proxy = await startFreezeProxy(server.host, server.port);
  t.teardown(() => proxy.close());
  proxy.freeze();
  const url = new URL(server.url);
  url.port = String(proxy.port);
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 0 }));
  const query = sql`select 1`;
  query.catch(() => {});
  t.equal(await within(1000, query), TIMEOUT, 'no answer within 1 s');
  t.equal(proxy.connections(), 1, 'the TCP connection is open');
});
