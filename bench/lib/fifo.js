// Named pipes used as precise, fork-free signals between the bench and the tools' children.
//
// Opening a FIFO normally blocks until the other end is opened, which in Node would either block
// the event loop (openSync) or park a threadpool thread for as long as the child takes. Opening it
// O_RDWR|O_NONBLOCK never blocks on Linux, and since the bench then holds both ends, a child's
// `echo > fifo` or `read < fifo` opens immediately too, whatever the order of events.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';

function openFifo(path) {
  execFileSync('mkfifo', [path]);
  return openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
}

/** A FIFO a child writes to (`echo > fifo`): `written` resolves with the hrtime it arrived. */
export class FifoSignalIn {
  constructor(path) {
    this.path = path;
    // Read through a net.Socket: data arrives via epoll and is timestamped the moment the event
    // loop sees it, with no polling and no threadpool.
    this.socket = new Socket({ fd: openFifo(path), readable: true, writable: false });
    this.arrivedAt = undefined;
    this.written = new Promise((resolve) => {
      this.socket.once('data', () => {
        this.arrivedAt = process.hrtime.bigint();
        resolve(this.arrivedAt);
      });
    });
  }

  close() {
    this.socket.destroy();
  }
}

/**
 * A FIFO a child reads from (`read _ < fifo`): release() lets it go on. Nothing on the bench's
 * side ever reads it, or the bench and the child would race for the line.
 */
export class FifoSignalOut {
  constructor(path) {
    this.path = path;
    this.fd = openFifo(path);
  }

  /** Never blocks: the pipe is empty, and one byte fits in its buffer. */
  release() {
    writeSync(this.fd, '\n');
  }

  close() {
    closeSync(this.fd);
  }
}
