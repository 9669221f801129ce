build-cons/obj/controld/main.o: controld/main.c common/cluster.h \
 common/err.h common/log.h controld/auth.h build-cons/gen/proto/af.pb-c.h \
 controld/controld.h
common/cluster.h:
common/err.h:
common/log.h:
controld/auth.h:
build-cons/gen/proto/af.pb-c.h:
controld/controld.h:
