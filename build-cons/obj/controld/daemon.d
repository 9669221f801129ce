build-cons/obj/controld/daemon.o: controld/daemon.c common/alloc.h \
 common/file.h common/err.h common/log.h common/timeutil.h \
 controld/auth.h build-cons/gen/proto/af.pb-c.h controld/controld.h \
 common/cluster.h controld/node.h common/metrics.h common/sign.h \
 net/tls.h controld/consensus.h controld/fsm.h common/hash.h \
 store/store.h controld/verbs.h
common/alloc.h:
common/file.h:
common/err.h:
common/log.h:
common/timeutil.h:
controld/auth.h:
build-cons/gen/proto/af.pb-c.h:
controld/controld.h:
common/cluster.h:
controld/node.h:
common/metrics.h:
common/sign.h:
net/tls.h:
controld/consensus.h:
controld/fsm.h:
common/hash.h:
store/store.h:
controld/verbs.h:
