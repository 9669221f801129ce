/* JSON of emergency overrides (af emergency list -o json and
 * GET /api/v1/emergency): the override's own JSON members from policy/. */
#include "policy/override.h"
#include "render/render.h"

static json_t *item_json(const Af__Override *m)
{
	struct af_override o;
	char buf[1024];
	size_t n;
	json_t *j, *members;

	af_override_from_pb(m, &o);
	buf[0] = '{';
	n = af_override_json_members(&o, buf + 1, sizeof(buf) - 2);
	buf[n + 1] = '}';
	buf[n + 2] = '\0';
	members = json_loads(buf, 0, NULL);
	j = json_object();
	json_object_set_new(j, "id", json_string(m->id));
	if (members != NULL) {
		json_object_set(j, "scope", json_object_get(members, "scope"));
		json_object_set(j, "effect",
				json_object_get(members, "effect"));
		json_decref(members);
	}
	json_object_set_new(j, "reason", json_string(m->reason));
	json_object_set_new(j, "principal", json_string(m->principal));
	json_object_set_new(j, "expires", af_render_time(m->expires_ms));
	return j;
}

json_t *af_render_emergency(const Af__EmergencyListResp *el)
{
	json_t *arr = json_array();

	for (size_t i = 0;
	     el != NULL && el->set != NULL && i < el->set->n_overrides; i++)
		json_array_append_new(arr, item_json(el->set->overrides[i]));
	return arr;
}
