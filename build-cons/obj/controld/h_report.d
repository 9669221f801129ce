build-cons/obj/controld/h_report.o: controld/h_report.c common/alloc.h \
 common/log.h common/satarith.h controld/handlers_int.h \
 controld/api_int.h controld/node.h common/cluster.h common/err.h \
 common/metrics.h common/sign.h net/tls.h controld/consensus.h \
 controld/fsm.h common/hash.h build-cons/gen/proto/af.pb-c.h \
 store/store.h controld/verbs.h policy/policy.h
common/alloc.h:
common/log.h:
common/satarith.h:
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
