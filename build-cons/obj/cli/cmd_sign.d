build-cons/obj/cli/cmd_sign.o: cli/cmd_sign.c cli/client.h cli/cli.h \
 common/cluster.h common/err.h net/tls.h build-cons/gen/proto/af.pb-c.h \
 cli/output.h common/alloc.h common/file.h common/sign.h policy/policy.h
cli/client.h:
cli/cli.h:
common/cluster.h:
common/err.h:
net/tls.h:
build-cons/gen/proto/af.pb-c.h:
cli/output.h:
common/alloc.h:
common/file.h:
common/sign.h:
policy/policy.h:
