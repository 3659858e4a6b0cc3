// One process of the simulated fleet, started by run.mjs with an IPC channel. It holds many
// worker sockets, each speaking the real worker protocol the way packages/worker does for a task
// that finishes at once: workers.hello, a heartbeat at once and then at the interval hello
// returns, tasks.complete (result null) for every assignment, batched as the worker's Reporter
// does (outcomes ending in one turn go in one call on the next turn, one call at a time, a flush
// asked for meanwhile right after it, a 100 ms timer for what is left), calls that time out after
// 30 s end the socket, and a lost socket is reconnected with back-off. No tasks.started: the real
// worker sends none for a task that ends at once. tasks.stop is obeyed (nothing of ours runs long
// enough to be stopped, so it is counted).
//
// Messages from run.mjs: start { url, token (a worker token: over IPC, never on the command
// line), prefix, from, to, slots, concurrency, proc },
// phase { phase }, cpu, report, stop. To run.mjs: progress, connected, cpu, report, fatal.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { HostSampler } from '@drover/worker';

const CALL_TIMEOUT_MS = 30_000;
const FLUSH_MS = 100;
const TASK_TYPE = 'noop';

/** Milliseconds since the epoch, sub-millisecond, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

class Disconnected extends Error {
  name = 'Disconnected';
}

class RpcError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.data?.code ?? 'DROVER_E_INTERNAL';
    this.retryable = error.data?.retryable ?? false;
  }
}

let options;
/** Heartbeats are filed under the phase they were sent in. */
let phase = 'connect';
const workers = [];
/** Workers with completions left over after a flush: the 100 ms timer sends them. */
const dirty = new Set();
const rtts = { connect: [], dispatch: [] };
let heartbeatsInFlight = 0;
/** From a new socket to its open (TCP and the HTTP upgrade), in ms. */
const openRtts = [];
/** Round trips of workers.hello calls that were answered, in ms. */
const helloRtts = [];
/** Round trips of tasks.complete calls, in ms. */
const completeRtts = [];
const stats = {
  firstConnectAt: undefined,
  lastHelloAt: undefined,
  connected: 0,
  reconnects: 0,
  helloFailures: 0,
  fatal: 0,
  callTimeouts: 0,
  heartbeatsSent: 0,
  heartbeatFailures: 0,
  heartbeatMs: undefined,
  leaseMs: undefined,
  assignNotifications: 0,
  assignments: 0,
  assigned: [],
  /** Task ids of every completion sent, again when sent again. */
  sent: [],
  /** Task ids of completions the server accepted, and refused. */
  accepted: [],
  refused: [],
  /** Completions sent whose call got no answer (timed out, or the socket closed). */
  unanswered: 0,
  undeliverable: 0,
  stops: 0,
  stateChanges: 0,
  firstAssignAt: undefined,
  lastAckAt: undefined,
};

/** Host stats as the real worker sends them, sampled once a second for the whole process. */
const host = new HostSampler();
let hostStats = host.sample();

class SimWorker {
  constructor(name) {
    this.name = name;
    this.ws = undefined;
    this.ready = false;
    this.greeted = false;
    this.closed = false;
    this.attempt = 0;
    this.nextId = 1;
    this.pending = new Map();
    this.heartbeat = undefined;
    /** Completions not yet acknowledged, by attempt id. */
    this.finals = new Map();
    this.flushing = undefined;
    /** A flush was asked for while one was under way. */
    this.again = false;
    /** A flush is due on the next turn of the event loop. */
    this.soon = false;
    this.firstReady = new Promise((resolve) => {
      this.resolveFirst = resolve;
    });
  }

  open() {
    if (this.closed) return;
    stats.firstConnectAt ??= now();
    const url = new URL('/ws', options.url);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    this.ws = ws;
    const opening = performance.now();
    ws.on('open', () => {
      openRtts.push(performance.now() - opening);
      void this.hello(ws);
    });
    ws.on('message', (data) => this.receive(data.toString('utf8')));
    ws.on('error', () => undefined);
    ws.on('close', () => this.socketClosed(ws));
  }

