/* API tokens from a file, so a token never has to be on a command line
 * (visible to every user in ps) or in a unit file: af's --token-file and
 * AF_TOKEN_FILE, routerd's AF_TOKEN_FILE (with systemd, a credential:
 * LoadCredential= and AF_TOKEN_FILE=%d/NAME). */
#ifndef AF_COMMON_TOKEN_H
#define AF_COMMON_TOKEN_H

#include "common/err.h"

#include <stddef.h>

/* Longest token accepted (the servers accept no longer). */
#define AF_TOKEN_MAX 512

/* Reads the token in path into buf (len > AF_TOKEN_MAX): the file's
 * first line, surrounding spaces and the line end removed. Errors, naming
 * the file: AF_EIO (cannot read), AF_EINVAL (empty, or more than one
 * line), AF_ETOOBIG (over AF_TOKEN_MAX). */
int af_token_read(const char *path, char *buf, size_t len, struct af_err *err);

#endif
