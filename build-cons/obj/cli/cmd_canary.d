build-cons/obj/cli/cmd_canary.o: cli/cmd_canary.c cli/client.h cli/cli.h \
 common/cluster.h common/err.h net/tls.h build-cons/gen/proto/af.pb-c.h \
 cli/output.h common/alloc.h common/file.h common/metrics.h \
 common/timeutil.h policy/policy.h
cli/client.h:
cli/cli.h:
common/cluster.h:
common/err.h:
net/tls.h:
build-cons/gen/proto/af.pb-c.h:
cli/output.h:
common/alloc.h:
common/file.h:
common/metrics.h:
common/timeutil.h:
policy/policy.h:
