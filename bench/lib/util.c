#include "bench/lib/util.h"
#include "common/timeutil.h"

#include <ftw.h>
#include <stdio.h>

double bench_now_s(void)
{
	return (double)af_mono_ns() / 1e9;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int bench_rm_tree(const char *dir)
{
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
