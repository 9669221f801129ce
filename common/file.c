#include "common/file.h"
#include "common/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int af_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len,
		 struct af_err *err)
{
	int fd, rc = 0;
	size_t cap = 4096, len = 0;
	char *buf;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return af_errf(err, AF_EIO, "%s: %s", path, strerror(errno));
	buf = af_malloc(cap + 1);
	if (buf == NULL) {
		rc = af_errf(err, AF_ENOMEM, "%s: out of memory", path);
		goto out_close;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > max) {
				rc = af_errf(err, AF_ETOOBIG,
					     "%s: larger than %zu bytes", path,
					     max);
				goto out_free;
			}
			cap *= 2;
			nb = af_realloc(buf, cap + 1);
			if (nb == NULL) {
				rc = af_errf(err, AF_ENOMEM,
					     "%s: out of memory", path);
				goto out_free;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = af_errf(err, AF_EIO, "%s: %s", path,
				     strerror(errno));
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		rc = af_errf(err, AF_ETOOBIG, "%s: larger than %zu bytes", path,
			     max);
		goto out_free;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	goto out_close;
out_free:
	af_free(buf);
out_close:
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

int af_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return AF_EIO;
	rc = fsync(fd);
	close(fd);
	return rc == 0 ? 0 : AF_EIO;
}

static void dir_of(const char *path, char *out, size_t outlen)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(out, outlen, ".");
	else if (slash == path)
		snprintf(out, outlen, "/");
	else
		snprintf(out, outlen, "%.*s", (int)(slash - path), path);
}

int af_write_file_atomic(const char *path, const void *buf, size_t len,
			 struct af_err *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *p = buf;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
			     (long)getpid()) >= sizeof(tmp))
		return af_errf(err, AF_ETOOBIG, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return af_errf(err, AF_EIO, "%s: %s", tmp, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out_err;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0)
		goto out_err;
	close(fd);
	if (rename(tmp, path) != 0) {
		af_errf(err, AF_EIO, "%s: rename: %s", path, strerror(errno));
		unlink(tmp);
		return AF_EIO;
	}
	dir_of(path, dir, sizeof(dir));
	af_fsync_dir(dir);
	return 0;
out_err:
	af_errf(err, AF_EIO, "%s: %s", tmp, strerror(errno));
	close(fd);
	unlink(tmp);
	return AF_EIO;
}

int af_mkdir_p(const char *path, struct af_err *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return af_errf(err, AF_EINVAL, "bad directory path");
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return af_errf(err, AF_EIO, "mkdir %s: %s", buf,
				       strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return af_errf(err, AF_EIO, "mkdir %s: %s", buf,
			       strerror(errno));
	return 0;
}

int af_path_resolve(const char *base_file, const char *rel, char *out,
		    size_t outlen)
{
	char dir[PATH_MAX];
	int n;

	if (rel[0] == '/')
		n = snprintf(out, outlen, "%s", rel);
	else {
		dir_of(base_file, dir, sizeof(dir));
		if (strcmp(dir, ".") == 0)
			n = snprintf(out, outlen, "%s", rel);
		else
			n = snprintf(out, outlen, "%s/%s", dir, rel);
	}
	if (n < 0 || (size_t)n >= outlen)
		return AF_ETOOBIG;
	return 0;
}
