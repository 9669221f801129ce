/* routerd views: hash checks on build, publish order, and a swap stress
 * test (readers deciding while a publisher swaps views; ASan catches a
 * view freed under a reader). */
#include "common/alloc.h"
#include "common/hash.h"
#include "routerd/routerd_int.h"
#include "tests/lib/alloc_check.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct src {
	struct af_bundle *b, *canary;
	struct af_registry *reg;
};

static struct src src;

static void setup(void)
{
	struct af_err err = {{0}};
	char *p2;

	af_test_alloc_begin();
	cr_assert_eq(af_bundle_compile("p.yaml", pf_example_policy,
				       strlen(pf_example_policy), &src.b, &err),
		     0, "%s", err.msg);
	p2 = pf_replace(pf_example_policy, "max_fallbacks: 3",
			"max_fallbacks: 2");
	cr_assert_not_null(p2);
	cr_assert_eq(
		af_bundle_compile("c.yaml", p2, strlen(p2), &src.canary, &err),
		0, "%s", err.msg);
	af_free(p2);
	cr_assert_eq(af_registry_compile("m.yaml", pf_example_models,
					 strlen(pf_example_models), &src.reg,
					 &err),
		     0, "%s", err.msg);
}

static void teardown(void)
{
	af_bundle_free(src.b);
	af_bundle_free(src.canary);
	af_registry_free(src.reg);
	af_test_alloc_end();
}

TestSuite(routerd_view, .init = setup, .fini = teardown, .timeout = 60);

static int build(uint64_t index, const char *stable_hash,
		 const char *canary_hash, uint32_t weight,
		 struct routerd_view **ret, struct af_err *err)
{
	size_t sl, cl, rl;
	const uint8_t *s = af_bundle_bytes(src.b, &sl);
	const uint8_t *c = af_bundle_bytes(src.canary, &cl);
	const uint8_t *r = af_registry_bytes(src.reg, &rl);

	return routerd_view_build(index, 3, stable_hash, s, sl, 4, canary_hash,
				  canary_hash != NULL ? c : NULL,
				  canary_hash != NULL ? cl : 0, weight, 7, r,
				  rl, ret, err);
}

Test(routerd_view, build_good)
{
	struct af_err err = {{0}};
	struct routerd_view *v = NULL;
	size_t sl;
	const uint8_t *s = af_bundle_bytes(src.b, &sl);

	cr_assert_eq(build(10, af_bundle_hash(src.b),
			   af_bundle_hash(src.canary), 25, &v, &err),
		     0, "%s", err.msg);
	cr_assert_eq(v->state_index, 10);
	cr_assert_eq(v->stable_revision, 3);
	cr_assert_eq(v->canary_revision, 4);
	cr_assert_eq(v->canary_weight, 25);
	cr_assert_eq(v->registry_revision, 7);
	cr_assert_str_eq(v->stable_hash, af_bundle_hash(src.b));
	cr_assert_str_eq(v->canary_hash, af_bundle_hash(src.canary));
	cr_assert_eq(v->stable_len, sl);
	cr_assert_eq(memcmp(v->stable_bytes, s, sl), 0);
	cr_assert_gt(v->activated_ms, 0);
	cr_assert_gt(af_policy_view_nlanes(v->pv), 0);
	cr_assert_eq(view_ext(v)->health.consecutive_failures, 3);
	cr_assert_eq(view_ext(v)->health.error_rate_ppm, 500000);
	routerd_view_free(v);

	/* Without a canary. */
	cr_assert_eq(build(10, af_bundle_hash(src.b), NULL, 0, &v, &err), 0,
		     "%s", err.msg);
	cr_assert_str_eq(v->canary_hash, "");
	cr_assert_eq(v->canary_len, 0);
	routerd_view_free(v);
}

Test(routerd_view, bad_hashes_refused)
{
	struct af_err err = {{0}};
	struct routerd_view *v = NULL;
	char wrong[AF_HASH_STR_LEN];

	af_sha256_str("x", 1, wrong);
	cr_assert_eq(build(1, wrong, NULL, 0, &v, &err), AF_ECORRUPT);
	cr_assert(strstr(err.msg, "stable bundle: hash mismatch") != NULL, "%s",
		  err.msg);
	cr_assert_eq(build(1, af_bundle_hash(src.b), wrong, 10, &v, &err),
		     AF_ECORRUPT);
	cr_assert(strstr(err.msg, "canary bundle: hash mismatch") != NULL, "%s",
		  err.msg);
	/* The canary's hash given for the stable bytes. */
	cr_assert_eq(build(1, af_bundle_hash(src.canary), NULL, 0, &v, &err),
		     AF_ECORRUPT);
	cr_assert_null(v);
}

Test(routerd_view, corrupt_bytes_with_matching_hash_refused)
{
	struct af_err err = {{0}};
	struct routerd_view *v = NULL;
	char h[AF_HASH_STR_LEN];
	size_t sl, rl;
	const uint8_t *s = af_bundle_bytes(src.b, &sl);
	const uint8_t *r = af_registry_bytes(src.reg, &rl);
	uint8_t *bad = af_malloc(sl);

	memcpy(bad, s, sl);
	bad[sl / 2] ^= 0xff;
	af_sha256_str(bad, sl, h);
	cr_assert_eq(routerd_view_build(1, 1, h, bad, sl, 0, "", NULL, 0, 0, 1,
					r, rl, &v, &err),
		     AF_ECORRUPT, "%s", err.msg);
	cr_assert_null(v);
	/* A registry that is not one. */
	cr_assert_eq(routerd_view_build(1, 1, af_bundle_hash(src.b), s, sl, 0,
					"", NULL, 0, 0, 1, s, sl, &v, &err),
		     AF_ECORRUPT, "%s", err.msg);
	af_free(bad);
}

Test(routerd_view, publish_order)
{
	struct af_err err = {{0}};
	struct routerd r = {0};
	struct routerd_view *v;
	const struct routerd_view *got;

	cr_assert_eq(routerd_views_init(&r, &err), 0);
	cr_assert_null(routerd_view_acquire(&r));
	cr_assert_eq(build(5, af_bundle_hash(src.b), NULL, 0, &v, &err), 0);
	cr_assert_eq(routerd_view_publish(&r, v), 0);
	got = routerd_view_acquire(&r);
	cr_assert_eq(got, v);
	cr_assert_eq(got->state_index, 5);
	routerd_view_release(&r, got);
	/* Backwards: refused (and freed: ASan's leak check says so). */
	cr_assert_eq(build(4, af_bundle_hash(src.b), NULL, 0, &v, &err), 0);
	cr_assert_eq(routerd_view_publish(&r, v), AF_ECONFLICT);
	got = routerd_view_acquire(&r);
	cr_assert_eq(got->state_index, 5);
	routerd_view_release(&r, got);
	/* Same index (re-publish) and forwards are fine. */
	cr_assert_eq(build(5, af_bundle_hash(src.b), NULL, 0, &v, &err), 0);
	cr_assert_eq(routerd_view_publish(&r, v), 0);
	cr_assert_eq(build(6, af_bundle_hash(src.b), NULL, 0, &v, &err), 0);
	cr_assert_eq(routerd_view_publish(&r, v), 0);
	got = routerd_view_acquire(&r);
	cr_assert_eq(got->state_index, 6);
	routerd_view_release(&r, got);
	routerd_views_fini(&r);
}

/* The sync side reads the current view (cached bytes) while it publishes
 * the next: publish must not wait for its own caller, and the held view
 * stays valid until released. */
