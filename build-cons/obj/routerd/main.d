build-cons/obj/routerd/main.o: routerd/main.c common/cluster.h \
 common/err.h common/log.h routerd/config.h net/tls.h \
 routerd/routerd_int.h routerd/routerd.h common/hash.h policy/policy.h
common/cluster.h:
common/err.h:
common/log.h:
routerd/config.h:
net/tls.h:
routerd/routerd_int.h:
routerd/routerd.h:
common/hash.h:
policy/policy.h:
