/* Private to the policy engine and its tests: the reference parser of
 * POST /v1/route bodies. */
#ifndef AF_POLICY_REQUEST_JSON_H
#define AF_POLICY_REQUEST_JSON_H

#include "policy/policy.h"

/* af_request_parse_json() on jansson alone: the same contract (and, by
 * construction, the same answers), slower. af_request_parse_json() falls
 * back to it for every body its fast parser does not accept. */
int af_request_parse_json_ref(const char *buf, size_t len,
			      struct af_request *ret,
			      struct af_request_error *rerr);

#endif
