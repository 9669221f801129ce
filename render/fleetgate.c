/* The fleet gates' arithmetic: what one routerd serves against what a
 * rollout or an apply wants, and whether a share of the live fleet is
 * reached. Shared by controld's rollout controller and canary status and
 * by `af policy apply --wait`. Pure. */
#include "render/render.h"

#include <string.h>

bool af_fleet_live(const Af__FleetRecord *r, int64_t now_ms, int64_t lost_ms)
{
	return now_ms - r->last_seen_ms <= lost_ms;
}

static bool serves(const Af__FleetReport *f, const struct af_fleet_want *w)
{
	if (w->stable_hash != NULL && strcmp(f->stable_hash, w->stable_hash))
		return false;
	if (w->canary_hash != NULL && strcmp(f->canary_hash, w->canary_hash))
		return false;
	return w->weight < 0 || f->canary_weight == (uint32_t)w->weight;
}

enum af_fleet_serve af_fleet_judge(const Af__FleetReport *f,
				   const struct af_fleet_want *w)
{
	if (serves(f, w))
		return AF_FLEET_SERVING;
	if (f->nack && w->new_hash != NULL && w->new_hash[0] != '\0' &&
	    (strcmp(f->nack_canary_hash, w->new_hash) == 0 ||
	     strcmp(f->nack_stable_hash, w->new_hash) == 0))
		return AF_FLEET_NACKING;
	return AF_FLEET_LAGGING;
}

bool af_fleet_reached(uint32_t n, uint32_t live, uint32_t pct)
{
	return live > 0 && (uint64_t)n * 100 >= (uint64_t)pct * live;
}

double af_fleet_share(uint32_t n, uint32_t live)
{
	return live ? (double)n / (double)live : 0;
}
