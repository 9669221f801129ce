build-cons/obj/controld/state.o: controld/state.c controld/state.h \
 build-cons/gen/proto/af.pb-c.h store/store.h common/err.h
controld/state.h:
build-cons/gen/proto/af.pb-c.h:
store/store.h:
common/err.h:
