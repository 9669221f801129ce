build-cons/obj/controld/h_write.o: controld/h_write.c common/alloc.h \
 common/name.h common/log.h common/timeutil.h controld/auth.h \
 common/err.h build-cons/gen/proto/af.pb-c.h controld/handlers_int.h \
 controld/api_int.h controld/node.h common/cluster.h common/metrics.h \
 common/sign.h net/tls.h controld/consensus.h controld/fsm.h \
 common/hash.h store/store.h controld/verbs.h policy/policy.h
common/alloc.h:
common/name.h:
common/log.h:
common/timeutil.h:
controld/auth.h:
common/err.h:
build-cons/gen/proto/af.pb-c.h:
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
store/store.h:
controld/verbs.h:
policy/policy.h:
