build-cons/obj/controld/h_read.o: controld/h_read.c common/alloc.h \
 common/log.h common/timeutil.h controld/budget.h \
 build-cons/gen/proto/af.pb-c.h store/store.h common/err.h \
 controld/handlers_int.h controld/api_int.h controld/node.h \
 common/cluster.h common/metrics.h common/sign.h net/tls.h \
 controld/consensus.h controld/fsm.h common/hash.h controld/verbs.h \
 policy/policy.h controld/rollout.h controld/state.h \
 build-cons/gen/proto/policy.pb-c.h
common/alloc.h:
common/log.h:
common/timeutil.h:
controld/budget.h:
build-cons/gen/proto/af.pb-c.h:
store/store.h:
common/err.h:
controld/handlers_int.h:
controld/api_int.h:
controld/node.h:
common/cluster.h:
common/metrics.h:
common/sign.h:
net/tls.h:
controld/consensus.h:
controld/fsm.h:
common/hash.h:
controld/verbs.h:
policy/policy.h:
controld/rollout.h:
controld/state.h:
build-cons/gen/proto/policy.pb-c.h:
