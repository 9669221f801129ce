build-cons/obj/routerd/usage.o: routerd/usage.c routerd/usage.h \
 common/alloc.h common/err.h common/metrics.h common/satarith.h \
 build-cons/gen/proto/af.pb-c.h
routerd/usage.h:
common/alloc.h:
common/err.h:
common/metrics.h:
common/satarith.h:
build-cons/gen/proto/af.pb-c.h:
