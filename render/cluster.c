/* The cluster status, the Raft configuration and the audit trail as
 * JSON. */
#include "render/render.h"

#include <stdbool.h>
#include <string.h>

static json_t *id_or_null(uint64_t id)
{
	return id ? json_integer((json_int_t)id) : json_null();
}

json_t *af_render_audit(const Af__AuditResp *ar)
{
	json_t *arr = json_array();

	for (size_t i = 0; ar && i < ar->n_records; i++) {
		const Af__AuditRecord *a = ar->records[i];
		json_t *o = json_object();

		json_object_set_new(o, "index",
				    json_integer((json_int_t)a->index));
		json_object_set_new(o, "time", af_render_time(a->time_ms));
		json_object_set_new(o, "principal", json_string(a->principal));
		json_object_set_new(o, "verb", json_string(a->verb));
		json_object_set_new(o, "target", json_string(a->target));
		json_object_set_new(o, "outcome", json_string(a->outcome));
		json_object_set_new(o, "detail", json_string(a->detail));
		json_array_append_new(arr, o);
	}
	return af_render_page("records", arr, ar ? ar->next_after : 0);
}

json_t *af_render_members(const Af__MemberListResp *ml)
{
	json_t *doc = json_object(), *arr = json_array();

	for (size_t i = 0; i < ml->n_members; i++) {
		const Af__Member *m = ml->members[i];
		json_t *o = json_object();

		json_object_set_new(o, "id", json_integer((json_int_t)m->id));
		json_object_set_new(o, "raft", json_string(m->raft));
		json_object_set_new(o, "role", json_string(m->role));
		json_array_append_new(arr, o);
	}
	json_object_set_new(doc, "leader", id_or_null(ml->leader_id));
	json_object_set_new(doc, "members", arr);
	return doc;
}

int af_render_leader_of(const struct af_render_probe *p, unsigned n)
{
	uint64_t term = 0;
	int at = -1;

	for (unsigned i = 0; i < n; i++)
		if (p[i].ns && strcmp(p[i].ns->role, "leader") == 0 &&
		    p[i].ns->term >= term) {
			term = p[i].ns->term;
			at = (int)i;
		}
	return at;
}

static json_t *node_json(uint64_t id, const Af__NodeStatus *ns,
			 const char *endpoint, const Af__Member *m)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer((json_int_t)id));
	json_object_set_new(o, "role",
			    json_string(ns ? ns->role : "unreachable"));
	json_object_set_new(o, "term",
			    ns ? json_integer((json_int_t)ns->term)
			       : json_null());
	json_object_set_new(o, "applied_index",
			    ns ? json_integer((json_int_t)ns->applied_index)
			       : json_null());
	json_object_set_new(o, "commit_index",
			    ns ? json_integer((json_int_t)ns->commit_index)
			       : json_null());
	json_object_set_new(o, "endpoint",
			    endpoint ? json_string(endpoint) : json_null());
	if (m != NULL) {
		json_object_set_new(o, "raft", json_string(m->raft));
		json_object_set_new(o, "member", json_string(m->role));
	}
	return o;
}

/* A member's row: the endpoint that answered as it, or the one the
 * cluster file names for it. */
static json_t *member_row(const struct af_render_probe *p, unsigned n,
			  const Af__Member *m)
{
	const Af__NodeStatus *ns = NULL;
	const char *ep = NULL;

	for (unsigned i = 0; i < n; i++) {
		const Af__NodeStatus *x = p[i].ns;

		if ((x && x->id == m->id) || (!x && p[i].cfg_id == m->id)) {
			ns = x;
			ep = p[i].endpoint;
		}
	}
	return node_json(m->id, ns, ep, m);
}

json_t *af_render_cluster(const struct af_render_probe *p, unsigned n,
			  const Af__MemberListResp *ml, uint64_t leader,
			  const char *auth)
{
	json_t *doc = json_object(), *nodes = json_array();
	json_t *outside = json_array();

	json_object_set_new(doc, "leader", id_or_null(leader));
	for (size_t k = 0; ml != NULL && k < ml->n_members; k++)
		json_array_append_new(nodes, member_row(p, n, ml->members[k]));
	for (unsigned i = 0; i < n; i++) {
		const Af__NodeStatus *x = p[i].ns;
		uint64_t id = x ? x->id : (p[i].cfg_id ? p[i].cfg_id : i + 1);
		bool member = ml == NULL;

		for (size_t k = 0; ml != NULL && k < ml->n_members; k++)
			member = member || ml->members[k]->id == id;
		if (ml == NULL)
			json_array_append_new(
				nodes, node_json(id, x, p[i].endpoint, NULL));
		else if (!member)
			json_array_append_new(outside,
					      json_integer((json_int_t)id));
	}
	json_object_set_new(doc, "nodes", nodes);
	if (ml != NULL)
		json_object_set_new(doc, "not_members", outside);
	else
		json_decref(outside);
	json_object_set_new(doc, "auth", json_string(auth));
	return doc;
}
