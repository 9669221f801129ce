build-cons/obj/controld/pub.o: controld/pub.c common/log.h \
 controld/node.h common/cluster.h common/err.h common/metrics.h \
 common/sign.h net/tls.h controld/consensus.h controld/fsm.h \
 common/hash.h build-cons/gen/proto/af.pb-c.h store/store.h \
 controld/verbs.h controld/state.h
common/log.h:
controld/node.h:
common/cluster.h:
common/err.h:
common/metrics.h:
common/sign.h:
net/tls.h:
controld/consensus.h:
controld/fsm.h:
common/hash.h:
build-cons/gen/proto/af.pb-c.h:
store/store.h:
controld/verbs.h:
controld/state.h:
