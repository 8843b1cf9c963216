import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

/** The signals pglock forwards to its child (and that cancel a wait for the lock). */
export const FORWARDED_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
export type ForwardedSignal = (typeof FORWARDED_SIGNALS)[number];

/** Handle every forwarded signal with `handler` until the returned function is called. */
export function trapSignals(handler: (signal: ForwardedSignal) => void): () => void {
  const listeners = FORWARDED_SIGNALS.map((signal) => {
    const listener = () => handler(signal);
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}

export function signalNumber(signal: string): number {
  return constants.signals[signal as NodeJS.Signals] ?? 0;
}

// In an interactive terminal the child shares pglock's process group, so a Ctrl-C (SIGINT or
// SIGQUIT from the tty to the whole foreground group) already reached it: forwarding it too
// would deliver it twice. Linux tells us through /proc whether our group is the foreground one.
export function isFromTerminal(signal: ForwardedSignal, childSharesGroup: boolean): boolean {
  if (!childSharesGroup || (signal !== 'SIGINT' && signal !== 'SIGQUIT')) return false;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] !== undefined && fields[2] === fields[5]; // pgrp === tpgid
  } catch {
    return true;
  }
}
