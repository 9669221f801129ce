/* af version: this af's version and, when a cluster is configured (-c,
 * --endpoints or their variables), each node's controld version as its
 * cluster status answers. */
#include "cli/client.h"
#include "cli/output.h"

#include <stdio.h>
#include <string.h>

/* One node's answer: its version, or NULL (unreachable or refused; why in
 * err). */
static const char *node_version(struct af_client *c, unsigned i,
				Af__Response **resp, const char **err)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__ClusterStatusReq cs = AF__CLUSTER_STATUS_REQ__INIT;

	req.body_case = AF__REQUEST__BODY_CLUSTER_STATUS;
	req.cluster_status = &cs;
	*err = "unreachable";
	if (af_client_call(c, &req, (int)i, resp) != 0) {
		*resp = NULL;
		return NULL;
	}
	if ((*resp)->status && (*resp)->status->code != AF__CODE__OK) {
		*err = (*resp)->status->message;
		return NULL;
	}
	if ((*resp)->body_case != AF__RESPONSE__BODY_CLUSTER_STATUS ||
	    (*resp)->cluster_status->node == NULL)
		return NULL;
	/* a node older than the version field answers "" */
	return (*resp)->cluster_status->node->version[0]
		       ? (*resp)->cluster_status->node->version
		       : "unknown";
}

static json_t *servers(struct af_cli *cli, int *answered, int *refused, int *rc)
{
	struct af_client c;
	json_t *list = json_array();

	*answered = 0;
	if ((*rc = af_client_open(&c, cli)) != 0)
		return list;
	if (cli->timeout_ms > 2000)
		cli->timeout_ms = 2000; /* per node */
	c.quiet = true;
	for (unsigned i = 0; i < c.n_endpoints && i < AF_MAX_NODES; i++) {
		Af__Response *resp = NULL;
		const char *err, *v = node_version(&c, i, &resp, &err);
		json_t *o = json_pack("{s:s}", "endpoint", c.endpoints[i]);

		if (v != NULL) {
			json_object_set_new(
				o, "id",
				json_integer((json_int_t)resp->cluster_status
						     ->node->id));
			json_object_set_new(o, "version", json_string(v));
			(*answered)++;
		} else {
			*refused += resp != NULL;
			json_object_set_new(o, "id", json_null());
			json_object_set_new(o, "version", json_null());
			json_object_set_new(o, "error", json_string(err));
		}
		json_array_append_new(list, o);
		if (resp)
			af__response__free_unpacked(resp, NULL);
	}
	af_client_close(&c);
	return list;
}

int af_cli_version(struct af_cli *cli, int argc, char **argv)
{
	json_t *doc, *list = NULL, *s;
	int answered = 0, refused = 0, rc = AF_EXIT_OK;
	size_t i;

	if (argc > 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "version: unexpected \"%s\"", argv[1]);
	if (cli->cluster_file != NULL || cli->endpoints != NULL) {
		list = servers(cli, &answered, &refused, &rc);
		if (rc == AF_EXIT_OK && answered == 0)
			rc = refused ? AF_EXIT_REFUSED : AF_EXIT_UNAVAILABLE;
	}
	if (cli->output != AF_OUT_TABLE) {
		doc = json_pack("{s:s}", "version", AF_VERSION);
		json_object_set_new(doc, "servers", list ? list : json_array());
		return af_out_json(doc) == 0 ? rc : AF_EXIT_REFUSED;
	}
	printf("client: af %s\n", AF_VERSION);
	json_array_foreach(list, i, s)
	{
		json_t *id = json_object_get(s, "id");

		if (json_is_integer(id))
			printf("node %lld: controld %s (%s)\n",
			       (long long)json_integer_value(id),
			       json_string_value(json_object_get(s, "version")),
			       json_string_value(
				       json_object_get(s, "endpoint")));
		else
			printf("%s: %s\n",
			       json_string_value(
				       json_object_get(s, "endpoint")),
			       json_string_value(json_object_get(s, "error")));
	}
	json_decref(list);
	return rc;
}
