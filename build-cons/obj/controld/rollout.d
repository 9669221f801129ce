build-cons/obj/controld/rollout.o: controld/rollout.c controld/rollout.h \
 common/metrics.h build-cons/gen/proto/af.pb-c.h store/store.h \
 common/err.h controld/state.h
controld/rollout.h:
common/metrics.h:
build-cons/gen/proto/af.pb-c.h:
store/store.h:
common/err.h:
controld/state.h:
