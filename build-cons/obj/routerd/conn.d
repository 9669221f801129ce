build-cons/obj/routerd/conn.o: routerd/conn.c routerd/conn.h common/err.h \
 net/tls.h common/cluster.h common/alloc.h common/timeutil.h
routerd/conn.h:
common/err.h:
net/tls.h:
common/cluster.h:
common/alloc.h:
common/timeutil.h:
