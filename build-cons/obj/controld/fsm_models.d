build-cons/obj/controld/fsm_models.o: controld/fsm_models.c \
 common/alloc.h controld/fsm_int.h controld/fsm.h common/hash.h \
 common/metrics.h build-cons/gen/proto/af.pb-c.h store/store.h \
 common/err.h controld/state.h build-cons/gen/proto/policy.pb-c.h
common/alloc.h:
controld/fsm_int.h:
controld/fsm.h:
common/hash.h:
common/metrics.h:
build-cons/gen/proto/af.pb-c.h:
store/store.h:
common/err.h:
controld/state.h:
build-cons/gen/proto/policy.pb-c.h:
