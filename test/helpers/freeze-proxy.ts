// A loopback TCP proxy that can simulate a silent network partition: freeze() stops every byte in
// both directions without closing or resetting any socket, as if the cable had been cut.
//
// While frozen, everything that arrives from either side (data, a FIN, an error) is held in memory,
// not forwarded; thaw() forwards what was held, in order, as when a partition heals and TCP
// retransmits. A client that connects while frozen gets its TCP connection accepted (unavoidable on
// loopback), but the proxy only dials the target after thaw(), so no handshake ever answers.
//
// Limit: TCP keepalive probes (and ACKs in general) are answered by the kernel on each leg, never
// forwarded, so a peer's own TCP keepalive or TCP_USER_TIMEOUT does NOT see the cut through this
// proxy. Only application-level timeouts (a query or heartbeat that gets no answer) detect it.
import { connect, createServer, type Socket } from 'node:net';

export interface FreezeProxy {
  /** Listens on 127.0.0.1:port. */
  port: number;
  /** Stop forwarding in both directions; keep every socket open (no FIN, no RST). */
  freeze(): void;
  /** Forward again, starting with what was held while frozen. */
  thaw(): void;
  /** Client connections whose client side has not closed. */
  connections(): number;
  /** Destroy every socket and stop listening; leaves no handles behind. */
  close(): Promise<void>;
}

type Action = { kind: 'data'; chunk: Buffer } | { kind: 'end' } | { kind: 'destroy' };

interface Link {
  client: Socket;
  upstream: Socket | undefined;
  clientOpen: boolean;
  /** Held while frozen (or while the upstream socket does not exist yet). */
  toUpstream: Action[];
  toClient: Action[];
}

export async function startFreezeProxy(targetHost: string, targetPort: number): Promise<FreezeProxy> {
  const links = new Set<Link>();
  let frozen = false;
  let closed = false;

  const apply = (socket: Socket, action: Action): void => {
    if (socket.destroyed) return;
    if (action.kind === 'data') socket.write(action.chunk);
    else if (action.kind === 'end') socket.end();
    else socket.destroy();
  };

  const flush = (link: Link): void => {
    if (frozen || closed) return;
    if (link.upstream === undefined) dial(link);
    const upstream = link.upstream;
    if (upstream === undefined) return;
    for (const action of link.toUpstream.splice(0)) apply(upstream, action);
    for (const action of link.toClient.splice(0)) apply(link.client, action);
  };

  const send = (link: Link, direction: 'toUpstream' | 'toClient', action: Action): void => {
    link[direction].push(action);
    flush(link);
  };

  const dial = (link: Link): void => {
    const upstream = connect({ host: targetHost, port: targetPort, allowHalfOpen: true });
    link.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('data', (chunk: Buffer) => send(link, 'toClient', { kind: 'data', chunk }));
    upstream.on('end', () => send(link, 'toClient', { kind: 'end' }));
    upstream.on('error', () => send(link, 'toClient', { kind: 'destroy' }));
    upstream.on('close', () => send(link, 'toClient', { kind: 'destroy' }));
  };

  const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (client) => {
    if (closed) {
      client.destroy();
      return;
    }
    const link: Link = { client, upstream: undefined, clientOpen: true, toUpstream: [], toClient: [] };
    links.add(link);
    client.setNoDelay(true);
    const clientGone = (): void => {
      link.clientOpen = false;
    };
    client.on('data', (chunk: Buffer) => send(link, 'toUpstream', { kind: 'data', chunk }));
    client.on('end', () => {
      clientGone();
      send(link, 'toUpstream', { kind: 'end' });
    });
    client.on('error', () => {
      clientGone();
      send(link, 'toUpstream', { kind: 'destroy' });
    });
    client.on('close', () => {
      clientGone();
      send(link, 'toUpstream', { kind: 'destroy' });
      if (link.upstream === undefined || link.upstream.destroyed) links.delete(link);
      else link.upstream.once('close', () => links.delete(link));
    });
    flush(link);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    port,
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
      for (const link of [...links]) flush(link);
    },
    connections() {
      let open = 0;
      for (const link of links) if (link.clientOpen && !link.client.destroyed) open += 1;
      return open;
    },
    async close() {
      if (closed) return;
      closed = true;
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const link of links) {
        link.toUpstream.length = 0;
        link.toClient.length = 0;
        link.client.destroy();
        link.upstream?.destroy();
      }
      links.clear();
      await done;
    },
  };
}
