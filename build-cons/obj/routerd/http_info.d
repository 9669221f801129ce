build-cons/obj/routerd/http_info.o: routerd/http_info.c common/timeutil.h \
 routerd/http_int.h common/metrics.h routerd/report.h policy/policy.h \
 common/err.h routerd/routerd_int.h routerd/routerd.h common/cluster.h \
 common/hash.h
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
