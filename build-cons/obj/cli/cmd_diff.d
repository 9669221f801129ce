build-cons/obj/cli/cmd_diff.o: cli/cmd_diff.c cli/client.h cli/cli.h \
 common/cluster.h common/err.h net/tls.h build-cons/gen/proto/af.pb-c.h \
 cli/output.h common/alloc.h common/file.h policy/policy.h \
 build-cons/gen/proto/policy.pb-c.h proto/alloc.h
cli/client.h:
cli/cli.h:
common/cluster.h:
common/err.h:
net/tls.h:
build-cons/gen/proto/af.pb-c.h:
cli/output.h:
common/alloc.h:
common/file.h:
policy/policy.h:
build-cons/gen/proto/policy.pb-c.h:
proto/alloc.h:
