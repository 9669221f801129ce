/* Emergency overrides (override.h): checks, the JSON of one list item (the
 * break-glass file), and merging sets. */
#include "policy/override.h"
#include "common/name.h"
#include "common/timeutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int bad(struct af_err *err, const char *what, const char *why)
{
	return af_errf(err, AF_EINVAL, "%s: %s", what, why);
}

static int check_name(const char *s, const char *what, bool need,
		      struct af_err *err)
{
	char why[96];
	size_t n = strnlen(s, AF_OVERRIDE_NAME_MAX + 1);

	if (n == 0)
		return need ? bad(err, what, "is required") : 0;
	if (n > AF_OVERRIDE_NAME_MAX)
		return af_errf(err, AF_EINVAL, "%s: longer than %d bytes", what,
			       AF_OVERRIDE_NAME_MAX);
	if (!af_name_valid(s, n, AF_OVERRIDE_NAME_MAX, why, sizeof(why)))
		return af_errf(err, AF_EINVAL, "%s: the name %s", what, why);
	return 0;
}

int af_override_check(const struct af_override *o, struct af_err *err)
{
	unsigned e = o->effects;
	int rc;

	if ((rc = check_name(o->tenant, "tenant", false, err)) != 0 ||
	    (rc = check_name(o->cls, "class", false, err)) != 0)
		return rc;
	if (e == 0 || (e & ~AF_OV_ALL) != 0)
		return bad(err, "effect",
			   "give at least one of --max-fanout, "
			   "--max-tool-calls, --max-cost-usd, --deny-tier, "
			   "--drain-lane, --freeze-tenant");
	if ((e & AF_OV_MAX_FANOUT) &&
	    (o->max_fanout < 0 || o->max_fanout > AF_OVERRIDE_COUNT_MAX))
		return bad(err, "max_fanout", "must be within 0..1000000");
	if ((e & AF_OV_MAX_TOOL_CALLS) &&
	    (o->max_tool_calls < 0 ||
	     o->max_tool_calls > AF_OVERRIDE_COUNT_MAX))
		return bad(err, "max_tool_calls", "must be within 0..1000000");
	if ((e & AF_OV_MAX_COST) &&
	    (o->max_cost_micro < 0 ||
	     o->max_cost_micro > AF_OVERRIDE_COST_MAX_MICRO))
		return bad(err, "max_cost_usd", "must be within 0..1000000");
	if ((e & AF_OV_DENY_TIER) &&
	    (rc = check_name(o->deny_tier, "deny_tier", true, err)) != 0)
		return rc;
	if ((e & AF_OV_DRAIN_LANE) &&
	    (rc = check_name(o->drain_lane, "drain_lane", true, err)) != 0)
		return rc;
	if ((e & AF_OV_FREEZE_TENANT) && o->tenant[0] == '\0')
		return bad(err, "freeze_tenant",
			   "needs a tenant (--tenant T): freezing every "
			   "tenant is not an override");
	return 0;
}

/* ------------------------------------------------------------- merge */

size_t af_override_merge(struct af_override_set *a,
			 const struct af_override_set *b)
{
	size_t dropped = 0;

	for (size_t i = 0; i < b->n && i < AF_OVERRIDE_MAX; i++) {
		if (a->n >= AF_OVERRIDE_MAX) {
			dropped++;
			continue;
		}
		a->ov[a->n++] = b->ov[i];
	}
	return dropped;
}

/* -------------------------------------------------------------- JSON */

static void esc(char *out, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20)
			n += (size_t)snprintf(out + n, len - n, "\\u%04x", c);
		else
			out[n++] = (char)c;
	}
	out[n] = '\0';
}

bool af_override_in_scope(const struct af_override *o, const char *tenant,
			  const char *cls, int64_t now_ms)
{
	if (o->expires_ms > 0 && now_ms > 0 && now_ms >= o->expires_ms)
		return false;
	if (o->tenant[0] != '\0' && strcmp(o->tenant, tenant) != 0)
		return false;
	return o->cls[0] == '\0' || strcmp(o->cls, cls) == 0;
}

size_t af_override_json_members(const struct af_override *o, char *buf,
				size_t len)
{
	char a[2 * AF_OVERRIDE_NAME_MAX * 3 + 8], b[sizeof(a)];
	size_t n;
	int w;

	esc(a, sizeof(a), o->tenant);
	esc(b, sizeof(b), o->cls);
	w = snprintf(buf, len,
		     "\"scope\":{\"tenant\":\"%s\",\"class\":\"%s\"}"
		     ",\"effect\":{",
		     a, b);
	if (w < 0 || (size_t)w >= len)
		return 0;
	n = (size_t)w;
#define ADD(...)                                                               \
	do {                                                                   \
		w = snprintf(buf + n, len - n, __VA_ARGS__);                   \
		if (w < 0 || (size_t)w >= len - n)                             \
			return 0;                                              \
		n += (size_t)w;                                                \
	} while (0)
	const char *sep = "";
	if (o->effects & AF_OV_MAX_FANOUT) {
		ADD("\"max_fanout\":%lld", (long long)o->max_fanout);
		sep = ",";
	}
	if (o->effects & AF_OV_MAX_TOOL_CALLS) {
		ADD("%s\"max_tool_calls\":%lld", sep,
		    (long long)o->max_tool_calls);
		sep = ",";
	}
	if (o->effects & AF_OV_MAX_COST) {
		ADD("%s\"max_cost_usd\":%lld.%06lld", sep,
		    (long long)(o->max_cost_micro / 1000000),
		    (long long)(o->max_cost_micro % 1000000));
		sep = ",";
	}
	if (o->effects & AF_OV_DENY_TIER) {
		esc(a, sizeof(a), o->deny_tier);
		ADD("%s\"deny_tier\":\"%s\"", sep, a);
		sep = ",";
	}
	if (o->effects & AF_OV_DRAIN_LANE) {
		esc(a, sizeof(a), o->drain_lane);
		ADD("%s\"drain_lane\":\"%s\"", sep, a);
		sep = ",";
	}
	if (o->effects & AF_OV_FREEZE_TENANT)
		ADD("%s\"freeze_tenant\":true", sep);
	ADD("}");
#undef ADD
	return n;
}

/* --------------------------------------------------------- parse JSON */

struct pctx {
	const char *file, *buf;
	size_t len;
	struct af_err *err;
};

/* line:col of the first `"key"` in the source (1:1 when absent): jansson
 * keeps no positions of values. */
