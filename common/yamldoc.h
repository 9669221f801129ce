/*
 * YAML documents with positions: a thin layer over libyaml's document API
 * that every file parser (cluster file, policy bundle, model registry) uses,
 * so every error reads "file:line:col: message".
 *
 * Aliases and anchors are rejected (they let a small file describe a huge
 * tree), and so are tags (!!str, !foo); a file holds exactly one document;
 * the node count and the nesting depth are bounded (the depth by a pre-scan
 * of the raw bytes, before libyaml parses them). Empty input (buf NULL or
 * len 0) is an "empty document" error.
 * Node pointers and strings returned are borrowed from the document and
 * live until af_yaml_free(). Not thread-safe per document.
 */
#ifndef AF_COMMON_YAMLDOC_H
#define AF_COMMON_YAMLDOC_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

struct af_yaml {
	yaml_document_t doc;
	char file[256];
};

/* Deepest nesting of sequences and mappings (flow or block) accepted. */
#define AF_YAML_MAX_DEPTH 64

/* A cheap pre-scan of raw bytes: refuses (AF_EPARSE, "file:line:col:")
 * input nested deeper than AF_YAML_MAX_DEPTH before any YAML parser sees
 * it. It may overestimate depth, never underestimates flow nesting. */
int af_yaml_check_depth(const char *file, const char *buf, size_t len,
			struct af_err *err);

/* Parses buf (len bytes) as one YAML document named `file` in messages.
 * max_nodes bounds the tree. On success *ret is owned (af_yaml_free).
 * Errors: AF_EPARSE (syntax, empty, aliases, anchors, tags, too many nodes,
 * too deep), AF_ENOMEM. */
int af_yaml_load(const char *file, const char *buf, size_t len,
		 size_t max_nodes, struct af_yaml **ret, struct af_err *err);
void af_yaml_free(struct af_yaml *y);

yaml_node_t *af_yaml_root(struct af_yaml *y);

/* Formats "file:line:col: msg" for node n (n may be NULL: "file: msg").
 * Returns AF_EPARSE. */
int af_yaml_errf(struct af_yaml *y, const yaml_node_t *n, struct af_err *err,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "a string", "a list", "a mapping" */
const char *af_yaml_kind(const yaml_node_t *n);

/* Type checks; `what` names the value in the message ("nodes"). */
int af_yaml_expect_map(struct af_yaml *y, yaml_node_t *n, const char *what,
		       struct af_err *err);
int af_yaml_expect_seq(struct af_yaml *y, yaml_node_t *n, const char *what,
		       size_t max_items, struct af_err *err);

/* Checks every key of mapping `map` is a plain string, appears once and is
 * listed in `keys` (NULL-terminated). Errors point at the offending key. */
int af_yaml_check_keys(struct af_yaml *y, yaml_node_t *map,
		       const char *const keys[], struct af_err *err);

/* Value for key in mapping, or NULL when absent. */
yaml_node_t *af_yaml_get(struct af_yaml *y, yaml_node_t *map, const char *key);

/* Number of items of a sequence / pairs of a mapping (0 for other kinds). */
size_t af_yaml_len(const yaml_node_t *n);
/* i-th item of a sequence. */
yaml_node_t *af_yaml_item(struct af_yaml *y, yaml_node_t *seq, size_t i);
/* i-th key / value of a mapping. */
yaml_node_t *af_yaml_key(struct af_yaml *y, yaml_node_t *map, size_t i);
yaml_node_t *af_yaml_value(struct af_yaml *y, yaml_node_t *map, size_t i);

/* Scalar readers. `what` names the field for messages. */
int af_yaml_str(struct af_yaml *y, yaml_node_t *n, const char *what,
		size_t maxlen, const char **ret, struct af_err *err);
int af_yaml_int(struct af_yaml *y, yaml_node_t *n, const char *what,
		int64_t min, int64_t max, int64_t *ret, struct af_err *err);
int af_yaml_bool(struct af_yaml *y, yaml_node_t *n, const char *what, bool *ret,
		 struct af_err *err);
/* Exact decimal fixed point: "0.015" with scale 1000000 -> 15000. More
 * fractional digits than the scale holds, exponents or signs outside
 * [min, max] are errors. */
int af_yaml_fixed(struct af_yaml *y, yaml_node_t *n, const char *what,
		  int64_t scale, int64_t min, int64_t max, int64_t *ret,
		  struct af_err *err);

#endif
