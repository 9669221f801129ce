#include "proto/alloc.h"
#include "common/alloc.h"
#include "common/err.h"

#include <stdbool.h>

ProtobufCAllocator af_pb_allocator = AF_PB_ALLOCATOR;

/* Remembers whether an allocation of one unpack failed. */
static void *noting_alloc(void *data, size_t size)
{
	void *p = af_pb_alloc(NULL, size);

	if (p == NULL)
		*(bool *)data = true;
	return p;
}

static void noting_free(void *data, void *p)
{
	af_pb_free(data, p);
}

int af_pb_unpack(const ProtobufCMessageDescriptor *desc, size_t len,
		 const void *data, ProtobufCMessage **ret)
{
	bool failed = false;
	/* af_pb_alloc is malloc underneath: free_unpacked(msg, NULL) fits. */
	ProtobufCAllocator a = {noting_alloc, noting_free, &failed};

	*ret = protobuf_c_message_unpack(desc, &a, len, data);
	if (*ret != NULL)
		return 0;
	return failed ? AF_ENOMEM : AF_EPROTO;
}
