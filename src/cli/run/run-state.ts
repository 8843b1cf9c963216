// What bin/pglock.cjs may ask the bundle once it exits: whether this run went the whole way
// (connected, took the lock, ran a command, released). Such a run has compiled the functions every
// later run needs, so the per-Node code cache is made from it (see bin/pglock.cjs).
export const runState = { commandStarted: false };
