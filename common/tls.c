#include "common/tls.h"
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

int af_tls_listen(const struct af_tls *t, nng_socket s, const char *url)
{
	nng_listener l;
	int rv;

	if (t == NULL)
		return nng_listen(s, url, NULL, 0);
	if ((rv = nng_listener_create(&l, s, url)) != 0)
		return rv;
	if ((rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, t->server)) !=
		    0 ||
	    (rv = nng_listener_start(l, 0)) != 0)
		nng_listener_close(l);
	return rv;
}

int af_tls_dial(const struct af_tls *t, nng_socket s, const char *url,
		int flags)
{
	nng_dialer d;
	int rv;

	if (t == NULL)
		return nng_dial(s, url, NULL, flags);
	if ((rv = nng_dialer_create(&d, s, url)) != 0)
		return rv;
	if ((rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, t->client)) != 0 ||
	    (rv = nng_dialer_start(d, flags)) != 0)
		nng_dialer_close(d);
	return rv;
}

nng_tls_config *af_tls_client_config(const struct af_tls *t)
{
	return t != NULL ? t->client : NULL;
}
