#include "controld/controld.h"
#include "common/log.h"

int controld_run(const struct af_cluster_cfg *cfg,
		 const struct controld_opts *o)
{
	(void)cfg;
	(void)o;
	log_error("event=start error=\"not implemented yet\"");
	return 1;
}
