# The HA stack's services, for scripts/ha-test.sh (sourced): one etcd (v3 API), three Patroni
# members running PostgreSQL 15 (as the `postgres` user) and HAProxy, on 127.0.0.1 only, in $W.
# Every port is a free one picked at start. Uses W, SCOPE, TTL, LOOP_WAIT, RETRY_TIMEOUT, PG_BIN,
# HAPROXY_CHECK, STACK_PIDS and the ports and passwords ha-test.sh sets.

start_etcd() {
  etcd --name e1 --data-dir "$W/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-cluster "e1=http://127.0.0.1:$ETCD_PEER" --initial-cluster-state new \
    --initial-cluster-token "$SCOPE" >"$W/logs/etcd.log" 2>&1 &
  STACK_PIDS+=($!)
  disown $!
  local i
  for ((i = 0; i < 100; i++)); do
    ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ETCD_CLIENT" --command-timeout=1s endpoint health >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  tail -n 20 "$W/logs/etcd.log" >&2
  die "etcd did not become healthy in 20s"
}

write_member_config() { # m
  local m=$1
  mkdir -p "$W/$m"
  chown postgres: "$W/$m" && chmod 700 "$W/$m"
  cat >"$W/$m/patroni.yml" <<EOF
scope: $SCOPE
namespace: /pglock-ha/
name: $m
log:
  level: INFO
restapi:
  listen: 127.0.0.1:${REST_PORT[$m]}
  connect_address: 127.0.0.1:${REST_PORT[$m]}
etcd3:
  hosts: 127.0.0.1:$ETCD_CLIENT
bootstrap:
  dcs:
    ttl: $TTL
    loop_wait: $LOOP_WAIT
    retry_timeout: $RETRY_TIMEOUT
    maximum_lag_on_failover: 1048576
    primary_start_timeout: 0
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_log_hints: 'on'
        max_connections: 60
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 64MB
  initdb:
    - encoding: UTF8
    - auth-local: trust
    - auth-host: scram-sha-256
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
postgresql:
  listen: 127.0.0.1:${PG_PORT[$m]}
  connect_address: 127.0.0.1:${PG_PORT[$m]}
  data_dir: $W/$m/data
  bin_dir: $PG_BIN
  pgpass: $W/$m/pgpass
  authentication:
    superuser:
      username: postgres
      password: $SU_PW
    replication:
      username: replicator
      password: $REPL_PW
    rewind:
      username: rewinder
      password: $REPL_PW
  parameters:
    unix_socket_directories: $W/$m
    shared_buffers: 16MB
    password_encryption: scram-sha-256
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
EOF
  chown postgres: "$W/$m/patroni.yml" && chmod 600 "$W/$m/patroni.yml"
}

# As the postgres user (exec'd, so $! is Patroni's own pid), which goes to $W/<m>/patroni.pid for
# the test (it signals Patroni, and starts it again should it die: test/helpers/ha-health.ts) and
# for the cleanup.
start_patroni() { # m
  local m=$1
  setpriv --reuid=postgres --regid=postgres --init-groups env HOME="$W/$m" \
    patroni "$W/$m/patroni.yml" >>"$W/logs/patroni-$m.log" 2>&1 &
  echo $! >"$W/$m/patroni.pid"
  disown $!
}

start_haproxy() {
  local m servers=''
  for m in "${MEMBERS[@]}"; do
    servers+="    server $m 127.0.0.1:${PG_PORT[$m]} maxconn 100 check port ${REST_PORT[$m]}"$'\n'
  done
  # Each listener: option httpchk on Patroni's /primary, expect 200, shut the sessions down when
  # the server is marked down (Patroni's HAProxy example), as Patroni's documentation recommends.
  # `primary` checks every second (inter 1s fall 2 rise 1, or HA_HAPROXY_CHECK); `primary-slow`
  # has the timing of Patroni's example (inter 3s fall 3 rise 2), which routes to a demoted primary
  # for a few seconds.
  cat >"$W/haproxy.cfg" <<EOF
global
    maxconn 300

defaults
    mode tcp
    retries 2
    timeout client 30m
    timeout connect 4s
    timeout server 30m
    timeout check 1s

listen stats
    mode http
    bind 127.0.0.1:$HA_STATS_PORT
    stats enable
    stats uri /

listen primary
    bind 127.0.0.1:$HA_PORT
    option httpchk GET /primary
    http-check expect status 200
    default-server $HAPROXY_CHECK on-marked-down shutdown-sessions
$servers
listen primary-slow
    bind 127.0.0.1:$HA_SLOW_PORT
    timeout check 3s
    option httpchk GET /primary
    http-check expect status 200
    default-server inter 3s fall 3 rise 2 on-marked-down shutdown-sessions
$servers
EOF
  haproxy -c -q -f "$W/haproxy.cfg" || die "haproxy rejects its configuration"
  haproxy -db -f "$W/haproxy.cfg" >"$W/logs/haproxy.log" 2>&1 &
  STACK_PIDS+=($!)
  disown $!
}

# The stack as the test sees it (test/helpers/ha-stack.ts): mode 600, it holds the passwords.
write_stack_json() {
  local m members=''
  for m in "${MEMBERS[@]}"; do members+="${members:+,}\"$m\":{\"pg\":${PG_PORT[$m]},\"rest\":${REST_PORT[$m]}}"; done
  (umask 077 && printf '{"dir":"%s","scope":"%s","ttl":%s,"loopWait":%s,"members":{%s},"haproxy":%s,"haproxySlow":%s,"stats":%s,"appUser":"%s","appPassword":"%s","suPassword":"%s"}\n' \
    "$W" "$SCOPE" "$TTL" "$LOOP_WAIT" "$members" "$HA_PORT" "$HA_SLOW_PORT" "$HA_STATS_PORT" "$APP_USER" "$APP_PW" "$SU_PW" >"$W/stack.json")
}