  async hello(ws) {
    const started = performance.now();
    try {
      const result = await this.call(
        'workers.hello',
        {
          name: this.name,
          host: `fleet-p${options.proc}`,
          tags: [],
          taskTypes: [TASK_TYPE],
          paramsSchemas: { [TASK_TYPE]: { type: 'object' } },
          slots: options.slots,
          token: options.token,
          held: [],
        },
        true,
      );
      helloRtts.push(performance.now() - started);
      this.attempt = 0;
      this.ready = true;
      stats.heartbeatMs = result.heartbeatMs;
      stats.leaseMs = result.leaseMs;
      if (!this.greeted) {
        this.greeted = true;
        stats.connected += 1;
        stats.lastHelloAt = now();
        this.resolveFirst(true);
      }
      clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => void this.beat(), result.heartbeatMs);
      // As the real worker: queued reports first, then a first heartbeat at once.
      setImmediate(() => void this.flush().then(() => this.beat()));
    } catch (error) {
      stats.helloFailures += 1;
      // As the real worker: a refused token, or one that may not run what it offers, stays so.
      if (
        error instanceof RpcError &&
        (error.code === 'DROVER_E_UNAUTHORIZED' || error.code === 'DROVER_E_FORBIDDEN')
      ) {
        stats.fatal += 1;
        this.closed = true;
        this.resolveFirst(false);
        process.send?.({ type: 'fatal', message: `${this.name}: ${error.message}` });
      }
      ws.terminate();
    }
  }

  async beat() {
    const sentIn = phase;
    const started = performance.now();
    stats.heartbeatsSent += 1;
    heartbeatsInFlight += 1;
    try {
      // Held: what the worker still runs; a task that ends at once is never still running.
      await this.call('workers.heartbeat', { stats: hostStats, held: [] });
      rtts[sentIn]?.push(performance.now() - started);
    } catch {
      stats.heartbeatFailures += 1;
    } finally {
      heartbeatsInFlight -= 1;
    }
  }

  call(method, params, beforeReady = false) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || (!this.ready && !beforeReady))
      return Promise.reject(new Disconnected('Not connected.'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        stats.callTimeouts += 1;
        reject(new Disconnected(`${method} got no answer in ${CALL_TIMEOUT_MS} ms.`));
        ws.terminate();
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ jsonrpc: '2.0', method, params, id }));
    });
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message.method === 'string') {
      this.notified(message.method, message.params);
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.error) pending.reject(new RpcError(message.error));
    else pending.resolve(message.result);
  }

  notified(method, params) {
    if (method === 'tasks.assign') {
      stats.firstAssignAt ??= now();
      stats.assignNotifications += 1;
      for (const a of params.assignments) {
        stats.assignments += 1;
        stats.assigned.push(a.task.id);
        this.finals.set(a.attemptId, { attemptId: a.attemptId, token: a.token, taskId: a.task.id });
      }
      // As the Reporter's finish(): outcomes go on the next turn, with all that end in this one.
      if (!this.soon) {
        this.soon = true;
        setImmediate(() => {
          this.soon = false;
          void this.flush();
        });
      }
    } else if (method === 'tasks.stop') {
      // Nothing of ours is still running when a stop comes: a no-op task ended at once.
      stats.stops += params.attemptIds.length;
    } else if (method === 'workers.state') {
      stats.stateChanges += 1;
    }
  }

  /**
   * One flush at a time, as the worker's Reporter: one asked for while another is under way runs
   * right after it. What is still queued when the socket is down waits for the 100 ms timer.
   */
  flush() {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = this.sendFinals().finally(() => {
      this.flushing = undefined;
      if (this.again) {
        this.again = false;
        if (this.ready) void this.flush();
      }
      if (this.finals.size > 0 && !this.flushing) dirty.add(this);
    });
    return this.flushing;
  }

  async sendFinals() {
    if (!this.ready || this.finals.size === 0) return;
    const batch = [...this.finals.values()].slice(0, 1024);
    const started = performance.now();
    // Ready, so the call is sent now: whatever happens next, these completions went out.
    for (const f of batch) stats.sent.push(f.taskId);
    try {
      const { refused } = await this.call('tasks.complete', {
        reports: batch.map((f) => ({ attemptId: f.attemptId, token: f.token, result: null })),
      });
      const at = now();
      completeRtts.push(performance.now() - started);
      const no = new Set(refused);
      for (const f of batch) {
        if (this.finals.get(f.attemptId) === f) this.finals.delete(f.attemptId);
        if (no.has(f.attemptId)) stats.refused.push(f.taskId);
        else stats.accepted.push(f.taskId);
      }
      stats.lastAckAt = at;
    } catch (error) {
      // Disconnected or busy: kept for the next flush, after the reconnect. The server may have
      // taken them all the same: their outcome is unknown.
      if (error instanceof Disconnected || error.retryable) {
        stats.unanswered += batch.length;
        return;
      }
      stats.undeliverable += 1;
      for (const f of batch) this.finals.delete(f.attemptId);
    }
  }

  socketClosed(ws) {
    if (ws !== this.ws) return;
    this.ready = false;
    clearInterval(this.heartbeat);
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new Disconnected('The connection closed.'));
      this.pending.delete(id);
    }
    if (this.closed) return;
    stats.reconnects += 1;
    const base = Math.min(10_000, 200 * 2 ** this.attempt);
    this.attempt += 1;
    setTimeout(() => this.open(), base * (0.8 + Math.random() * 0.4));
  }

  stop() {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.ws?.terminate();
  }
}

