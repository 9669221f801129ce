/* Compile YAML to canonical bytes + version hash; load bytes back. */
#include "policy/policy_int.h"
#include "common/alloc.h"
#include "proto/alloc.h"

#include <string.h>

#define MAX_BUNDLE_NODES 2000000
#define MAX_REGISTRY_NODES 3000000

/* Unpacks canonical bytes of desc (what = "bundle" or "registry"): out of
 * memory is told apart from bytes that do not decode. */
static int unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
		  size_t len, const char *what, ProtobufCMessage **ret,
		  struct af_err *err)
{
	int rc = af_pb_unpack(desc, len, buf, ret);

	if (rc == AF_ENOMEM)
		return af_errf(err, AF_ENOMEM, "%s: out of memory", what);
	if (rc != 0)
		return af_errf(err, AF_ECORRUPT, "%s: cannot unpack", what);
	return 0;
}

/* Packs msg into owned bytes. */
static int pack(const ProtobufCMessage *msg, uint8_t **ret, size_t *ret_len,
		struct af_err *err)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf;

	if (len > AF_POLICY_MAX_BYTES)
		return af_errf(err, AF_ETOOBIG,
			       "compiled form is %zu bytes (limit %u)", len,
			       AF_POLICY_MAX_BYTES);
	buf = af_malloc(len ? len : 1);
	if (buf == NULL)
		return af_errf(err, AF_ENOMEM, "out of memory");
	protobuf_c_message_pack(msg, buf);
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Unpacked messages must pack back to the very same bytes: no unknown
 * fields, no explicit defaults, no non-canonical order or encoding. */
static int check_canonical(const ProtobufCMessage *msg, const void *buf,
			   size_t len, struct af_err *err)
{
	uint8_t *again = NULL;
	size_t alen = 0;
	int rc;

	rc = pack(msg, &again, &alen, err);
	if (rc != 0)
		return rc;
	if (alen != len || memcmp(again, buf, len) != 0)
		rc = af_errf(err, AF_ECORRUPT, "bytes are not canonical");
	af_free(again);
	return rc;
}

/* Keeps a copy of validated canonical bytes and their "sha256:" hash. */
static int keep_bytes(const void *buf, size_t len, uint8_t **ret_bytes,
		      size_t *ret_len, char *hash, const char *what,
		      struct af_err *err)
{
	uint8_t *copy = af_malloc(len ? len : 1);

	if (copy == NULL)
		return af_errf(err, AF_ENOMEM, "%s: out of memory", what);
	memcpy(copy, buf, len);
	af_sha256_str(buf, len, hash);
	*ret_bytes = copy;
	*ret_len = len;
	return 0;
}

int af_bundle_load(const void *buf, size_t len, struct af_bundle **ret,
		   struct af_err *err)
{
	struct af_bundle *b;
	ProtobufCMessage *m;
	int rc;

	if (len > AF_POLICY_MAX_BYTES)
		return af_errf(err, AF_ETOOBIG, "bundle: %zu bytes (limit %u)",
			       len, AF_POLICY_MAX_BYTES);
	b = af_calloc(1, sizeof(*b));
	if (b == NULL)
		return af_errf(err, AF_ENOMEM, "bundle: out of memory");
	if ((rc = unpack(&af__policy__bundle__descriptor, buf, len, "bundle",
			 &m, err)) != 0)
		goto out_free;
	b->pb = (Af__Policy__Bundle *)m;
	rc = validate_bundle(b->pb, err);
	if (rc == 0)
		rc = check_canonical(&b->pb->base, buf, len, err);
	if (rc != 0)
		goto out_free;
	if ((rc = keep_bytes(buf, len, &b->bytes, &b->len, b->hash, "bundle",
			     err)) != 0)
		goto out_free;
	*ret = b;
	return 0;
out_free:
	af_bundle_free(b);
	return rc;
}

void af_bundle_free(struct af_bundle *b)
{
	if (b == NULL)
		return;
	if (b->pb != NULL)
		af__policy__bundle__free_unpacked(b->pb, &af_pb_allocator);
	for (size_t i = 0; i < b->nwarn; i++)
		af_free(b->warn[i]);
	af_free(b->bytes);
	af_free(b);
}

int af_bundle_compile(const char *file, const char *buf, size_t len,
		      struct af_bundle **ret, struct af_err *err)
{
	struct af_bundle tmp = {0}, *b = NULL;
	struct arena a = {0};
	struct af_yaml *y = NULL;
	Af__Policy__Bundle *pb = NULL;
	uint8_t *bytes = NULL;
	size_t blen = 0;
	int rc;

