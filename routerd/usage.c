#include "routerd/usage.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/metrics.h"
#include "common/money.h"
#include "common/satarith.h"
#include "proto/af.pb-c.h"
#include "routerd/report.h"
#include "routerd/shadow.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define KEY_MAX 65

struct row {
	uint64_t revision;
	char tenant[KEY_MAX], class_name[KEY_MAX], model[KEY_MAX];
	char labels[ROUTERD_HOP_LABELS]; /* "key=value" NUL ... */
	size_t labels_len;
	uint64_t count, ok, lat[AF_USAGE_BUCKETS], lat_sum_ms;
	int64_t cost, failed_cost;
	uint64_t q_count, q_sum_ppm;
};

/* Ended workflows of one (tenant, class, labels). */
struct wrow {
	char id[KEY_MAX]; /* the workflow's id ("": rows of several) */
	bool finished;	  /* its outcome was received here */
	char tenant[KEY_MAX], class_name[KEY_MAX];
	char labels[ROUTERD_WORKFLOW_LABELS];
	size_t labels_len;
	uint64_t workflows, succeeded, failed, abandoned, hops, tokens;
	int64_t inference, tool, human, waste, smin, smax; /* micro-USD */
	uint32_t hist[AF_COSTHIST_BUCKETS];
};

struct routerd_usage {
	pthread_mutex_t lock;
	struct row rows[AF_USAGE_MAX_ROWS + 64];
	size_t n;
	struct wrow wrows[AF_USAGE_MAX_WORKFLOW_ROWS + 1];
	size_t nw, nwid; /* rows; those of one workflow (an id) */
};

int routerd_usage_new(struct routerd_usage **ret)
{
	struct routerd_usage *u = af_calloc(1, sizeof(*u));

	if (u == NULL)
		return AF_ENOMEM;
	pthread_mutex_init(&u->lock, NULL);
	*ret = u;
	return 0;
}

void routerd_usage_free(struct routerd_usage *u)
{
	if (u == NULL)
		return;
	pthread_mutex_destroy(&u->lock);
	af_free(u);
}

#define OTHER "(other)"

static struct row *find(struct routerd_usage *u, uint64_t rev,
			const char *tenant, const char *cls, const char *model,
			const char *labels, size_t labels_len)
{
	struct row *r;

	if (labels_len > sizeof(r->labels))
		labels_len = 0;
	for (size_t i = 0; i < u->n; i++) {
		r = &u->rows[i];
		if (r->revision == rev && strcmp(r->model, model) == 0 &&
		    strcmp(r->tenant, tenant) == 0 &&
		    strcmp(r->class_name, cls) == 0 &&
		    r->labels_len == labels_len &&
		    (labels_len == 0 ||
		     memcmp(r->labels, labels, labels_len) == 0))
			return r;
	}
	/* Full: the revision's "(other)" row keeps canary analysis exact;
	 * showback loses the breakdown, not the sums. */
	if (u->n >= AF_USAGE_MAX_ROWS && strcmp(tenant, OTHER) != 0)
		return find(u, rev, OTHER, OTHER, OTHER, NULL, 0);
	if (u->n >= sizeof(u->rows) / sizeof(u->rows[0]))
		return NULL;
	r = &u->rows[u->n++];
	memset(r, 0, sizeof(*r));
	r->revision = rev;
	snprintf(r->tenant, KEY_MAX, "%s", tenant);
	snprintf(r->class_name, KEY_MAX, "%s", cls);
	snprintf(r->model, KEY_MAX, "%s", model);
	if (labels_len > 0)
		memcpy(r->labels, labels, labels_len);
	r->labels_len = labels_len;
	return r;
}

static size_t bucket_of(uint64_t ms)
{
	size_t i = 0;

	while (i < AF_USAGE_BUCKETS - 1 && ms > af_usage_bucket_ms[i])
		i++;
	return i;
}

void routerd_usage_record(struct routerd_usage *u, uint64_t revision,
			  const char *tenant, const char *class_name,
			  const char *model, const char *labels,
			  size_t labels_len, bool ok, uint64_t latency_ms,
			  int64_t cost_nano_usd, int64_t quality_ppm)
{
	struct row *r;

	if (revision == 0)
		return;
	pthread_mutex_lock(&u->lock);
	r = find(u, revision, tenant, class_name, model, labels, labels_len);
	if (r != NULL) {
		r->count++;
		r->ok += ok;
		r->lat[bucket_of(latency_ms)]++;
		r->lat_sum_ms = af_sat_add_u64(r->lat_sum_ms, latency_ms);
		r->cost = af_sat_add_i64(r->cost, cost_nano_usd);
		if (!ok)
			r->failed_cost =
				af_sat_add_i64(r->failed_cost, cost_nano_usd);
		if (quality_ppm >= 0 && quality_ppm <= 1000000) {
			r->q_count++;
			r->q_sum_ppm = af_sat_add_u64(r->q_sum_ppm,
						      (uint64_t)quality_ppm);
		}
	}
	pthread_mutex_unlock(&u->lock);
}

