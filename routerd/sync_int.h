/* Private to routerd's sync side (sync.c, telemetry.c, cache.c). */
#ifndef AF_ROUTERD_SYNC_INT_H
#define AF_ROUTERD_SYNC_INT_H

#include "net/rpc.h"
#include "common/hash.h"
#include "common/sign.h"
#include "net/tls.h"
#include "proto/af.pb-c.h"
#include "routerd/conn.h"
#include "routerd/routerd.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>

#define ROUTERD_CACHE_MAX (256u * 1024 * 1024)
#define HINT_MAX 16384 /* as controld's CONTROLD_HINT_MAX */
#define HINT_QUEUE 16  /* hints waiting for the loop; more are dropped */

/* One thread's calls to controld: where to send next and its backoff. */
struct sync_chan {
	unsigned next;
	uint64_t backoff_ms, retry_at_ms;
	uint64_t fail_logged_ms; /* rate-limited failure log */
	unsigned fail_suppressed;
};

/* Two threads: the sync thread follows hints and pulls views (sch); the
 * telemetry thread sends leases, usage and fleet reports (tch), so a slow
 * write never delays a configuration pull. */
struct routerd_sync {
	struct routerd *r;
	pthread_t thread, tele_thread;
	bool started, tele_started;
	_Atomic int stop;
	nng_socket sub;
	nng_aio *sub_aio; /* hints arrive on a callback; the loop blocks */
	struct routerd_conns *conns; /* one kept connection per endpoint */
	pthread_mutex_t mu;	     /* guards the fields marked (mu) */
	pthread_cond_t cv;	     /* wakes the sync thread */
	pthread_cond_t tcv;	     /* wakes the telemetry thread */
	bool tele_kick;		     /* (mu) telemetry has work now */
	unsigned n_hints;	     /* (mu) queued by the callback */
	uint8_t hints[HINT_QUEUE][HINT_MAX];
	size_t hint_len[HINT_QUEUE];
	/* Budgets: defined by the sync thread, leased by telemetry. */
	pthread_mutex_t bmu;
	_Atomic size_t n_budgets; /* budgeted tenants in the last Sync */
	uint64_t deadline_ms;	  /* shutdown: no call past this */
	uint8_t *usage_buf;	  /* a usage batch not yet acknowledged */
	size_t usage_len;
	char usage_rid[AF_RPC_ID_LEN + 1];
	char urls[AF_MAX_NODES][AF_ADDR_MAX + 16];
	unsigned n_urls;
	struct sync_chan sch, tch;
	uint64_t synced_index; /* state index of the last good Sync */
	uint64_t hinted_index; /* highest distribution index announced */
	int hinted_url;	       /* endpoint of that node, -1: unknown */
	bool sync_due;	       /* start-up, or silence: pull now */
	uint64_t last_msg_ms;  /* last hint or heartbeat from anyone */
	uint64_t last_attempt_ms;
	uint64_t last_report_ms, last_usage_ms;
	uint64_t report_gen;   /* (mu) bumped when a report is due */
	uint64_t report_at_ms; /* (mu) a due report waits until then (mono) */
	uint32_t spread_ms;    /* the last change hint's report spread */
	uint64_t reported_gen; /* telemetry: the last one acknowledged */
	bool owns_usage, owns_budgets;
	/* AF_TEST_DROP_HINTS: lose every change hint (set only in test
	 * builds; the layout is the same in every build) */
	int drop_hints;	    /* 1: change hints, 2: heartbeats too */
	const char *token;  /* AF_TOKEN: a token of role routerd, or NULL */
	struct af_tls *tls; /* mutual TLS from the cluster file, or NULL */
	struct af_pubkey keys[AF_MAX_TRUSTED_KEYS]; /* signing.trusted_keys */
	size_t nkeys;
	bool nack;	  /* (mu) */
	char reason[256]; /* (mu) */
	/* (mu) the heads of the view last offered by a Sync: with nack, the
	 * view rejected */
	char offer_stable[AF_HASH_STR_LEN], offer_canary[AF_HASH_STR_LEN];
};

/* sync.c: one call on ch's current endpoint; rotates on failure, follows
 * one NOT_LEADER redirect when to_leader. 0 with *ret (free it), or an
 * AF_E* code. */
int routerd_sync_call(struct routerd_sync *s, struct sync_chan *ch,
		      Af__Request *req, bool to_leader, Af__Response **ret);
/* Backoff bookkeeping of ch after a failed or a successful call. */
void routerd_sync_failed(struct routerd_sync *s, struct sync_chan *ch,
			 const char *what, const char *why);
void routerd_sync_succeeded(struct sync_chan *ch);
bool routerd_sync_may_call(const struct sync_chan *ch);
/* Why a call failed, for the log. */
const char *routerd_sync_why(int rc, const Af__Response *resp);
/* An answer without a status is a success (reads); writes carry one. */
bool routerd_sync_answered_ok(const Af__Response *resp);
/* Asks for a fleet report now (caller holds mu); _spread: at a random
 * moment within the last change hint's report spread (a new view, a
 * NACK: the whole fleet reports the same change). */
void routerd_sync_report_due(struct routerd_sync *s);
void routerd_sync_report_spread(struct routerd_sync *s);

/* telemetry.c: the telemetry thread, and its last duties at stop (after
 * both threads have ended): usage, leases back, leave the fleet. */
void *routerd_telemetry_main(void *arg);
void routerd_telemetry_final(struct routerd_sync *s);

/* Writes v to r->cache_dir/view.pb atomically. No-op without a cache dir.
 * Errors: AF_EIO, AF_ENOMEM. */
int routerd_cache_save(struct routerd *r, const struct routerd_view *v,
		       struct af_err *err);
/* Loads and verifies the cached view. AF_ENOTFOUND when there is none;
 * AF_ECORRUPT / AF_ECLUSTER for a file that must not be served. */
int routerd_cache_load(struct routerd *r, struct routerd_view **ret,
		       struct af_err *err);

#endif
