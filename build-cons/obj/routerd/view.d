build-cons/obj/routerd/view.o: routerd/view.c common/alloc.h \
 common/hash.h common/timeutil.h routerd/routerd_int.h routerd/routerd.h \
 common/cluster.h common/err.h policy/policy.h
common/alloc.h:
common/hash.h:
common/timeutil.h:
routerd/routerd_int.h:
routerd/routerd.h:
common/cluster.h:
common/err.h:
policy/policy.h:
