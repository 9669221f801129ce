build-cons/obj/routerd/sync.o: routerd/sync.c common/alloc.h common/log.h \
 net/rpc.h net/tls.h common/cluster.h common/err.h common/sign.h \
 common/timeutil.h build-cons/gen/proto/af.pb-c.h routerd/sync_int.h \
 routerd/conn.h routerd/routerd.h common/hash.h policy/policy.h \
 routerd/budget.h routerd/usage.h
common/alloc.h:
common/log.h:
net/rpc.h:
net/tls.h:
common/cluster.h:
common/err.h:
common/sign.h:
common/timeutil.h:
build-cons/gen/proto/af.pb-c.h:
routerd/sync_int.h:
routerd/conn.h:
routerd/routerd.h:
common/hash.h:
policy/policy.h:
routerd/budget.h:
routerd/usage.h:
