/*
 * The API verb table (handlers.c): one row per request body case, naming
 * the verb (the `verb` label of af_api_requests_total), the permission it
 * needs (auth.h), how it reads and its handler. Adding a verb is one row
 * (plus its handler).
 */
#ifndef AF_CONTROLD_VERBS_H
#define AF_CONTROLD_VERBS_H

#include "proto/af.pb-c.h"

#include <stddef.h>

/* Rows the table may hold: the size of the per-verb counters. */
#define CONTROLD_MAX_VERBS 32

struct controld_job;
struct af_txn;

enum controld_read_mode {
	CONTROLD_HANDLER, /* the handler does everything (writes, admin) */
	CONTROLD_READ,	  /* linearizable read unless the caller asks stale */
	CONTROLD_STALE,	  /* always from this node's own state */
};

struct controld_verb {
	Af__Request__BodyCase body;
	const char *name; /* metric label; rows may share one */
	/* "read", "author", "promote", "admin" or "routerd"; NULL: decided
	 * per Command op (auth.c). */
	const char *need;
	enum controld_read_mode mode;
	/* CONTROLD_HANDLER, or a read that opens no transaction itself. */
	void (*handle)(struct controld_job *j);
	/* A read inside a store read transaction (handle is NULL). */
	void (*read)(struct controld_job *j, struct af_txn *t);
};

/* The row of a body case; an unknown one gets the "other" row. Never
 * NULL; any thread. */
const struct controld_verb *controld_verb_of(Af__Request__BodyCase body);
/* Rows in table order, for /metrics: 0 <= i < controld_verb_count(). */
size_t controld_verb_count(void);
const struct controld_verb *controld_verb_at(size_t i);

#endif
