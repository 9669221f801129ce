/*
 * Small helpers every bench program shares (linked into each with
 * bench/lib/): a monotonic clock in seconds and removing a scratch tree.
 */
#ifndef BENCH_LIB_UTIL_H
#define BENCH_LIB_UTIL_H

/* Seconds on the monotonic clock (for differences only). */
double bench_now_s(void);
/* Removes dir and everything below it (links are not followed); 0 or -1
 * with errno set, like nftw. */
int bench_rm_tree(const char *dir);

#endif