Test(routerd_view, publish_while_holding_a_view)
{
	struct af_err err = {{0}};
	struct af_request_error rerr;
	struct af_request req;
	struct af_decision d;
	struct routerd r = {0};
	struct routerd_view *v;
	const struct routerd_view *held;

	cr_assert_eq(routerd_views_init(&r, &err), 0);
	cr_assert_eq(pf_request(pf_example_request, &req, &rerr), 0);
	cr_assert_eq(build(1, af_bundle_hash(src.b), NULL, 0, &v, &err), 0);
	cr_assert_eq(routerd_view_publish(&r, v), 0);
	held = routerd_view_acquire(&r);
	for (uint64_t i = 2; i < 200; i++) { /* over the retired list bound */
		cr_assert_eq(build(i, af_bundle_hash(src.b), NULL, 0, &v, &err),
			     0);
		if (i < 60)
			cr_assert_eq(routerd_view_publish(&r, v), 0);
		else
			routerd_view_free(v);
	}
	cr_assert_eq(held->state_index, 1);
	cr_assert_eq(af_decide(held->pv, &req, NULL, "id", &d, NULL), 0);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	routerd_view_release(&r, held);
	cr_assert_eq(build(60, af_bundle_hash(src.b), NULL, 0, &v, &err), 0);
	cr_assert_eq(routerd_view_publish(&r, v), 0);
	routerd_views_fini(&r);
}

/* ------------------------------------------------------------- stress */

#define READERS 6
#define SWAPS 300

struct reader {
	struct routerd *r;
	_Atomic int *stop;
	struct af_request req;
	unsigned long decisions, backwards, failures;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct af_decision d;
	uint64_t last = 0;

	while (!atomic_load(rd->stop)) {
		const struct routerd_view *v = routerd_view_acquire(rd->r);

		if (v == NULL)
			continue;
		if (v->state_index < last)
			rd->backwards++;
		last = v->state_index;
		/* Read the whole view: decide, and touch its bytes. */
		if (af_decide(v->pv, &rd->req, NULL, "id", &d, NULL) != 0 ||
		    d.kind != AF_DECISION_ROUTE || v->stable_bytes[0] == 0xff)
			rd->failures++;
		rd->decisions++;
		routerd_view_release(rd->r, v);
	}
	return NULL;
}

Test(routerd_view, swap_stress)
{
	struct af_err err = {{0}};
	struct af_request_error rerr;
	struct routerd r = {0};
	struct reader rd[READERS];
	pthread_t t[READERS];
	_Atomic int stop = 0;
	struct routerd_view *v;
	unsigned long total = 0;

	cr_assert_eq(routerd_views_init(&r, &err), 0);
	cr_assert_eq(build(1, af_bundle_hash(src.b), NULL, 0, &v, &err), 0);
	cr_assert_eq(routerd_view_publish(&r, v), 0);
	for (int i = 0; i < READERS; i++) {
		memset(&rd[i], 0, sizeof(rd[i]));
		rd[i].r = &r;
		rd[i].stop = &stop;
		cr_assert_eq(pf_request(pf_example_request, &rd[i].req, &rerr),
			     0);
		cr_assert_eq(pthread_create(&t[i], NULL, reader_main, &rd[i]),
			     0);
	}
	for (uint64_t i = 2; i <= SWAPS; i++) {
		cr_assert_eq(build(i, af_bundle_hash(src.b),
				   i % 2 ? af_bundle_hash(src.canary) : NULL,
				   (uint32_t)(i % 101), &v, &err),
			     0, "%s", err.msg);
		cr_assert_eq(routerd_view_publish(&r, v), 0);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < READERS; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(rd[i].backwards, 0,
			     "reader %d saw the view go back", i);
		cr_expect_eq(rd[i].failures, 0);
		total += rd[i].decisions;
	}
	cr_assert_gt(total, 0);
	v = (struct routerd_view *)atomic_load(&r.current);
	cr_assert_eq(v->state_index, SWAPS);
	printf("swap_stress: %d swaps, %lu decisions by %d readers\n", SWAPS,
	       total, READERS);
	routerd_views_fini(&r);
}
