build-cons/obj/controld/auth.o: controld/auth.c controld/auth.h \
 common/err.h build-cons/gen/proto/af.pb-c.h controld/verbs.h \
 common/alloc.h common/file.h common/hash.h common/log.h \
 common/timeutil.h
controld/auth.h:
common/err.h:
build-cons/gen/proto/af.pb-c.h:
controld/verbs.h:
common/alloc.h:
common/file.h:
common/hash.h:
common/log.h:
common/timeutil.h:
