/* An /api/v1 read waits for the loop thread at most its timeout; an answer
 * that comes after the caller gave up frees the call; a stopping node
 * answers at once. And the parameters of paged and dated reads have the
 * same bounds for af's flags and the query strings. */
#include "tests/lib/alloc_check.h"
#include "common/timeutil.h"
#include "controld/api_int.h"
#include "controld/http_int.h"
#include "render/render.h"

#include <criterion/criterion.h>
#include <string.h>

/* A node whose loop never runs: jobs stay queued until drained by hand. */
struct idle_node {
	struct controld_node n;
	struct af_cluster_cfg cfg;
};

static void no_wake(uv_async_t *a)
{
	(void)a;
}

static void idle_init(struct idle_node *x)
{
	memset(x, 0, sizeof(*x));
	x->cfg.n_nodes = 1;
	x->cfg.nodes[0].id = 1;
	x->n.cfg = &x->cfg;
	x->n.self = &x->cfg.nodes[0];
	cr_assert(uv_loop_init(&x->n.loop) == 0);
	cr_assert(uv_async_init(&x->n.loop, &x->n.wakeup, no_wake) == 0);
	pthread_mutex_init(&x->n.qlock, NULL);
}

static void idle_fini(struct idle_node *x)
{
	uv_close((uv_handle_t *)&x->n.wakeup, NULL);
	uv_run(&x->n.loop, UV_RUN_DEFAULT);
	cr_assert(uv_loop_close(&x->n.loop) == 0);
	pthread_mutex_destroy(&x->n.qlock);
}

static void status_req(Af__Request *req, Af__ClusterStatusReq *cs)
{
	af__request__init(req);
	af__cluster_status_req__init(cs);
	req->body_case = AF__REQUEST__BODY_CLUSTER_STATUS;
	req->cluster_status = cs;
	req->token = (char *)"tok";
}

TestSuite(http_call, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(http_call, bounded_when_the_loop_does_not_answer)
{
	struct idle_node x;
	Af__Request req;
	Af__ClusterStatusReq cs;
	Af__Response *resp = NULL;
	uint64_t t0;
	int rc;

	idle_init(&x);
	status_req(&req, &cs);
	t0 = af_mono_ms();
	rc = controld_http_local(&x.n, &req, 150, &resp);
	cr_assert_eq(rc, AF_ETIMEDOUT);
	cr_assert_null(resp);
	cr_assert(af_mono_ms() - t0 >= 150 && af_mono_ms() - t0 < 2000,
		  "waited %llu ms", (unsigned long long)(af_mono_ms() - t0));
	/* The job is still queued; the loop answers it late (the node is
	 * stopping: UNAVAILABLE), and the abandoned call is freed then. */
	cr_assert_not_null(x.n.qhead);
	x.n.stopping = true;
	controld_api_drain(&x.n);
	cr_assert_null(x.n.qhead);
	idle_fini(&x);
}

Test(http_call, stopping_node_answers_at_once)
{
	struct idle_node x;
	Af__Request req;
	Af__ClusterStatusReq cs;
	Af__Response *resp = NULL;

	idle_init(&x);
	x.n.stopping = true;
	status_req(&req, &cs);
	cr_assert_eq(controld_http_local(&x.n, &req, 5000, &resp), 0);
	cr_assert_not_null(resp);
	cr_assert_not_null(resp->status);
	cr_assert_eq(resp->status->code, AF__CODE__UNAVAILABLE);
	cr_assert_str_eq(resp->status->message, "node is shutting down");
	af__response__free_unpacked(resp, NULL);
	idle_fini(&x);
}

TestSuite(render_params, .init = af_test_alloc_begin,
	  .fini = af_test_alloc_end);

Test(render_params, page_bounds)
{
	uint32_t limit;
	uint64_t after;
	char why[192];

	cr_assert_eq(af_render_parse_page("limit", NULL, "after", NULL, &limit,
					  &after, why, sizeof(why)),
		     0);
	cr_assert_eq(limit, AF_RENDER_PAGE_DEFAULT);
	cr_assert_eq(after, 0);
	cr_assert_eq(af_render_parse_page("limit", "1000", "after", "7", &limit,
					  &after, why, sizeof(why)),
		     0);
	cr_assert_eq(limit, 1000);
	cr_assert_eq(after, 7);
	const char *bad_limits[] = {
		"0",  "1001", "-1", "+5",
		" 5", "5x",   "",   "99999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad_limits) / sizeof(bad_limits[0]);
	     i++) {
		cr_assert_eq(af_render_parse_page("limit", bad_limits[i],
						  "after", NULL, &limit, &after,
						  why, sizeof(why)),
			     -1, "limit \"%s\" accepted", bad_limits[i]);
		cr_assert(strstr(why, "limit takes 1 to 1000") != NULL, "%s",
			  why);
	}
	cr_assert_eq(af_render_parse_page("--limit", NULL, "--after", "0",
					  &limit, &after, why, sizeof(why)),
		     -1);
	cr_assert(strstr(why, "--after takes the next_after") != NULL, "%s",
		  why);
}

Test(render_params, dates)
{
	int64_t ms;
	char why[128];

	cr_assert_eq(af_render_parse_date("since", "2026-11-01", &ms, why,
					  sizeof(why)),
		     0);
	cr_assert_eq(ms, 1793491200000LL);
	cr_assert_eq(af_render_parse_date("since", "2026-11-01T10:00:00Z", &ms,
					  why, sizeof(why)),
		     0);
	cr_assert_eq(ms, 1793491200000LL + 36000000LL);
	cr_assert_eq(af_render_parse_date("until", "yesterday", &ms, why,
					  sizeof(why)),
		     -1);
	cr_assert_str_eq(why, "until takes YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
}