static void pos_of(const struct pctx *p, const char *key, int *line, int *col)
{
	char pat[AF_OVERRIDE_NAME_MAX + 3];
	size_t k = (size_t)snprintf(pat, sizeof(pat), "\"%s\"", key);

	*line = 1;
	*col = 1;
	for (size_t i = 0; i + k <= p->len; i++) {
		if (memcmp(p->buf + i, pat, k) == 0)
			return;
		if (p->buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
	*line = *col = 1;
}

static int perr(const struct pctx *p, const char *key, const char *msg)
{
	int line, col;

	pos_of(p, key, &line, &col);
	return af_errf(p->err, AF_EPARSE, "%s:%d:%d: %s: %s", p->file, line,
		       col, key, msg);
}

static int get_str(const struct pctx *p, json_t *o, const char *key, char *out,
		   size_t cap)
{
	json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return perr(p, key, "must be a string");
	if (json_string_length(v) >= cap)
		return perr(p, key, "is too long");
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_int(const struct pctx *p, json_t *o, const char *key,
		   unsigned bit, unsigned *effects, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > AF_OVERRIDE_COUNT_MAX)
		return perr(p, key, "must be an integer within 0..1000000");
	*out = (int64_t)json_integer_value(v);
	*effects |= bit;
	return 0;
}

/* RFC 3339 UTC ("2026-12-02T05:00:00Z") to epoch ms; -1 when malformed. */
static int64_t parse_time(const char *s)
{
	struct tm tm = {0};
	char z = 0;
	int n = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z,
		   &n) != 7 ||
	    z != 'Z' || s[n] != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000;
}

static int effect_of(const struct pctx *p, json_t *e, struct af_override *o)
{
	json_t *v;
	int rc;

	if (!json_is_object(e))
		return perr(p, "effect", "must be an object");
	if ((rc = get_int(p, e, "max_fanout", AF_OV_MAX_FANOUT, &o->effects,
			  &o->max_fanout)) != 0 ||
	    (rc = get_int(p, e, "max_tool_calls", AF_OV_MAX_TOOL_CALLS,
			  &o->effects, &o->max_tool_calls)) != 0 ||
	    (rc = get_str(p, e, "deny_tier", o->deny_tier,
			  sizeof(o->deny_tier))) != 0 ||
	    (rc = get_str(p, e, "drain_lane", o->drain_lane,
			  sizeof(o->drain_lane))) != 0)
		return rc;
	if ((v = json_object_get(e, "max_cost_usd")) != NULL) {
		double d = json_number_value(v);

		if (!json_is_number(v) || !(d >= 0) || d > 1e6)
			return perr(p, "max_cost_usd",
				    "must be a number within 0..1000000");
		o->max_cost_micro = (int64_t)llround(d * 1e6);
		o->effects |= AF_OV_MAX_COST;
	}
	if (o->deny_tier[0])
		o->effects |= AF_OV_DENY_TIER;
	if (o->drain_lane[0])
		o->effects |= AF_OV_DRAIN_LANE;
	if ((v = json_object_get(e, "freeze_tenant")) != NULL) {
		if (!json_is_boolean(v))
			return perr(p, "freeze_tenant",
				    "must be true or false");
		if (json_is_true(v))
			o->effects |= AF_OV_FREEZE_TENANT;
	}
	return 0;
}

static int item_of(const struct pctx *p, json_t *it, size_t i,
		   struct af_override *o)
{
	json_t *scope = json_object_get(it, "scope");
	char when[40];
	struct af_err cerr = {{0}};
	int rc;

	memset(o, 0, sizeof(*o));
	if (!json_is_object(it))
		return perr(p, "id", "each override must be an object");
	if ((rc = get_str(p, it, "id", o->id, sizeof(o->id))) != 0)
		return rc;
	if (o->id[0] == '\0')
		snprintf(o->id, sizeof(o->id), "file-%zu", i + 1);
	if (scope != NULL && !json_is_object(scope))
		return perr(p, "scope", "must be an object");
	if (scope != NULL &&
	    ((rc = get_str(p, scope, "tenant", o->tenant, sizeof(o->tenant))) !=
		     0 ||
	     (rc = get_str(p, scope, "class", o->cls, sizeof(o->cls))) != 0))
		return rc;
	if ((rc = effect_of(p, json_object_get(it, "effect"), o)) != 0)
		return rc;
	if ((rc = get_str(p, it, "expires", when, sizeof(when))) != 0)
		return rc;
	if (when[0] == '\0' || (o->expires_ms = parse_time(when)) < 0)
		return perr(p, "expires",
			    "must be an RFC 3339 UTC time such as "
			    "2026-12-02T05:00:00Z (overrides always expire)");
	if (af_override_check(o, &cerr) != 0)
		return perr(p, "effect", cerr.msg);
	return 0;
}

int af_override_parse_json(const char *file, const char *buf, size_t len,
			   struct af_override_set *ret, struct af_err *err)
{
	struct pctx p = {.file = file, .buf = buf, .len = len, .err = err};
	json_error_t jerr;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	size_t n;
	int rc = 0;

	memset(ret, 0, sizeof(*ret));
	if (root == NULL)
		return af_errf(err, AF_EPARSE, "%s:%d:%d: %s", file, jerr.line,
			       jerr.column, jerr.text);
	n = json_is_array(root) ? json_array_size(root) : 1;
	if (n > AF_OVERRIDE_MAX)
		rc = af_errf(err, AF_ETOOBIG,
			     "%s: %zu overrides; at most %d fit one set", file,
			     n, AF_OVERRIDE_MAX);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = item_of(&p,
			     json_is_array(root) ? json_array_get(root, i)
						 : root,
			     i, &ret->ov[i]);
	json_decref(root);
	if (rc != 0)
		memset(ret, 0, sizeof(*ret));
	else
		ret->n = n;
	return rc;
}
