/* Output helpers shared by af verbs: JSON documents via jansson, and
 * -o yaml (JSON is printed as YAML's flow form, which YAML parsers read). */
#ifndef AF_CLI_OUTPUT_H
#define AF_CLI_OUTPUT_H

#include "cli/cli.h"

#include <jansson.h>
#include <stdint.h>

/* Prints one JSON document (steals the reference). Returns exit 0. */
int af_out_json(json_t *doc);
/* micro-USD as a JSON number with no float noise in the output. */
json_t *af_json_usd(int64_t micro);
/* Formats micro-USD as an exact decimal ("0.015") into out (32 bytes). */
const char *af_fmt_micro(int64_t micro, char out[32]);
/* "2026-11-22T10:00:00Z" from epoch ms (static buffer per call site). */
const char *af_fmt_ms(int64_t ms, char out[32]);

#endif
