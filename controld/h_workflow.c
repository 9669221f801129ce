/* af report --unit workflow: the per-day workflow rows (fsm_workflow.c)
 * grouped by up to three keys (tenant, class, day, labels.KEY). */
#include "common/alloc.h"
#include "common/money.h"
#include "common/timeutil.h"
#include "controld/anomaly.h"
#include "controld/handlers_int.h"
#include "controld/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define MAX_BY 3
#define MAX_GROUPS 10000u
#define NSLOTS 32768u /* a power of two over 2 * MAX_GROUPS */
#define PART_LEN 72

enum dim { D_TENANT, D_CLASS, D_DAY, D_LABEL };

struct group {
	Af__WorkflowGroup g;
	Af__WorkflowRow totals;
	char *keyp[MAX_BY];
	char key[MAX_BY][PART_LEN];
	uint64_t hist[AF_COSTHIST_BUCKETS];
	uint64_t *pairs;
};

struct wscan {
	size_t nby;
	enum dim dim[MAX_BY];
	const char *label[MAX_BY]; /* D_LABEL: the key */
	struct group **groups;
	size_t n;
	uint32_t slots[NSLOTS]; /* group index + 1; 0 free */
	bool too_many;
	int64_t day_ms; /* the day `day` names (rows come in day order) */
	char day[16];
};

/* The value of dimension i of row key k into out. */
static void part(struct wscan *s, size_t i, const struct af_workflow_key *k,
		 char *out)
{
	const char *v = "(none)";
	char t[32];

	switch (s->dim[i]) {
	case D_TENANT:
		v = k->tenant;
		break;
	case D_CLASS:
		v = k->class_name;
		break;
	case D_DAY:
		if (s->day[0] == '\0' || s->day_ms != k->day_ms) {
			af_format_time(k->day_ms, t, sizeof(t));
			snprintf(s->day, sizeof(s->day), "%.10s", t);
			s->day_ms = k->day_ms;
		}
		v = s->day; /* YYYY-MM-DD */
		break;
	case D_LABEL:
		for (size_t j = 0; j < k->nlabels; j++)
			if (strcmp(k->label[j][0], s->label[i]) == 0)
				v = k->label[j][1];
		break;
	}
	snprintf(out, PART_LEN, "%s", v);
}

static struct group *find_group(struct wscan *s, char parts[][PART_LEN])
{
	uint64_t hv = 0;
	size_t h;
	uint32_t i;
	struct group *g;

	for (size_t j = 0; j < s->nby; j++)
		hv = XXH3_64bits_withSeed(parts[j], strlen(parts[j]), hv);
	h = hv & (NSLOTS - 1);
	while ((i = s->slots[h]) != 0) {
		size_t j = 0;

		g = s->groups[i - 1];
		while (j < s->nby && strcmp(g->key[j], parts[j]) == 0)
			j++;
		if (j == s->nby)
			return g;
		h = (h + 1) & (NSLOTS - 1);
	}
	if (s->n == MAX_GROUPS) {
		s->too_many = true;
		return NULL;
	}
	if ((g = af_calloc(1, sizeof(*g))) == NULL)
		return NULL;
	af__workflow_group__init(&g->g);
	af__workflow_row__init(&g->totals);
	g->totals.success_min_micro = -1;
	for (size_t j = 0; j < s->nby; j++) {
		memcpy(g->key[j], parts[j], PART_LEN);
		g->keyp[j] = g->key[j];
	}
	g->g.n_key = s->nby;
	g->g.key = g->keyp;
	g->g.totals = &g->totals;
	s->groups[s->n++] = g;
	s->slots[h] = (uint32_t)s->n;
	return g;
}

static int wf_row(const void *key, size_t klen, const void *val, size_t vlen,
		  void *arg)
{
	struct wscan *s = arg;
	struct af_workflow_key k;
	char parts[MAX_BY][PART_LEN];
	Af__WorkflowRow *r;
	struct group *g;

	if (af_workflow_key_parse(key, klen, &k) != 0)
		return 0;
	for (size_t i = 0; i < s->nby; i++)
		part(s, i, &k, parts[i]);
	if ((g = find_group(s, parts)) == NULL)
		return s->too_many ? 1 : AF_ENOMEM;
	r = af__workflow_row__unpack(NULL, vlen, val);
	if (r == NULL)
		return AF_ECORRUPT;
	af_workflow_sum(&g->totals, r, g->hist);
	af__workflow_row__free_unpacked(r, NULL);
	return 0;
}

/* The dimensions of q->by into s; false (with why) for a bad list. */
static bool parse_by(struct wscan *s, const Af__WorkflowReportReq *q, char *why,
		     size_t len)
{
	static const char *const names[] = {"tenant", "class", "day"};

	if (q->n_by > MAX_BY) {
		snprintf(why, len, "--by takes at most %d keys", MAX_BY);
		return false;
	}
	s->nby = q->n_by;
	for (size_t i = 0; i < q->n_by; i++) {
		const char *b = q->by[i];
		size_t j = 0;

		while (j < 3 && strcmp(b, names[j]) != 0)
			j++;
		s->dim[i] = (enum dim)j;
		if (j < 3)
			continue;
		if (strncmp(b, "labels.", 7) == 0 && b[7] != '\0' &&
		    strlen(b) < PART_LEN) {
			s->label[i] = b + 7;
			continue;
		}
		snprintf(why, len,
			 "--by %.64s: --unit workflow groups by tenant, "
			 "class, day or labels.KEY (a workflow spans models "
			 "and revisions)",
			 b);
		return false;
	}
	return true;
}

static _Thread_local size_t sort_nby; /* qsort takes no argument */

