/* Placeholder until the sync side lands: no cluster following yet. */
#include "routerd/routerd.h"

int routerd_sync_start(struct routerd *r, struct af_err *err)
{
	(void)r;
	(void)err;
	return 0;
}

void routerd_sync_stop(struct routerd *r)
{
	(void)r;
}
