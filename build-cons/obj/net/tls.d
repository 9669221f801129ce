build-cons/obj/net/tls.o: net/tls.c net/tls.h common/cluster.h \
 common/err.h common/alloc.h common/file.h
net/tls.h:
common/cluster.h:
common/err.h:
common/alloc.h:
common/file.h:
