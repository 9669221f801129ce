/*
 * Shadow evaluation: a sampled share of the requests the stable cohort
 * answered is decided again, after the answer, against the view's shadow
 * bundle, and the two decisions compared (policy/replay.h's kinds of
 * change). The deciding thread only copies the request, its decision and
 * the live inputs the decision read (policy/replay.h's recorder) into a
 * bounded queue; a worker thread decides under exactly those inputs, so a
 * shadow decision reserves nothing (no lane slot, budget, quota, workflow
 * state) and changes no live state. The emergency overrides apply to it
 * as to any decision. A full queue drops the job and counts it.
 *
 * Counters per (shadow hash, class) ride with the usage flush
 * (usage.h) to controld.
 */
#ifndef AF_ROUTERD_SHADOW_H
#define AF_ROUTERD_SHADOW_H

#include "policy/replay.h"
#include "proto/af.pb-c.h"
#include "routerd/routerd.h"

#define ROUTERD_SHADOW_RING (4u << 20) /* bytes of queued jobs */
/* Distinct (hash, class) rows between two flushes; more share the hash's
 * "(other)" row. */
#define ROUTERD_SHADOW_ROWS 1024

/* Creates r->shadow and starts its worker. Errors: AF_ENOMEM, AF_EIO. */
int routerd_shadow_start(struct routerd *r, struct af_err *err);
/* Stops the worker (jobs still queued are dropped, uncounted); the
 * counters stay for the last flush. Then routerd_shadow_free. */
void routerd_shadow_stop(struct routerd *r);
void routerd_shadow_free(struct routerd *r);

/* Whether decision `seq` on v is to be shadowed: v has a shadow, not
 * expired at wall_ms, and seq falls in its sample. Any thread. */
bool routerd_shadow_wants(const struct routerd *r, const struct routerd_view *v,
			  uint64_t seq, int64_t wall_ms);

/* Queues decision d of req on v (acquired by the caller), decided at
 * wall_ms with the live inputs rec recorded (finished). Canary-cohort
 * decisions are not shadowed. Never blocks on the worker. Any thread. */
void routerd_shadow_put(struct routerd *r, const struct routerd_view *v,
			const struct af_request *req,
			const struct af_decision *d,
			const struct af_live_rec *rec, int64_t wall_ms);

/* Moves the counters gathered since the last call into *ret (n rows; the
 * array and the strings it points to are owned: af_free(*ret) frees
 * both). 0 rows: *ret NULL. Errors: AF_ENOMEM (the counters are kept). */
int routerd_shadow_take(struct routerd_shadow *s, Af__ShadowCounts **ret,
			size_t *ret_n);

/* The shadow counters for /metrics. */
struct af_textbuf;
void routerd_shadow_metrics(struct routerd *r, struct af_textbuf *b);

#endif
