// Turns the kernel's per-connection records (request segments, response status codes,
// FIN/RST) into one observation per HTTP request, with its response status when one
// came back in time. Pure: time is passed in, nothing is read or written.
//
// Responses are matched to requests by TCP sequence numbers, not by counting: a response
// answers the earliest unanswered request whose first byte IMDS had acknowledged when it
// answered (its ack), and a retransmitted response repeats its sequence number, so it is
// dropped instead of shifting every later status. A response that arrives before its
// request was parsed (the request waits behind a hole) waits for it. A request is complete
// when its status arrives or when `responseWaitNs` has passed without one (status null).
//
// A connection first seen without its SYN (opened before we attached, or its first record
// lost) is parsed from the first well-formed request line on; a hole in the stream is given
// up after HOLE_WAIT_NS, on close, on idle flush and at shutdown, so that it never hides the
// requests behind it. What could not be seen is counted (StreamCounters).
//
// A keep-alive connection idle for IDLE_CONNECTION_NS is flushed and forgotten, but where
// its stream stood is remembered (IdleConnection): when it speaks again it resumes from the
// next byte expected, so the bytes it sent before are not taken for a hole.
//
// A closed connection's last response is remembered for CLOSED_MEMORY_NS: IMDS may resend
// a response after the client has read it and closed (FIN_WAIT still delivers it), and that
// copy is a retransmission, not a response to a request we missed. A response on a
// connection never seen at all is counted as unmatched: its request went unseen.
import type { Counters } from '../model/log-line.js';
import type { CloseRecord, Flow, PayloadRecord, ResponseRecord, SocketOwner } from '../model/records.js';
import { classifyRequest, type Classification } from './classify.js';
import { type CanaryTokenTest, HttpRequestParser, type HttpRequestRecord, tokenValuesOf } from './http-request.js';
import { TcpByteStream } from './tcp-stream.js';

/** Signed distance a - b in 32-bit sequence space. */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

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
  /** TCP sequence number of the request's first byte. */
  startSeq: number;
  status: number | null;
  /**
   * Where the connection's stream stood once this request completed, when nothing else was
   * pending on it: every request before is complete, so a later daemon may resume there.
   */
  resumeSeq: number | null;
}

/** Where a later daemon resumes a connection an earlier one logged (request lines' resume_seq). */
export interface ResumePoint {
  seq: number;
  /** Index of the next request on it. */
  nextIndex: number;
}

/** What the tracker could not see, for the `stats` line (fields: docs/log-contract.md). */
export type StreamCounters = Counters['streams'];

interface PendingResponse {
  ack: number;
  status: number;
  tsNs: bigint;
}
interface Connection {
  flow: Flow;
  stream: TcpByteStream;
  parser: HttpRequestParser;
  owner: SocketOwner | null;
  socketUid: number;
  socketCgroupId: bigint;
  requestsSeen: number;
  /** Sequence number of the last response's status line. */
  lastResponseSeq: number | null;
  /** Responses that arrived before their request was parsed, oldest first. */
  earlyResponses: PendingResponse[];
  waiting: ObservedRequest[];
  closed: boolean;
  /**
   * Kernel time of the first record since it last had nothing pending (null: nothing pending
   * now): a daemon taking over needs every record since (oldestNeededNs).
   */
  pendingSinceNs: bigint | null;
  /** Responses acknowledging no byte past this answer requests completed already. */
  answeredBefore: number | null;
  /** The last request completed on it, until the connection settles (see settle()). */
  lastCompleted: ObservedRequest | null;
  lastNs: bigint;
  /** Since when data waits behind a hole. */
  holeSinceNs: bigint | null;
}

/** Receives a token header value IMDS accepted, and the uid of the socket that sent it. */
export type AcceptedTokenSink = (value: string, socketUid: number) => void;

/** IMDS's answer to an invalid or expired token. */
const UNAUTHORIZED = 401;

/** Where an idle-flushed connection stood, to resume it when it speaks again. */
interface IdleConnection {
  nextSeq: number;
  requestsSeen: number;
  lastResponseSeq: number | null;
  /** The flush cut no request: its next byte starts one. */
  atRequestStart: boolean;
  answeredBefore: number | null;
}

