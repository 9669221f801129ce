/* af_rpc_call is bounded by its timeout whatever the peer does, and
 * request ids are fresh random hex. */
#include "tests/lib/alloc_check.h"
#include "common/err.h"
#include "net/rpc.h"
#include "net/tls.h"
#include "common/timeutil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A TCP port that completes the handshake (the kernel's backlog) and then
 * never speaks: what a paused (SIGSTOP) controld looks like. */
static int silent_listener(char *url, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cr_assert(listen(fd, 16) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
	snprintf(url, len, "tcp://127.0.0.1:%u", ntohs(sa.sin_port));
	return fd;
}

/* A call that gave up leaves its worker to finish and free the call alone
 * (by design: the caller is back in time); the allocation check waits
 * for those workers first, or a loaded machine fails it while a worker's
 * dial is still being refused. */
static void rpc_fini(void)
{
	for (int i = 0; i < 1500 && af_rpc_running() > 0; i++)
		usleep(10000);
	af_test_alloc_end();
}

TestSuite(rpc, .init = af_test_alloc_begin, .fini = rpc_fini);
TestSuite(tls, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(rpc, silent_peer_bounded_by_timeout)
{
	char url[64];
	int fd = silent_listener(url, sizeof(url));
	void *out = NULL;
	size_t outlen = 0;
	uint64_t t0 = af_mono_ms(), took;
	int rc;

	/* Without a bound of its own, NNG's dial waits 10 s for the SP
	 * handshake. */
	rc = af_rpc_call(url, NULL, "x", 1, 300, 1024, &out, &outlen);
	took = af_mono_ms() - t0;
	cr_expect_eq(rc, AF_ETIMEDOUT, "rc %d (%s)", rc, af_rpc_errstr());
	cr_expect(took >= 250 && took < 1500, "took %llu ms",
		  (unsigned long long)took);
	cr_expect(strstr(af_rpc_errstr(), "300 ms") != NULL, "%s",
		  af_rpc_errstr());
	close(fd);
}

Test(rpc, refused_port_fails_fast)
{
	char url[64];
	int fd = silent_listener(url, sizeof(url));
	void *out = NULL;
	size_t outlen = 0;
	uint64_t t0;
	int rc;

	close(fd); /* nothing listens there any more */
	t0 = af_mono_ms();
	rc = af_rpc_call(url, NULL, "x", 1, 5000, 1024, &out, &outlen);
	cr_expect_eq(rc, AF_EUNAVAIL, "rc %d (%s)", rc, af_rpc_errstr());
	cr_expect(af_mono_ms() - t0 < 1000);
}

Test(rpc, many_silent_calls_do_not_pile_up, .timeout = 30)
{
	char url[64];
	int fd = silent_listener(url, sizeof(url));
	uint64_t t0 = af_mono_ms();

	/* Each gives up after 50 ms; their workers end on their own (when
	 * NNG's 10 s handshake timeout fires). */
	for (int i = 0; i < 10; i++) {
		void *out = NULL;
		size_t outlen = 0;

		cr_expect_eq(
			af_rpc_call(url, NULL, "x", 1, 50, 1024, &out, &outlen),
			AF_ETIMEDOUT);
	}
	cr_expect(af_mono_ms() - t0 < 2000);
	for (int i = 0; i < 1500 && af_rpc_running() > 0; i++)
		usleep(10000);
	cr_expect_eq(af_rpc_running(), 0, "%u workers left", af_rpc_running());
	close(fd);
}

Test(rpc, request_ids_are_fresh_hex)
{
	char a[AF_RPC_ID_LEN + 1], b[AF_RPC_ID_LEN + 1];

	af_rpc_request_id(a);
	af_rpc_request_id(b);
	cr_expect_eq(strlen(a), AF_RPC_ID_LEN);
	cr_expect_eq(strspn(a, "0123456789abcdef"), AF_RPC_ID_LEN);
	cr_expect_str_neq(a, b);
}

/* net/tls.h returns AF_E* codes with the NNG reason in the message, never
 * NNG codes, whether TLS is configured or not. */
Test(tls, listen_and_dial_errors_are_af_codes)
{
	struct af_err err = {{0}};
	char url[64];
	nng_socket a, b;
	int fd = silent_listener(url, sizeof(url));

	cr_assert(nng_rep0_open(&a) == 0);
	cr_assert(nng_req0_open(&b) == 0);
	cr_expect_eq(af_tls_listen(NULL, a, url, &err), AF_EUNAVAIL, "%s",
		     err.msg);
	cr_expect(strstr(err.msg, url) != NULL, "%s", err.msg);
	cr_expect_eq(af_tls_listen(NULL, a, "nope://x", &err), AF_ECONFIG, "%s",
		     err.msg);
	cr_expect_eq(af_tls_dial(NULL, b, "nope://x", 0, &err), AF_ECONFIG,
		     "%s", err.msg);
	cr_expect(strstr(err.msg, "dial nope://x") != NULL, "%s", err.msg);
	nng_close(a);
	nng_close(b);
	close(fd);
}
