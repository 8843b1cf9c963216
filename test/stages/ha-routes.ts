// The routes pglock takes to the primary in the HA stage: HAProxy's primary port (checks every
// second, or HA_HAPROXY_CHECK), a second HAProxy port with the check timing of Patroni's own
// example (slower: it routes to a demoted primary for a few seconds after a switchover), and every
// member in a multi-host URL.
import type { Cluster } from '../helpers/ha-stack.js';

export function routes(cluster: Cluster, multiOrder = cluster.names): [string, string][] {
  return [
    ['haproxy', cluster.haproxyUrl(cluster.stack.haproxy)],
    ['haproxy-slow', cluster.haproxyUrl(cluster.stack.haproxySlow)],
    ['multi', cluster.multiUrl(multiOrder)],
  ];
}
