build-cons/obj/routerd/telemetry.o: routerd/telemetry.c common/alloc.h \
 common/log.h common/timeutil.h routerd/budget.h policy/policy.h \
 common/err.h build-cons/gen/proto/af.pb-c.h routerd/sync_int.h net/rpc.h \
 net/tls.h common/cluster.h common/sign.h routerd/conn.h \
 routerd/routerd.h common/hash.h routerd/usage.h
common/alloc.h:
common/log.h:
common/timeutil.h:
routerd/budget.h:
policy/policy.h:
common/err.h:
build-cons/gen/proto/af.pb-c.h:
routerd/sync_int.h:
net/rpc.h:
net/tls.h:
common/cluster.h:
common/sign.h:
routerd/conn.h:
routerd/routerd.h:
common/hash.h:
routerd/usage.h:
