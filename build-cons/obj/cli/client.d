build-cons/obj/cli/client.o: cli/client.c cli/client.h cli/cli.h \
 common/cluster.h common/err.h net/tls.h build-cons/gen/proto/af.pb-c.h \
 common/timeutil.h common/alloc.h proto/alloc.h net/rpc.h
cli/client.h:
cli/cli.h:
common/cluster.h:
common/err.h:
net/tls.h:
build-cons/gen/proto/af.pb-c.h:
common/timeutil.h:
common/alloc.h:
proto/alloc.h:
net/rpc.h:
