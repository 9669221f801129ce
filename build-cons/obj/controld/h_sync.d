build-cons/obj/controld/h_sync.o: controld/h_sync.c common/alloc.h \
 common/log.h common/timeutil.h controld/handlers_int.h \
 controld/api_int.h controld/node.h common/cluster.h common/err.h \
 common/metrics.h common/sign.h net/tls.h controld/consensus.h \
 controld/fsm.h common/hash.h build-cons/gen/proto/af.pb-c.h \
 store/store.h controld/verbs.h policy/policy.h controld/state.h
common/alloc.h:
common/log.h:
common/timeutil.h:
controld/handlers_int.h:
controld/api_int.h:
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
policy/policy.h:
controld/state.h:
