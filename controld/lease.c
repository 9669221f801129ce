/* The lease scan shared by budgets and quotas (lease.h). */
#include "controld/lease.h"
#include "common/err.h"
#include "common/satarith.h"

#include <string.h>

static int scan_one(const void *key, size_t klen, const void *val, size_t vlen,
		    void *arg)
{
	struct af_lease_scan *ls = arg;
	int64_t amount = 0;
	bool dead = false, mine = false;
	int rc = ls->judge(val, vlen, ls->arg, &amount, &dead, &mine);

	if (rc != 0)
		return rc;
	if (dead && ls->ndead < AF_LEASE_DEAD_MAX &&
	    klen <= sizeof(ls->dead[0])) {
		memcpy(ls->dead[ls->ndead], key, klen);
		ls->dead_len[ls->ndead++] = klen;
	} else if (!dead && mine) {
		ls->mine = amount;
		ls->have_mine = true;
	} else if (!dead) {
		ls->others = af_sat_add_i64(ls->others, amount);
	}
	return 0;
}

int af_lease_scan(struct af_txn *t, const void *prefix, size_t plen,
		  bool drop_dead, struct af_lease_scan *ls)
{
	int rc = af_txn_iter_prefix(t, AF_TABLE_LEASES, prefix, plen, false,
				    scan_one, ls);

	if (rc < 0 || !drop_dead)
		return rc < 0 ? rc : 0;
	for (size_t i = 0; i < ls->ndead; i++)
		if ((rc = af_txn_del(t, AF_TABLE_LEASES, ls->dead[i],
				     ls->dead_len[i])) != 0 &&
		    rc != AF_ENOTFOUND)
			return rc;
	return 0;
}
