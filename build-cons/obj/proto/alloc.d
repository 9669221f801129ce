build-cons/obj/proto/alloc.o: proto/alloc.c proto/alloc.h common/alloc.h
proto/alloc.h:
common/alloc.h:
