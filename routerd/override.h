/*
 * The emergency overrides a routerd enforces: the cluster's set, taken
 * from every hint and heartbeat (so it holds even when Sync fails), merged
 * with the set of --override-file (re-read on change and on SIGHUP, so the
 * switch works with no controld at all). Deciding threads read the merged
 * set without a lock (a sequence-numbered slot per change; a decision
 * that raced a change is decided again).
 */
#ifndef AF_ROUTERD_OVERRIDE_H
#define AF_ROUTERD_OVERRIDE_H

#include "common/hash.h"
#include "common/sign.h"
#include "policy/policy.h"
#include "proto/af.pb-c.h"
#include "routerd/routerd.h"

/* Largest override file read (bytes). */
#define ROUTERD_OVERRIDE_FILE_MAX (64u * 1024)

/* Creates r->overrides; with r->override_file, loads it (a bad file is
 * logged and enforces nothing until fixed) and starts its watcher, which
 * also takes SIGHUP. keys: trusted signing keys (n 0: files unsigned).
 * Errors: AF_ENOMEM, AF_EIO (thread). */
int routerd_overrides_start(struct routerd *r, const struct af_pubkey *keys,
			    size_t nkeys, struct af_err *err);
void routerd_overrides_stop(struct routerd *r);

/* The set of a hint or heartbeat (may be NULL). Returns true when it
 * changed what is enforced. Sync thread. */
bool routerd_overrides_hint(struct routerd *r, const Af__OverrideSet *s);

/* af_decide() with the overrides and the staleness of r's view in *live,
 * both judged at wall_ms (the decision's one wall-clock read). rec (NULL:
 * no decision log) records the overrides and staleness the decision saw. */
struct af_live_rec;
int routerd_override_decide(struct routerd *r, const struct routerd_view *v,
			    const struct af_request *req, struct af_live *live,
			    int64_t wall_ms, const char *id,
			    struct af_live_rec *rec, struct af_decision *ret);

/* The same on another policy view of r's (the shadow's). */
int routerd_override_decide_pv(struct routerd *r,
			       const struct af_policy_view *pv,
			       const struct af_request *req,
			       struct af_live *live, int64_t wall_ms,
			       const char *id, struct af_live_rec *rec,
			       struct af_decision *ret);

/* What is enforced: the cluster set's version, how many overrides are in
 * force (both sources), and "sha256:..." of the override file ("" when
 * none is loaded). Any thread. */
struct routerd_override_info {
	uint64_t version;
	size_t n;
	char file_hash[AF_HASH_STR_LEN];
	char file_error[512]; /* the last load's error, "" when none */
};
void routerd_overrides_info(struct routerd *r,
			    struct routerd_override_info *ret);

/* The staleness mode of view v now: "fresh", "degraded" or "fail_closed"
 * ("off" without a staleness section), with the seconds since the last
 * confirmed sync. */
const char *routerd_stale_mode(struct routerd *r, const struct routerd_view *v,
			       uint64_t *ret_since_s);

/* `"overrides":{...},"staleness":{...}` for /v1/status (v may be NULL).
 * Returns the length, 0 when buf is too small. */
size_t routerd_overrides_status_json(struct routerd *r,
				     const struct routerd_view *v, char *buf,
				     size_t len);
/* The override and staleness gauges for /metrics. */
struct af_textbuf;
void routerd_overrides_metrics(struct routerd *r, struct af_textbuf *b);

#endif
