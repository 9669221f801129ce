build-cons/obj/routerd/config.o: routerd/config.c routerd/config.h \
 common/err.h common/log.h routerd/routerd.h common/cluster.h \
 common/hash.h policy/policy.h
routerd/config.h:
common/err.h:
common/log.h:
routerd/routerd.h:
common/cluster.h:
common/hash.h:
policy/policy.h:
