/*
 * Decision records and their replay.
 *
 * Writing (routerd): af_live_rec_wrap() puts a recorder between af_decide()
 * and routerd's live signals; it remembers every value the decision read
 * (lane in-flight counts, cooldowns and observed latency of the pairs it
 * looked at, the tenant's budget state), so af_live_rec_json() can render
 * them as the record's "live" object by name. af_request_json() renders
 * the request with the bundle's masks applied.
 *
 * Reading (af policy simulate, af policy test): af_replay_live_parse()
 * reads a "live" object back, and af_replay_live_bind() turns it into a
 * struct af_live for any view: a decision replayed under it reads exactly
 * the values the recorded one read, by lane and (model, region) name.
 *
 * Nothing here allocates except the jansson calls of the parser. The
 * recorder and the replay state are fixed-size; what does not fit is
 * counted in `truncated`.
 */
#ifndef AF_POLICY_REPLAY_H
#define AF_POLICY_REPLAY_H

#include "policy/override.h"
#include "policy/policy.h"

#include <jansson.h>

#define AF_REC_LANES 32
#define AF_REC_COOL 64
#define AF_REC_LAT 128

struct af_rec_lane {
	uint32_t id;
	uint32_t inflight;
};
struct af_rec_pair {
	uint32_t id;
	uint64_t value; /* cooldown ms left, or latency ms */
};

/* A routerd-side adjustment of a routed decision: the budget lease could
 * not cover the hop, so the answer became this denial. */
struct af_rec_lease {
	bool set;
	const char *code; /* static or borrowed from the record */
	char message[256];
	int64_t retry_after_ms;
	bool retryable;
};

struct af_live_rec {
	const struct af_live *inner;
	const struct af_policy_view *v;
	bool canary; /* cohort of the cooldowns read */
	uint32_t nlanes, ncool, nlat, truncated;
	struct af_rec_lane lanes[AF_REC_LANES];
	struct af_rec_pair cool[AF_REC_COOL];
	struct af_rec_pair lat[AF_REC_LAT];
	bool budget_read;
	enum af_budget_state budget;
	uint64_t budget_retry_ms;
	struct af_rec_lease lease;
	bool workflow_read;
	struct af_workflow_state workflow;
	/* The emergency overrides in force whose scope covers the request
	 * (af_live_rec_overrides), and how stale routerd's view was. */
	struct af_override_set ov;
	uint64_t stale_ms;
};

/* Sets up rec to record what a decision on v reads through inner (NULL:
 * no live signals) and fills *ret with the recording callbacks. Any
 * thread; rec is the caller's (one per decision in progress). */
void af_live_rec_wrap(struct af_live_rec *rec, const struct af_live *inner,
		      const struct af_policy_view *v, struct af_live *ret);
/* Records the overrides of live->overrides that are in force at
 * live->now_ms and whose scope covers req, and live->stale_ms. Call it
 * while the set live->overrides points to cannot change (routerd: inside
 * its override read). */
void af_live_rec_overrides(struct af_live_rec *rec, const struct af_live *live,
			   const struct af_request *req);
/* After af_decide(): also records the in-flight count of every other lane
 * of the view with requests in flight (so a candidate bundle that puts a
 * class on another lane sees it), and the decision's cohort. */
void af_live_rec_finish(struct af_live_rec *rec, const struct af_decision *d);
/* Records that routerd turned routed decision d into a denial (budget
 * lease), copying d's code, message and retry fields. */
void af_live_rec_lease(struct af_live_rec *rec, const struct af_decision *d);
/* A record packed into the entries in use (the struct is about 9 KB, a
 * typical record a few hundred bytes), and back, as af_request_pack and
 * af_request_unpack do (a cap of sizeof(struct af_live_rec) always
 * suffices). The pointers inner and v are packed as they are: unpack in
 * the process that packed, while what they point to lives. */
size_t af_live_rec_pack(const struct af_live_rec *rec, uint8_t *buf,
			size_t cap);
size_t af_live_rec_unpack(const uint8_t *buf, size_t len,
			  struct af_live_rec *ret);
/* The "live" object of a decision record. Returns 0 or AF_ETOOBIG. */
int af_live_rec_json(const struct af_live_rec *rec, char *buf, size_t len,
		     size_t *ret_len);

