build-cons/obj/controld/fsm.o: controld/fsm.c controld/fsm.h \
 common/hash.h common/metrics.h build-cons/gen/proto/af.pb-c.h \
 store/store.h common/err.h controld/consensus.h common/cluster.h \
 controld/fsm_int.h common/alloc.h common/log.h common/timeutil.h
controld/fsm.h:
common/hash.h:
common/metrics.h:
build-cons/gen/proto/af.pb-c.h:
store/store.h:
common/err.h:
controld/consensus.h:
common/cluster.h:
controld/fsm_int.h:
common/alloc.h:
common/log.h:
common/timeutil.h:
