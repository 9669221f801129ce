/* Private to the API: a request in flight between an NNG worker and the
 * loop thread. */
#ifndef AF_CONTROLD_API_INT_H
#define AF_CONTROLD_API_INT_H

#include "controld/node.h"
#include "proto/af.pb-c.h"

struct controld_job {
	struct controld_job *next;
	struct controld_node *node;
	Af__Request *req; /* owned; freed by the worker */
	uint8_t *out;	  /* packed Response (af_malloc), set by finish */
	size_t outlen;
	enum controld_verb verb;
	const char *principal; /* authenticated caller (borrowed) */
	uint64_t start_ns;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

/* Loop thread: handles one request; eventually calls job_finish. */
void controld_handle(struct controld_job *j);
/* Packs resp (adding node id and applied index), wakes the worker. */
void controld_job_finish(struct controld_job *j, Af__Response *resp);
/* Finishes with a Status only; NOT_LEADER adds the leader's address. */
void controld_job_fail(struct controld_job *j, Af__Code code, const char *fmt,
		       ...) __attribute__((format(printf, 3, 4)));

#endif
