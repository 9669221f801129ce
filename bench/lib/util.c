#include "bench/lib/util.h"
#include "common/timeutil.h"

#include <stdio.h>

double bench_now_s(void)
{
	return (double)af_mono_ns() / 1e9;
}
