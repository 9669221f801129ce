/* af policy simulate: counting replayed decisions and the report. */
#include "cli/output.h"
#include "cli/sim.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ --fail-if */

int sim_parse_fail_if(const char *expr, struct sim_args *a)
{
	char buf[256], *save = NULL, *tok, *end;

	if (strlen(expr) >= sizeof(buf))
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--fail-if: expression too long");
	snprintf(buf, sizeof(buf), "%s", expr);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		char *gt = strchr(tok, '>');
		double v;

		if (gt == NULL)
			goto bad;
		*gt = '\0';
		v = strtod(gt + 1, &end);
		if (gt[1] == '\0' || *end != '\0' || v < 0)
			goto bad;
		if (strcmp(tok, "changed_pct") == 0)
			a->fail_changed_pct = v;
		else if (strcmp(tok, "cost_delta_pct") == 0)
			a->fail_cost_pct = v;
		else if (strcmp(tok, "new_denials") == 0 && v == floor(v) &&
			 v < 1e15)
			a->fail_new_denials = (int64_t)v;
		else
			goto bad;
		a->fail_if = true;
	}
	if (a->fail_if)
		return 0;
bad:
	return af_cli_fail(AF_EXIT_USAGE, "USAGE",
			   "--fail-if \"%s\": expected comma-separated "
			   "changed_pct>X, cost_delta_pct>X, new_denials>N",
			   expr);
}

/* ------------------------------------------------------------- counting */

int sim_stats_init(struct sim_stats *st)
{
	st->tiers = json_object();
	st->den_base = json_object();
	st->den_cand = json_object();
	st->rules = json_object();
	st->samples = json_array();
	st->mismatch = json_array();
	st->residency_ids = json_array();
	return st->tiers && st->den_base && st->den_cand && st->rules &&
			       st->samples && st->mismatch && st->residency_ids
		       ? 0
		       : -1;
}

void sim_stats_free(struct sim_stats *st)
{
	json_decref(st->tiers);
	json_decref(st->den_base);
	json_decref(st->den_cand);
	json_decref(st->rules);
	json_decref(st->samples);
	json_decref(st->mismatch);
	json_decref(st->residency_ids);
}

static void bump(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v != NULL)
		json_integer_set(v, json_integer_value(v) + 1);
	else
		json_object_set_new(obj, key, json_integer(1));
}

/* The raw text of the top-level member `key` of the JSON object in
 * line (the record's exact decision body), or NULL. */
static const char *skip_value(const char *p, const char *end)
{
	int depth = 0;
	bool in_str = false;

	for (; p < end; p++) {
		if (in_str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_str = false;
			if (!in_str && depth == 0)
				return p + 1;
			continue;
		}
		if (*p == '"')
			in_str = true;
		else if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']') {
			if (--depth < 0)
				return p;
			if (depth == 0)
				return p + 1;
		} else if (*p == ',' && depth == 0)
			return p;
	}
	return NULL;
}

static const char *raw_member(const char *p, size_t len, const char *key,
			      size_t *ret_len)
{
	const char *end = p + len, *k, *v;
	size_t klen = strlen(key);

	while (p < end && *p != '{')
		p++;
	for (p++; p < end;) {
		while (p < end && (*p == ' ' || *p == ','))
			p++;
		if (p >= end || *p != '"')
			return NULL;
		k = p + 1;
		p = skip_value(p, end);
		if (p == NULL)
			return NULL;
		while (p < end && (*p == ' ' || *p == ':'))
			p++;
		v = p;
		p = skip_value(p, end);
		if (p == NULL)
			return NULL;
		if (strncmp(k, key, klen) == 0 && k[klen] == '"') {
			*ret_len = (size_t)(p - v);
			return v;
		}
	}
	return NULL;
}

/* Whether the baseline reproduces the logged decision byte for byte (with
 * the record's revision numbers: a baseline file has none of its own). */
static bool reproduced(const struct sim_rec *r, const struct af_decision *bd)
{
	struct af_decision d = *bd;
	char body[4096];
	const char *raw;
	size_t n, rawlen = 0;

	d.revision = r->revision;
	d.registry_revision = r->registry_revision;
	raw = raw_member(r->line, r->len, "decision", &rawlen);
	return raw != NULL &&
	       af_decision_json(&d, body, sizeof(body), &n) == 0 &&
	       n == rawlen && memcmp(body, raw, n) == 0;
}

static json_t *decision_doc(const struct af_decision *d, int rc)
{
	char body[4096];
	size_t n;

	if (rc != 0)
		return json_pack("{s:s,s:s}", "decision", "deny", "code",
				 "UNKNOWN_CLASS");
	if (af_decision_json(d, body, sizeof(body), &n) != 0)
		return json_null();
	return json_loadb(body, n, 0, NULL);
}

static const char *code_of(const struct af_decision *d, int rc)
{
	const char *code = af_decision_deny_code(d, rc);

	return code[0] ? code : NULL;
}

