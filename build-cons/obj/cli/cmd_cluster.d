build-cons/obj/cli/cmd_cluster.o: cli/cmd_cluster.c cli/client.h \
 cli/cli.h common/cluster.h common/err.h net/tls.h \
 build-cons/gen/proto/af.pb-c.h cli/output.h common/file.h
cli/client.h:
cli/cli.h:
common/cluster.h:
common/err.h:
net/tls.h:
build-cons/gen/proto/af.pb-c.h:
cli/output.h:
common/file.h:
