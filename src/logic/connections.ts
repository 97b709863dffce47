// Turns the kernel's per-connection records (request segments, response status codes,
// FIN/RST) into one observation per HTTP request, with its response status when one
// came back in time. Pure: time is passed in, nothing is read or written.
//
// Responses on one HTTP/1.1 connection come back in request order, so the k-th status
// line belongs to the k-th request. A request is complete when its status arrives or
// when `responseWaitNs` has passed without one (then its status is null).
import type { CloseRecord, Flow, PayloadRecord, ResponseRecord, SocketOwner } from '../model/records.js';
import { classifyRequest, type Classification } from './classify.js';
import { HttpRequestParser, type HttpRequestRecord } from './http-request.js';
import { TcpByteStream } from './tcp-stream.js';

export interface ObservedRequest {
  flow: Flow;
  /** 0 for the first request on the connection. */
  index: number;
  request: HttpRequestRecord;
  classification: Classification;
  owner: SocketOwner | null;
  socketUid: number;
  socketCgroupId: bigint;
  /** Kernel time (CLOCK_MONOTONIC ns) of the segment that completed the request. */
  seenNs: bigint;
  status: number | null;
}

interface Connection {
  flow: Flow;
  stream: TcpByteStream;
  parser: HttpRequestParser;
  owner: SocketOwner | null;
  socketUid: number;
  socketCgroupId: bigint;
  requestsSeen: number;
  responsesSeen: number;
  /** Statuses that arrived before their request was parsed, by request index. */
  earlyStatuses: Map<number, number>;
  waiting: ObservedRequest[];
  closed: boolean;
  lastNs: bigint;
}

/** Connections tracked at once; the least recently active is flushed beyond this. */
export const MAX_TRACKED_CONNECTIONS = 4096;
/** A connection with no traffic for this long is flushed and forgotten. */
export const IDLE_CONNECTION_NS = 120_000_000_000n;

export class ConnectionTracker {
  private readonly connections = new Map<bigint, Connection>();
  private completed: ObservedRequest[] = [];

  constructor(
    private readonly responseWaitNs: bigint,
    private readonly maxConnections = MAX_TRACKED_CONNECTIONS,
  ) {}

  /** True until the first record of this connection has been seen. */
  isNew(cookie: bigint): boolean {
    return !this.connections.has(cookie);
  }

  get trackedConnections(): number {
    return this.connections.size;
  }

  onPayload(rec: PayloadRecord): void {
    const conn = this.connection(rec.flow, rec.tsNs);
    if (rec.owner) conn.owner = rec.owner;
    conn.socketUid = rec.socketUid;
    conn.socketCgroupId = rec.socketCgroupId;
    for (const chunk of conn.stream.push({ seq: rec.seq, bytes: rec.bytes, wireLength: rec.wireLength })) {
      this.accept(conn, conn.parser.push(chunk), rec.tsNs);
    }
  }

  onResponse(rec: ResponseRecord): void {
    // 1xx interim answers precede the final one for the same request.
    if (rec.status < 200) return;
    const conn = this.connections.get(rec.flow.cookie);
    if (!conn) return;
    conn.lastNs = rec.tsNs;
    const index = conn.responsesSeen++;
    const waiting = conn.waiting.findIndex((r) => r.index === index);
    if (waiting >= 0) {
      const [done] = conn.waiting.splice(waiting, 1);
      if (done) this.complete(done, rec.status);
    } else if (index >= conn.requestsSeen) {
      conn.earlyStatuses.set(index, rec.status);
    }
    this.forgetIfDone(conn);
  }

  onClose(rec: CloseRecord): void {
    const conn = this.connections.get(rec.flow.cookie);
    if (!conn) return;
    conn.closed = true;
    conn.lastNs = rec.tsNs;
    this.accept(conn, conn.parser.end(), rec.tsNs);
    this.forgetIfDone(conn);
  }

  /** Token PUTs of a process still waiting for an answer (for fallback diagnosis). */
  unansweredTokenRequests(pid: number): ObservedRequest[] {
    const out: ObservedRequest[] = [];
    for (const conn of this.connections.values()) {
      if (conn.owner?.pid !== pid) continue;
      for (const r of conn.waiting) if (r.classification.token_request) out.push(r);
    }
    return out;
  }

  /** Requests completed so far, plus those whose wait for a response expired by `nowNs`. */
  takeCompleted(nowNs: bigint): ObservedRequest[] {
    for (const conn of [...this.connections.values()]) {
      const stillWaiting: ObservedRequest[] = [];
      for (const r of conn.waiting) {
        if (nowNs - r.seenNs >= this.responseWaitNs) this.complete(r, null);
        else stillWaiting.push(r);
      }
      conn.waiting = stillWaiting;
      if (nowNs - conn.lastNs >= IDLE_CONNECTION_NS) this.flush(conn, conn.lastNs);
      else this.forgetIfDone(conn);
    }
    const out = this.completed;
    this.completed = [];
    return out;
  }

  /** When the next wait expires, or null when nothing waits. */
  nextDeadline(): bigint | null {
    let next: bigint | null = null;
    for (const conn of this.connections.values()) {
      for (const r of conn.waiting) {
        const at = r.seenNs + this.responseWaitNs;
        if (next === null || at < next) next = at;
      }
    }
    return next;
  }

  /** Completes everything at once (shutdown): requests still waiting get status null. */
  flushAll(): ObservedRequest[] {
    for (const conn of [...this.connections.values()]) this.flush(conn, conn.lastNs);
    const out = this.completed;
    this.completed = [];
    return out;
  }

  private connection(flow: Flow, nowNs: bigint): Connection {
    let conn = this.connections.get(flow.cookie);
    if (conn) {
      // Map order doubles as recency order for eviction.
      this.connections.delete(flow.cookie);
    } else {
      conn = {
        flow,
        stream: new TcpByteStream(),
        parser: new HttpRequestParser(),
        owner: null,
        socketUid: 0,
        socketCgroupId: 0n,
        requestsSeen: 0,
        responsesSeen: 0,
        earlyStatuses: new Map(),
        waiting: [],
        closed: false,
        lastNs: nowNs,
      };
      if (this.connections.size >= this.maxConnections) {
        const oldest = this.connections.values().next().value;
        if (oldest) this.flush(oldest, nowNs);
      }
    }
    conn.lastNs = nowNs;
    this.connections.set(flow.cookie, conn);
    return conn;
  }

  private accept(conn: Connection, requests: HttpRequestRecord[], seenNs: bigint): void {
    for (const request of requests) {
      const observed: ObservedRequest = {
        flow: conn.flow,
        index: conn.requestsSeen++,
        request,
        classification: classifyRequest(request),
        owner: conn.owner,
        socketUid: conn.socketUid,
        socketCgroupId: conn.socketCgroupId,
        seenNs,
        status: null,
      };
      const early = conn.earlyStatuses.get(observed.index);
      if (early !== undefined) {
        conn.earlyStatuses.delete(observed.index);
        this.complete(observed, early);
      } else {
        conn.waiting.push(observed);
      }
    }
  }

  private complete(request: ObservedRequest, status: number | null): void {
    request.status = status;
    this.completed.push(request);
  }

  private flush(conn: Connection, atNs: bigint): void {
    this.accept(conn, conn.parser.end(), atNs);
    for (const r of conn.waiting) this.complete(r, null);
    conn.waiting = [];
    this.connections.delete(conn.flow.cookie);
  }

  private forgetIfDone(conn: Connection): void {
    if (conn.closed && conn.waiting.length === 0) this.connections.delete(conn.flow.cookie);
  }
}
