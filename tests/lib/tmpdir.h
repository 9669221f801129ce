/* Temporary directories of unit tests. */
#ifndef AF_TESTS_TMPDIR_H
#define AF_TESTS_TMPDIR_H

/* Removes dir and everything under it (no symlinks followed). Returns 0
 * or -1 (errno). */
int af_test_rmtree(const char *dir);

#endif
