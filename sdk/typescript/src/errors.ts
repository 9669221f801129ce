// Errors: one class per deny code, one per kind of API error. Every error
// of this package is an AfError with `retryable` and `retryAfterMs`
// (undefined when routerd gave none); the client retries the retryable
// ones, within its bounds, before throwing.
import type { DenyDecision } from "./types.js";

export class AfError extends Error {
  retryable = false;
  retryAfterMs: number | undefined = undefined;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** routerd decided the hop may not run (a 200 deny decision). */
export class Denied extends AfError {
  readonly code: string;
  readonly decision: DenyDecision;
  readonly decisionId: string;
  readonly rule: string | null;
  readonly traceId: string | undefined;
  constructor(d: DenyDecision) {
    super(d.message ? `${d.code}: ${d.message}` : d.code);
    this.decision = d;
    this.code = d.code;
    this.decisionId = d.decision_id;
    this.rule = d.rule;
    this.retryable = d.retryable === true;
    this.retryAfterMs = d.retry_after_ms;
    this.traceId = d.trace_id;
  }
}

export class FanoutCap extends Denied {}
export class ToolCallCap extends Denied {}
export class RetryLimit extends Denied {}
/** The lane is at max_inflight (retryable, retryAfterMs set). */
export class LaneSaturated extends Denied {}
/** The period's hard budget is spent; retryAfterMs: time to the next period. */
export class BudgetExceeded extends Denied {}
/** routerd's budget lease is being refilled (retryable). */
export class BudgetLeasePending extends Denied {}
/** Every candidate is cooling down (retryable). */
export class ModelsCoolingDown extends Denied {}
export class NoMatchingRule extends Denied {}
export class ResidencyDenied extends Denied {}
export class CostLimit extends Denied {}
export class ContextTooLarge extends Denied {}
export class NoEligibleModel extends Denied {}
/** A deny rule's own code (the bundle's `deny.code`). */
export class PolicyDenied extends Denied {}

export const DENY_CLASSES: Record<string, new (d: DenyDecision) => Denied> = {
  FANOUT_CAP: FanoutCap,
  TOOL_CALL_CAP: ToolCallCap,
  RETRY_LIMIT: RetryLimit,
  LANE_SATURATED: LaneSaturated,
  BUDGET_EXCEEDED: BudgetExceeded,
  BUDGET_LEASE_PENDING: BudgetLeasePending,
  MODELS_COOLING_DOWN: ModelsCoolingDown,
  NO_MATCHING_RULE: NoMatchingRule,
  RESIDENCY_DENIED: ResidencyDenied,
  COST_LIMIT: CostLimit,
  CONTEXT_TOO_LARGE: ContextTooLarge,
  NO_ELIGIBLE_MODEL: NoEligibleModel,
};

export function denied(d: DenyDecision): Denied {
  const C = DENY_CLASSES[d.code] ?? PolicyDenied;
  return new C(d);
}

/** routerd refused the request. */
export class ApiError extends AfError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly field?: string,
  ) {
    super(`HTTP ${status} ${code}${field ? ` (field ${field})` : ""}: ${detail}`);
  }
}
/** 400, 413 or 422: the request is wrong; sending it again fails too. */
export class BadRequest extends ApiError {}
/** 422 UNKNOWN_DECISION: send tenant, class and revision with the report. */
export class UnknownDecision extends BadRequest {}
/** 429 OVERLOADED (retryable). */
export class Overloaded extends ApiError {
  override retryable = true;
}
/** 503 NO_POLICY: no policy loaded yet (retryable). */
export class NoPolicy extends ApiError {
  override retryable = true;
}
/** routerd answered 404 for an endpoint this SDK knows (an older routerd). */
export class NotSupported extends ApiError {}
/** routerd could not be reached (refused, reset, timeout). Retryable. */
export class Unavailable extends AfError {
  override retryable = true;
}

export function apiError(status: number, body: unknown, path: string): ApiError {
  const err = (body as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
  if (err == null || typeof err !== "object") {
    return new ApiError(status, `HTTP_${status}`, `${path}: unexpected body ${JSON.stringify(body)?.slice(0, 200)}`);
  }
  const code = String(err.code ?? "");
  const msg = String(err.message ?? "");
  if (status === 404 && code === "NOT_FOUND") {
    return new NotSupported(status, code,
      `this routerd does not serve ${path} (${msg}); upgrade routerd to a version that has it`, err.field);
  }
  if (code === "UNKNOWN_DECISION") return new UnknownDecision(status, code, msg, err.field);
  if (status === 429) return new Overloaded(status, code, msg, err.field);
  if (status === 503) return new NoPolicy(status, code, msg, err.field);
  if (status === 400 || status === 413 || status === 422) return new BadRequest(status, code, msg, err.field);
  return new ApiError(status, code, msg, err.field);
}
