import type { Socket } from 'node:net';

/**
 * Put `wrapper` in place of the stream's `write` or `emit` for a while; the function returned takes
 * it off again. A method the stream had of its own (another wrapper) is put back; otherwise none is
 * left, and the stream calls its prototype's, as any socket does.
 */
export function wrapMethod<K extends 'write' | 'emit'>(stream: Socket, name: K, wrapper: Socket[K]): () => void {
  const hadOwn = Object.hasOwn(stream, name);
  const own = stream[name];
  stream[name] = wrapper;
  return () => {
    if (hadOwn) stream[name] = own;
    else delete (stream as Partial<Socket>)[name];
  };
}