/* The row of ended workflow w: its own (under its id) while the flush has
 * fewer than AF_USAGE_MAX_WORKFLOW_IDS of those, else its (tenant, class,
 * labels)'s. */
static struct wrow *wfind(struct routerd_usage *u,
			  const struct routerd_workflow_done *w)
{
	const char *id = w->id != NULL ? w->id : "";
	bool fin = w->finished;
	struct wrow *r;

	if (id[0] != '\0' && u->nwid >= AF_USAGE_MAX_WORKFLOW_IDS) {
		id = "";
		fin = false;
	}
	if (id[0] == '\0')
		fin = false;
	for (size_t i = 0; i < u->nw; i++) {
		r = &u->wrows[i];
		if (r->labels_len == w->labels_len && r->finished == fin &&
		    strcmp(r->id, id) == 0 &&
		    strcmp(r->tenant, w->tenant) == 0 &&
		    strcmp(r->class_name, w->class_name) == 0 &&
		    (w->labels_len == 0 ||
		     memcmp(r->labels, w->labels, w->labels_len) == 0))
			return r;
	}
	/* Full: the last row takes the rest, as "(other)" */
	if (u->nw >= AF_USAGE_MAX_WORKFLOW_ROWS) {
		r = &u->wrows[AF_USAGE_MAX_WORKFLOW_ROWS];
		if (u->nw == AF_USAGE_MAX_WORKFLOW_ROWS) {
			memset(r, 0, sizeof(*r));
			snprintf(r->tenant, KEY_MAX, "%s", OTHER);
			snprintf(r->class_name, KEY_MAX, "%s", OTHER);
			r->smin = -1;
			u->nw++;
		}
		return r;
	}
	r = &u->wrows[u->nw++];
	memset(r, 0, sizeof(*r));
	snprintf(r->id, KEY_MAX, "%s", id);
	r->finished = fin;
	u->nwid += id[0] != '\0';
	snprintf(r->tenant, KEY_MAX, "%s", w->tenant);
	snprintf(r->class_name, KEY_MAX, "%s", w->class_name);
	if (w->labels_len > 0 && w->labels_len <= sizeof(r->labels)) {
		memcpy(r->labels, w->labels, w->labels_len);
		r->labels_len = w->labels_len;
	}
	r->smin = -1;
	return r;
}

void routerd_usage_workflow(void *arg, const struct routerd_workflow_done *w)
{
	struct routerd_usage *u = arg;
	int64_t inf = af_money_micro_of_nano(w->inference_nano), cost;
	struct wrow *r;

	cost = af_sat_add_i64(af_sat_add_i64(inf, w->tool_micro),
			      w->human_micro);
	pthread_mutex_lock(&u->lock);
	r = wfind(u, w);
	r->workflows++;
	r->hops = af_sat_add_u64(r->hops, w->hops);
	r->tokens = af_sat_add_u64(r->tokens, w->tokens);
	r->inference = af_sat_add_i64(r->inference, inf);
	r->tool = af_sat_add_i64(r->tool, w->tool_micro);
	r->human = af_sat_add_i64(r->human, w->human_micro);
	if (w->outcome == ROUTERD_WORKFLOW_SUCCESS) {
		r->succeeded++;
		r->hist[af_costhist_index(cost)]++;
		if (r->smin < 0 || cost < r->smin)
			r->smin = cost;
		if (cost > r->smax)
			r->smax = cost;
	} else {
		r->failed += w->outcome == ROUTERD_WORKFLOW_FAILED;
		r->abandoned += w->outcome == ROUTERD_WORKFLOW_ABANDONED;
		r->waste = af_sat_add_i64(r->waste, cost);
	}
	pthread_mutex_unlock(&u->lock);
}

/* The workflow rows as WorkflowRow messages in pr[] (labels and bucket
 * pairs in the arrays after them, in one block owned by *ret_mem). */
static int pack_workflows(const struct routerd_usage *u, Af__WorkflowRow *pr,
			  Af__WorkflowRow **pp, void **ret_mem)
{
	size_t nl = 0, nh = 0;
	char **lab;
	uint64_t *hist;

	for (size_t i = 0; i < u->nw; i++) {
		for (size_t o = 0; o < u->wrows[i].labels_len; o++)
			nl += u->wrows[i].labels[o] == '\0';
		for (size_t b = 0; b < AF_COSTHIST_BUCKETS; b++)
			nh += u->wrows[i].hist[b] != 0;
	}
	*ret_mem = af_calloc(1, nl * sizeof(*lab) + 2 * nh * sizeof(*hist) + 1);
	if (*ret_mem == NULL)
		return AF_ENOMEM;
	hist = *ret_mem;
	lab = (char **)(void *)(hist + 2 * nh);
	for (size_t i = 0; i < u->nw; i++) {
		const struct wrow *w = &u->wrows[i];
		Af__WorkflowRow *p = &pr[i];

		af__workflow_row__init(p);
		p->tenant = (char *)w->tenant;
		p->class_name = (char *)w->class_name;
		p->labels = lab;
		for (size_t o = 0; o < w->labels_len;
		     o += strlen(w->labels + o) + 1)
			p->labels[p->n_labels++] = (char *)w->labels + o;
		lab += p->n_labels;
		p->workflow_id = (char *)w->id;
		p->finished = w->finished;
		p->workflows = w->workflows;
		p->succeeded = w->succeeded;
		p->failed = w->failed;
		p->abandoned = w->abandoned;
		p->hops = w->hops;
		p->tokens = w->tokens;
		p->inference_micro = w->inference;
		p->tool_micro = w->tool;
		p->human_micro = w->human;
		p->waste_micro = w->waste;
		p->success_min_micro = w->smin;
		p->success_max_micro = w->smax;
		p->success_hist = hist;
		for (size_t b = 0; b < AF_COSTHIST_BUCKETS; b++)
			if (w->hist[b] != 0) {
				hist[p->n_success_hist++] = b;
				hist[p->n_success_hist++] = w->hist[b];
			}
		hist += p->n_success_hist;
		pp[i] = p;
	}
	return 0;
}

