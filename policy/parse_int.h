/* Private helpers of the YAML parsers (parse_*.c). */
#ifndef AF_POLICY_PARSE_INT_H
#define AF_POLICY_PARSE_INT_H

#include "policy/policy_int.h"

/* Checks apiVersion: af/v1 and kind: `kind`. */
int yaml_header(struct af_yaml *y, yaml_node_t *root, const char *kind,
		struct af_err *err);
/* Value of a required key; NULL with *err set when missing. */
yaml_node_t *yaml_need(struct af_yaml *y, yaml_node_t *map, const char *key,
		       const char *what, struct af_err *err);
/* A non-empty string of at most AF_POLICY_NAME_MAX bytes, copied. */
int yaml_name(struct af_yaml *y, yaml_node_t *n, const char *what,
	      struct arena *a, char **ret, struct af_err *err);
/* A mapping whose keys are unique names (lanes:, classes:, ...). */
int yaml_map_names(struct af_yaml *y, yaml_node_t *map, const char *what,
		   size_t max, struct af_err *err);
/* A list of unique names; sorted when `set`. */
int yaml_str_list(struct af_yaml *y, yaml_node_t *n, const char *what,
		  size_t max, bool set, struct arena *a, char ***ret,
		  size_t *ret_n, struct af_err *err);
int yaml_oom(struct af_yaml *y, struct af_err *err);

#endif