/** Connections tracked at once; the least recently active is flushed beyond this. */
export const MAX_TRACKED_CONNECTIONS = 4096;
/** A connection with no traffic for this long is flushed and forgotten. */
export const IDLE_CONNECTION_NS = 120_000_000_000n;
/**
 * How long data waits behind a hole. Egress sees a connection's segments in send order, so a
 * hole is a lost record or per-CPU reordering of the perf buffer, which one drain fixes.
 */
export const HOLE_WAIT_NS = 1_000_000_000n;
/**
 * How long a closed connection's last response sequence is remembered; as long as Linux's
 * default tcp_fin_timeout, after which a closed socket no longer takes data.
 */
export const CLOSED_MEMORY_NS = 60_000_000_000n;
/** Responses kept per connection while their request is not parsed yet. */
const MAX_EARLY_RESPONSES = 16;

export class ConnectionTracker {
  private readonly connections = new Map<bigint, Connection>();
  /** Closed connections' last response sequence (null: none seen), oldest first. */
  private readonly recentlyClosed = new Map<bigint, { lastResponseSeq: number | null; closedNs: bigint }>();
  /** Idle-flushed open connections, oldest first (at most maxConnections). */
  private readonly idle = new Map<bigint, IdleConnection>();
  private completed: ObservedRequest[] = [];
  /** Where a pass over the connections for expired waits stands: a pass in parts spans turns. */
  private expiryPass: Iterator<Connection> | null = null;
  /** A connection the last part of a pass left with expired requests: the next part starts with it. */
  private expiryPartial: Connection | null = null;
  private readonly counts = { joined_mid_stream: 0, responses_unmatched: 0, responses_retransmitted: 0 };
  /** Hole and resync counts of connections already forgotten. */
  private readonly forgotten = { holes_skipped: 0, hole_bytes: 0, bytes_skipped: 0 };

  constructor(
    private readonly responseWaitNs: bigint,
    private readonly maxConnections = MAX_TRACKED_CONNECTIONS,
    /**
     * Token header values of requests IMDS accepted (any answer but 401) go here and nowhere
     * else, with the uid of the socket that sent them: a value IMDS refused is anybody's choice.
     */
    private readonly onToken: AcceptedTokenSink | null = null,
    /** Tells the token value a canary inserts from the others (docs/canary.md). */
    private readonly isCanaryToken: CanaryTokenTest | null = null,
  ) {}

  /** True until the first record of this connection has been seen. */
  isNew(cookie: bigint): boolean {
    return !this.connections.has(cookie);
  }

  get trackedConnections(): number {
    return this.connections.size;
  }

  counters(): StreamCounters {
    const out = { ...this.counts, ...this.forgotten };
    for (const conn of this.connections.values()) {
      out.holes_skipped += conn.stream.holesSkipped;
      out.hole_bytes += conn.stream.bytesSkipped;
      out.bytes_skipped += conn.parser.bytesSkipped;
    }
    return out;
  }

  onPayload(rec: PayloadRecord): void {
    const conn = this.connection(rec.flow, rec.tsNs, rec.streamStart);
    if (rec.owner) conn.owner = rec.owner;
    conn.socketUid = rec.socketUid;
    conn.socketCgroupId = rec.socketCgroupId;
    conn.pendingSinceNs ??= rec.tsNs;
    this.feed(conn, conn.stream.push({ seq: rec.seq, bytes: rec.bytes, wireLength: rec.wireLength }), rec.tsNs);
    this.settle(conn);
  }

  onResponse(rec: ResponseRecord): void {
    // 1xx interim answers precede the final one for the same request.
    if (rec.status < 200) return;
    const conn = this.connections.get(rec.flow.cookie);
    if (!conn) {
      this.countStrayResponse(rec);
      return;
    }
    conn.lastNs = rec.tsNs;
    if (conn.lastResponseSeq !== null && seqDiff(rec.seq, conn.lastResponseSeq) <= 0) {
      this.counts.responses_retransmitted++;
      return;
    }
    conn.lastResponseSeq = rec.seq;
    // A late answer to a request completed already (here, or by the daemon before): no other's.
    if (conn.answeredBefore !== null && seqDiff(rec.ack, conn.answeredBefore) <= 0) return;
    const answered = conn.waiting.findIndex((r) => seqDiff(rec.ack, r.startSeq) > 0);
    if (answered >= 0) {
      const [done] = conn.waiting.splice(answered, 1);
      if (done) this.complete(done, rec.status, conn);
    } else {
      conn.earlyResponses.push({ ack: rec.ack, status: rec.status, tsNs: rec.tsNs });
      if (conn.earlyResponses.length > MAX_EARLY_RESPONSES) this.dropEarlyResponses(conn, 1);
    }
    this.settle(conn);
    this.forgetIfDone(conn);
  }

  onClose(rec: CloseRecord): void {
    const conn = this.connections.get(rec.flow.cookie);
    if (!conn) {
      this.idle.delete(rec.flow.cookie);
      return;
    }
    conn.closed = true;
    conn.lastNs = rec.tsNs;
    this.feed(conn, conn.stream.end(), rec.tsNs);
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

  /** Requests completed so far (answered, closed, flushed): no pass over the connections. */
  takeFinished(): ObservedRequest[] {
    const out = this.completed;
    this.completed = [];
    return out;
  }

  /** Requests completed so far, plus those whose wait for a response expired by `nowNs` (a whole pass). */
  takeCompleted(nowNs: bigint): ObservedRequest[] {
    return this.expire(nowNs, Number.POSITIVE_INFINITY).requests;
  }

  /**
   * Requests completed so far, plus those whose wait expired by `nowNs` in the next part of a
   * pass over every connection: a part completes at most `limit` expired requests. `passDone`
   * false: the next call goes on where this part stopped. What a part has not reached still
   * waits on its connection (the journal keeps its records).
   */
  expire(nowNs: bigint, limit: number): { requests: ObservedRequest[]; passDone: boolean } {
    for (const [cookie, { closedNs }] of this.recentlyClosed) {
      if (nowNs - closedNs < CLOSED_MEMORY_NS) break;
      this.recentlyClosed.delete(cookie);
    }
    // A live iterator: connections forgotten meanwhile are skipped, those active again come again.
    this.expiryPass ??= this.connections.values();
    let left = limit;
    while (left > 0) {
      const partial = this.expiryPartial;
      this.expiryPartial = null;
      const conn =
        partial && this.connections.get(partial.flow.cookie) === partial ? partial : this.expiryPass.next().value;
      if (!conn) {
        this.expiryPass = null;
        return { requests: this.takeFinished(), passDone: true };
      }
      left -= this.expireOn(conn, nowNs, left);
    }
    return { requests: this.takeFinished(), passDone: false };
  }

  /** Completes up to `max` of the connection's requests whose wait expired; returns how many. */
  private expireOn(conn: Connection, nowNs: bigint, max: number): number {
    if (conn.holeSinceNs !== null && nowNs - conn.holeSinceNs >= HOLE_WAIT_NS)
      this.feed(conn, conn.stream.end(), nowNs);
    const expired = conn.earlyResponses.filter((r) => nowNs - r.tsNs >= this.responseWaitNs + HOLE_WAIT_NS).length;
    this.dropEarlyResponses(conn, expired);
    const stillWaiting: ObservedRequest[] = [];
    let completed = 0;
    let more = false;
    for (const r of conn.waiting) {
      const due = nowNs - r.seenNs >= this.responseWaitNs;
      if (due && completed < max) {
        this.complete(r, null, conn);
        completed++;
      } else {
        more ||= due;
        stillWaiting.push(r);
      }
    }
    conn.waiting = stillWaiting;
    if (more) {
      this.expiryPartial = conn;
      return completed;
    }
    this.settle(conn);
    if (nowNs - conn.lastNs >= IDLE_CONNECTION_NS) this.flushIdle(conn);
    else this.forgetIfDone(conn);
    return completed;
  }

  /** When the next wait expires, or null when nothing waits. */
  nextDeadline(): bigint | null {
    let next: bigint | null = null;
    const consider = (at: bigint) => {
      if (next === null || at < next) next = at;
    };
    for (const conn of this.connections.values()) {
      for (const r of conn.waiting) consider(r.seenNs + this.responseWaitNs);
      if (conn.holeSinceNs !== null) consider(conn.holeSinceNs + HOLE_WAIT_NS);
      const early = conn.earlyResponses[0];
      if (early) consider(early.tsNs + this.responseWaitNs + HOLE_WAIT_NS);
    }
    return next;
  }

  /** Completes everything at once (shutdown): requests still waiting get status null. */
  flushAll(): ObservedRequest[] {
    for (const conn of [...this.connections.values()]) this.flush(conn, conn.lastNs);
    return this.takeFinished();
  }

  /**
   * A stop the next daemon may take over from (its journal replays these records): only
   * whole requests waiting for a response are completed (status null; the next daemon
   * knows them by their start and does not log them again). A request still arriving and
   * data behind a hole are left to it: ended here, they would be logged cut short.
   */
  completeWaiting(): ObservedRequest[] {
    for (const conn of this.connections.values()) {
      for (const r of conn.waiting) this.complete(r, null, conn);
      conn.waiting = [];
      this.settle(conn);
    }
    return this.takeFinished();
  }

  /**
   * Kernel time of the oldest record a daemon taking over would need to see again, or null:
   * the first since each connection last had nothing pending. What came before is in the
   * log, with where to resume (resumeFrom).
   */
  oldestNeededNs(): bigint | null {
    let oldest: bigint | null = null;
    for (const { pendingSinceNs: since } of this.connections.values())
      if (since !== null && (oldest === null || since < oldest)) oldest = since;
    return oldest;
  }

  /**
   * Connections a previous daemon logged (their last request line's resume_seq): each is
   * taken up where it stood, so that the bytes it had seen are not taken for a hole and the
   * answers to its requests are not taken for unmatched ones. At most maxConnections, the last.
   */
  resumeFrom(points: ReadonlyMap<bigint, ResumePoint>): void {
    for (const [cookie, point] of [...points].slice(-this.maxConnections)) {
      if (this.connections.has(cookie)) continue;
      this.remember(cookie, {
        nextSeq: point.seq,
        requestsSeen: point.nextIndex,
        lastResponseSeq: null,
        atRequestStart: true,
        answeredBefore: point.seq,
      });
    }
  }

  private connection(flow: Flow, nowNs: bigint, streamStart: number | null): Connection {
    let conn = this.connections.get(flow.cookie);
    if (conn) {
      // Map order doubles as recency order for eviction.
      this.connections.delete(flow.cookie);
    } else {
      const resumed = this.idle.get(flow.cookie);
      this.idle.delete(flow.cookie);
      if (streamStart === null && !resumed) this.counts.joined_mid_stream++;
      conn = {
        flow,
        stream: new TcpByteStream(resumed ? resumed.nextSeq : streamStart),
        parser: new HttpRequestParser(resumed ? !resumed.atRequestStart : streamStart === null, this.isCanaryToken),
        owner: null,
        socketUid: 0,
        socketCgroupId: 0n,
        requestsSeen: resumed?.requestsSeen ?? 0,
        lastResponseSeq: resumed?.lastResponseSeq ?? null,
        earlyResponses: [],
        waiting: [],
        closed: false,
        pendingSinceNs: null,
        answeredBefore: resumed?.answeredBefore ?? null,
        lastCompleted: null,
        lastNs: nowNs,
        holeSinceNs: null,
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

  /** Parses what the stream delivered and notes whether data now waits behind a hole. */
  private feed(conn: Connection, chunks: ReturnType<TcpByteStream['push']>, nowNs: bigint): void {
    for (const chunk of chunks) this.accept(conn, conn.parser.push(chunk), nowNs);
    if (!conn.stream.hasHole) conn.holeSinceNs = null;
    else if (conn.holeSinceNs === null) conn.holeSinceNs = nowNs;
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
        startSeq: conn.stream.seqAt(request.streamOffset) ?? 0,
        status: null,
        resumeSeq: null,
      };
      const early = conn.earlyResponses.findIndex((r) => seqDiff(r.ack, observed.startSeq) > 0);
      if (early >= 0) {
        const [response] = conn.earlyResponses.splice(early, 1);
        this.complete(observed, response?.status ?? null, conn);
      } else {
        conn.waiting.push(observed);
      }
    }
  }

  /** A response on a connection not tracked: resent after close or idle, or its request unseen. */
  private countStrayResponse(rec: ResponseRecord): void {
    const idle = this.idle.get(rec.flow.cookie);
    if (idle?.answeredBefore != null && seqDiff(rec.ack, idle.answeredBefore) <= 0) return;
    const closed = this.recentlyClosed.get(rec.flow.cookie) ?? idle;
    if (closed?.lastResponseSeq != null && seqDiff(rec.seq, closed.lastResponseSeq) <= 0)
      this.counts.responses_retransmitted++;
    else this.counts.responses_unmatched++;
  }

  /** Forgets the oldest `n` early responses: their requests were never seen. */
  private dropEarlyResponses(conn: Connection, n: number): void {
    if (n <= 0) return;
    conn.earlyResponses.splice(0, n);
    this.counts.responses_unmatched += n;
  }

  private complete(request: ObservedRequest, status: number | null, conn: Connection | null = null): void {
    request.status = status;
    if (conn) conn.lastCompleted = request;
    if (status !== null && status !== UNAUTHORIZED && this.onToken)
      for (const value of tokenValuesOf(request.request)) this.onToken(value, request.socketUid);
    this.completed.push(request);
  }

  private flush(conn: Connection, atNs: bigint): void {
    this.feed(conn, conn.stream.end(), atNs);
    this.accept(conn, conn.parser.end(), atNs);
    for (const r of conn.waiting) this.complete(r, null);
    conn.waiting = [];
    this.dropEarlyResponses(conn, conn.earlyResponses.length);
    this.forget(conn);
  }

  /**
   * Nothing pending on the connection (no request arriving or waiting, no hole, no early
   * answer): the journal no longer needs its records, and its last completed request says
   * where a later daemon resumes it. Later answers to what came before are no one else's.
   */
  private settle(conn: Connection): void {
    const idle =
      conn.parser.atRequestStart &&
      !conn.stream.hasHole &&
      conn.waiting.length === 0 &&
      conn.earlyResponses.length === 0;
    if (!idle) return;
    conn.pendingSinceNs = null;
    const next = conn.stream.nextSeq;
    if (next === null) return;
    conn.answeredBefore = next;
    if (conn.lastCompleted) conn.lastCompleted.resumeSeq = next;
    conn.lastCompleted = null;
  }

  /** Idle for IDLE_CONNECTION_NS: flushed, and where its stream stood kept for when it speaks again. */
  private flushIdle(conn: Connection): void {
    const atRequestStart = !conn.stream.hasHole && conn.parser.atRequestStart;
    this.flush(conn, conn.lastNs);
    const nextSeq = conn.stream.nextSeq;
    if (conn.closed || nextSeq === null) return;
    this.remember(conn.flow.cookie, {
      nextSeq,
      requestsSeen: conn.requestsSeen,
      lastResponseSeq: conn.lastResponseSeq,
      atRequestStart,
      // Every request before was completed by the flush.
      answeredBefore: nextSeq,
    });
  }

  /** Keeps where an untracked open connection stood (the oldest goes beyond maxConnections). */
  private remember(cookie: bigint, stood: IdleConnection): void {
    this.idle.delete(cookie);
    const oldest = this.idle.keys().next();
    if (this.idle.size >= this.maxConnections && !oldest.done) this.idle.delete(oldest.value);
    this.idle.set(cookie, stood);
  }

  private forgetIfDone(conn: Connection): void {
    if (conn.closed && conn.waiting.length === 0 && conn.earlyResponses.length === 0) this.forget(conn);
  }

  private forget(conn: Connection): void {
    if (!this.connections.delete(conn.flow.cookie)) return;
    if (conn.closed) {
      const oldest = this.recentlyClosed.keys().next();
      if (this.recentlyClosed.size >= this.maxConnections && !oldest.done) this.recentlyClosed.delete(oldest.value);
      this.recentlyClosed.set(conn.flow.cookie, { lastResponseSeq: conn.lastResponseSeq, closedNs: conn.lastNs });
    }
    this.forgotten.holes_skipped += conn.stream.holesSkipped;
    this.forgotten.hole_bytes += conn.stream.bytesSkipped;
    this.forgotten.bytes_skipped += conn.parser.bytesSkipped;
  }
}
