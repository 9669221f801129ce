// The client: fetch (Node 18+ keeps connections alive by itself), typed
// bodies, typed denials, bounded retries honouring retry_after_ms.
import { AfError, ApiError, Unavailable, apiError, denied } from "./errors.js";
import type {
  Decision, Hop, OutcomeRequest, ReportRequest, RouteDecision, RouteRequest, RouterdStatus,
} from "./types.js";

export const USER_AGENT = "af-sdk-typescript/0.1";
const OUTCOMES = ["success", "failed", "abandoned"];

/** Retry bounds: retryable errors are retried at most `retries` times,
 * waiting their retry_after_ms (else backoffMs, doubled per attempt), each
 * wait at most maxWaitMs, all waits together at most budgetMs. */
export interface RetryOptions {
  retries?: number;
  backoffMs?: number;
  maxWaitMs?: number;
  budgetMs?: number;
}

export interface ClientOptions {
  /** routerd's address, default http://127.0.0.1:8080 */
  url?: string;
  /** per request, default 2000 */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** how to wait between retries (tests may record the waits) */
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

export interface TraceContext {
  traceparent?: string;
  tracestate?: string;
}

/** A routed decision with its hops in the order to try them. */
export class Route {
  readonly decisionId: string;
  readonly model: string;
  readonly region: string;
  readonly tier: string;
  readonly traceId: string | undefined;
  constructor(readonly decision: RouteDecision) {
    this.decisionId = decision.decision_id;
    this.model = decision.model;
    this.region = decision.region;
    this.tier = decision.tier;
    this.traceId = decision.trace_id;
  }
  /** The primary, then each fallback. */
  hops(): Hop[] {
    const d = this.decision;
    return [{ model: d.model, tier: d.tier, region: d.region }, ...d.fallback];
  }
}

/** What a hop() callback may say before it returns. */
export class HopContext {
  ok: boolean | undefined;
  latencyMs: number | undefined;
  private usageFields: Partial<ReportRequest> = {};
  private readonly t0 = performance.now();
  constructor(readonly route: Route) {}
  /** The hop went to this (fallback) model and region. */
  called(hop: Hop): void {
    this.usageFields.model = hop.model;
    this.usageFields.region = hop.region;
  }
  usage(u: { input_tokens?: number; output_tokens?: number; cost_usd?: number }): void {
    Object.assign(this.usageFields, u);
  }
  /** Report the hop as failed although the callback did not throw. */
  fail(): void {
    this.ok = false;
  }
  finish(threw: boolean): ReportRequest {
    this.latencyMs = Math.round(performance.now() - this.t0);
    return {
      decision_id: this.route.decisionId,
      ok: !threw && this.ok !== false,
      latency_ms: this.latencyMs,
      ...this.usageFields,
    };
  }
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export class Client {
  readonly url: string;
  readonly timeoutMs: number;
  private readonly retry: Required<RetryOptions>;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly fetchFn: typeof fetch;

  constructor(opts: ClientOptions = {}) {
    const u = new URL(opts.url ?? "http://127.0.0.1:8080");
    if ((u.protocol !== "http:" && u.protocol !== "https:") || (u.pathname !== "/" && u.pathname !== "")) {
      throw new TypeError(`routerd URL ${opts.url}: want http://HOST:PORT`);
    }
    this.url = u.origin;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.retry = { retries: 2, backoffMs: 50, maxWaitMs: 2000, budgetMs: 5000, ...opts.retry };
    for (const [k, v] of Object.entries(this.retry)) {
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`retry.${k} must be >= 0`);
    }
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.fetchFn = opts.fetch ?? fetch;
  }

  private async call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<unknown> {
    let rsp: Response;
    let text: string;
    try {
      rsp = await this.fetchFn(this.url + path, {
        method,
        headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await rsp.text();
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? String(e);
      throw new Unavailable(`routerd at ${this.url} ${path}: ${cause}; is routerd running and listening there?`);
    }
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      if (rsp.ok) throw new ApiError(rsp.status, "BAD_RESPONSE", `${path}: answer is not JSON: ${text.slice(0, 200)}`);
      json = text.slice(0, 200);
    }
    if (rsp.ok) return json;
    throw apiError(rsp.status, json, path);
  }

  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof AfError) || !e.retryable || attempt >= this.retry.retries) throw e;
        const w = Math.min(e.retryAfterMs ?? this.retry.backoffMs * 2 ** attempt, this.retry.maxWaitMs);
        if (waited + w > this.retry.budgetMs) throw e;
        await this.sleep(w);
        waited += w;
      }
    }
  }

  /** Decides one hop: a Route, or throws the Denied subclass of the deny
   * code (after retrying retryable ones), or an ApiError. */
  async route(req: RouteRequest, trace: TraceContext = {}): Promise<Route> {
    const headers = dropUndefined({ traceparent: trace.traceparent, tracestate: trace.tracestate }) as Record<string, string>;
    const body = dropUndefined(req);
    return this.retrying(async () => {
      const d = (await this.call("POST", "/v1/route", body, headers)) as Decision;
      if (d?.decision === "deny") throw denied(d);
      if (d?.decision !== "route") throw new ApiError(200, "BAD_RESPONSE", `/v1/route: not a decision: ${JSON.stringify(d)?.slice(0, 200)}`);
      return new Route(d);
    });
  }

  /** Reports how a routed hop went. */
  async report(rep: ReportRequest): Promise<void> {
    if (typeof rep.ok !== "boolean") throw new TypeError("report: ok must be true or false");
    if (rep.quality !== undefined && !(typeof rep.quality === "number" && rep.quality >= 0 && rep.quality <= 1))
      throw new RangeError(`report: quality must be a number from 0 to 1, got ${String(rep.quality)}`);
    const body = dropUndefined(rep);
    await this.retrying(() => this.call("POST", "/v1/report", body));
  }

  /** Reports how a workflow ended; throws NotSupported when the routerd
   * does not serve /v1/outcome. */
  async outcome(o: OutcomeRequest): Promise<void> {
    if (!OUTCOMES.includes(o.outcome)) throw new RangeError(`outcome ${o.outcome}: want one of ${OUTCOMES.join(", ")}`);
    const body = dropUndefined(o);
    await this.retrying(() => this.call("POST", "/v1/outcome", body));
  }

  async status(): Promise<RouterdStatus> {
    return (await this.call("GET", "/v1/status")) as RouterdStatus;
  }

  /** Routes, runs fn, then reports its latency and success (ok unless fn
   * threw or called h.fail()). Returns what fn returned. */
  async hop<T>(req: RouteRequest, fn: (h: HopContext) => Promise<T> | T, trace: TraceContext = {}): Promise<T> {
    const h = new HopContext(await this.route(req, trace));
    let result: T;
    try {
      result = await fn(h);
    } catch (e) {
      await this.report(h.finish(true)).catch(() => undefined);
      throw e;
    }
    await this.report(h.finish(false));
    return result;
  }
}
