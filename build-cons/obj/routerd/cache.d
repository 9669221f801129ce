build-cons/obj/routerd/cache.o: routerd/cache.c common/alloc.h \
 common/file.h common/err.h build-cons/gen/proto/af.pb-c.h proto/alloc.h \
 routerd/sync_int.h net/rpc.h net/tls.h common/cluster.h common/sign.h \
 routerd/conn.h routerd/routerd.h common/hash.h policy/policy.h
common/alloc.h:
common/file.h:
common/err.h:
build-cons/gen/proto/af.pb-c.h:
proto/alloc.h:
routerd/sync_int.h:
net/rpc.h:
net/tls.h:
common/cluster.h:
common/sign.h:
routerd/conn.h:
routerd/routerd.h:
common/hash.h:
policy/policy.h:
