build-cons/obj/routerd/live.o: routerd/live.c common/alloc.h \
 common/timeutil.h routerd/budget.h policy/policy.h common/err.h \
 build-cons/gen/proto/af.pb-c.h routerd/routerd_int.h routerd/routerd.h \
 common/cluster.h common/hash.h routerd/usage.h
common/alloc.h:
common/timeutil.h:
routerd/budget.h:
policy/policy.h:
common/err.h:
build-cons/gen/proto/af.pb-c.h:
routerd/routerd_int.h:
routerd/routerd.h:
common/cluster.h:
common/hash.h:
routerd/usage.h:
