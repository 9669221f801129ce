build-cons/obj/cli/cmd_route.o: cli/cmd_route.c cli/cli.h cli/client.h \
 common/cluster.h common/err.h net/tls.h build-cons/gen/proto/af.pb-c.h \
 cli/output.h common/alloc.h common/file.h policy/policy.h
cli/cli.h:
cli/client.h:
common/cluster.h:
common/err.h:
net/tls.h:
build-cons/gen/proto/af.pb-c.h:
cli/output.h:
common/alloc.h:
common/file.h:
policy/policy.h:
