build-cons/obj/routerd/http.o: routerd/http.c common/alloc.h common/log.h \
 common/timeutil.h routerd/http_int.h common/metrics.h routerd/report.h \
 policy/policy.h common/err.h routerd/routerd_int.h routerd/routerd.h \
 common/cluster.h common/hash.h routerd/budget.h \
 build-cons/gen/proto/af.pb-c.h routerd/usage.h
common/alloc.h:
common/log.h:
common/timeutil.h:
routerd/http_int.h:
common/metrics.h:
routerd/report.h:
policy/policy.h:
common/err.h:
routerd/routerd_int.h:
routerd/routerd.h:
common/cluster.h:
common/hash.h:
routerd/budget.h:
build-cons/gen/proto/af.pb-c.h:
routerd/usage.h:
