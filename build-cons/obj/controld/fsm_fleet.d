build-cons/obj/controld/fsm_fleet.o: controld/fsm_fleet.c \
 controld/fsm_int.h controld/fsm.h common/hash.h common/metrics.h \
 build-cons/gen/proto/af.pb-c.h store/store.h common/err.h
controld/fsm_int.h:
controld/fsm.h:
common/hash.h:
common/metrics.h:
build-cons/gen/proto/af.pb-c.h:
store/store.h:
common/err.h:
