#include "net/tls.h"
#include "common/alloc.h"
#include "common/file.h"

#include <nng/supplemental/tls/tls.h>
#include <string.h>

#define PEM_MAX (256u * 1024)

struct af_tls {
	nng_tls_config *server, *client;
};

static int make(nng_tls_mode mode, const char *ca, const char *cert,
		const char *key, nng_tls_config **ret, struct af_err *err)
{
	nng_tls_config *cfg;
	int rv;

	if ((rv = nng_tls_config_alloc(&cfg, mode)) != 0)
		return af_errf(err, AF_ENOMEM, "tls: %s", nng_strerror(rv));
	if ((rv = nng_tls_config_ca_chain(cfg, ca, NULL)) != 0) {
		af_errf(err, AF_ECONFIG, "tls: CA: %s", nng_strerror(rv));
		goto out_free;
	}
	if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
		af_errf(err, AF_ECONFIG, "tls: certificate or key: %s",
			nng_strerror(rv));
		goto out_free;
	}
	/* Both sides prove who they are: mutual TLS. */
	if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) !=
	    0) {
		af_errf(err, AF_ECONFIG, "tls: %s", nng_strerror(rv));
		goto out_free;
	}
	*ret = cfg;
	return 0;
out_free:
	nng_tls_config_free(cfg);
	return AF_ECONFIG;
}

int af_tls_new(const struct af_cluster_cfg *c, struct af_tls **ret,
	       struct af_err *err)
{
	char *ca = NULL, *cert = NULL, *key = NULL;
	struct af_tls *t = NULL;
	size_t len;
	int rc;

	*ret = NULL;
	if (!c->tls)
		return 0;
	if ((rc = af_read_file(c->tls_ca, PEM_MAX, &ca, &len, err)) != 0 ||
	    (rc = af_read_file(c->tls_cert, PEM_MAX, &cert, &len, err)) != 0 ||
	    (rc = af_read_file(c->tls_key, PEM_MAX, &key, &len, err)) != 0)
		goto out;
	t = af_calloc(1, sizeof(*t));
	if (t == NULL) {
		rc = af_errf(err, AF_ENOMEM, "tls: out of memory");
		goto out;
	}
	if ((rc = make(NNG_TLS_MODE_SERVER, ca, cert, key, &t->server, err)) !=
		    0 ||
	    (rc = make(NNG_TLS_MODE_CLIENT, ca, cert, key, &t->client, err)) !=
		    0)
		goto out;
	*ret = t;
	t = NULL;
out:
	af_tls_free(t);
	if (key)
		memset(key, 0, strlen(key));
	af_free(ca);
	af_free(cert);
	af_free(key);
	return rc;
}

void af_tls_free(struct af_tls *t)
{
	if (t == NULL)
		return;
	if (t->server)
		nng_tls_config_free(t->server);
	if (t->client)
		nng_tls_config_free(t->client);
	af_free(t);
}

/* Translates an NNG failure of `what` on url into AF_E* with context. */
static int nng_fail(int rv, const char *what, const char *url,
		    struct af_err *err)
{
	int code = AF_EIO;

	if (rv == NNG_ENOMEM)
		code = AF_ENOMEM;
	else if (rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL)
		code = AF_ECONFIG;
	else if (rv == NNG_EADDRINUSE || rv == NNG_ECONNREFUSED)
		code = AF_EUNAVAIL;
	return af_errf(err, code, "%s %s: %s", what, url, nng_strerror(rv));
}

int af_tls_listen(const struct af_tls *t, nng_socket s, const char *url,
		  struct af_err *err)
{
	nng_listener l;
	int rv;

	if (t == NULL) {
		rv = nng_listen(s, url, NULL, 0);
		goto out;
	}
	if ((rv = nng_listener_create(&l, s, url)) != 0)
		goto out;
	if ((rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, t->server)) !=
		    0 ||
	    (rv = nng_listener_start(l, 0)) != 0)
		nng_listener_close(l);
out:
	return rv != 0 ? nng_fail(rv, "listen", url, err) : 0;
}

int af_tls_dial(const struct af_tls *t, nng_socket s, const char *url,
		int flags, struct af_err *err)
{
	nng_dialer d;
	int rv;

	if (t == NULL) {
		rv = nng_dial(s, url, NULL, flags);
		goto out;
	}
	if ((rv = nng_dialer_create(&d, s, url)) != 0)
		goto out;
	if ((rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, t->client)) != 0 ||
	    (rv = nng_dialer_start(d, flags)) != 0)
		nng_dialer_close(d);
out:
	return rv != 0 ? nng_fail(rv, "dial", url, err) : 0;
}

nng_tls_config *af_tls_client_config(const struct af_tls *t)
{
	return t != NULL ? t->client : NULL;
}
