/* Private to the policy engine: packing a struct's bytes in use into a
 * bounded buffer and back (af_request_pack, af_live_rec_pack). Once a
 * put or get does not fit, `bad` is set and every later one is ignored. */
#ifndef AF_POLICY_PACK_H
#define AF_POLICY_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct pk {
	uint8_t *p;
	const uint8_t *q;
	size_t left;
	bool bad;
};

static inline void pk_put(struct pk *k, const void *v, size_t n)
{
	if (k->bad || n > k->left) {
		k->bad = true;
		return;
	}
	memcpy(k->p, v, n);
	k->p += n;
	k->left -= n;
}

static inline void pk_get(struct pk *k, void *v, size_t n)
{
	if (k->bad || n > k->left) {
		k->bad = true;
		return;
	}
	memcpy(v, k->q, n);
	k->q += n;
	k->left -= n;
}

#endif