/* Counts how the candidate differs (af_decision_changes); returns whether
 * it does. */
static bool differ(struct sim_stats *st, const struct af_decision *bd, int brc,
		   const struct af_decision *cd, int crc)
{
	char key[2 * AF_POLICY_NAME_MAX + 8];
	unsigned ch = af_decision_changes(bd, brc, cd, crc);

	st->model += (ch & AF_CHANGE_MODEL) != 0;
	st->region += (ch & AF_CHANGE_REGION) != 0;
	st->route_to_deny += (ch & AF_CHANGE_ROUTE_TO_DENY) != 0;
	st->deny_to_route += (ch & AF_CHANGE_DENY_TO_ROUTE) != 0;
	st->deny_code += (ch & AF_CHANGE_DENY_CODE) != 0;
	if (ch & AF_CHANGE_TIER) {
		st->tier++;
		snprintf(key, sizeof(key), "%s->%s", bd->primary.tier,
			 cd->primary.tier);
		bump(st->tiers, key);
	}
	return ch != 0;
}

void sim_count(struct sim *s, const struct sim_rec *r,
	       const struct af_decision *bd, int brc,
	       const struct af_decision *cd, int crc)
{
	struct sim_stats *st = &s->st;
	const char *bcode = code_of(bd, brc), *ccode = code_of(cd, crc);
	char key[2 * AF_POLICY_NAME_MAX + 8];

	st->requests++;
	if (brc == 0 && reproduced(r, bd)) {
		st->reproduced++;
	} else {
		st->not_reproduced++;
		if (json_array_size(st->mismatch) < SIM_SAMPLES)
			json_array_append_new(st->mismatch, json_string(r->id));
	}
	if (bcode != NULL)
		bump(st->den_base, bcode);
	else
		st->cost_base += bd->est_cost_nano_usd;
	if (ccode != NULL)
		bump(st->den_cand, ccode);
	else
		st->cost_cand += cd->est_cost_nano_usd;
	if (!differ(st, bd, brc, cd, crc))
		return;
	st->changed++;
	snprintf(key, sizeof(key), "%s\n%s",
		 brc == 0 && bd->rule ? bd->rule : "",
		 crc == 0 && cd->rule ? cd->rule : "");
	bump(st->rules, key);
	if (json_array_size(st->samples) < SIM_SAMPLES)
		json_array_append_new(
			st->samples,
			json_pack("{s:s,s:o,s:o}", "decision_id", r->id,
				  "baseline", decision_doc(bd, brc),
				  "candidate", decision_doc(cd, crc)));
}

/* --------------------------------------------------------------- report */

static double pct(uint64_t n, uint64_t of)
{
	return of > 0 ? 100.0 * (double)n / (double)of : 0.0;
}

static double cost_delta_pct(const struct sim_stats *st)
{
	if (st->cost_base == 0)
		return st->cost_cand == 0 ? 0.0 : 100.0;
	return 100.0 * (double)(st->cost_cand - st->cost_base) /
	       (double)st->cost_base;
}

/* "baseline\ncandidate" keys into [{"baseline","candidate","n"}], most
 * frequent first. */
static int cmp_rule(const void *a, const void *b)
{
	json_int_t x = json_integer_value(
			   json_object_get(*(json_t *const *)a, "n")),
		   y = json_integer_value(
			   json_object_get(*(json_t *const *)b, "n"));

	return x < y ? 1 : x > y ? -1 : 0;
}

static json_t *rules_doc(json_t *rules)
{
	size_t n = json_object_size(rules), i = 0;
	json_t **v = calloc(n + 1, sizeof(*v)), *out = json_array(), *val;
	const char *k;

	if (v == NULL || out == NULL) {
		free(v);
		return out;
	}
	json_object_foreach(rules, k, val)
	{
		const char *nl = strchr(k, '\n');
		json_t *b = nl - k > 0 ? json_stringn(k, (size_t)(nl - k))
				       : json_null();
		json_t *c = nl[1] ? json_string(nl + 1) : json_null();

		v[i++] = json_pack("{s:o,s:o,s:I}", "baseline", b, "candidate",
				   c, "n", json_integer_value(val));
	}
	qsort(v, i, sizeof(*v), cmp_rule);
	for (size_t j = 0; j < i; j++)
		json_array_append_new(out, v[j]);
	free(v);
	return out;
}

