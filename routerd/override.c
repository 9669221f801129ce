/* The emergency overrides routerd enforces (override.h).
 *
 * Readers: a decision loads the current slot index and the slot's
 * sequence number (even: stable), decides with the slot's set, and
 * decides again if the sequence moved meanwhile (a writer reused the
 * slot). Writers (the sync thread for hints, the watcher for the file)
 * serialize on a mutex and write the merged set into the next of
 * OV_SLOTS slots, so a slot is reused only after OV_SLOTS changes. */
#include "routerd/override.h"
#include "common/alloc.h"
#include "common/file.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/timeutil.h"
#include "policy/replay.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define OV_SLOTS 8
#define WATCH_MS 200 /* the file is checked this often */
#define SIGN_NAME "af-emergency-override"

struct ov_slot {
	_Alignas(64) _Atomic uint64_t seq;
	struct af_override_set set;
};

struct routerd_overrides {
	struct ov_slot slot[OV_SLOTS];
	_Atomic unsigned cur;
	_Atomic uint64_t version; /* the cluster set's */
	int64_t start_ms;   /* staleness counts from here before any sync */
	pthread_mutex_t mu; /* writers; guards the fields below */
	struct af_override_set cluster, file;
	char file_hash[AF_HASH_STR_LEN];
	char file_error[512];
	struct stat seen; /* the file as last read */
	bool seen_any;
	const struct af_pubkey *keys;
	size_t nkeys;
	pthread_t thread;
	bool started;
	_Atomic int stop;
};

static _Atomic int hup;

static void on_hup(int sig)
{
	(void)sig;
	atomic_store(&hup, 1);
}

/* Publishes cluster + file. Caller holds mu. */
static void publish(struct routerd_overrides *o)
{
	unsigned next = (atomic_load(&o->cur) + 1) % OV_SLOTS;
	struct ov_slot *s = &o->slot[next];
	uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	s->set = o->cluster;
	if (af_override_merge(&s->set, &o->file) > 0)
		log_warn("event=overrides_dropped msg=\"more than %d "
			 "overrides from the cluster and the file together; "
			 "the file's last ones are not enforced\"",
			 AF_OVERRIDE_MAX);
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
	atomic_store(&o->cur, next);
}

bool routerd_overrides_hint(struct routerd *r, const Af__OverrideSet *m)
{
	struct routerd_overrides *o = r->overrides;
	uint64_t v = m != NULL ? m->version : 0;

	if (o == NULL || m == NULL || v <= atomic_load(&o->version))
		return false; /* older or the same: a lagging node's heartbeat
			       */
	pthread_mutex_lock(&o->mu);
	af_override_set_from_pb(m, &o->cluster);
	atomic_store(&o->version, v);
	publish(o);
	pthread_mutex_unlock(&o->mu);
	log_info("event=overrides_enforced version=%llu n=%zu",
		 (unsigned long long)v, o->cluster.n);
	return true;
}

/* --------------------------------------------------------- the file */

/* Checks FILE.sig when trusted keys are configured: a signature line of
 * `af emergency sign` over the file's hash. */
static int check_sig(struct routerd_overrides *o, const char *path,
		     const char *hash, struct af_err *err)
{
	char sigpath[4200], id[AF_KEYID_LEN], *buf;
	uint8_t sig[AF_SIGN_SIG];
	uint64_t serial;
	size_t len;
	int rc;

	if (o->nkeys == 0)
		return 0;
	snprintf(sigpath, sizeof(sigpath), "%s.sig", path);
	if (af_read_file(sigpath, 4096, &buf, &len, err) != 0)
		return af_errf(err, AF_EPERM,
			       "%s: trusted keys are configured, so the file "
			       "must be signed (af emergency sign -f %s --key "
			       "KEY writes it)",
			       sigpath, path);
	rc = af_sign_parse(buf, id, &serial, sig, err);
	af_free(buf);
	if (rc == 0)
		rc = af_sign_verify(o->keys, o->nkeys, id, SIGN_NAME, hash,
				    serial, sig, sizeof(sig), err);
	return rc;
}

/* Reads the file into o->file; a bad file changes nothing. Caller holds
 * mu. */
