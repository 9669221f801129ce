#include "proto/alloc.h"
#include "common/alloc.h"

ProtobufCAllocator af_pb_allocator = AF_PB_ALLOCATOR;
