// The request and answer bodies of routerd's API (api/openapi.yaml).

export interface RouteRequest {
  workflow_id: string;
  tenant: string;
  class: string;
  sensitivity?: string;
  agent_role?: string;
  latency_slo_ms?: number;
  max_cost_usd?: number;
  input_tokens?: number;
  cached_input_tokens?: number;
  output_tokens?: number;
  needs?: string[];
  region?: string;
  fanout?: number;
  tool_calls?: number;
  attempt?: number;
  labels?: Record<string, string>;
}

export interface Hop {
  model: string;
  tier: string;
  region: string;
}

export interface PolicyRef {
  revision: number;
  hash: string;
  cohort: "stable" | "canary";
}

export interface RouteDecision {
  decision: "route";
  decision_id: string;
  model: string;
  provider: string;
  tier: string;
  region: string;
  lane: string;
  fallback: Hop[];
  max_retries: number;
  est_cost_usd: number;
  rule: string | null;
  degraded: boolean;
  policy: PolicyRef;
  registry_revision: number;
  trace_id?: string;
}

export interface DenyDecision {
  decision: "deny";
  decision_id: string;
  code: string;
  message: string;
  rule: string | null;
  retryable: boolean;
  retry_after_ms?: number;
  policy: PolicyRef;
  trace_id?: string;
}

export type Decision = RouteDecision | DenyDecision;

export interface ReportRequest {
  decision_id: string;
  ok: boolean;
  latency_ms?: number;
  input_tokens?: number;
  cached_input_tokens?: number;
  output_tokens?: number;
  cost_usd?: number;
  /** The outcome's quality from 0 to 1 (an eval's or a verifier's score). */
  quality?: number;
  model?: string;
  region?: string;
  workflow_id?: string;
  tenant?: string;
  class?: string;
  revision?: number;
}

export type Outcome = "success" | "failed" | "abandoned";

export interface OutcomeRequest {
  workflow_id: string;
  tenant: string;
  class: string;
  outcome: Outcome;
  tool_cost_usd?: number;
  human_review_usd?: number;
  labels?: Record<string, string>;
}

export interface RevisionHash {
  revision: number;
  hash: string;
  weight?: number;
}

export interface RouterdStatus {
  id: string;
  state: "healthy" | "degraded";
  ready: boolean;
  policy: { stable: RevisionHash | null; canary: RevisionHash | null } | null;
  registry_revision: number | null;
  state_index: number | null;
  view_age_s: number | null;
  controld: { connected: boolean; seconds_since_sync: number | null };
  controld_connected: boolean;
}
