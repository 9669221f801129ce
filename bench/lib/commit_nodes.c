/*
 * The commit bench's nodes: started with the --launch template, stopped,
 * reaped; and pause_ms.
 */
#include "bench/lib/commit.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *launch_cmd;
volatile pid_t node_pid[MAX_NODES];
unsigned n_launched;

void pause_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static void stop_nodes(int sig)
{
	for (unsigned i = 0; i < n_launched; i++)
		if (node_pid[i] > 0)
			kill(node_pid[i], sig);
}

void on_signal(int sig)
{
	stop_nodes(SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Starts node i (0-based) with the --launch template. */
int launch(unsigned i)
{
	char cmd[4096];
	size_t o = 0;
	const char *p = launch_cmd;
	pid_t pid;

	o = (size_t)snprintf(cmd, sizeof(cmd), "exec ");
	while (*p && o + 16 < sizeof(cmd)) {
		if (p[0] == '%' && p[1] == 'd') {
			o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "%u",
					      i + 1);
			p += 2;
		} else {
			cmd[o++] = *p++;
		}
	}
	cmd[o] = '\0';
	pid = fork();
	if (pid < 0) {
		perror("commit: fork");
		return -1;
	}
	if (pid == 0) {
		/* The node must not outlive the bench, whatever kills it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	node_pid[i] = pid;
	return 0;
}

static void kill_node(unsigned i, int sig)
{
	pid_t pid = node_pid[i];

	if (pid <= 0)
		return;
	kill(pid, sig);
	waitpid(pid, NULL, 0);
	node_pid[i] = 0;
}

/* SIGTERM every node, SIGKILL what is left after 10 s. */
void stop_all(void)
{
	uint64_t deadline = af_mono_ms() + 10000;

	stop_nodes(SIGTERM);
	for (unsigned i = 0; i < n_launched; i++) {
		while (node_pid[i] > 0) {
			pid_t r = waitpid(node_pid[i], NULL, WNOHANG);

			if (r == node_pid[i] || (r < 0 && errno == ECHILD)) {
				node_pid[i] = 0;
			} else if (af_mono_ms() > deadline) {
				fprintf(stderr,
					"commit: node %u ignored "
					"SIGTERM; killing it\n",
					i + 1);
				kill_node(i, SIGKILL);
			} else {
				pause_ms(20);
			}
		}
	}
}

/* Stops node i with sig without waiting for it to exit (a SIGTERM'd node
 * may hand its leadership over first). */
void signal_node(unsigned i, int sig)
{
	if (node_pid[i] > 0)
		kill(node_pid[i], sig);
}

/* Reaps node i; returns its exit status (-1: killed by a signal or
 * vanished, -2: still running after timeout_ms, then SIGKILLed, -3: died
 * of SIGTERM). */
int reap_node(unsigned i, unsigned timeout_ms)
{
	uint64_t deadline = af_mono_ms() + timeout_ms;
	pid_t pid = node_pid[i];
	int status = 0;

	if (pid <= 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0) {
			node_pid[i] = 0;
			return -1;
		}
		if (af_mono_ms() > deadline) {
			kill_node(i, SIGKILL);
			return -2;
		}
		pause_ms(10);
	}
	node_pid[i] = 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
		return -3; /* died of the SIGTERM itself (etcd re-raises it) */
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* R rounds: stop the leader with sig (SIGKILL: a crash; SIGTERM: a planned
 * restart, where the node may transfer its leadership first), time the
 * next acknowledged write through another node, restart the stopped node
 * and wait until it caught up. Prints `what label rounds=..`. */