/* The request as JSON with the fields named in mask ("tenant",
 * "labels.customer", ...) replaced by "sha256:" and the first 16 hex
 * digits of their value's SHA-256. Only fields the request gave appear.
 * Returns 0 or AF_ETOOBIG. */
int af_request_json(const struct af_request *r, const char *const *mask,
		    size_t nmask, char *buf, size_t len, size_t *ret_len);
/* The masked form of value s: "sha256:" + 16 hex digits, NUL-terminated. */
#define AF_MASKED_LEN 24
void af_mask_value(const char *s, char out[AF_MASKED_LEN]);

/* ------------------------------------------------------------- replay */

struct af_replay_name {
	const char *model, *region; /* lanes: model is the lane name */
	uint64_t value;
};

/* The live inputs of one record. Names are borrowed from the json_t the
 * record was parsed from. */
struct af_replay_live {
	uint32_t nlanes, ncool, nlat;
	struct af_replay_name lanes[AF_REC_LANES];
	struct af_replay_name cool[AF_REC_COOL];
	struct af_replay_name lat[AF_REC_LAT];
	enum af_budget_state budget;
	uint64_t budget_retry_ms;
	struct af_rec_lease lease;
	/* The workflow state the decision read ("workflow" member not
	 * empty); without it the replay has no workflow signal. */
	bool has_workflow;
	struct af_workflow_state workflow;
	/* The overrides in force for the request and the view's staleness
	 * when it was decided: a replay applies them again (expiry was
	 * judged when recording, so none expires here). */
	struct af_override_set ov;
	uint64_t stale_ms;
	/* Set by af_replay_live_bind: the names resolved against a view. */
	const struct af_policy_view *v;
	int32_t lane_id[AF_REC_LANES], cool_id[AF_REC_COOL], lat_id[AF_REC_LAT];
};

/* Reads a record's "live" object (NULL: no live inputs). Errors:
 * AF_EPARSE with err naming the member; nothing is allocated. */
int af_replay_live_parse(json_t *live, struct af_replay_live *ret,
			 struct af_err *err);
/* Resolves the names against v and fills *ret with callbacks that answer
 * from rl (any lane or pair the record does not name: 0). */
void af_replay_live_bind(struct af_replay_live *rl,
			 const struct af_policy_view *v, struct af_live *ret);
/* Applies the recorded lease refusal (if any) to a routed decision, as
 * routerd did. */
void af_replay_lease(const struct af_replay_live *rl, struct af_decision *d);

/* The live inputs rec recorded, by name (borrowed from rec->v, which
 * must outlive ret), as af_replay_live_parse() would read them from the
 * record's "live" object: bind them to another view to decide the same
 * request under the same inputs there. */
void af_live_rec_replay(const struct af_live_rec *rec,
			struct af_replay_live *ret);

/* ----------------------------------------------------- decision changes */

/* How a candidate's decision of a request differs from the baseline's
 * (bits; 0: the same). Both routed: the primary's model, tier and region,
 * each its own bit. Otherwise one of route to deny, deny to route or
 * another deny code. */
enum af_change {
	AF_CHANGE_MODEL = 1u << 0,
	AF_CHANGE_TIER = 1u << 1,
	AF_CHANGE_REGION = 1u << 2,
	AF_CHANGE_ROUTE_TO_DENY = 1u << 3,
	AF_CHANGE_DENY_TO_ROUTE = 1u << 4,
	AF_CHANGE_DENY_CODE = 1u << 5,
};
/* The deny code of a decision (rc AF_ENOTFOUND, an unknown class:
 * "UNKNOWN_CLASS"), NULL for a route. */
const char *af_decision_deny_code(const struct af_decision *d, int rc);
/* base and cand as af_decide() returned them (brc, crc its return codes:
 * 0 or AF_ENOTFOUND). */
unsigned af_decision_changes(const struct af_decision *base, int brc,
			     const struct af_decision *cand, int crc);

/* Reads a request object (the record's "request", a test case's
 * "request") as POST /v1/route would: same fields, same refusals. */
int af_request_from_json(json_t *obj, struct af_request *ret,
			 struct af_request_error *rerr);

#endif