static json_t *report_doc(const struct sim_stats *st)
{
	return json_pack(
		"{s:I,s:I,s:f,s:{s:I,s:I,s:I,s:I,s:I,s:I},s:O,s:{s:O,s:O},"
		"s:{s:f,s:f,s:f},s:o,s:O,s:I,s:I,s:I,s:O}",
		"requests", (json_int_t)st->requests, "changed",
		(json_int_t)st->changed, "changed_pct",
		pct(st->changed, st->requests), "by_kind", "model",
		(json_int_t)st->model, "tier", (json_int_t)st->tier, "region",
		(json_int_t)st->region, "route_to_deny",
		(json_int_t)st->route_to_deny, "deny_to_route",
		(json_int_t)st->deny_to_route, "deny_code",
		(json_int_t)st->deny_code, "tiers", st->tiers, "denials",
		"baseline", st->den_base, "candidate", st->den_cand, "cost_usd",
		"baseline", (double)st->cost_base / 1e9, "candidate",
		(double)st->cost_cand / 1e9, "delta_pct", cost_delta_pct(st),
		"rules", rules_doc(st->rules), "samples", st->samples,
		"skipped", (json_int_t)st->skipped, "baseline_reproduced",
		(json_int_t)st->reproduced, "baseline_not_reproduced",
		(json_int_t)st->not_reproduced, "not_reproduced_ids",
		st->mismatch);
}

static void print_counts(const char *title, json_t *obj)
{
	const char *k;
	json_t *v;

	printf("%-22s", title);
	if (json_object_size(obj) == 0)
		printf(" -");
	json_object_foreach(obj, k, v)
	{
		printf(" %s %" JSON_INTEGER_FORMAT, k, json_integer_value(v));
	}
	printf("\n");
}

static const char *or_none(const json_t *s)
{
	return json_is_string(s) ? json_string_value(s) : "(none)";
}

static void print_table(json_t *doc, const struct sim_stats *st)
{
	json_t *rules = json_object_get(doc, "rules"), *r;
	size_t i;

	printf("requests               %" PRIu64 "\n", st->requests);
	printf("changed                %" PRIu64 " (%.2f%%)\n", st->changed,
	       pct(st->changed, st->requests));
	printf("  model %" PRIu64 ", tier %" PRIu64 ", region %" PRIu64
	       ", route->deny %" PRIu64 ", deny->route %" PRIu64
	       ", deny code %" PRIu64 "\n",
	       st->model, st->tier, st->region, st->route_to_deny,
	       st->deny_to_route, st->deny_code);
	print_counts("tiers", st->tiers);
	print_counts("denials (baseline)", st->den_base);
	print_counts("denials (candidate)", st->den_cand);
	printf("cost USD               baseline %.6g, candidate %.6g "
	       "(%+.2f%%)\n",
	       (double)st->cost_base / 1e9, (double)st->cost_cand / 1e9,
	       cost_delta_pct(st));
	json_array_foreach(rules, i, r)
	{
		if (i == 10)
			break;
		printf("%s %s -> %s: %" JSON_INTEGER_FORMAT "\n",
		       i == 0 ? "rules                 "
			      : "                      ",
		       or_none(json_object_get(r, "baseline")),
		       or_none(json_object_get(r, "candidate")),
		       json_integer_value(json_object_get(r, "n")));
	}
	printf("baseline reproduced    %" PRIu64 " of %" PRIu64 "%s\n",
	       st->reproduced, st->requests,
	       st->not_reproduced ? " (see -o json: not_reproduced_ids)" : "");
	if (st->skipped > 0)
		printf("skipped lines          %" PRIu64 "\n", st->skipped);
}

/* --fail-if: every condition that holds is printed; any -> exit 1. */
static int fail_if(const struct sim_args *a, const struct sim_stats *st)
{
	double ch = pct(st->changed, st->requests), cost = cost_delta_pct(st);
	int rc = 0;

	if (!a->fail_if)
		return 0;
	if (a->fail_changed_pct >= 0 && ch > a->fail_changed_pct)
		rc = af_cli_fail(AF_EXIT_REFUSED, "FAIL_IF",
				 "changed_pct %.2f > %g", ch,
				 a->fail_changed_pct);
	if (a->fail_cost_pct >= 0 && cost > a->fail_cost_pct)
		rc = af_cli_fail(AF_EXIT_REFUSED, "FAIL_IF",
				 "cost_delta_pct %.2f > %g", cost,
				 a->fail_cost_pct);
	if (a->fail_new_denials >= 0 &&
	    (int64_t)st->route_to_deny > a->fail_new_denials)
		rc = af_cli_fail(AF_EXIT_REFUSED, "FAIL_IF",
				 "new_denials %" PRIu64 " > %" PRId64,
				 st->route_to_deny, a->fail_new_denials);
	return rc;
}

int sim_report(struct af_cli *cli, struct sim *s)
{
	json_t *doc = report_doc(&s->st);
	int rc;

	if (doc != NULL && s->args->ndown > 0)
		json_object_set_new(doc, "outage", sim_down_doc(s));
	if (doc == NULL)
		return af_cli_fail(AF_EXIT_REFUSED, "ENOMEM", "out of memory");
	if (cli->output == AF_OUT_TABLE) {
		print_table(doc, &s->st);
		if (s->args->ndown > 0)
			sim_down_table(s);
		json_decref(doc);
		rc = 0;
	} else {
		rc = af_out_json(doc);
	}
	fflush(stdout);
	return rc != 0 ? rc : fail_if(s->args, &s->st);
}