	if (len > AF_POLICY_MAX_BYTES)
		return af_errf(err, AF_ETOOBIG, "%s: %zu bytes (limit %u)",
			       file, len, AF_POLICY_MAX_BYTES);
	rc = af_yaml_load(file, buf, len, MAX_BUNDLE_NODES, &y, err);
	if (rc != 0)
		return rc;
	rc = parse_bundle(y, &a, &tmp, &pb, err);
	if (rc == 0)
		rc = validate_bundle(pb, err);
	if (rc == 0)
		rc = pack(&pb->base, &bytes, &blen, err);
	arena_free(&a);
	af_yaml_free(y);
	if (rc == 0)
		rc = af_bundle_load(bytes, blen, &b, err);
	af_free(bytes);
	if (rc != 0) {
		for (size_t i = 0; i < tmp.nwarn; i++)
			af_free(tmp.warn[i]);
		return rc;
	}
	memcpy(b->warn, tmp.warn, sizeof(tmp.warn));
	b->nwarn = tmp.nwarn;
	*ret = b;
	return 0;
}

const uint8_t *af_bundle_bytes(const struct af_bundle *b, size_t *ret_len)
{
	*ret_len = b->len;
	return b->bytes;
}

const char *af_bundle_hash(const struct af_bundle *b)
{
	return b->hash;
}

const char *af_bundle_name(const struct af_bundle *b)
{
	return b->pb->name;
}

void af_bundle_health(const struct af_bundle *b, struct af_health *ret)
{
	const Af__Policy__Health *h = b->pb->health;

	/* Validated on compile and load: present and within 32 bits. */
	ret->error_rate_ppm = (uint32_t)h->error_rate_ppm;
	ret->min_samples = (uint32_t)h->min_samples;
	ret->consecutive_failures = (uint32_t)h->consecutive_failures;
	ret->cooldown_s = (uint32_t)h->cooldown_s;
}

size_t af_bundle_nrules(const struct af_bundle *b)
{
	return b->pb->n_rules;
}

size_t af_bundle_nwarnings(const struct af_bundle *b)
{
	return b->nwarn;
}

const char *af_bundle_warning(const struct af_bundle *b, size_t i)
{
	return i < b->nwarn ? b->warn[i] : NULL;
}

/* ---------------------------------------------------------- registry */

int af_registry_load(const void *buf, size_t len, struct af_registry **ret,
		     struct af_err *err)
{
	struct af_registry *r;
	ProtobufCMessage *m;
	int rc;

	if (len > AF_POLICY_MAX_BYTES)
		return af_errf(err, AF_ETOOBIG,
			       "registry: %zu bytes (limit %u)", len,
			       AF_POLICY_MAX_BYTES);
	r = af_calloc(1, sizeof(*r));
	if (r == NULL)
		return af_errf(err, AF_ENOMEM, "registry: out of memory");
	if ((rc = unpack(&af__policy__registry__descriptor, buf, len,
			 "registry", &m, err)) != 0)
		goto out_free;
	r->pb = (Af__Policy__Registry *)m;
	rc = validate_registry(r->pb, err);
	if (rc == 0)
		rc = check_canonical(&r->pb->base, buf, len, err);
	if (rc != 0)
		goto out_free;
	if ((rc = keep_bytes(buf, len, &r->bytes, &r->len, r->hash, "registry",
			     err)) != 0)
		goto out_free;
	*ret = r;
	return 0;
out_free:
	af_registry_free(r);
	return rc;
}

void af_registry_free(struct af_registry *r)
{
	if (r == NULL)
		return;
	if (r->pb != NULL)
		af__policy__registry__free_unpacked(r->pb, &af_pb_allocator);
	af_free(r->bytes);
	af_free(r);
}

int af_registry_compile(const char *file, const char *buf, size_t len,
			struct af_registry **ret, struct af_err *err)
{
	struct arena a = {0};
	struct af_yaml *y = NULL;
	Af__Policy__Registry *pb = NULL;
	uint8_t *bytes = NULL;
	size_t blen = 0;
	int rc;

	if (len > AF_POLICY_MAX_BYTES)
		return af_errf(err, AF_ETOOBIG, "%s: %zu bytes (limit %u)",
			       file, len, AF_POLICY_MAX_BYTES);
	rc = af_yaml_load(file, buf, len, MAX_REGISTRY_NODES, &y, err);
	if (rc != 0)
		return rc;
	rc = parse_registry(y, &a, &pb, err);
	if (rc == 0)
		rc = validate_registry(pb, err);
	if (rc == 0)
		rc = pack(&pb->base, &bytes, &blen, err);
	arena_free(&a);
	af_yaml_free(y);
	if (rc == 0)
		rc = af_registry_load(bytes, blen, ret, err);
	af_free(bytes);
	return rc;
}

const uint8_t *af_registry_bytes(const struct af_registry *r, size_t *ret_len)
{
	*ret_len = r->len;
	return r->bytes;
}

const char *af_registry_hash(const struct af_registry *r)
{
	return r->hash;
}

size_t af_registry_nmodels(const struct af_registry *r)
{
	return r->pb->n_models;
}
