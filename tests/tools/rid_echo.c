/* A stand-in controld API endpoint for tests: answers every request with
 * UNAVAILABLE (so clients retry) and prints, one line per request, the
 * request's kind and the Command.request_id of a write ("-" when none).
 * usage: rid_echo URL SECONDS */
#include "proto/af.pb-c.h"
#include "proto/alloc.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	nng_socket s;
	time_t end;
	int rv;

	if (argc != 3) {
		fprintf(stderr, "usage: rid_echo URL SECONDS\n");
		return 2;
	}
	end = time(NULL) + atoi(argv[2]);
	if ((rv = nng_rep0_open(&s)) != 0 ||
	    (rv = nng_listen(s, argv[1], NULL, 0)) != 0) {
		fprintf(stderr, "rid_echo: %s: %s\n", argv[1],
			nng_strerror(rv));
		return 1;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 100);
	while (time(NULL) < end) {
		Af__Response resp = AF__RESPONSE__INIT;
		Af__Status st = AF__STATUS__INIT;
		Af__Request *req;
		nng_msg *m;
		void *out;
		size_t len;

		if (nng_recvmsg(s, &m, 0) != 0)
			continue;
		req = af__request__unpack(&af_pb_allocator, nng_msg_len(m),
					  nng_msg_body(m));
		nng_msg_free(m);
		if (req == NULL)
			continue;
		printf("%s %s\n",
		       req->body_case == AF__REQUEST__BODY_PROPOSE ? "propose"
								   : "other",
		       req->body_case == AF__REQUEST__BODY_PROPOSE &&
				       req->propose->request_id[0]
			       ? req->propose->request_id
			       : "-");
		fflush(stdout);
		af__request__free_unpacked(req, NULL);
		st.code = AF__CODE__UNAVAILABLE;
		st.message = (char *)"no quorum (test stand-in)";
		resp.status = &st;
		len = af__response__get_packed_size(&resp);
		out = malloc(len ? len : 1);
		if (out == NULL)
			break;
		af__response__pack(&resp, out);
		nng_send(s, out, len, 0);
		free(out);
	}
	nng_close(s);
	return 0;
}
