/* af dr drill: the snapshot, taken and checked with controld
 * --verify-snapshot (the same check a restore makes). */
#include "cli/client.h"
#include "cli/dr.h"
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* controld next to this af binary, else the one on PATH. */
static void find_controld(const char *controld, char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n;

	if (controld != NULL) {
		snprintf(out, len, "%s", controld);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			if (snprintf(out, len, "%s/controld", self) <
				    (int)len &&
			    access(out, X_OK) == 0)
				return;
		}
	}
	snprintf(out, len, "controld");
}

/* The value of key in a key=value line, into out. */
static bool kv(const char *line, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = line; (p = strstr(p, key)) != NULL; p += klen)
		if ((p == line || p[-1] == ' ') && p[klen] == '=') {
			snprintf(out, len, "%.*s",
				 (int)strcspn(p + klen + 1, " \n"),
				 p + klen + 1);
			return true;
		}
	return false;
}

/* Runs `controld --verify-snapshot FILE`, the check a restore relies on. */
static void verify(const char *controld, struct dr_snap *s)
{
	char prog[PATH_MAX], line[1024], v[80];
	char *argv[] = {prog, (char *)"--verify-snapshot", s->file, NULL};
	posix_spawn_file_actions_t fa;
	int fds[2], status = -1;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	find_controld(controld, prog, sizeof(prog));
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(s->error, sizeof(s->error), "pipe: %s",
			 strerror(errno));
		return;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	if (posix_spawnp(&pid, prog, &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	while (got + 1 < sizeof(line) &&
	       (n = read(fds[0], line + got, sizeof(line) - 1 - got)) > 0)
		got += (size_t)n;
	line[got] = '\0';
	close(fds[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		snprintf(s->error, sizeof(s->error),
			 "cannot run %.200s (give --controld PATH)", prog);
		return;
	}
	line[strcspn(line, "\n")] = '\0';
	s->verified = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		      kv(line, "verified", v, sizeof(v)) &&
		      strcmp(v, "true") == 0;
	if (!s->verified)
		snprintf(s->error, sizeof(s->error), "%.500s", line);
	if (kv(line, "state_hash", v, sizeof(v)))
		snprintf(s->hash, sizeof(s->hash), "%s", v);
}

int dr_snapshot(struct af_cli *cli, const char *controld, struct dr_snap *s)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__SnapshotReq sr = AF__SNAPSHOT_REQ__INIT;
	Af__Response *resp;
	struct af_err err = {{0}};
	int rc, fd;

	if (!s->keep) {
		const char *tmp = getenv("TMPDIR");

		snprintf(s->file, sizeof(s->file), "%s/af-dr-drill-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if ((fd = mkstemp(s->file)) < 0)
			return af_cli_fail(AF_EXIT_UNAVAILABLE, "IO",
					   "dr drill: %s: %s", s->file,
					   strerror(errno));
		close(fd);
	}
	req.body_case = AF__REQUEST__BODY_SNAPSHOT;
	req.snapshot = &sr;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		goto out;
	if (resp->snapshot == NULL ||
	    af_write_file_atomic(s->file, resp->snapshot->data.data,
				 resp->snapshot->data.len, &err) != 0)
		rc = af_cli_fail(AF_EXIT_UNAVAILABLE, "IO",
				 "dr drill: snapshot: %s",
				 err.msg[0] ? err.msg : "empty answer");
	else {
		s->bytes = resp->snapshot->data.len;
		s->index = resp->snapshot->index;
		verify(controld, s);
	}
	af__response__free_unpacked(resp, NULL);
out:
	if (!s->keep)
		unlink(s->file);
	return rc;
}