static void load_file(struct routerd_overrides *o, const char *path)
{
	struct af_override_set set;
	struct af_err err = {{0}};
	char hash[AF_HASH_STR_LEN], *buf = NULL;
	size_t len = 0;
	int rc;

	rc = af_read_file(path, ROUTERD_OVERRIDE_FILE_MAX, &buf, &len, &err);
	if (rc == 0) {
		af_sha256_str(buf, len, hash);
		rc = check_sig(o, path, hash, &err);
	}
	if (rc == 0)
		rc = af_override_parse_json(path, buf, len, &set, &err);
	af_free(buf);
	if (rc != 0) {
		snprintf(o->file_error, sizeof(o->file_error), "%s", err.msg);
		log_error("event=override_file_rejected file=%s error=\"%s\" "
			  "msg=\"the previous set stays enforced; fix the "
			  "file\"",
			  path, err.msg);
		return;
	}
	o->file = set;
	memcpy(o->file_hash, hash, sizeof(hash));
	o->file_error[0] = '\0';
	publish(o);
	log_info("event=override_file_loaded file=%s hash=%s n=%zu", path, hash,
		 set.n);
}

static bool changed(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_size != b->st_size ||
	       a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	       a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

static void check_file(struct routerd *r, bool force)
{
	struct routerd_overrides *o = r->overrides;
	struct stat st;

	pthread_mutex_lock(&o->mu);
	if (stat(r->override_file, &st) != 0) {
		if (o->seen_any && o->file.n > 0) {
			memset(&o->file, 0, sizeof(o->file));
			o->file_hash[0] = '\0';
			publish(o);
			log_warn("event=override_file_removed file=%s",
				 r->override_file);
		}
		o->seen_any = false;
	} else if (force || !o->seen_any || changed(&st, &o->seen)) {
		o->seen = st;
		o->seen_any = true;
		load_file(o, r->override_file);
	}
	pthread_mutex_unlock(&o->mu);
}

static void *watch_main(void *arg)
{
	struct routerd *r = arg;
	struct timespec ts = {0, WATCH_MS * 1000000L};

	while (!atomic_load(&r->overrides->stop)) {
		bool force = atomic_exchange(&hup, 0) != 0;

		if (force)
			log_info("event=sighup file=%s", r->override_file);
		check_file(r, force);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int routerd_overrides_start(struct routerd *r, const struct af_pubkey *keys,
			    size_t nkeys, struct af_err *err)
{
	struct routerd_overrides *o = af_calloc(1, sizeof(*o));
	struct sigaction sa;

	if (o == NULL)
		return af_errf(err, AF_ENOMEM, "overrides: out of memory");
	pthread_mutex_init(&o->mu, NULL);
	o->keys = keys;
	o->nkeys = nkeys;
	o->start_ms = af_wall_ms();
	r->overrides = o;
	if (r->override_file == NULL)
		return 0;
	check_file(r, true);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	if (pthread_create(&o->thread, NULL, watch_main, r) != 0) {
		routerd_overrides_stop(r);
		return af_errf(err, AF_EIO, "overrides: no thread");
	}
	o->started = true;
	return 0;
}

void routerd_overrides_stop(struct routerd *r)
{
	struct routerd_overrides *o = r->overrides;

	if (o == NULL)
		return;
	atomic_store(&o->stop, 1);
	if (o->started)
		pthread_join(o->thread, NULL);
	pthread_mutex_destroy(&o->mu);
	r->overrides = NULL;
	af_free(o);
}

void routerd_overrides_info(struct routerd *r,
			    struct routerd_override_info *ret)
{
	struct routerd_overrides *o = r->overrides;

	memset(ret, 0, sizeof(*ret));
	if (o == NULL)
		return;
	ret->version = atomic_load(&o->version);
	pthread_mutex_lock(&o->mu);
	/* Writers hold mu: the current slot is stable here. An override past
	 * its expiry is no longer in force, removed from the set or not. */
	{
		const struct af_override_set *set =
			&o->slot[atomic_load(&o->cur)].set;
		int64_t now = af_wall_ms();

		for (size_t i = 0; i < set->n && i < AF_OVERRIDE_MAX; i++)
			if (set->ov[i].expires_ms == 0 ||
			    now < set->ov[i].expires_ms)
				ret->n++;
	}
	memcpy(ret->file_hash, o->file_hash, sizeof(ret->file_hash));
	memcpy(ret->file_error, o->file_error, sizeof(ret->file_error));
	pthread_mutex_unlock(&o->mu);
}

/* ------------------------------------------------------- deciding */

static uint64_t stale_ms(const struct routerd *r, int64_t now)
{
	int64_t last = atomic_load(&r->sync_stats.last_sync_ms);

	if (last == 0 && r->overrides != NULL)
		last = r->overrides->start_ms;
	return now > last ? (uint64_t)(now - last) : 0;
}

const char *routerd_stale_mode(struct routerd *r, const struct routerd_view *v,
			       uint64_t *ret_since_s)
{
	uint64_t ms = stale_ms(r, af_wall_ms());
	int mode = v != NULL ? af_policy_stale_mode(v->pv, ms) : -1;

	*ret_since_s = ms / 1000;
	switch (mode) {
	case 0:
		return "fresh";
	case 1:
		return "degraded";
	case 2:
		return "fail_closed";
	default:
		return "off";
	}
}

int routerd_override_decide(struct routerd *r, const struct routerd_view *v,
			    const struct af_request *req, struct af_live *live,
			    int64_t wall_ms, const char *id,
			    struct af_live_rec *rec, struct af_decision *ret)
{
	return routerd_override_decide_pv(r, v->pv, req, live, wall_ms, id, rec,
					  ret);
}

int routerd_override_decide_pv(struct routerd *r,
			       const struct af_policy_view *pv,
			       const struct af_request *req,
			       struct af_live *live, int64_t wall_ms,
			       const char *id, struct af_live_rec *rec,
			       struct af_decision *ret)
{
	struct routerd_overrides *o = r->overrides;

	live->now_ms = wall_ms;
	live->stale_ms = stale_ms(r, live->now_ms);
	if (o == NULL) {
		live->overrides = NULL;
		if (rec != NULL)
			af_live_rec_overrides(rec, live, req);
		return af_decide(pv, req, live, id, ret, NULL);
	}
	for (;;) {
		const struct ov_slot *s = &o->slot[atomic_load(&o->cur)];
		uint64_t seq =
			atomic_load_explicit(&s->seq, memory_order_acquire);
		int rc;

		if (seq & 1)
			continue; /* being written: the index moves next */
		live->overrides = s->set.n > 0 ? &s->set : NULL;
		if (rec != NULL)
			af_live_rec_overrides(rec, live, req);
		rc = af_decide(pv, req, live, id, ret, NULL);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) == seq)
			return rc;
	}
}

/* -------------------------------------------------- status, metrics */

size_t routerd_overrides_status_json(struct routerd *r,
				     const struct routerd_view *v, char *buf,
				     size_t len)
{
	struct routerd_override_info in;
	uint64_t since;
	const char *mode = routerd_stale_mode(r, v, &since);
	char file[AF_HASH_STR_LEN + 2] = "null";
	int n;

	routerd_overrides_info(r, &in);
	if (in.file_hash[0])
		snprintf(file, sizeof(file), "\"%s\"", in.file_hash);
	n = snprintf(buf, len,
		     "\"overrides\":{\"version\":%llu,\"in_force\":%zu,"
		     "\"file\":%s,\"file_ok\":%s},"
		     "\"staleness\":{\"mode\":\"%s\",\"since_s\":%llu}",
		     (unsigned long long)in.version, in.n, file,
		     in.file_error[0] ? "false" : "true", mode,
		     (unsigned long long)since);
	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

void routerd_overrides_metrics(struct routerd *r, struct af_textbuf *b)
{
	static const char *const modes[] = {"off", "fresh", "degraded",
					    "fail_closed"};
	const struct routerd_view *v = routerd_view_acquire(r);
	struct routerd_override_info in;
	uint64_t since;
	const char *mode = routerd_stale_mode(r, v, &since);

	routerd_view_release(r, v);
	routerd_overrides_info(r, &in);
	af_textbuf_printf(
		b,
		"# HELP af_routerd_override_version Version of the cluster's "
		"emergency override set enforced (0: none yet).\n"
		"# TYPE af_routerd_override_version gauge\n"
		"af_routerd_override_version %llu\n"
		"# HELP af_routerd_overrides_in_force Emergency overrides "
		"enforced (cluster and --override-file).\n"
		"# TYPE af_routerd_overrides_in_force gauge\n"
		"af_routerd_overrides_in_force %zu\n"
		"# HELP af_routerd_override_file_ok 0 when the last read of "
		"--override-file was rejected.\n"
		"# TYPE af_routerd_override_file_ok gauge\n"
		"af_routerd_override_file_ok %d\n"
		"# HELP af_routerd_staleness_mode 1 for the staleness mode "
		"the stable bundle puts routerd in now.\n"
		"# TYPE af_routerd_staleness_mode gauge\n",
		(unsigned long long)in.version, in.n, in.file_error[0] ? 0 : 1);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		af_textbuf_printf(b,
				  "af_routerd_staleness_mode{mode=\"%s\"} %d\n",
				  modes[i], strcmp(modes[i], mode) == 0);
}