async function connectAll() {
  let next = 0;
  const runner = async () => {
    while (next < workers.length) {
      const worker = workers[next++];
      worker.open();
      await worker.firstReady;
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, workers.length) }, runner));
  process.send({
    type: 'connected',
    firstConnectAt: stats.firstConnectAt,
    lastHelloAt: stats.lastHelloAt,
    connected: stats.connected,
    heartbeatMs: stats.heartbeatMs,
    leaseMs: stats.leaseMs,
  });
}

const cpuSeconds = ({ user, system }) => (user + system) / 1e6;

function report() {
  return {
    type: 'report',
    proc: options.proc,
    workers: workers.length,
    ...stats,
    rtts,
    completeRtts,
    helloRtts,
    openRtts,
    heartbeatsUnanswered: heartbeatsInFlight,
    cpuSeconds: cpuSeconds(process.cpuUsage()),
    finalsQueued: workers.reduce((n, w) => n + w.finals.size, 0),
  };
}

process.on('message', (message) => {
  if (message.type === 'start') {
    options = message;
    for (let i = message.from; i < message.to; i++)
      workers.push(new SimWorker(`${message.prefix}${i}`));
    setInterval(() => {
      hostStats = host.sample();
    }, 1000).unref();
    setInterval(() => {
      for (const worker of dirty) {
        dirty.delete(worker);
        void worker.flush();
      }
    }, FLUSH_MS).unref();
    setInterval(() => {
      process.send({
        type: 'progress',
        connected: stats.connected,
        accepted: stats.accepted.length,
        reconnects: stats.reconnects,
        cpuSeconds: cpuSeconds(process.cpuUsage()),
      });
    }, 1000).unref();
    void connectAll();
  } else if (message.type === 'phase') {
    phase = message.phase;
  } else if (message.type === 'cpu') {
    process.send({ type: 'cpu', cpuSeconds: cpuSeconds(process.cpuUsage()) });
  } else if (message.type === 'report') {
    phase = 'done';
    process.send(report());
  } else if (message.type === 'stop') {
    for (const worker of workers) worker.stop();
    setTimeout(() => process.exit(0), 50);
  }
});

// The parent went away: nothing here may outlive it.
process.on('disconnect', () => {
  for (const worker of workers) worker.stop();
  process.exit(0);
});