static int by_key(const void *a, const void *b)
{
	const struct group *x = *(struct group *const *)a;
	const struct group *y = *(struct group *const *)b;
	int c = 0;

	for (size_t j = 0; c == 0 && j < sort_nby; j++)
		c = strcmp(x->key[j], y->key[j]);
	return c;
}

/* The groups in key order, their success buckets as (index, count)
 * pairs. */
static int finish_groups(struct wscan *s)
{
	sort_nby = s->nby;
	if (s->n > 1)
		qsort(s->groups, s->n, sizeof(*s->groups), by_key);
	for (size_t i = 0; i < s->n; i++) {
		struct group *g = s->groups[i];
		size_t n = 0;

		for (size_t b = 0; b < AF_COSTHIST_BUCKETS; b++)
			n += g->hist[b] != 0;
		if ((g->pairs = af_calloc(2 * n + 1, sizeof(*g->pairs))) ==
		    NULL)
			return AF_ENOMEM;
		g->totals.success_hist = g->pairs;
		for (size_t b = 0; b < AF_COSTHIST_BUCKETS; b++)
			if (g->hist[b] != 0) {
				g->pairs[g->totals.n_success_hist++] = b;
				g->pairs[g->totals.n_success_hist++] =
					g->hist[b];
			}
	}
	return 0;
}

static void answer(struct controld_job *j, struct wscan *s)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__WorkflowReportResp wr = AF__WORKFLOW_REPORT_RESP__INIT;
	Af__WorkflowGroup **rows = af_calloc(s->n + 1, sizeof(*rows));

	if (rows == NULL) {
		controld_job_fail(j, AF__CODE__INTERNAL, "report: %s",
				  af_strerror(AF_ENOMEM));
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		rows[i] = &s->groups[i]->g;
	wr.n_rows = s->n;
	wr.rows = rows;
	resp.body_case = AF__RESPONSE__BODY_WORKFLOW_REPORT;
	resp.workflow_report = &wr;
	controld_job_finish(j, &resp);
	af_free(rows);
}

void controld_read_workflows(struct controld_job *j, struct af_txn *t)
{
	const Af__WorkflowReportReq *q = j->req->workflow_report;
	struct wscan *s = af_calloc(1, sizeof(*s));
	char why[200];
	int rc;

	if (s == NULL ||
	    (s->groups = af_calloc(MAX_GROUPS, sizeof(*s->groups))) == NULL) {
		controld_job_fail(j, AF__CODE__INTERNAL, "report: %s",
				  af_strerror(AF_ENOMEM));
		goto out;
	}
	if (!parse_by(s, q, why, sizeof(why))) {
		controld_job_fail(j, AF__CODE__INVALID, "%s", why);
		goto out;
	}
	if (q->until_ms > 0 && q->until_ms <= q->since_ms) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "--until must come after --since");
		goto out;
	}
	rc = af_workflow_iter(t, q->since_ms, q->until_ms, wf_row, s);
	if (rc == 1) {
		controld_job_fail(j, AF__CODE__TOO_LARGE,
				  "report: more than %u groups: narrow it "
				  "with --since/--until or fewer --by keys",
				  MAX_GROUPS);
		goto out;
	}
	if (rc == 0)
		rc = finish_groups(s);
	if (rc != 0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "report: %s",
				  af_strerror(rc));
		goto out;
	}
	answer(j, s);
out:
	for (size_t i = 0; s != NULL && i < s->n; i++) {
		af_free(s->groups[i]->pairs);
		af_free(s->groups[i]);
	}
	if (s != NULL)
		af_free(s->groups);
	af_free(s);
}

/* ----------------------------------------------------------- anomalies */

void controld_read_anomalies(struct controld_job *j, struct af_txn *t)
{
	const Af__AnomalyReq *q = j->req->anomalies;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__AnomalyResp ar = AF__ANOMALY_RESP__INIT;
	unsigned window = q->window ? q->window : AF_ANOMALY_WINDOW_DEFAULT;
	double z = q->z != 0 ? q->z : 3;
	struct af_anomaly *a = NULL;
	Af__Anomaly *rows = NULL, **ptrs = NULL;
	size_t n = 0;
	int rc;

	if (window < 2 || window > AF_ANOMALY_WINDOW_MAX || !(z > 0) ||
	    z > 1e6) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "--window takes 2 to %d days, --z a number "
				  "above 0",
				  AF_ANOMALY_WINDOW_MAX);
		return;
	}
	rc = af_anomalies(t, af_wall_ms(), window, AF_ANOMALY_TENANTS, &a, &n,
			  &ar.day_ms);
	if (rc == 0 && ((rows = af_calloc(n + 1, sizeof(*rows))) == NULL ||
			(ptrs = af_calloc(n + 1, sizeof(*ptrs))) == NULL))
		rc = AF_ENOMEM;
	if (rc != 0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "anomalies: %s",
				  af_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < n && a[i].z > z; i++) {
		Af__Anomaly *r = &rows[ar.n_rows];

		af__anomaly__init(r);
		r->tenant = a[i].tenant;
		r->day_ms = a[i].day_ms;
		r->spend_micro = a[i].spend_micro;
		r->mean_micro = a[i].mean_micro;
		r->stddev_micro = a[i].stddev_micro;
		r->z = a[i].z;
		ptrs[ar.n_rows++] = r;
	}
	ar.rows = ptrs;
	resp.body_case = AF__RESPONSE__BODY_ANOMALIES;
	resp.anomalies = &ar;
	controld_job_finish(j, &resp);
out:
	af_free(a);
	af_free(rows);
	af_free(ptrs);
}
