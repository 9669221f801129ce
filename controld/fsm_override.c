/* Apply of emergency overrides (docs/incidents.md): set, clear, and expiry.
 * The set lives in one meta record; ids are "ov-<index of the entry that
 * set it>". Expiry is decided by the entry's own leader-stamped time,
 * never by a node's clock: the leader proposes an expiry entry once an
 * override's time has passed (emergency.c), and a set drops what has
 * expired as of its own time. Every set, clear and expiry is audited. */
#include "controld/fsm_int.h"
#include "controld/state.h"
#include "common/alloc.h"
#include "policy/override.h"

#include <stdio.h>
#include <string.h>

#define OV_MIN_TTL_MS 1000

int af_fsm_read_overrides(struct af_txn *t, struct af_override_set *ret)
{
	Af__OverrideSet *s;
	int rc = af_state_overrides_get(t, &s);

	memset(ret, 0, sizeof(*ret));
	if (rc != 0 || s == NULL)
		return rc;
	af_override_set_from_pb(s, ret);
	protobuf_c_message_free_unpacked(&s->base, NULL);
	return 0;
}

/* The stored set (an empty one when none); free with free_set. */
static int load(struct af_txn *t, Af__OverrideSet **ret)
{
	int rc = af_state_overrides_get(t, ret);

	if (rc == 0 && *ret == NULL) {
		*ret = af_calloc(1, sizeof(**ret));
		if (*ret == NULL)
			return AF_ENOMEM;
		af__override_set__init(*ret);
	}
	return rc;
}

static void free_set(Af__OverrideSet *s, bool fresh)
{
	if (s == NULL)
		return;
	if (fresh)
		af_free(s);
	else
		protobuf_c_message_free_unpacked(&s->base, NULL);
}

/* Removes the entries keep() refuses (in place, order kept); their ids
 * go into `ids` (comma-separated). Returns how many were removed. The
 * removed messages stay owned by the unpacked set's allocation. */
typedef bool (*keep_fn)(const Af__Override *o, const void *arg);

static size_t sweep(Af__OverrideSet *s, keep_fn keep, const void *arg,
		    char *ids, size_t idslen, Af__Override **gone)
{
	size_t w = 0, n = 0, used = strlen(ids);

	for (size_t i = 0; i < s->n_overrides; i++) {
		Af__Override *o = s->overrides[i];

		if (keep(o, arg)) {
			s->overrides[w++] = o;
			continue;
		}
		gone[n++] = o;
		if (used + strlen(o->id) + 2 < idslen)
			used += (size_t)snprintf(ids + used, idslen - used,
						 "%s%s", used ? "," : "",
						 o->id);
	}
	/* The removed ones after the kept: the caller frees them all. */
	for (size_t i = 0; i < n; i++)
		s->overrides[w + i] = gone[i];
	s->n_overrides = w;
	return n;
}

static bool not_expired(const Af__Override *o, const void *arg)
{
	return o->expires_ms > *(const int64_t *)arg;
}

/* Stores s (n live entries, the rest kept only for the free) as of entry
 * c->index. */
static int store(struct af_txn *t, struct apply_ctx *c, Af__OverrideSet *s)
{
	s->version = c->index;
	return af_state_overrides_put(t, s);
}

static int refuse(struct apply_ctx *c, int code, const char *msg)
{
	af_fsm_resultf(c->res, code, "%s", msg);
	return 0;
}

static int set_in(struct af_txn *t, struct apply_ctx *c, Af__OverrideSet *s,
		  Af__Override **gone)
{
	const Af__EmergencySet *es = c->cmd->emergency_set;
	Af__Override o, *all[AF_OVERRIDE_MAX * 2 + 1];
	struct af_override chk;
	struct af_err err = {{0}};
	char expired[200] = "", id[AF_OVERRIDE_ID_MAX + 1];

	if (es->override == NULL)
		return refuse(c, AF__CODE__INVALID, "no override given");
	af_override_from_pb(es->override, &chk);
	if (af_override_check(&chk, &err) != 0)
		return refuse(c, AF__CODE__INVALID, err.msg);
	if (es->ttl_ms < OV_MIN_TTL_MS || es->ttl_ms > AF_OVERRIDE_TTL_MAX_MS)
		return refuse(c, AF__CODE__INVALID,
			      "--ttl must be within 1s..7d");
	sweep(s, not_expired, &c->cmd->time_ms, expired, sizeof(expired), gone);
	if (s->n_overrides >= AF_OVERRIDE_MAX)
		return refuse(c, AF__CODE__CONFLICT,
			      "16 overrides are in force (the most one set "
			      "holds); clear one first (af emergency clear)");
	snprintf(id, sizeof(id), "ov-%llu", (unsigned long long)c->index);
	o = *es->override;
	o.id = id;
	o.principal = c->cmd->principal;
	o.set_ms = c->cmd->time_ms;
	o.expires_ms = c->cmd->time_ms + es->ttl_ms;
	if (s->n_overrides > 0)
		memcpy(all, s->overrides, s->n_overrides * sizeof(all[0]));
	all[s->n_overrides] = &o;
	{
		Af__OverrideSet ns = *s;
		int rc;

		ns.overrides = all;
		ns.n_overrides = s->n_overrides + 1;
		if ((rc = store(t, c, &ns)) != 0)
			return rc;
	}
	snprintf(c->target, sizeof(c->target), "%s", id);
	af_fsm_resultf(c->res, AF__CODE__OK, "override %s set%s%s", id,
		       expired[0] ? "; expired: " : "", expired);
	return 0;
}

