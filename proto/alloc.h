/*
 * The allocator to pass to every protobuf-c unpack: af_pb_alloc underneath
 * (common/alloc.h), so the failing allocator reaches unpacking and unpack
 * returns NULL when it fails. A message it unpacked may be freed with
 * free_unpacked(msg, NULL) or free_unpacked(msg, &af_pb_allocator).
 *
 * protobuf-c answers NULL both for bytes that do not decode and for an
 * allocation that failed; af_pb_unpack tells the two apart, which callers
 * that must not take one for the other (the state machine: every node has
 * to agree on what an entry means) rely on.
 */
#ifndef AF_PROTO_ALLOC_H
#define AF_PROTO_ALLOC_H

#include <protobuf-c/protobuf-c.h>

/* Never written (protobuf-c's API takes it non-const). */
extern ProtobufCAllocator af_pb_allocator;

/* Unpacks len bytes at data as a desc message through the failing
 * allocator. 0 with *ret owned (free_unpacked(*ret, NULL)); AF_ENOMEM when
 * an allocation failed; AF_EPROTO when the bytes are not a valid desc
 * message. Any thread. */
int af_pb_unpack(const ProtobufCMessageDescriptor *desc, size_t len,
		 const void *data, ProtobufCMessage **ret);

#endif