static int pack(const struct routerd_usage *u, Af__ShadowCounts *sh, size_t nsh,
		const char *id, uint8_t **ret, size_t *ret_len)
{
	const struct row *rows = u->rows;
	size_t n = u->n;
	Af__UsageReport rep = AF__USAGE_REPORT__INIT;
	Af__WorkflowRow *wr = af_calloc(u->nw + 1, sizeof(*wr));
	Af__WorkflowRow **wp = af_calloc(u->nw + 1, sizeof(*wp));
	void *wmem = NULL;
	Af__UsageRow *pr = af_calloc(n + 1, sizeof(*pr));
	Af__UsageRow **pp = af_calloc(n + 1, sizeof(*pp));
	char **lp = af_calloc(n * AF_SHOWBACK_DIMS_MAX + 1, sizeof(*lp));
	Af__ShadowCounts **sp = af_calloc(nsh + 1, sizeof(*sp));
	uint8_t *buf = NULL;
	int rc = 0;

	if (pr == NULL || pp == NULL || lp == NULL || wr == NULL ||
	    wp == NULL || sp == NULL || pack_workflows(u, wr, wp, &wmem) != 0) {
		rc = AF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nsh; i++)
		sp[i] = &sh[i];
	rep.n_shadow = nsh;
	rep.shadow = sp;
	for (size_t i = 0; i < n; i++) {
		af__usage_row__init(&pr[i]);
		pr[i].revision = rows[i].revision;
		pr[i].tenant = (char *)rows[i].tenant;
		pr[i].class_name = (char *)rows[i].class_name;
		pr[i].model = (char *)rows[i].model;
		pr[i].count = rows[i].count;
		pr[i].ok = rows[i].ok;
		pr[i].n_latency_buckets = AF_USAGE_BUCKETS;
		pr[i].latency_buckets = (uint64_t *)rows[i].lat;
		pr[i].latency_sum_ms = rows[i].lat_sum_ms;
		pr[i].cost_nano_usd = rows[i].cost;
		pr[i].failed_cost_nano_usd = rows[i].failed_cost;
		pr[i].quality_count = rows[i].q_count;
		pr[i].quality_sum_ppm = rows[i].q_sum_ppm;
		pr[i].labels = lp + i * AF_SHOWBACK_DIMS_MAX;
		for (size_t o = 0; o < rows[i].labels_len &&
				   pr[i].n_labels < AF_SHOWBACK_DIMS_MAX;
		     o += strlen(rows[i].labels + o) + 1)
			pr[i].labels[pr[i].n_labels++] =
				(char *)rows[i].labels + o;
		pp[i] = &pr[i];
	}
	rep.routerd_id = (char *)id;
	rep.n_rows = n;
	rep.rows = pp;
	rep.n_workflows = u->nw;
	rep.workflows = wp;
	buf = af_malloc(af__usage_report__get_packed_size(&rep) + 1);
	if (buf == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	*ret_len = af__usage_report__pack(&rep, buf);
	*ret = buf;
out:
	af_free(pr);
	af_free(pp);
	af_free(lp);
	af_free(wr);
	af_free(wp);
	af_free(wmem);
	af_free(sp);
	return rc;
}

int routerd_usage_take(struct routerd_usage *u, struct routerd_shadow *sh,
		       const char *id, uint8_t **ret, size_t *ret_len)
{
	Af__ShadowCounts *rows = NULL;
	size_t nsh = 0;
	int rc = 0;

	*ret = NULL;
	*ret_len = 0;
	/* Shadow counters taken are sent with this batch (or lost with it
	 * when it cannot be packed). */
	(void)routerd_shadow_take(sh, &rows, &nsh);
	pthread_mutex_lock(&u->lock);
	if ((u->n > 0 || u->nw > 0 || nsh > 0) &&
	    (rc = pack(u, rows, nsh, id, ret, ret_len)) == 0)
		u->n = u->nw = u->nwid = 0;
	pthread_mutex_unlock(&u->lock);
	af_free(rows);
	return rc;
}
