build-cons/obj/controld/consensus.o: controld/consensus.c \
 controld/consensus.h common/cluster.h common/err.h controld/fsm.h \
 common/hash.h common/metrics.h build-cons/gen/proto/af.pb-c.h \
 store/store.h controld/consensus_int.h common/alloc.h common/log.h
controld/consensus.h:
common/cluster.h:
common/err.h:
controld/fsm.h:
common/hash.h:
common/metrics.h:
build-cons/gen/proto/af.pb-c.h:
store/store.h:
controld/consensus_int.h:
common/alloc.h:
common/log.h:
