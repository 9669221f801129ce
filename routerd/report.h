/*
 * POST /v1/report: the body parser with the bound of every field, and the
 * table of recent decisions that attributes a report to the decision it
 * names (tenant, class, revision, cohort, model and region come from the
 * decision, never from the client).
 */
#ifndef AF_ROUTERD_REPORT_H
#define AF_ROUTERD_REPORT_H

#include "policy/policy.h"
#include "routerd/workflow.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds of report fields. */
#define ROUTERD_REPORT_MAX_LATENCY_MS 86400000LL /* one day */
#define ROUTERD_REPORT_MAX_TOKENS 1000000000LL
#define ROUTERD_REPORT_MAX_COST_USD 1000000.0
#define ROUTERD_REPORT_MAX_COST_NANO 1000000000000000LL /* 1e6 USD */

/* Decisions kept for attribution: the last ROUTERD_DECISIONS_MAX routed
 * decisions (a power of two). A decision is replaced by the one made
 * ROUTERD_DECISIONS_MAX decisions later; when that happens less than
 * ROUTERD_DECISIONS_KEEP_MS after it was made, the replacement is counted
 * as dropped early. */
#define ROUTERD_DECISIONS_MAX (1u << 18)
#define ROUTERD_DECISIONS_KEEP_MS (10u * 60u * 1000u)

/* One report, parsed. Strings are borrowed from the JSON document the
 * parser was given (NULL: absent); integers are -1 when absent. */
struct routerd_report {
	const char *decision_id, *workflow_id, *tenant, *class_name;
	const char *model, *region;
	bool ok;
	int64_t latency_ms, input_tokens, output_tokens, revision;
	int64_t cached_input_tokens; /* of input_tokens */
	bool has_cost;
	int64_t cost_nano_usd; /* when has_cost */
	int64_t quality_ppm;   /* quality 0..1 in ppm; -1: absent */
};

/* Why a report was refused: HTTP status (400 or 422), code
 * ("MISSING_FIELD", "WRONG_TYPE", "INVALID_FIELD"), field and message. */
struct routerd_report_error {
	int http_status;
	const char *code; /* static */
	const char *field;
	char message[160];
};

/* Checks and reads a report object (a jansson json_t *, passed as void *
 * so this header does not need jansson). Returns 0, or AF_EPARSE with
 * *err filled; *ret is valid as long as root. Thread-safe. */
int routerd_report_parse(void *root, struct routerd_report *ret,
			 struct routerd_report_error *err);

/* ------------------------------------------------------------ outcome */

/* One POST /v1/outcome body, parsed: strings borrowed from the JSON
 * document; labels as (key, value) pairs. */
struct routerd_outcome {
	const char *workflow_id, *tenant, *class_name;
	enum routerd_workflow_outcome outcome;
	int64_t tool_nano, human_nano; /* 1e-9 USD, 0 when absent */
	size_t nlabels;
	const char *labels[AF_REQ_MAX_LABELS][2];
};

/* Checks and reads an outcome object (a json_t *): workflow_id, tenant,
 * class and outcome required (400 MISSING_FIELD), tool_cost_usd and
 * human_review_usd 0..ROUTERD_REPORT_MAX_COST_USD, labels an object of
 * at most AF_REQ_MAX_LABELS strings (422). Returns 0 or AF_EPARSE with
 * *err filled. Thread-safe. */
int routerd_outcome_parse(void *root, struct routerd_outcome *ret,
			  struct routerd_report_error *err);

/* ------------------------------------------------------ decision table */

#define ROUTERD_KEY_MAX AF_POLICY_NAME_MAX

/* What a decision says about its hop. */
/* Bytes of declared labels ("key=value" strings, each NUL-terminated) a
 * decision keeps from its request for the per-hop report. */
#define ROUTERD_HOP_LABELS 192

struct routerd_decision_rec {
	uint64_t revision;
	bool canary;
	uint64_t wf_hash;
	char tenant[ROUTERD_KEY_MAX + 1], class_name[ROUTERD_KEY_MAX + 1];
	char model[ROUTERD_KEY_MAX + 1], region[ROUTERD_KEY_MAX + 1];
	char labels[ROUTERD_HOP_LABELS + 1];
	size_t labels_len;
};

struct routerd_decisions_stats {
	_Atomic uint64_t stored, dropped_early, oversized;
};

struct routerd_decisions;

/* Errors: AF_ENOMEM. Free with routerd_decisions_free (NULL accepted). */
int routerd_decisions_new(struct routerd_decisions **ret);
void routerd_decisions_free(struct routerd_decisions *t);
const struct routerd_decisions_stats *
routerd_decisions_stats(const struct routerd_decisions *t);

/* Keeps routed decision `seq` (nonzero) of `tenant` and `class_name`, and
 * wf_hash, its workflow id's routerd_workflow_hash (0: none), so a report
 * that names only the decision finds its workflow, and the request's
 * declared labels (labels[0..labels_len), at most ROUTERD_HOP_LABELS
 * bytes: more are dropped) for the per-hop report.
 * now_ms: monotonic. No allocation unless the four names and the labels
 * together are long (over about 100 bytes). Any thread. */
void routerd_decisions_put(struct routerd_decisions *t, uint64_t seq,
			   const struct af_decision *d, const char *tenant,
			   const char *class_name, uint64_t now_ms,
			   uint64_t wf_hash, const char *labels,
			   size_t labels_len);
/* Copies decision `seq` into *ret; false when it is not (or no longer)
 * kept. Any thread. */
bool routerd_decisions_get(struct routerd_decisions *t, uint64_t seq,
			   struct routerd_decision_rec *ret);

/* What a reported call cost: the orchestrator's figure, else the price
 * on pv's registry of the tokens on the model called (pv NULL: 0); at
 * most ROUTERD_REPORT_MAX_COST_NANO. */
int64_t routerd_report_cost(const struct af_policy_view *pv,
			    const struct routerd_report *rep,
			    const char *model);

#endif
