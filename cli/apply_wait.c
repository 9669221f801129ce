/* af policy apply --wait: polls the fleet view until the share of live
 * routerds the flag asks for serves the hash just applied (kubectl wait
 * on the fleet). On timeout it names the laggards and exits 3. */
#include "cli/client.h"
#include "cli/output.h"
#include "common/timeutil.h"
#include "render/render.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define POLL_MS 50
#define LAGGARDS_SHOWN 10 /* in the error line; -o json lists them all */

struct wait_state {
	uint32_t live, serving;
	json_t *laggards; /* [{"id", "state", "revision", "hash", ...}] */
};

static json_t *laggard(const Af__FleetEntry *e, enum af_fleet_serve how)
{
	const Af__FleetReport *f = e->record->last;
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(f->routerd_id));
	json_object_set_new(o, "state", json_string(e->state));
	json_object_set_new(o, "revision",
			    json_integer((json_int_t)f->stable_revision));
	json_object_set_new(o, "hash", json_string(f->stable_hash));
	json_object_set_new(o, "canary_hash", json_string(f->canary_hash));
	json_object_set_new(o, "nacked", json_boolean(how == AF_FLEET_NACKING));
	if (f->nack)
		json_object_set_new(o, "reason", json_string(f->reason));
	return o;
}

/* One look at the fleet. Returns an exit code (the read failed) or 0. */
static int look(struct af_cli *cli, const struct af_fleet_want *w,
		struct wait_state *ws)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__FleetStatusReq fr = AF__FLEET_STATUS_REQ__INIT;
	Af__Response *resp;
	int rc;

	req.body_case = AF__REQUEST__BODY_FLEET_STATUS;
	req.fleet_status = &fr;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	ws->live = ws->serving = 0;
	json_array_clear(ws->laggards);
	for (size_t i = 0;
	     resp->fleet_status && i < resp->fleet_status->n_entries; i++) {
		const Af__FleetEntry *e = resp->fleet_status->entries[i];
		enum af_fleet_serve how;

		if (strcmp(e->state, "LOST") == 0 || e->record->last == NULL)
			continue;
		ws->live++;
		how = af_fleet_judge(e->record->last, w);
		if (how == AF_FLEET_SERVING)
			ws->serving++;
		else
			json_array_append_new(ws->laggards, laggard(e, how));
	}
	af__response__free_unpacked(resp, NULL);
	return 0;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* "r3 serves revision 4 sha256:1f2e..., r4 NACKED (unsigned ...)". */
static void laggard_list(json_t *lag, char *out, size_t len)
{
	size_t n = json_array_size(lag), at = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && i < LAGGARDS_SHOWN && at < len; i++) {
		json_t *l = json_array_get(lag, i);
		const char *reason =
			json_string_value(json_object_get(l, "reason"));

		at += (size_t)snprintf(
			out + at, len - at, "%s%s %s revision %lld %.27s%s%s%s",
			i ? ", " : "",
			json_string_value(json_object_get(l, "id")),
			json_is_true(json_object_get(l, "nacked"))
				? "NACKED it, serves"
				: "serves",
			(long long)json_integer_value(
				json_object_get(l, "revision")),
			json_string_value(json_object_get(l, "hash")),
			reason ? " (" : "", reason ? reason : "",
			reason ? ")" : "");
	}
	if (n > LAGGARDS_SHOWN && at < len)
		snprintf(out + at, len - at, " and %zu more",
			 n - LAGGARDS_SHOWN);
}

static json_t *result_json(const struct wait_state *ws, uint32_t pct,
			   uint64_t elapsed, bool done)
{
	json_t *o = json_object();

	json_object_set_new(o, "done", json_boolean(done));
	json_object_set_new(o, "fleet_pct", json_integer(pct));
	json_object_set_new(o, "live", json_integer(ws->live));
	json_object_set_new(o, "serving", json_integer(ws->serving));
	json_object_set_new(o, "elapsed_ms", json_integer((json_int_t)elapsed));
	json_object_set_new(o, "laggards", json_incref(ws->laggards));
	return o;
}

/* Prints the outcome and returns the exit code. doc: the apply's JSON
 * (stolen). */
static int report(struct af_cli *cli, json_t *doc, const char *hash,
		  const struct wait_state *ws, uint32_t pct, uint64_t elapsed,
		  bool done)
{
	char lag[1024];

	if (cli->output != AF_OUT_TABLE) {
		json_object_set_new(doc, "wait",
				    result_json(ws, pct, elapsed, done));
		af_out_json(doc);
	} else {
		json_decref(doc);
		if (done)
			printf("fleet: %u of %u live routerds serve %.27s "
			       "after %.2f s\n",
			       ws->serving, ws->live, hash,
			       (double)elapsed / 1000);
	}
	if (done)
		return AF_EXIT_OK;
	laggard_list(ws->laggards, lag, sizeof(lag));
	return af_cli_fail(AF_EXIT_UNAVAILABLE, "TIMEOUT",
			   "%u of %u live routerds serve %.27s after %.1f s "
			   "(--fleet %u%%)%s%s; see af fleet status",
			   ws->serving, ws->live, hash, (double)elapsed / 1000,
			   pct, ws->live ? "; laggards: " : ": no live routerd",
			   ws->live ? lag : "");
}

int af_cli_apply_wait(struct af_cli *cli, const Af__ApplyResult *ar,
		      json_t *doc, uint32_t pct, uint64_t timeout_ms)
{
	struct af_fleet_want w = {.new_hash = ar->hash, .weight = -1};
	struct wait_state ws = {.laggards = json_array()};
	uint64_t t0 = af_mono_ms(), orig = cli->timeout_ms;
	bool done = false;
	int rc;

	if (strcmp(ar->state, "canary") == 0)
		w.canary_hash = ar->hash;
	else
		w.stable_hash = ar->hash;
	for (;;) {
		uint64_t now = af_mono_ms(), left;

		left = t0 + timeout_ms > now ? t0 + timeout_ms - now : 0;
		cli->timeout_ms = left < 200 ? 200 : left < orig ? left : orig;
		if ((rc = look(cli, &w, &ws)) != 0) {
			json_decref(doc);
			json_decref(ws.laggards);
			return rc;
		}
		done = af_fleet_reached(ws.serving, ws.live, pct);
		if (done || af_mono_ms() >= t0 + timeout_ms)
			break;
		sleep_ms(POLL_MS);
	}
	cli->timeout_ms = orig;
	rc = report(cli, doc, ar->hash, &ws, pct, af_mono_ms() - t0, done);
	json_decref(ws.laggards);
	return rc;
}
