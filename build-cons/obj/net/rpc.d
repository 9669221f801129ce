build-cons/obj/net/rpc.o: net/rpc.c net/rpc.h net/tls.h common/cluster.h \
 common/err.h common/alloc.h
net/rpc.h:
net/tls.h:
common/cluster.h:
common/err.h:
common/alloc.h:
