build-cons/obj/cli/cmd_budget.o: cli/cmd_budget.c cli/client.h cli/cli.h \
 common/cluster.h common/err.h net/tls.h build-cons/gen/proto/af.pb-c.h \
 cli/output.h
cli/client.h:
cli/cli.h:
common/cluster.h:
common/err.h:
net/tls.h:
build-cons/gen/proto/af.pb-c.h:
cli/output.h:
