/* Test and benchmark helpers for the policy engine: the example policy,
 * registry and request, and one-call compilation into a view. No
 * Criterion here: benchmarks link this file too. */
#ifndef AF_TESTS_LIB_POLICY_FIXTURE_H
#define AF_TESTS_LIB_POLICY_FIXTURE_H

#include "policy/policy.h"

extern const char pf_example_policy[];
extern const char pf_example_models[];
extern const char pf_example_request[];

/* Compiles both texts and builds a view (no canary). Returns 0 or the
 * error code with the message in *err. */
int pf_view(const char *policy, const char *models, struct af_policy_view **ret,
	    struct af_err *err);
/* Same with a canary bundle and weight (basis points). */
int pf_view_canary(const char *stable, const char *canary, uint32_t weight_bp,
		   const char *models, struct af_policy_view **ret,
		   struct af_err *err);
/* Parses a request body; returns 0 or AF_EPARSE (message in *rerr). */
int pf_request(const char *json, struct af_request *ret,
	       struct af_request_error *rerr);
/* Replaces the first occurrence of `from` in `text` by `to`; returns an
 * af_malloc'ed string (NULL when `from` is absent). */
char *pf_replace(const char *text, const char *from, const char *to);

#endif
