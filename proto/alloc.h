/*
 * The allocator to pass to every protobuf-c unpack: af_pb_alloc underneath
 * (common/alloc.h), so the failing allocator reaches unpacking and unpack
 * returns NULL when it fails. A message it unpacked may be freed with
 * free_unpacked(msg, NULL) or free_unpacked(msg, &af_pb_allocator).
 */
#ifndef AF_PROTO_ALLOC_H
#define AF_PROTO_ALLOC_H

#include <protobuf-c/protobuf-c.h>

/* Never written (protobuf-c's API takes it non-const). */
extern ProtobufCAllocator af_pb_allocator;

#endif
