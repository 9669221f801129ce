/*
 * Mutual TLS for every NNG socket (cluster file `tls`: ca, cert, key).
 * Listeners require and verify a client certificate signed by the
 * cluster's CA; dialers verify the server's certificate against the same
 * CA and present their own. URLs come from af_cluster_url (tls+tcp://).
 * A NULL struct af_tls means plain TCP. Configurations are immutable after
 * af_tls_new; any thread may use them.
 */
#ifndef AF_NET_TLS_H
#define AF_NET_TLS_H

#include "common/cluster.h"
#include "common/err.h"

#include <nng/nng.h>

struct af_tls;

/* *ret = NULL when the cluster file has no tls section. Errors: AF_EIO
 * (files), AF_ECONFIG (a certificate or key that does not load). */
int af_tls_new(const struct af_cluster_cfg *c, struct af_tls **ret,
	       struct af_err *err);
void af_tls_free(struct af_tls *t);

/* nng_listen / nng_dial with the TLS configuration applied (t may be
 * NULL). Return 0 or AF_ENOMEM, AF_ECONFIG (bad URL), AF_EUNAVAIL (address
 * in use, refused), AF_EIO (other), with the NNG reason in err. */
int af_tls_listen(const struct af_tls *t, nng_socket s, const char *url,
		  struct af_err *err);
int af_tls_dial(const struct af_tls *t, nng_socket s, const char *url,
		int flags, struct af_err *err);
/* The client configuration (NULL for plain TCP), for callers that must
 * hold it (nng_tls_config_hold) beyond the lifetime of t. */
struct nng_tls_config *af_tls_client_config(const struct af_tls *t);

#endif
