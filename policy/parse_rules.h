/* Private: bundle parse context and the rules parser. */
#ifndef AF_POLICY_PARSE_RULES_H
#define AF_POLICY_PARSE_RULES_H

#include "policy/parse_int.h"

struct pctx {
	struct af_yaml *y;
	struct arena *a;
	struct af_err *err;
	Af__Policy__Bundle *b;
	struct af_bundle *out; /* warnings */
};

/* Parses rules: (required) after tiers and classes are known. */
int parse_rules(struct pctx *p, yaml_node_t *root);
/* parse_staleness.c: the optional `staleness` section (n may be NULL). */
int parse_staleness(struct pctx *p, yaml_node_t *n);
/* parse_showback.c: the optional `showback` section (n may be NULL). */
int parse_showback(struct pctx *p, yaml_node_t *n);
/* parse_quotas.c: the optional `quotas` section (n may be NULL), and the
 * validation of a compiled bundle's quotas and lanes' fleet caps. */
int parse_quotas(struct pctx *p, yaml_node_t *n);
int validate_quotas(const Af__Policy__Bundle *b, struct af_err *err);

/* Parses decision_log: (optional) after classes are known. */
int parse_decision_log(struct pctx *p, yaml_node_t *n);
/* A request field path the decision log may mask ("tenant",
 * "labels.customer", ...). */
bool dlog_mask_ok(const char *path);

#endif
