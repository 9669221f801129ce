build-cons/obj/controld/fsm_usage.o: controld/fsm_usage.c \
 common/satarith.h controld/fsm_int.h controld/fsm.h common/hash.h \
 common/metrics.h build-cons/gen/proto/af.pb-c.h store/store.h \
 common/err.h controld/rollout.h
common/satarith.h:
controld/fsm_int.h:
controld/fsm.h:
common/hash.h:
common/metrics.h:
build-cons/gen/proto/af.pb-c.h:
store/store.h:
common/err.h:
controld/rollout.h:
