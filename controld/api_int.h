/* Private to the API: a request in flight between an NNG callback and the
 * loop thread. */
#ifndef AF_CONTROLD_API_INT_H
#define AF_CONTROLD_API_INT_H

#include "controld/node.h"
#include "policy/policy.h"
#include "proto/af.pb-c.h"

struct controld_job {
	struct controld_job *next;
	struct controld_node *node;
	Af__Request *req;      /* owned; freed once the reply is sent */
	unsigned verb;	       /* row of the verb table (verbs.h) */
	const char *principal; /* authenticated caller (borrowed) */
	uint64_t start_ns;
	/* Set by controld_prepare (NNG or compile thread) before the job is
	 * queued: a policy or model apply compiled off the loop thread. */
	bool prepared;
	bool forced; /* prepared with force */
	bool again;  /* controld_job_again: prepare and queue once more */
	bool compile_force; /* waiting for the compile thread: its force */
	int pre_code;	    /* Af__Code of a refusal; 0: compiled */
	char pre_msg[512];
	struct af_bundle *bundle; /* owned; pa borrows from it */
	struct af_registry *reg;  /* owned; ma borrows from it */
	Af__PolicyApply pa;
	Af__ModelApply ma;
	/* A job that is not an NNG request context (the HTTP API's, through
	 * controld_api_submit, or a handler test's): the loop thread hands
	 * it the answer instead of sending it on a context; the job is not
	 * touched by the API after this returns. NULL: an NNG context. */
	void (*reply)(struct controld_job *j, Af__Response *resp);
};

/* Any thread: queues a job (node, req, reply set) for the loop thread,
 * where controld_handle authorizes and answers it as it does a request
 * from the NNG API. A node that is stopping answers UNAVAILABLE at once,
 * on the caller's thread. */
void controld_api_submit(struct controld_node *n, struct controld_job *j);

/* NNG thread or the compile thread (api.c), before queueing: compiles a
 * policy or model apply (only
 * on a leader, only for an authorized caller). Touches nothing but the job
 * and the node's immutable configuration. Without force, only when this
 * node looked like the leader (the loop's view is checked again). */
void controld_prepare(struct controld_job *j, bool force);
/* Loop thread: hands an unprepared job back to an NNG thread, which
 * prepares it (force) and queues it once more. */
void controld_job_again(struct controld_job *j);
/* Any thread, after the reply went out: frees what prepare made. */
void controld_job_release(struct controld_job *j);

/* Loop thread: handles one request; eventually calls job_finish. */
void controld_handle(struct controld_job *j);
/* Packs resp (adding node id and applied index) and sends it; the job is
 * not touched after this returns. */
void controld_job_finish(struct controld_job *j, Af__Response *resp);
/* Finishes with a Status only; NOT_LEADER adds the leader's address. */
void controld_job_fail(struct controld_job *j, Af__Code code, const char *fmt,
		       ...) __attribute__((format(printf, 3, 4)));

#endif