typedef int (*with_fn)(struct af_txn *t, struct apply_ctx *c,
		       Af__OverrideSet *s, Af__Override **gone);

/* Runs fn over the stored set (an empty one when none) with room for
 * what it sweeps out. */
static int with_set(struct af_txn *t, struct apply_ctx *c, with_fn fn)
{
	Af__OverrideSet *s = NULL;
	Af__Override **gone;
	size_t total;
	bool fresh;
	int rc;

	if ((rc = af_state_overrides_get(t, &s)) != 0)
		return rc;
	fresh = s == NULL;
	if (fresh && (rc = load(t, &s)) != 0)
		return rc;
	gone = af_calloc(s->n_overrides + 1, sizeof(*gone));
	if (gone == NULL) {
		free_set(s, fresh);
		return AF_ENOMEM;
	}
	total = s->n_overrides;
	rc = fn(t, c, s, gone);
	/* sweep() keeps every pointer, the removed ones after the kept:
	 * all of them are freed with the unpacked set. */
	s->n_overrides = total;
	af_free(gone);
	free_set(s, fresh);
	return rc;
}

int af_fsm_apply_emergency_set(struct af_txn *t, struct apply_ctx *c)
{
	c->verb = "emergency.set";
	return with_set(t, c, set_in);
}

/* ------------------------------------------------------------- clear */

struct clear_arg {
	const char *id; /* NULL: every one */
};

static bool not_target(const Af__Override *o, const void *arg)
{
	const struct clear_arg *a = arg;

	return a->id != NULL && strcmp(o->id, a->id) != 0;
}

static bool freezes(const Af__OverrideSet *s, const char *id)
{
	for (size_t i = 0; i < s->n_overrides; i++)
		if ((id == NULL || strcmp(s->overrides[i]->id, id) == 0) &&
		    (s->overrides[i]->effects & AF_OV_FREEZE_TENANT))
			return true;
	return false;
}

static int clear_in(struct af_txn *t, struct apply_ctx *c, Af__OverrideSet *s,
		    Af__Override **gone)
{
	const Af__EmergencyClear *ec = c->cmd->emergency_clear;
	struct clear_arg a = {.id = ec->all ? NULL : ec->id};
	char ids[160] = "";
	size_t n;
	int rc;

	if (ec->expire) {
		c->verb = "emergency.expire";
		n = sweep(s, not_expired, &c->cmd->time_ms, ids, sizeof(ids),
			  gone);
		if (n == 0)
			c->verb = NULL; /* nothing happened: no record */
	} else {
		if (!ec->all && (ec->id == NULL || ec->id[0] == '\0'))
			return refuse(c, AF__CODE__INVALID,
				      "give an override id or --all");
		if (freezes(s, a.id) && !ec->admin)
			return refuse(c, AF__CODE__PERMISSION_DENIED,
				      "clearing a tenant freeze needs role "
				      "admin");
		n = sweep(s, not_target, &a, ids, sizeof(ids), gone);
		if (n == 0 && !ec->all)
			return refuse(c, AF__CODE__NOT_FOUND,
				      "no override with this id is in force "
				      "(af emergency list)");
	}
	if (n > 0 && (rc = store(t, c, s)) != 0)
		return rc;
	snprintf(c->target, sizeof(c->target), "%s", ids);
	af_fsm_resultf(c->res, AF__CODE__OK, "%zu override%s %s%s%s", n,
		       n == 1 ? "" : "s", ec->expire ? "expired" : "cleared",
		       n ? ": " : "", ids);
	return 0;
}

int af_fsm_apply_emergency_clear(struct af_txn *t, struct apply_ctx *c)
{
	c->verb = "emergency.clear";
	return with_set(t, c, clear_in);
}
