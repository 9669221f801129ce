/* Output helpers shared by af verbs: one document per verb, built with
 * jansson and printed as JSON (-o json) or as the same document in YAML
 * (-o yaml, block style via libyaml's emitter). */
#ifndef AF_CLI_OUTPUT_H
#define AF_CLI_OUTPUT_H

#include "cli/cli.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/* Sets the format af_out_json prints in (main calls it once, after the
 * global flags; the default is JSON). */
void af_out_set_format(enum af_cli_output fmt);

/* Prints one document (steals the reference) as JSON, or as YAML with
 * -o yaml. Returns exit 0, or 1 when the document could not be written. */
int af_out_json(json_t *doc);
/* Prints a JSON text produced elsewhere (routerd's answer bodies): as is
 * with -o json, as the same document in YAML with -o yaml. */
int af_out_body(const char *json);
/* Writes doc, an array of flat objects, as CSV (RFC 4180: a header row of
 * the first object's keys, CRLF line ends, fields quoted where needed,
 * null as an empty field) to f. Returns 0, -1 (write error) or
 * AF_EXIT_USAGE when doc is not such an array. */
int af_out_csv(FILE *f, const json_t *doc);
/* Writes doc as one YAML document to f (borrowed). Returns 0 or -1. */
int af_out_yaml(FILE *f, const json_t *doc);
/* A new {"ok": true} object, the start of every write's answer (owned by
 * the caller). */
json_t *af_out_ok(void);
/* Formats micro-USD as an exact decimal ("0.015") into out (32 bytes). */
const char *af_fmt_micro(int64_t micro, char out[32]);
/* "2026-11-22T10:00:00Z" from epoch ms (static buffer per call site). */
const char *af_fmt_ms(int64_t ms, char out[32]);

#endif
