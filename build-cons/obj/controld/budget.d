build-cons/obj/controld/budget.o: controld/budget.c controld/budget.h \
 common/alloc.h build-cons/gen/proto/af.pb-c.h store/store.h common/err.h \
 common/satarith.h proto/alloc.h controld/fsm_int.h controld/fsm.h \
 common/hash.h common/metrics.h
controld/budget.h:
common/alloc.h:
build-cons/gen/proto/af.pb-c.h:
store/store.h:
common/err.h:
common/satarith.h:
proto/alloc.h:
controld/fsm_int.h:
controld/fsm.h:
common/hash.h:
common/metrics.h:
