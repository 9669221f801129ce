/*
 * routerd usage aggregates: outcomes reported by the orchestrator
 * (POST /v1/report), summed per (revision, tenant, class, model) and
 * flushed to controld about once a second as one UsageReport command.
 * They feed canary analysis and showback. Any thread may record; the sync
 * thread flushes. Bounded: past AF_USAGE_MAX_ROWS distinct keys per
 * flush, outcomes are summed into their revision's "(other)" row.
 */
#ifndef AF_ROUTERD_USAGE_H
#define AF_ROUTERD_USAGE_H

#include "routerd/workflow.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AF_USAGE_MAX_ROWS 1024
/* Rows of ended workflows per flush; the rest are summed into one
 * "(other)" row. The first AF_USAGE_MAX_WORKFLOW_IDS workflows of a flush
 * are rows of their own, under their workflow_id (the cluster merges the
 * parts several routerds saw); later ones are summed per (tenant, class,
 * labels). */
#define AF_USAGE_MAX_WORKFLOW_ROWS 256
#define AF_USAGE_MAX_WORKFLOW_IDS 192

struct routerd_usage;

int routerd_usage_new(struct routerd_usage **ret);
void routerd_usage_free(struct routerd_usage *u);

/* Records one outcome. Strings are copied (truncated to 64 bytes);
 * labels[0..labels_len): the hop's declared labels ("key=value" strings,
 * each NUL-terminated, at most ROUTERD_HOP_LABELS bytes; NULL, 0: none). A
 * revision of 0 (unknown) is ignored. quality_ppm: the outcome's quality
 * (0..1e6), -1 when not reported. Thread-safe. */
void routerd_usage_record(struct routerd_usage *u, uint64_t revision,
			  const char *tenant, const char *class_name,
			  const char *model, const char *labels,
			  size_t labels_len, bool ok, uint64_t latency_ms,
			  int64_t cost_nano_usd, int64_t quality_ppm);

/* Records workflow w that ended (a routerd_workflow_done_fn: arg is the
 * struct routerd_usage). Thread-safe. */
void routerd_usage_workflow(void *arg, const struct routerd_workflow_done *w);

/* Takes everything recorded so far as a packed UsageReport command
 * payload for routerd `id` (NULL, 0 when there is nothing). *ret owned
 * (af_free). A send whose fate is unknown is resent as it is, with its
 * request id, so the state machine applies it once. */
struct routerd_shadow;
/* ... with the shadow counters of sh (NULL: none) gathered since the last
 * take. */
int routerd_usage_take(struct routerd_usage *u, struct routerd_shadow *sh,
		       const char *id, uint8_t **ret, size_t *ret_len);

#endif
