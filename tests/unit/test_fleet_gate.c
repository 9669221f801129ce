/* The fleet gates' arithmetic (render/fleetgate.c): what one routerd
 * serves against a rollout or an apply, liveness and shares. */
#include "tests/lib/alloc_check.h"
#include "render/render.h"

#include <criterion/criterion.h>

TestSuite(fleet_gate, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

static Af__FleetReport rep(const char *st, const char *ca, uint32_t w)
{
	Af__FleetReport f = AF__FLEET_REPORT__INIT;

	f.routerd_id = (char *)"r1";
	f.stable_hash = (char *)st;
	f.canary_hash = (char *)ca;
	f.canary_weight = w;
	return f;
}

Test(fleet_gate, a_step_is_served_with_both_hashes_and_the_weight)
{
	struct af_fleet_want w = {.stable_hash = "S",
				  .canary_hash = "C",
				  .new_hash = "C",
				  .weight = 20};
	Af__FleetReport f = rep("S", "C", 20);

	cr_assert_eq(af_fleet_judge(&f, &w), AF_FLEET_SERVING);
	f.canary_weight = 5; /* the previous step */
	cr_assert_eq(af_fleet_judge(&f, &w), AF_FLEET_LAGGING);
	f = rep("S", "", 0); /* not yet the canary */
	cr_assert_eq(af_fleet_judge(&f, &w), AF_FLEET_LAGGING);
	f = rep("OLD", "C", 20);
	cr_assert_eq(af_fleet_judge(&f, &w), AF_FLEET_LAGGING);
}

Test(fleet_gate, a_nack_counts_only_for_the_hash_it_rejected)
{
	struct af_fleet_want w = {.stable_hash = "S",
				  .canary_hash = "C",
				  .new_hash = "C",
				  .weight = 20};
	Af__FleetReport f = rep("S", "", 0);

	f.nack = true;
	f.nack_stable_hash = (char *)"S";
	f.nack_canary_hash = (char *)"C";
	cr_assert_eq(af_fleet_judge(&f, &w), AF_FLEET_NACKING);
	f.nack_canary_hash = (char *)"OTHER";
	cr_assert_eq(af_fleet_judge(&f, &w), AF_FLEET_LAGGING);
	/* Serving the step wins over a NACK of something else. */
	f = rep("S", "C", 20);
	f.nack = true;
	f.nack_canary_hash = (char *)"C";
	cr_assert_eq(af_fleet_judge(&f, &w), AF_FLEET_SERVING);
}

Test(fleet_gate, apply_wait_wants_the_stable_hash_whatever_the_canary)
{
	struct af_fleet_want w = {
		.stable_hash = "N", .new_hash = "N", .weight = -1};
	Af__FleetReport f = rep("N", "C", 30);

	cr_assert_eq(af_fleet_judge(&f, &w), AF_FLEET_SERVING);
	f = rep("O", "", 0);
	f.nack = true;
	f.nack_stable_hash = (char *)"N";
	cr_assert_eq(af_fleet_judge(&f, &w), AF_FLEET_NACKING);
}

Test(fleet_gate, shares_and_liveness)
{
	Af__FleetRecord r = AF__FLEET_RECORD__INIT;

	cr_assert(af_fleet_reached(3, 3, 100));
	cr_assert(!af_fleet_reached(2, 3, 100));
	cr_assert(af_fleet_reached(2, 3, 66));
	cr_assert(!af_fleet_reached(2, 3, 67));
	cr_assert(af_fleet_reached(1, 3, 30)); /* 33% reaches 30% */
	cr_assert(!af_fleet_reached(0, 0, 1)); /* no live routerd */
	cr_assert(!af_fleet_reached(0, 0, 100));
	cr_assert_float_eq(af_fleet_share(1, 4), 0.25, 1e-9);
	cr_assert_float_eq(af_fleet_share(0, 0), 0, 1e-9);
	r.last_seen_ms = 1000000;
	cr_assert(af_fleet_live(&r, 1000000 + 30000, 30000));
	cr_assert(!af_fleet_live(&r, 1000000 + 30000 + 1, 30000));
	cr_assert(af_fleet_live(&r, 1000000 + 12000, 12000));
	cr_assert(!af_fleet_live(&r, 1000000 + 12001, 12000));
}
